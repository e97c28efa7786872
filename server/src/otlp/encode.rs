//! Stored traces back into OTLP: the `?format=otlp` export is an
//! `ExportTraceServiceRequest` in OTLP/JSON that any OTLP backend accepts
//! (Specula included: re-ingesting it gives the same spans); the Zipkin and
//! Jaeger exports are made from it (`trace_formats`).
//!
//! Spans are grouped back under their resource and instrumentation scope.
//! What Specula does not keep (trace state, flags, dropped counts) is left
//! at its default.

use app::telemetry::types::{SpanView, TraceDetail};
use base64::Engine;
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value},
    resource::v1::Resource,
    trace::v1::{
        ResourceSpans, ScopeSpans, Span, Status,
        span::{Event, Link, SpanKind},
        status::StatusCode,
    },
};
use serde_json::{Map, Value};

/// The trace as an OTLP/JSON export request.
pub fn trace_to_otlp_json(trace: &TraceDetail) -> Vec<u8> {
    serde_json::to_vec(&trace_to_otlp(trace)).expect("OTLP messages always serialize")
}

/// The trace as Zipkin v2 JSON (a list of spans).
pub fn trace_to_zipkin_json(trace: &TraceDetail) -> Vec<u8> {
    serde_json::to_vec(&super::trace_formats::to_zipkin(&trace_to_otlp(trace)))
        .expect("JSON values serialize")
}

/// The trace as Jaeger's JSON (`{"data": [trace]}`).
pub fn trace_to_jaeger_json(trace: &TraceDetail) -> Vec<u8> {
    serde_json::to_vec(&super::trace_formats::to_jaeger(&trace_to_otlp(trace)))
        .expect("JSON values serialize")
}

/// Spans grouped by scope (its JSON), in order of first appearance.
type ByScope<'a> = Vec<(&'a Value, Vec<Span>)>;

fn trace_to_otlp(trace: &TraceDetail) -> ExportTraceServiceRequest {
    spans_to_otlp(&trace.spans)
}

/// Spans (of any traces) as one export request, grouped back under their
/// resources and scopes.
pub(super) fn spans_to_otlp<'a>(spans: impl IntoIterator<Item = &'a SpanView>) -> ExportTraceServiceRequest {
    let mut resource_spans: Vec<(&Value, ByScope)> = Vec::new();
    for span in spans {
        let resource = &span.details["resource"];
        let scope = &span.details["scope"];
        let by_resource = match resource_spans.iter().position(|(known, _)| *known == resource) {
            Some(index) => &mut resource_spans[index].1,
            None => {
                resource_spans.push((resource, Vec::new()));
                &mut resource_spans.last_mut().expect("just pushed").1
            }
        };
        let by_scope = match by_resource.iter().position(|(known, _)| *known == scope) {
            Some(index) => &mut by_resource[index].1,
            None => {
                by_resource.push((scope, Vec::new()));
                &mut by_resource.last_mut().expect("just pushed").1
            }
        };
        by_scope.push(otlp_span(span));
    }
    ExportTraceServiceRequest {
        resource_spans: resource_spans
            .into_iter()
            .map(|(resource, scopes)| ResourceSpans {
                resource: Some(Resource {
                    attributes: key_values(resource),
                    ..Default::default()
                }),
                scope_spans: scopes
                    .into_iter()
                    .map(|(scope, spans)| ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: scope["name"].as_str().unwrap_or_default().to_owned(),
                            version: scope["version"].as_str().unwrap_or_default().to_owned(),
                            attributes: key_values(&scope["attributes"]),
                            ..Default::default()
                        }),
                        spans,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
    }
}

fn otlp_span(span: &SpanView) -> Span {
    let kind = match span.summary.span_kind.as_str() {
        "internal" => SpanKind::Internal,
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        _ => SpanKind::Unspecified,
    };
    let code = match span.summary.status_code.as_str() {
        "ok" => StatusCode::Ok,
        "error" => StatusCode::Error,
        _ => StatusCode::Unset,
    };
    let events = span.details["events"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let links = span.details["links"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    Span {
        trace_id: hex_bytes(&span.summary.trace_id),
        span_id: hex_bytes(&span.summary.span_id),
        parent_span_id: span
            .summary
            .parent_span_id
            .as_deref()
            .map(hex_bytes)
            .unwrap_or_default(),
        name: span.summary.name.clone(),
        kind: kind as i32,
        start_time_unix_nano: u64::try_from(span.summary.start_time_ns).unwrap_or_default(),
        end_time_unix_nano: u64::try_from(span.end_time_ns).unwrap_or_default(),
        attributes: key_values(&span.details["attributes"]),
        events: events
            .iter()
            .map(|event| Event {
                name: event["name"].as_str().unwrap_or_default().to_owned(),
                time_unix_nano: event["time_ns"].as_u64().unwrap_or_default(),
                attributes: key_values(&event["attributes"]),
                ..Default::default()
            })
            .collect(),
        links: links
            .iter()
            .map(|link| Link {
                trace_id: hex_bytes(link["trace_id"].as_str().unwrap_or_default()),
                span_id: hex_bytes(link["span_id"].as_str().unwrap_or_default()),
                attributes: key_values(&link["attributes"]),
                ..Default::default()
            })
            .collect(),
        status: Some(Status {
            code: code as i32,
            message: span.status_message.clone().unwrap_or_default(),
        }),
        ..Default::default()
    }
}

/// Lower-case hex ids were validated at ingest; anything else becomes empty.
fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .map(|index| u8::from_str_radix(hex.get(index * 2..index * 2 + 2).unwrap_or("zz"), 16))
        .collect::<Result<_, _>>()
        .unwrap_or_default()
}

fn key_values(attributes: &Value) -> Vec<KeyValue> {
    attributes
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(key, value)| KeyValue {
                    key: key.clone(),
                    value: Some(any_value(value)),
                    ..Default::default()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The inverse of ingest's typed JSON: integers stay integers, `{"bytes": base64}` is bytes.
fn any_value(value: &Value) -> AnyValue {
    let value = match value {
        Value::Null => None,
        Value::Bool(flag) => Some(any_value::Value::BoolValue(*flag)),
        Value::Number(number) => Some(match number.as_i64() {
            Some(integer) => any_value::Value::IntValue(integer),
            None => any_value::Value::DoubleValue(number.as_f64().unwrap_or_default()),
        }),
        Value::String(text) => Some(any_value::Value::StringValue(text.clone())),
        Value::Array(items) => Some(any_value::Value::ArrayValue(ArrayValue {
            values: items.iter().map(any_value).collect(),
        })),
        Value::Object(map) => Some(bytes_value(map).unwrap_or_else(|| {
            any_value::Value::KvlistValue(KeyValueList {
                values: key_values(&Value::Object(map.clone())),
            })
        })),
    };
    AnyValue { value }
}

fn bytes_value(map: &Map<String, Value>) -> Option<any_value::Value> {
    let [(key, Value::String(encoded))] = map.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    if key != "bytes" {
        return None;
    }
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .map(any_value::Value::BytesValue)
}
