//! OTLP metrics into Specula's metric points, one per data point.

use app::services::ingest::{metrics::MetricPoint, record::Attributes};
use opentelemetry_proto::tonic::{
    collector::metrics::v1::ExportMetricsServiceRequest,
    metrics::v1::{AggregationTemporality, metric::Data, number_data_point},
};
use serde_json::{Value, json};

use super::convert::{UNKNOWN_SERVICE, attributes};

/// Points that converted, and how many were rejected (with the first reason).
#[derive(Debug, Default)]
pub struct ConvertedPoints {
    pub points: Vec<MetricPoint>,
    pub rejected: u64,
    pub first_error: Option<String>,
}

fn temporality(value: i32) -> Option<&'static str> {
    match AggregationTemporality::try_from(value) {
        Ok(AggregationTemporality::Delta) => Some("delta"),
        Ok(AggregationTemporality::Cumulative) => Some("cumulative"),
        _ => None,
    }
}

fn nanos(value: u64) -> Result<i64, String> {
    i64::try_from(value).map_err(|_| format!("time {value} is out of range"))
}

pub fn convert_metrics(request: ExportMetricsServiceRequest) -> ConvertedPoints {
    let mut converted = ConvertedPoints::default();
    for resource_metrics in request.resource_metrics {
        let resource = resource_metrics
            .resource
            .map(|resource| attributes(resource.attributes))
            .unwrap_or_default();
        let service_name = resource
            .get("service.name")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .unwrap_or(UNKNOWN_SERVICE)
            .to_owned();
        for scope_metrics in resource_metrics.scope_metrics {
            for metric in scope_metrics.metrics {
                let Some(data) = metric.data else {
                    converted.rejected += 1;
                    converted
                        .first_error
                        .get_or_insert(format!("metric {:?} has no data", metric.name));
                    continue;
                };
                let base = |point_attributes: Attributes, start: u64, time: u64, kind: &'static str| {
                    let mut attributes = point_attributes;
                    attributes.insert("resource".to_owned(), Value::Object(resource.clone()));
                    Ok::<_, String>(MetricPoint {
                        name: metric.name.clone(),
                        unit: metric.unit.clone(),
                        kind,
                        service_name: service_name.clone(),
                        attributes,
                        start_time_ns: nanos(start)?,
                        time_ns: nanos(time)?,
                        value: None,
                        count: None,
                        sum: None,
                        min: None,
                        max: None,
                        buckets: None,
                        temporality: None,
                        monotonic: None,
                    })
                };
                let mut push = |point: Result<MetricPoint, String>| match point {
                    Ok(point) => converted.points.push(point),
                    Err(reason) => {
                        converted.rejected += 1;
                        converted.first_error.get_or_insert(reason);
                    }
                };
                let number = |value: Option<number_data_point::Value>| match value {
                    Some(number_data_point::Value::AsDouble(value)) => Some(value),
                    Some(number_data_point::Value::AsInt(value)) => Some(value as f64),
                    None => None,
                };
                match data {
                    Data::Gauge(gauge) => {
                        for point in gauge.data_points {
                            push(
                                base(
                                    attributes(point.attributes),
                                    point.start_time_unix_nano,
                                    point.time_unix_nano,
                                    "gauge",
                                )
                                .map(|mut row| {
                                    row.value = number(point.value);
                                    row
                                }),
                            );
                        }
                    }
                    Data::Sum(sum) => {
                        for point in sum.data_points {
                            push(
                                base(
                                    attributes(point.attributes),
                                    point.start_time_unix_nano,
                                    point.time_unix_nano,
                                    "sum",
                                )
                                .map(|mut row| {
                                    row.value = number(point.value);
                                    row.temporality = temporality(sum.aggregation_temporality);
                                    row.monotonic = Some(sum.is_monotonic);
                                    row
                                }),
                            );
                        }
                    }
                    Data::Histogram(histogram) => {
                        for point in histogram.data_points {
                            push(
                                base(
                                    attributes(point.attributes),
                                    point.start_time_unix_nano,
                                    point.time_unix_nano,
                                    "histogram",
                                )
                                .map(|mut row| {
                                    row.count = i64::try_from(point.count).ok();
                                    row.sum = point.sum;
                                    row.min = point.min;
                                    row.max = point.max;
                                    row.buckets = Some(json!({
                                        "explicit_bounds": point.explicit_bounds,
                                        "bucket_counts": point.bucket_counts,
                                    }));
                                    row.temporality = temporality(histogram.aggregation_temporality);
                                    row
                                }),
                            );
                        }
                    }
                    Data::ExponentialHistogram(histogram) => {
                        for point in histogram.data_points {
                            push(base(
                                attributes(point.attributes),
                                point.start_time_unix_nano,
                                point.time_unix_nano,
                                "exponential_histogram",
                            )
                            .map(|mut row| {
                                row.count = i64::try_from(point.count).ok();
                                row.sum = point.sum;
                                row.min = point.min;
                                row.max = point.max;
                                let side = |buckets: Option<opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets>| {
                                    buckets.map(|b| json!({"offset": b.offset, "bucket_counts": b.bucket_counts}))
                                };
                                row.buckets = Some(json!({
                                    "scale": point.scale,
                                    "zero_count": point.zero_count,
                                    "positive": side(point.positive),
                                    "negative": side(point.negative),
                                }));
                                row.temporality = temporality(histogram.aggregation_temporality);
                                row
                            }));
                        }
                    }
                    Data::Summary(summary) => {
                        for point in summary.data_points {
                            push(
                                base(
                                    attributes(point.attributes),
                                    point.start_time_unix_nano,
                                    point.time_unix_nano,
                                    "summary",
                                )
                                .map(|mut row| {
                                    row.count = i64::try_from(point.count).ok();
                                    row.sum = Some(point.sum);
                                    row.buckets = Some(json!({
                                        "quantiles": point.quantile_values.iter()
                                            .map(|q| json!({"quantile": q.quantile, "value": q.value}))
                                            .collect::<Vec<_>>(),
                                    }));
                                    row
                                }),
                            );
                        }
                    }
                }
            }
        }
    }
    converted
}
