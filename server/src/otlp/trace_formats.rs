//! A stored trace in the JSON that Zipkin's and Jaeger's UIs import: Zipkin
//! v2 (a list of spans, what `POST /api/v2/spans` and Zipkin's "Upload
//! JSON" take) and Jaeger's (the `{"data": [trace]}` of its query API,
//! what "JSON File" upload takes). Both are made from the trace's OTLP
//! form, following OpenTelemetry's mappings to non-OTLP formats and to
//! Zipkin: the service from `service.name`, times in microseconds, the
//! span kind, attributes as tags, status as `otel.status_code` and
//! `error`, the instrumentation scope as `otel.scope.*`, events as
//! annotations (Zipkin) or logs (Jaeger), links as `FOLLOWS_FROM`
//! references (Jaeger; Zipkin has none).

use base64::Engine;
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
    resource::v1::Resource,
    trace::v1::{Span, span::SpanKind, status::StatusCode},
};
use serde_json::{Map, Value, json};

/// What a service without `service.name` is called (the SDKs' default).
const UNKNOWN_SERVICE: &str = "unknown_service";

/// A span with what it inherits from its resource and scope.
struct Placed<'a> {
    span: &'a Span,
    resource: Option<&'a Resource>,
    scope: Option<&'a InstrumentationScope>,
}

fn placed(request: &ExportTraceServiceRequest) -> Vec<Placed<'_>> {
    request
        .resource_spans
        .iter()
        .flat_map(|resource_spans| {
            resource_spans.scope_spans.iter().flat_map(move |scope_spans| {
                scope_spans.spans.iter().map(move |span| Placed {
                    span,
                    resource: resource_spans.resource.as_ref(),
                    scope: scope_spans.scope.as_ref(),
                })
            })
        })
        .collect()
}

fn service_name(resource: Option<&Resource>) -> String {
    resource
        .and_then(|resource| {
            resource
                .attributes
                .iter()
                .find(|attribute| attribute.key == "service.name")
        })
        .and_then(|attribute| attribute.value.as_ref())
        .map(text)
        .unwrap_or_else(|| UNKNOWN_SERVICE.to_owned())
}

fn micros(nanos: u64) -> u64 {
    nanos / 1_000
}

fn duration_micros(span: &Span) -> u64 {
    micros(span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano))
}

/// The status tags: `otel.status_code` unless unset, and its description.
fn status(span: &Span) -> (Option<&'static str>, Option<&str>) {
    let status = span.status.as_ref();
    let code = match status.map(|status| status.code()) {
        Some(StatusCode::Ok) => Some("OK"),
        Some(StatusCode::Error) => Some("ERROR"),
        _ => None,
    };
    let message = status
        .map(|status| status.message.as_str())
        .filter(|message| !message.is_empty());
    (code, message)
}

/// An attribute value as text: strings as they are, the rest as JSON
/// (arrays and maps as JSON arrays and objects, bytes as base64).
fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        _ => json_value(value).to_string(),
    }
}

fn json_value(value: &AnyValue) -> Value {
    match &value.value {
        // A string table's index (profiles): stored traces never hold one.
        None | Some(any_value::Value::StringValueStrindex(_)) => Value::Null,
        Some(any_value::Value::StringValue(text)) => json!(text),
        Some(any_value::Value::BoolValue(flag)) => json!(flag),
        Some(any_value::Value::IntValue(number)) => json!(number),
        Some(any_value::Value::DoubleValue(number)) => json!(number),
        Some(any_value::Value::BytesValue(bytes)) => {
            json!(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        Some(any_value::Value::ArrayValue(array)) => {
            Value::Array(array.values.iter().map(json_value).collect())
        }
        Some(any_value::Value::KvlistValue(list)) => Value::Object(json_object(&list.values)),
    }
}

fn json_object(attributes: &[KeyValue]) -> Map<String, Value> {
    attributes
        .iter()
        .map(|attribute| {
            let value = attribute.value.as_ref().map_or(Value::Null, json_value);
            (attribute.key.clone(), value)
        })
        .collect()
}

/// The trace as Zipkin v2 JSON spans.
pub fn to_zipkin(request: &ExportTraceServiceRequest) -> Value {
    Value::Array(placed(request).iter().map(zipkin_span).collect())
}

fn zipkin_span(placed: &Placed<'_>) -> Value {
    let span = placed.span;
    let mut tags = Map::new();
    for attribute in &span.attributes {
        if let Some(value) = &attribute.value {
            tags.insert(attribute.key.clone(), json!(text(value)));
        }
    }
    if let Some(scope) = placed.scope.filter(|scope| !scope.name.is_empty()) {
        tags.insert("otel.scope.name".to_owned(), json!(scope.name));
        if !scope.version.is_empty() {
            tags.insert("otel.scope.version".to_owned(), json!(scope.version));
        }
    }
    let (code, message) = status(span);
    if let Some(code) = code {
        tags.insert("otel.status_code".to_owned(), json!(code));
    }
    if code == Some("ERROR") {
        tags.insert("error".to_owned(), json!(message.unwrap_or_default()));
    }
    let kind = match span.kind() {
        SpanKind::Server => Some("SERVER"),
        SpanKind::Client => Some("CLIENT"),
        SpanKind::Producer => Some("PRODUCER"),
        SpanKind::Consumer => Some("CONSUMER"),
        SpanKind::Internal | SpanKind::Unspecified => None,
    };
    let annotations: Vec<Value> = span
        .events
        .iter()
        .map(|event| {
            let value = if event.attributes.is_empty() {
                event.name.clone()
            } else {
                format!(
                    "{}:{}",
                    json!(event.name),
                    Value::Object(json_object(&event.attributes))
                )
            };
            json!({"timestamp": micros(event.time_unix_nano), "value": value})
        })
        .collect();
    let mut zipkin = json!({
        "traceId": hex::encode(&span.trace_id),
        "id": hex::encode(&span.span_id),
        "name": span.name,
        "timestamp": micros(span.start_time_unix_nano),
        "duration": duration_micros(span),
        "localEndpoint": {"serviceName": service_name(placed.resource)},
        "tags": tags,
    });
    let fields = zipkin.as_object_mut().expect("an object");
    if !span.parent_span_id.is_empty() {
        fields.insert("parentId".to_owned(), json!(hex::encode(&span.parent_span_id)));
    }
    if let Some(kind) = kind {
        fields.insert("kind".to_owned(), json!(kind));
    }
    if !annotations.is_empty() {
        fields.insert("annotations".to_owned(), Value::Array(annotations));
    }
    zipkin
}

/// The trace as Jaeger's query API answers it: `{"data": [trace]}`, one
/// process per distinct resource.
pub fn to_jaeger(request: &ExportTraceServiceRequest) -> Value {
    let spans = placed(request);
    let mut processes: Vec<(Option<&Resource>, String)> = Vec::new();
    let mut jaeger_spans = Vec::with_capacity(spans.len());
    for placed in &spans {
        let process_id = match processes
            .iter()
            .find(|(resource, _)| *resource == placed.resource)
        {
            Some((_, id)) => id.clone(),
            None => {
                let id = format!("p{}", processes.len() + 1);
                processes.push((placed.resource, id.clone()));
                id
            }
        };
        jaeger_spans.push(jaeger_span(placed, &process_id));
    }
    let trace_id = spans
        .first()
        .map(|placed| hex::encode(&placed.span.trace_id))
        .unwrap_or_default();
    let processes: Map<String, Value> = processes
        .into_iter()
        .map(|(resource, id)| {
            let tags: Vec<Value> = resource
                .map(|resource| {
                    resource
                        .attributes
                        .iter()
                        .filter(|attribute| attribute.key != "service.name")
                        .map(jaeger_tag)
                        .collect()
                })
                .unwrap_or_default();
            (id, json!({"serviceName": service_name(resource), "tags": tags}))
        })
        .collect();
    json!({
        "data": [{
            "traceID": trace_id,
            "spans": jaeger_spans,
            "processes": processes,
            "warnings": null,
        }],
        "total": 0,
        "limit": 0,
        "offset": 0,
        "errors": null,
    })
}

fn jaeger_span(placed: &Placed<'_>, process_id: &str) -> Value {
    let span = placed.span;
    let trace_id = hex::encode(&span.trace_id);
    let mut references = Vec::new();
    if !span.parent_span_id.is_empty() {
        references.push(
            json!({"refType": "CHILD_OF", "traceID": trace_id, "spanID": hex::encode(&span.parent_span_id)}),
        );
    }
    for link in &span.links {
        references.push(
            json!({"refType": "FOLLOWS_FROM", "traceID": hex::encode(&link.trace_id), "spanID": hex::encode(&link.span_id)}),
        );
    }
    let mut tags: Vec<Value> = span.attributes.iter().map(jaeger_tag).collect();
    let mut tag =
        |key: &str, kind: &str, value: Value| tags.push(json!({"key": key, "type": kind, "value": value}));
    let kind = match span.kind() {
        SpanKind::Server => Some("server"),
        SpanKind::Client => Some("client"),
        SpanKind::Producer => Some("producer"),
        SpanKind::Consumer => Some("consumer"),
        SpanKind::Internal => Some("internal"),
        SpanKind::Unspecified => None,
    };
    if let Some(kind) = kind {
        tag("span.kind", "string", json!(kind));
    }
    if let Some(scope) = placed.scope.filter(|scope| !scope.name.is_empty()) {
        tag("otel.scope.name", "string", json!(scope.name));
        if !scope.version.is_empty() {
            tag("otel.scope.version", "string", json!(scope.version));
        }
    }
    let (code, message) = status(span);
    if let Some(code) = code {
        tag("otel.status_code", "string", json!(code));
    }
    if code == Some("ERROR") {
        tag("error", "bool", json!(true));
    }
    if let Some(message) = message {
        tag("otel.status_description", "string", json!(message));
    }
    let logs: Vec<Value> = span
        .events
        .iter()
        .map(|event| {
            let mut fields = vec![json!({"key": "event", "type": "string", "value": event.name})];
            fields.extend(event.attributes.iter().map(jaeger_tag));
            json!({"timestamp": micros(event.time_unix_nano), "fields": fields})
        })
        .collect();
    json!({
        "traceID": trace_id,
        "spanID": hex::encode(&span.span_id),
        "operationName": span.name,
        "references": references,
        "startTime": micros(span.start_time_unix_nano),
        "duration": duration_micros(span),
        "tags": tags,
        "logs": logs,
        "processID": process_id,
        "warnings": null,
    })
}

/// A Jaeger tag with the type its value has; arrays and maps as JSON text.
fn jaeger_tag(attribute: &KeyValue) -> Value {
    let (kind, value) = match attribute.value.as_ref().and_then(|value| value.value.as_ref()) {
        Some(any_value::Value::BoolValue(flag)) => ("bool", json!(flag)),
        Some(any_value::Value::IntValue(number)) => ("int64", json!(number)),
        Some(any_value::Value::DoubleValue(number)) => ("float64", json!(number)),
        Some(any_value::Value::BytesValue(bytes)) => (
            "binary",
            json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
        ),
        _ => (
            "string",
            json!(attribute.value.as_ref().map(text).unwrap_or_default()),
        ),
    };
    json!({"key": attribute.key, "type": kind, "value": value})
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::{
        common::v1::ArrayValue,
        trace::v1::{
            ResourceSpans, ScopeSpans, Status,
            span::{Event, Link},
        },
    };

    use super::*;

    fn string(key: &str, value: &str) -> KeyValue {
        typed(key, any_value::Value::StringValue(value.to_owned()))
    }

    fn typed(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    /// An agent's call to a model (client, error) under its root, from two services.
    fn request() -> ExportTraceServiceRequest {
        let root = Span {
            trace_id: vec![0xab; 16],
            span_id: vec![1; 8],
            name: "invoke_agent".to_owned(),
            kind: SpanKind::Internal as i32,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_250_000_000,
            status: Some(Status {
                code: StatusCode::Ok as i32,
                message: String::new(),
            }),
            ..Default::default()
        };
        let call = Span {
            trace_id: vec![0xab; 16],
            span_id: vec![2; 8],
            parent_span_id: vec![1; 8],
            name: "chat gpt-4o".to_owned(),
            kind: SpanKind::Client as i32,
            start_time_unix_nano: 1_700_000_000_010_000_000,
            end_time_unix_nano: 1_700_000_000_200_500_000,
            attributes: vec![
                string("gen_ai.request.model", "gpt-4o"),
                typed("gen_ai.usage.input_tokens", any_value::Value::IntValue(42)),
                typed("gen_ai.request.temperature", any_value::Value::DoubleValue(0.2)),
                typed("gen_ai.response.streaming", any_value::Value::BoolValue(true)),
                typed(
                    "gen_ai.response.finish_reasons",
                    any_value::Value::ArrayValue(ArrayValue {
                        values: vec![AnyValue {
                            value: Some(any_value::Value::StringValue("stop".to_owned())),
                        }],
                    }),
                ),
            ],
            events: vec![
                Event {
                    time_unix_nano: 1_700_000_000_100_000_000,
                    name: "first token".to_owned(),
                    ..Default::default()
                },
                Event {
                    time_unix_nano: 1_700_000_000_150_000_000,
                    name: "retry".to_owned(),
                    attributes: vec![string("reason", "rate limited")],
                    ..Default::default()
                },
            ],
            links: vec![Link {
                trace_id: vec![0xcd; 16],
                span_id: vec![9; 8],
                ..Default::default()
            }],
            status: Some(Status {
                code: StatusCode::Error as i32,
                message: "429 from the provider".to_owned(),
            }),
            ..Default::default()
        };
        let resource = |service: &str| Resource {
            attributes: vec![
                string("service.name", service),
                string("deployment.environment", "test"),
            ],
            ..Default::default()
        };
        let scope = InstrumentationScope {
            name: "opentelemetry.instrumentation.openai".to_owned(),
            version: "0.40.0".to_owned(),
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(resource("agent")),
                    scope_spans: vec![ScopeSpans {
                        spans: vec![root],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                ResourceSpans {
                    resource: Some(resource("llm-gateway")),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(scope),
                        spans: vec![call],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
        }
    }

    #[test]
    fn zipkin_spans_follow_the_mapping() {
        let spans = to_zipkin(&request());
        let [root, call] = spans.as_array().unwrap().as_slice() else {
            panic!("two spans: {spans}")
        };
        assert_eq!(root["traceId"], "ab".repeat(16));
        assert_eq!(root["id"], "0101010101010101");
        assert!(root.get("parentId").is_none() && root.get("kind").is_none());
        assert_eq!(root["localEndpoint"]["serviceName"], "agent");
        assert_eq!(root["timestamp"], 1_700_000_000_000_000u64);
        assert_eq!(root["duration"], 250_000);
        assert_eq!(root["tags"], json!({"otel.status_code": "OK"}));

        assert_eq!(call["parentId"], "0101010101010101");
        assert_eq!(call["kind"], "CLIENT");
        assert_eq!(call["duration"], 190_500);
        assert_eq!(call["localEndpoint"]["serviceName"], "llm-gateway");
        assert_eq!(
            call["tags"],
            json!({
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": "42",
                "gen_ai.request.temperature": "0.2",
                "gen_ai.response.streaming": "true",
                "gen_ai.response.finish_reasons": "[\"stop\"]",
                "otel.scope.name": "opentelemetry.instrumentation.openai",
                "otel.scope.version": "0.40.0",
                "otel.status_code": "ERROR",
                "error": "429 from the provider",
            })
        );
        assert_eq!(
            call["annotations"],
            json!([
                {"timestamp": 1_700_000_000_100_000u64, "value": "first token"},
                {"timestamp": 1_700_000_000_150_000u64, "value": "\"retry\":{\"reason\":\"rate limited\"}"},
            ])
        );
    }

    #[test]
    fn jaeger_trace_has_processes_references_typed_tags_and_logs() {
        let document = to_jaeger(&request());
        let trace = &document["data"][0];
        assert_eq!(trace["traceID"], "ab".repeat(16));
        assert_eq!(
            trace["processes"],
            json!({
                "p1": {"serviceName": "agent", "tags": [{"key": "deployment.environment", "type": "string", "value": "test"}]},
                "p2": {"serviceName": "llm-gateway", "tags": [{"key": "deployment.environment", "type": "string", "value": "test"}]},
            })
        );
        let [root, call] = trace["spans"].as_array().unwrap().as_slice() else {
            panic!("two spans: {trace}")
        };
        assert_eq!(root["processID"], "p1");
        assert_eq!(root["references"], json!([]));
        assert_eq!(root["startTime"], 1_700_000_000_000_000u64);
        assert_eq!(call["processID"], "p2");
        assert_eq!(call["operationName"], "chat gpt-4o");
        assert_eq!(
            call["references"],
            json!([
                {"refType": "CHILD_OF", "traceID": "ab".repeat(16), "spanID": "0101010101010101"},
                {"refType": "FOLLOWS_FROM", "traceID": "cd".repeat(16), "spanID": "0909090909090909"},
            ])
        );
        let tags = call["tags"].as_array().unwrap();
        let tag = |key: &str| tags.iter().find(|tag| tag["key"] == key).unwrap().clone();
        assert_eq!(
            tag("gen_ai.usage.input_tokens"),
            json!({"key": "gen_ai.usage.input_tokens", "type": "int64", "value": 42})
        );
        assert_eq!(tag("gen_ai.request.temperature")["type"], "float64");
        assert_eq!(tag("gen_ai.response.streaming")["value"], true);
        assert_eq!(tag("gen_ai.response.finish_reasons")["value"], "[\"stop\"]");
        assert_eq!(tag("span.kind")["value"], "client");
        assert_eq!(
            tag("error"),
            json!({"key": "error", "type": "bool", "value": true})
        );
        assert_eq!(tag("otel.status_description")["value"], "429 from the provider");
        assert_eq!(
            tag("otel.scope.name")["value"],
            "opentelemetry.instrumentation.openai"
        );
        assert_eq!(
            call["logs"][1],
            json!({"timestamp": 1_700_000_000_150_000u64, "fields": [
                {"key": "event", "type": "string", "value": "retry"},
                {"key": "reason", "type": "string", "value": "rate limited"},
            ]})
        );
    }

    #[test]
    fn a_resource_without_a_service_name_is_the_unknown_service() {
        let mut request = request();
        request.resource_spans[0].resource = None;
        assert_eq!(
            to_zipkin(&request)[0]["localEndpoint"]["serviceName"],
            "unknown_service"
        );
        assert_eq!(
            to_jaeger(&request)["data"][0]["processes"]["p1"]["serviceName"],
            "unknown_service"
        );
    }
}
