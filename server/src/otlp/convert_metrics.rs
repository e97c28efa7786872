//! OTLP metrics into Specula's metric points, one per data point.

use app::telemetry::services::ingest::metrics::MetricPoint;
use opentelemetry_proto::tonic::{
    collector::metrics::v1::ExportMetricsServiceRequest,
    common::v1::KeyValue,
    metrics::v1::{
        AggregationTemporality, exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    },
};
use serde_json::{Value, json};

use super::convert::{UNKNOWN_SERVICE, attributes, nanos};

/// Points that converted, and how many were rejected (with the first reason).
#[derive(Debug, Default)]
pub struct ConvertedPoints {
    pub points: Vec<MetricPoint>,
    pub rejected: u64,
    pub first_error: Option<String>,
}

/// One data point's own fields, whatever the metric's kind.
struct PointData {
    kind: &'static str,
    attributes: Vec<KeyValue>,
    start: u64,
    time: u64,
    value: Option<f64>,
    count: Option<i64>,
    sum: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    buckets: Option<Value>,
    temporality: Option<&'static str>,
    monotonic: Option<bool>,
}

impl PointData {
    fn new(kind: &'static str, attributes: Vec<KeyValue>, start: u64, time: u64) -> Self {
        Self {
            kind,
            attributes,
            start,
            time,
            value: None,
            count: None,
            sum: None,
            min: None,
            max: None,
            buckets: None,
            temporality: None,
            monotonic: None,
        }
    }
}

fn temporality(value: i32) -> Option<&'static str> {
    match AggregationTemporality::try_from(value) {
        Ok(AggregationTemporality::Delta) => Some("delta"),
        Ok(AggregationTemporality::Cumulative) => Some("cumulative"),
        _ => None,
    }
}

fn number(value: Option<number_data_point::Value>) -> Option<f64> {
    match value {
        Some(number_data_point::Value::AsDouble(value)) => Some(value),
        Some(number_data_point::Value::AsInt(value)) => Some(value as f64),
        None => None,
    }
}

fn exponential_side(buckets: Option<Buckets>) -> Value {
    buckets.map_or(
        Value::Null,
        |b| json!({"offset": b.offset, "bucket_counts": b.bucket_counts}),
    )
}

/// Every data point of a metric, with its kind-specific fields filled in.
fn data_points(data: Data) -> Vec<PointData> {
    match data {
        Data::Gauge(gauge) => gauge
            .data_points
            .into_iter()
            .map(|p| PointData {
                value: number(p.value),
                ..PointData::new("gauge", p.attributes, p.start_time_unix_nano, p.time_unix_nano)
            })
            .collect(),
        Data::Sum(sum) => sum
            .data_points
            .into_iter()
            .map(|p| PointData {
                value: number(p.value),
                temporality: temporality(sum.aggregation_temporality),
                monotonic: Some(sum.is_monotonic),
                ..PointData::new("sum", p.attributes, p.start_time_unix_nano, p.time_unix_nano)
            })
            .collect(),
        Data::Histogram(histogram) => histogram
            .data_points
            .into_iter()
            .map(|p| PointData {
                count: i64::try_from(p.count).ok(),
                sum: p.sum,
                min: p.min,
                max: p.max,
                buckets: Some(
                    json!({"explicit_bounds": p.explicit_bounds, "bucket_counts": p.bucket_counts}),
                ),
                temporality: temporality(histogram.aggregation_temporality),
                ..PointData::new(
                    "histogram",
                    p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                )
            })
            .collect(),
        Data::ExponentialHistogram(histogram) => histogram
            .data_points
            .into_iter()
            .map(|p| PointData {
                count: i64::try_from(p.count).ok(),
                sum: p.sum,
                min: p.min,
                max: p.max,
                buckets: Some(json!({
                    "scale": p.scale,
                    "zero_count": p.zero_count,
                    "positive": exponential_side(p.positive),
                    "negative": exponential_side(p.negative),
                })),
                temporality: temporality(histogram.aggregation_temporality),
                ..PointData::new(
                    "exponential_histogram",
                    p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                )
            })
            .collect(),
        Data::Summary(summary) => summary
            .data_points
            .into_iter()
            .map(|p| PointData {
                count: i64::try_from(p.count).ok(),
                sum: Some(p.sum),
                buckets: Some(json!({
                    "quantiles": p.quantile_values.iter()
                        .map(|q| json!({"quantile": q.quantile, "value": q.value}))
                        .collect::<Vec<_>>(),
                })),
                ..PointData::new("summary", p.attributes, p.start_time_unix_nano, p.time_unix_nano)
            })
            .collect(),
    }
}

impl ConvertedPoints {
    fn reject(&mut self, reason: String) {
        self.rejected += 1;
        self.first_error.get_or_insert(reason);
    }
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
        for metric in resource_metrics
            .scope_metrics
            .into_iter()
            .flat_map(|scope| scope.metrics)
        {
            let Some(data) = metric.data else {
                converted.reject(format!("metric {:?} has no data", metric.name));
                continue;
            };
            for point in data_points(data) {
                let times = nanos(point.start, "start time")
                    .and_then(|start| Ok((start, nanos(point.time, "time")?)));
                let (start_time_ns, time_ns) = match times {
                    Ok(times) => times,
                    Err(reason) => {
                        converted.reject(reason.to_string());
                        continue;
                    }
                };
                let mut point_attributes = attributes(point.attributes);
                point_attributes.insert("resource".to_owned(), Value::Object(resource.clone()));
                converted.points.push(MetricPoint {
                    name: metric.name.clone(),
                    unit: metric.unit.clone(),
                    kind: point.kind,
                    service_name: service_name.clone(),
                    attributes: point_attributes,
                    start_time_ns,
                    time_ns,
                    value: point.value,
                    count: point.count,
                    sum: point.sum,
                    min: point.min,
                    max: point.max,
                    buckets: point.buckets,
                    temporality: point.temporality,
                    monotonic: point.monotonic,
                });
            }
        }
    }
    converted
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::metrics::v1::{
        ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Metric, NumberDataPoint, ResourceMetrics,
        ScopeMetrics, Summary, SummaryDataPoint, summary_data_point::ValueAtQuantile,
    };

    use super::*;

    fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn metric(name: &str, data: Option<Data>) -> Metric {
        Metric {
            name: name.to_owned(),
            unit: "s".to_owned(),
            data,
            ..Default::default()
        }
    }

    #[test]
    fn gauges_exponential_histograms_and_summaries() {
        let converted = convert_metrics(request(vec![
            metric(
                "queue.depth",
                Some(Data::Gauge(Gauge {
                    data_points: vec![NumberDataPoint {
                        time_unix_nano: 5,
                        value: Some(number_data_point::Value::AsDouble(2.5)),
                        ..Default::default()
                    }],
                })),
            ),
            metric(
                "gen_ai.client.operation.duration",
                Some(Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![ExponentialHistogramDataPoint {
                        time_unix_nano: 6,
                        count: 4,
                        scale: 3,
                        zero_count: 1,
                        positive: Some(Buckets {
                            offset: -2,
                            bucket_counts: vec![1, 2],
                        }),
                        ..Default::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                })),
            ),
            metric(
                "latency",
                Some(Data::Summary(Summary {
                    data_points: vec![SummaryDataPoint {
                        time_unix_nano: 7,
                        count: 10,
                        sum: 3.0,
                        quantile_values: vec![ValueAtQuantile {
                            quantile: 0.99,
                            value: 0.8,
                        }],
                        ..Default::default()
                    }],
                })),
            ),
        ]));
        assert_eq!(converted.rejected, 0);
        let [gauge, exponential, summary] = &converted.points[..] else {
            panic!("three points")
        };
        assert_eq!(
            (gauge.kind, gauge.value, gauge.service_name.as_str()),
            ("gauge", Some(2.5), UNKNOWN_SERVICE)
        );
        assert_eq!(exponential.kind, "exponential_histogram");
        assert_eq!(exponential.count, Some(4));
        assert_eq!(exponential.temporality, Some("cumulative"));
        let buckets = exponential.buckets.as_ref().unwrap();
        assert_eq!(buckets["positive"]["bucket_counts"], json!([1, 2]));
        assert_eq!(buckets["negative"], Value::Null);
        assert_eq!(
            (summary.kind, summary.count, summary.sum),
            ("summary", Some(10), Some(3.0))
        );
        assert_eq!(summary.buckets.as_ref().unwrap()["quantiles"][0]["value"], 0.8);
    }

    #[test]
    fn metrics_without_data_or_with_impossible_times_are_rejected() {
        let out_of_range = metric(
            "late",
            Some(Data::Gauge(Gauge {
                data_points: vec![NumberDataPoint {
                    time_unix_nano: u64::MAX,
                    ..Default::default()
                }],
            })),
        );
        let converted = convert_metrics(request(vec![metric("empty", None), out_of_range]));
        assert_eq!(converted.points.len(), 0);
        assert_eq!(converted.rejected, 2);
        assert_eq!(
            converted.first_error.as_deref(),
            Some("metric \"empty\" has no data")
        );
    }
}
