//! A realistic demo agent trace, for the configuration card's "Send a test
//! trace": an agent run with two model requests, a tool call producing a
//! diff, its result and the final response. Its spans are built from
//! attributes as an SDK would send them and take the ingest pipeline from
//! there: the ingest policy, GenAI derivation, pricing, the writer.

use serde_json::{Value, json};

use crate::telemetry::services::{
    ingest::{policy::IngestPolicy, pricing::OrgPricing},
    span::record::{Attributes, Scope, SpanKind, SpanRecord, StatusCode},
    span_store::SpanRow,
};

/// `bytes` random bytes as lower-case hex.
fn hex_id(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>().max(1)))
        .collect()
}

fn attributes(value: Value) -> Attributes {
    match value {
        Value::Object(map) => map,
        _ => Attributes::new(),
    }
}

const DEMO_DIFF: &str = "--- a/src/parser.rs\n+++ b/src/parser.rs\n@@ -12,7 +12,10 @@ impl Parser {\n     pub fn parse(&mut self, input: &str) -> Result<Ast, ParseError> {\n-        let first = input.chars().next().unwrap();\n+        let Some(first) = input.chars().next() else {\n+            return Err(ParseError::Empty);\n+        };\n         self.expression(first)\n     }\n }\n";

/// The demo trace's spans as SDKs would send them, starting at `now_ns`;
/// returns them and the trace id.
pub fn demo_records(now_ns: i64) -> (String, Vec<SpanRecord>) {
    let trace_id = hex_id(16);
    let agent_id = hex_id(8);
    let ms = 1_000_000_i64;
    let spans: Vec<(&str, Option<&str>, i64, i64, Value)> = vec![
        (
            "invoke_agent coder",
            None,
            0,
            9_400,
            json!({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "coder"}),
        ),
        (
            "chat gpt-4o",
            Some("agent"),
            120,
            3_100,
            json!({
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 2_350, "gen_ai.usage.output_tokens": 180,
                "gen_ai.usage.cache_read.input_tokens": 1_792, "gen_ai.request.temperature": 0.2,
                "gen_ai.response.finish_reasons": ["tool_calls"],
                "gen_ai.input.messages": "[{\"role\":\"system\",\"parts\":[{\"type\":\"text\",\"content\":\"You are a careful coding agent.\"}]},{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"The parser panics on empty input. Make it return an error.\"}]}]",
                "gen_ai.output.messages": "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"tool_call\",\"id\":\"call_1\",\"name\":\"apply_patch\",\"arguments\":{\"path\":\"src/parser.rs\"}}],\"finish_reason\":\"tool_calls\"}]",
            }),
        ),
        (
            "gen_ai.tool_call",
            Some("agent"),
            3_150,
            3_160,
            json!({"tool.name": "apply_patch", "gen_ai.tool.call.id": "call_1", "tool.arguments": "{\"path\":\"src/parser.rs\"}"}),
        ),
        (
            "gen_ai.tool_result",
            Some("agent"),
            3_160,
            3_420,
            json!({"tool.name": "apply_patch", "gen_ai.tool.call.id": "call_1", "tool.status": "ok", "tool.duration_ms": 260, "tool.output.diff": DEMO_DIFF}),
        ),
        (
            "chat gpt-4o",
            Some("agent"),
            3_500,
            9_200,
            json!({
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 2_710, "gen_ai.usage.output_tokens": 96,
                "gen_ai.usage.cache_read.input_tokens": 2_304, "gen_ai.response.finish_reasons": ["stop"],
            }),
        ),
        (
            "gen_ai.response",
            Some("agent"),
            9_210,
            9_380,
            json!({"completion": "Empty input now returns ParseError::Empty instead of panicking; a regression test covers it."}),
        ),
    ];
    let records = spans
        .into_iter()
        .enumerate()
        .map(|(index, (name, parent, start_ms, end_ms, attrs))| SpanRecord {
            trace_id: trace_id.clone(),
            span_id: if index == 0 { agent_id.clone() } else { hex_id(8) },
            parent_span_id: parent.map(|_| agent_id.clone()),
            name: name.to_owned(),
            kind: if name.starts_with("chat") {
                SpanKind::Client
            } else {
                SpanKind::Internal
            },
            start_time_ns: now_ns + start_ms * ms,
            end_time_ns: now_ns + end_ms * ms,
            status_code: StatusCode::Ok,
            status_message: None,
            service_name: "specula-demo-agent".to_owned(),
            resource_attributes: attributes_of_resource(),
            scope: Scope {
                name: "specula.demo".to_owned(),
                version: None,
                attributes: Attributes::new(),
            },
            attributes: attributes(attrs),
            events: Vec::new(),
            links: Vec::new(),
        })
        .collect();
    (trace_id, records)
}

/// The demo trace through the ingest pipeline, ready for the writer.
pub fn demo_trace(now_ns: i64, policy: &IngestPolicy, pricing: &OrgPricing) -> (String, Vec<SpanRow>) {
    let (trace_id, records) = demo_records(now_ns);
    (trace_id, super::prepare(records, policy, pricing).rows)
}

fn attributes_of_resource() -> Attributes {
    attributes(json!({"service.name": "specula-demo-agent", "telemetry.sdk.name": "specula-demo"}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::services::span::{genai::LlmKind, normalized::NormalizedSpan};

    #[test]
    fn the_demo_trace_looks_like_an_agent_run() {
        let (trace_id, records) = demo_records(1_700_000_000_000_000_000);
        let spans: Vec<NormalizedSpan> = records
            .into_iter()
            .map(|record| {
                crate::telemetry::services::ingest::normalize(
                    record,
                    &IngestPolicy::default(),
                    &OrgPricing::default(),
                )
            })
            .collect();
        assert_eq!(trace_id.len(), 32);
        assert!(trace_id.chars().all(|c| c.is_ascii_hexdigit()));
        let kinds: Vec<LlmKind> = spans.iter().map(|span| span.llm.kind).collect();
        assert_eq!(
            kinds,
            [
                LlmKind::Agent,
                LlmKind::Request,
                LlmKind::ToolCall,
                LlmKind::ToolResult,
                LlmKind::Request,
                LlmKind::Response
            ]
        );
        assert!(
            spans[3]
                .llm
                .diff
                .as_deref()
                .is_some_and(|diff| diff.starts_with("--- a/src/parser.rs"))
        );
        assert!(
            spans[1..]
                .iter()
                .all(|span| span.record.parent_span_id.as_deref() == Some(spans[0].record.span_id.as_str()))
        );
        assert!(
            spans
                .iter()
                .all(|span| span.record.end_time_ns >= span.record.start_time_ns)
        );
        assert!(spans[1].cost.nanos().is_some(), "the model is priced");
    }
}
