//! OTLP spans into `SpanRecord`s. Each span is validated on its own: an
//! invalid one is rejected and counted (OTLP partial success) while the
//! others of the same request are kept.

use app::telemetry::services::span::{
    ids::{IdError, SpanId, TraceId},
    record::{Attributes, Scope, SpanEvent, SpanKind, SpanLink, SpanRecord, StatusCode},
};
use base64::Engine;
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, KeyValue, any_value},
    trace::v1::{Span, span::SpanKind as WireSpanKind, status::StatusCode as WireStatusCode},
};
use serde_json::{Map, Number, Value};

use super::error::OtlpError;

/// `service.name` when the resource does not say.
pub(super) const UNKNOWN_SERVICE: &str = "unknown_service";

/// The spans that passed validation, and what was rejected.
#[derive(Debug, Default)]
pub struct Converted {
    pub spans: Vec<SpanRecord>,
    pub rejected: u64,
    /// The first rejection's reason, for `partial_success.error_message`.
    pub first_error: Option<String>,
}

pub fn convert(request: ExportTraceServiceRequest) -> Converted {
    let mut converted = Converted::default();
    for resource_spans in request.resource_spans {
        let resource_attributes = resource_spans
            .resource
            .map(|resource| attributes(resource.attributes))
            .unwrap_or_default();
        let service_name = resource_attributes
            .get("service.name")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .unwrap_or(UNKNOWN_SERVICE)
            .to_owned();
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_spans
                .scope
                .map(|scope| Scope {
                    name: scope.name,
                    version: Some(scope.version).filter(|version| !version.is_empty()),
                    attributes: attributes(scope.attributes),
                })
                .unwrap_or_default();
            for span in scope_spans.spans {
                match SpanRecord::from_otlp(span, &service_name, &resource_attributes, &scope) {
                    Ok(record) => converted.spans.push(record),
                    Err(reason) => {
                        converted.rejected += 1;
                        converted.first_error.get_or_insert_with(|| reason.to_string());
                    }
                }
            }
        }
    }
    converted
}

/// An id of the OTLP field `field`, as lower-case hex.
fn id<Id: for<'a> TryFrom<&'a [u8], Error = IdError>>(
    bytes: &[u8],
    field: &'static str,
) -> Result<Id, OtlpError> {
    Id::try_from(bytes).map_err(|source| OtlpError::Id { field, source })
}

/// Unix nanoseconds as stored (signed); OTLP sends them unsigned.
pub(super) fn nanos(value: u64, field: &'static str) -> Result<i64, OtlpError> {
    i64::try_from(value).map_err(|_| OtlpError::TimeOutOfRange { field, value })
}

/// Specula's span from an OTLP span and what encloses it (its resource's
/// service name and attributes, its scope). Only the OTLP module knows the
/// wire types, so the conversion is defined here, on the record.
pub trait FromOtlp: Sized {
    fn from_otlp(
        span: Span,
        service_name: &str,
        resource: &Attributes,
        scope: &Scope,
    ) -> Result<Self, OtlpError>;
}

impl FromOtlp for SpanRecord {
    fn from_otlp(
        span: Span,
        service_name: &str,
        resource: &Attributes,
        scope: &Scope,
    ) -> Result<SpanRecord, OtlpError> {
        let trace_id = id::<TraceId>(&span.trace_id, "trace id")?.into_string();
        let span_id = id::<SpanId>(&span.span_id, "span id")?.into_string();
        let parent_span_id = if span.parent_span_id.is_empty() {
            None
        } else {
            Some(id::<SpanId>(&span.parent_span_id, "parent span id")?.into_string())
        };
        let start_time_ns = nanos(span.start_time_unix_nano, "start time")?;
        let end_time_ns = nanos(span.end_time_unix_nano, "end time")?;
        if start_time_ns == 0 {
            return Err(OtlpError::NoStartTime { span_id });
        }
        if end_time_ns < start_time_ns {
            return Err(OtlpError::EndsBeforeStart { span_id });
        }
        let kind = match WireSpanKind::try_from(span.kind) {
            Ok(WireSpanKind::Internal) => SpanKind::Internal,
            Ok(WireSpanKind::Server) => SpanKind::Server,
            Ok(WireSpanKind::Client) => SpanKind::Client,
            Ok(WireSpanKind::Producer) => SpanKind::Producer,
            Ok(WireSpanKind::Consumer) => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        };
        let (status_code, status_message) = match span.status {
            Some(status) => {
                let code = match WireStatusCode::try_from(status.code) {
                    Ok(WireStatusCode::Ok) => StatusCode::Ok,
                    Ok(WireStatusCode::Error) => StatusCode::Error,
                    _ => StatusCode::Unset,
                };
                (code, Some(status.message).filter(|message| !message.is_empty()))
            }
            None => (StatusCode::Unset, None),
        };
        let events: Vec<SpanEvent> = span
            .events
            .into_iter()
            .map(|event| SpanEvent {
                name: event.name,
                time_ns: i64::try_from(event.time_unix_nano).unwrap_or(i64::MAX),
                attributes: attributes(event.attributes),
            })
            .collect();
        let links = span
            .links
            .into_iter()
            .filter_map(|link| {
                Some(SpanLink {
                    trace_id: TraceId::try_from(&link.trace_id[..]).ok()?.into_string(),
                    span_id: SpanId::try_from(&link.span_id[..]).ok()?.into_string(),
                    attributes: attributes(link.attributes),
                })
            })
            .collect();
        Ok(SpanRecord {
            trace_id,
            span_id,
            parent_span_id,
            name: span.name,
            kind,
            start_time_ns,
            end_time_ns,
            status_code,
            status_message,
            service_name: service_name.to_owned(),
            resource_attributes: resource.clone(),
            scope: scope.clone(),
            attributes: attributes(span.attributes),
            events,
            links,
        })
    }
}

/// Attributes as a JSON object; a repeated key keeps its last value.
pub(super) fn attributes(pairs: Vec<KeyValue>) -> Attributes {
    pairs
        .into_iter()
        .map(|pair| (pair.key, any_value(pair.value)))
        .collect()
}

/// An OTLP value as JSON, keeping its type: integers stay integers, arrays
/// and key-value lists stay structured, bytes become `{"bytes": base64}`.
fn any_value(value: Option<AnyValue>) -> Value {
    match value.and_then(|value| value.value) {
        None => Value::Null,
        Some(any_value::Value::StringValue(text)) => Value::String(text),
        Some(any_value::Value::BoolValue(flag)) => Value::Bool(flag),
        Some(any_value::Value::IntValue(number)) => Value::from(number),
        // JSON has no NaN or infinity: keep those as their text.
        Some(any_value::Value::DoubleValue(number)) => Number::from_f64(number)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(number.to_string())),
        Some(any_value::Value::ArrayValue(array)) => Value::Array(
            array
                .values
                .into_iter()
                .map(|value| any_value(Some(value)))
                .collect(),
        ),
        Some(any_value::Value::KvlistValue(list)) => Value::Object(attributes(list.values)),
        // A string-table index only means something in profiles; keep the number.
        Some(any_value::Value::StringValueStrindex(index)) => {
            let mut object = Map::new();
            object.insert("strindex".to_owned(), Value::from(index));
            Value::Object(object)
        }
        Some(any_value::Value::BytesValue(bytes)) => {
            let mut object = Map::new();
            object.insert(
                "bytes".to_owned(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
            );
            Value::Object(object)
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::{
        common::v1::{ArrayValue, KeyValueList},
        resource::v1::Resource,
        trace::v1::{ResourceSpans, ScopeSpans, Status},
    };

    use super::*;

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn span(trace: u8, id: u8) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            name: "chat gpt-4o".to_owned(),
            kind: WireSpanKind::Client as i32,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_001_000_000_000,
            attributes: vec![
                kv(
                    "gen_ai.request.model",
                    any_value::Value::StringValue("gpt-4o".into()),
                ),
                kv("gen_ai.usage.input_tokens", any_value::Value::IntValue(12)),
            ],
            status: Some(Status {
                message: "boom".into(),
                code: WireStatusCode::Error as i32,
            }),
            ..Default::default()
        }
    }

    fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", any_value::Value::StringValue("agent".into()))],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn valid_spans_convert_and_then_derive_their_llm_fields() {
        let converted = convert(request(vec![span(1, 2)]));
        assert_eq!(converted.rejected, 0);
        let record = &converted.spans[0];
        assert_eq!(record.trace_id, "01".repeat(16));
        assert_eq!(record.span_id, "02".repeat(8));
        assert_eq!(record.service_name, "agent");
        assert_eq!(record.kind, SpanKind::Client);
        assert_eq!(record.status_code, StatusCode::Error);
        assert_eq!(record.status_message.as_deref(), Some("boom"));
        assert_eq!(record.duration_ns(), 1_000_000_000);
        let span = app::telemetry::services::ingest::normalize(
            record.clone(),
            &Default::default(),
            &Default::default(),
        );
        assert_eq!(span.llm.model.as_deref(), Some("gpt-4o"));
        assert_eq!(span.llm.tokens.input, Some(12));
    }

    #[test]
    fn invalid_spans_are_rejected_one_by_one() {
        let mut short_trace = span(1, 3);
        short_trace.trace_id = vec![1; 8];
        let mut backwards = span(1, 4);
        backwards.end_time_unix_nano = backwards.start_time_unix_nano - 1;
        let mut zero_span = span(1, 5);
        zero_span.span_id = vec![0; 8];
        let converted = convert(request(vec![span(1, 2), short_trace, backwards, zero_span]));
        assert_eq!(converted.spans.len(), 1);
        assert_eq!(converted.rejected, 3);
        assert_eq!(
            converted.first_error.as_deref(),
            Some("trace id must be 16 bytes, got 8")
        );
    }

    #[test]
    fn every_value_type_is_kept() {
        let mut typed = span(1, 2);
        typed.attributes = vec![
            kv("s", any_value::Value::StringValue("x".into())),
            kv("b", any_value::Value::BoolValue(true)),
            kv("i", any_value::Value::IntValue(i64::MAX)),
            kv("d", any_value::Value::DoubleValue(0.5)),
            kv("nan", any_value::Value::DoubleValue(f64::NAN)),
            kv("bytes", any_value::Value::BytesValue(vec![1, 2, 3])),
            kv(
                "array",
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(any_value::Value::IntValue(1)),
                    }],
                }),
            ),
            kv(
                "kvlist",
                any_value::Value::KvlistValue(KeyValueList {
                    values: vec![kv("inner", any_value::Value::StringValue("y".into()))],
                }),
            ),
        ];
        let record = convert(request(vec![typed])).spans.remove(0);
        assert_eq!(
            Value::Object(record.attributes),
            serde_json::json!({
                "s": "x", "b": true, "i": i64::MAX, "d": 0.5, "nan": "NaN",
                "bytes": {"bytes": "AQID"}, "array": [1], "kvlist": {"inner": "y"}
            })
        );
    }
}
