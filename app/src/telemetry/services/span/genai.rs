//! The LLM meaning of a span, read from whichever attribute dialect the
//! instrumentation speaks. Pure functions over attributes and events.
//!
//! Dialects, first match wins in the order listed for each field:
//! - OTel GenAI ≥ 1.37 and ≤ 1.36:
//!   <https://github.com/open-telemetry/semantic-conventions/blob/main/docs/gen-ai/gen-ai-spans.md>
//!   and <https://github.com/open-telemetry/semantic-conventions/blob/main/docs/gen-ai/gen-ai-events.md>
//! - OpenInference: <https://github.com/Arize-ai/openinference/blob/main/spec/semantic_conventions.md>
//! - OpenLLMetry / traceloop: <https://github.com/traceloop/openllmetry/blob/main/packages/opentelemetry-semantic-conventions-ai/opentelemetry_semantic_conventions_ai/__init__.py>
//! - Specula's own seed names (`gen_ai.request`, `prompt`, `tool.output.diff`, …).
//!
//! The full table is in `docs/genai-attributes.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::telemetry::services::span::record::{Attributes, SpanEvent};

/// What a span is, in LLM terms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmKind {
    Request,
    Response,
    ToolCall,
    ToolResult,
    Agent,
    Embedding,
    Retrieval,
    #[default]
    Other,
}

impl LlmKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LlmKind::Request => "request",
            LlmKind::Response => "response",
            LlmKind::ToolCall => "tool_call",
            LlmKind::ToolResult => "tool_result",
            LlmKind::Agent => "agent",
            LlmKind::Embedding => "embedding",
            LlmKind::Retrieval => "retrieval",
            LlmKind::Other => "other",
        }
    }
}

/// Token counts. `input` includes cached input tokens, as in OTel GenAI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub input: Option<i64>,
    pub output: Option<i64>,
    pub cache_read: Option<i64>,
    pub cache_write: Option<i64>,
    pub reasoning: Option<i64>,
}

/// The fields derived from a span's attributes and events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmFields {
    pub kind: LlmKind,
    pub operation: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub request_model: Option<String>,
    pub tokens: TokenUsage,
    /// Request parameters: temperature, max_tokens, top_p, top_k, seed, stop_sequences…
    pub parameters: Attributes,
    pub finish_reasons: Vec<String>,
    pub response_id: Option<String>,
    pub tool_name: Option<String>,
    pub tool_call_id: Option<String>,
    pub tool_arguments: Option<String>,
    pub tool_result: Option<String>,
    /// `tool.output.diff`: a unified diff produced by a tool.
    pub diff: Option<String>,
    /// The input messages as JSON (`[{"role", "content"}]` or OTel parts), or plain text.
    pub prompt: Option<String>,
    /// The output messages as JSON, or plain text.
    pub completion: Option<String>,
    pub session_id: Option<String>,
    pub end_user_id: Option<String>,
    /// A cost the client computed itself, in USD (kept beside Specula's own).
    pub client_cost_usd: Option<f64>,
}

/// Attribute names, grouped by meaning; each list is in priority order.
pub mod keys {
    pub const OPERATION: &[&str] = &["gen_ai.operation.name", "llm.request.type"];
    pub const PROVIDER: &[&str] = &[
        "gen_ai.provider.name",
        "gen_ai.system",
        "llm.provider",
        "llm.system",
    ];
    pub const RESPONSE_MODEL: &[&str] = &["gen_ai.response.model", "llm.response.model"];
    pub const REQUEST_MODEL: &[&str] = &[
        "gen_ai.request.model",
        "llm.model_name",
        "llm.request.model",
        "model",
    ];
    pub const INPUT_TOKENS: &[&str] = &[
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
        "llm.usage.prompt_tokens",
    ];
    pub const OUTPUT_TOKENS: &[&str] = &[
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
        "llm.usage.completion_tokens",
    ];
    pub const CACHE_READ_TOKENS: &[&str] = &[
        "gen_ai.usage.cache_read.input_tokens",
        "llm.token_count.prompt_details.cache_read",
        "gen_ai.usage.cache_read_input_tokens",
    ];
    pub const CACHE_WRITE_TOKENS: &[&str] = &[
        "gen_ai.usage.cache_creation.input_tokens",
        "llm.token_count.prompt_details.cache_write",
        "gen_ai.usage.cache_creation_input_tokens",
    ];
    pub const REASONING_TOKENS: &[&str] = &[
        "gen_ai.usage.reasoning.output_tokens",
        "llm.token_count.completion_details.reasoning",
        "llm.usage.reasoning_tokens",
    ];
    pub const RESPONSE_ID: &[&str] = &["gen_ai.response.id"];
    pub const FINISH_REASONS: &[&str] = &["gen_ai.response.finish_reasons", "llm.finish_reason"];
    pub const TOOL_NAME: &[&str] = &["gen_ai.tool.name", "tool.name"];
    pub const TOOL_CALL_ID: &[&str] = &["gen_ai.tool.call.id", "tool.id", "tool.call_id", "tool_call.id"];
    pub const TOOL_ARGUMENTS: &[&str] = &["gen_ai.tool.call.arguments", "tool.arguments", "tool.parameters"];
    pub const TOOL_RESULT: &[&str] = &["gen_ai.tool.call.result", "tool.result", "tool.output"];
    pub const DIFF: &[&str] = &["tool.output.diff"];
    pub const INPUT_MESSAGES: &[&str] = &["gen_ai.input.messages"];
    pub const SYSTEM_INSTRUCTIONS: &[&str] = &["gen_ai.system_instructions"];
    pub const OUTPUT_MESSAGES: &[&str] = &["gen_ai.output.messages"];
    pub const PROMPT_TEXT: &[&str] = &["prompt", "input.value", "traceloop.entity.input"];
    pub const COMPLETION_TEXT: &[&str] = &[
        "completion",
        "response",
        "output.value",
        "traceloop.entity.output",
    ];
    pub const SESSION: &[&str] = &[
        "gen_ai.conversation.id",
        "session.id",
        "traceloop.association.properties.session_id",
    ];
    pub const END_USER: &[&str] = &[
        "user.id",
        "enduser.id",
        "traceloop.association.properties.user_id",
    ];
    pub const CLIENT_COST: &[&str] = &["gen_ai.usage.cost", "llm.cost.total"];
    pub const OPENINFERENCE_KIND: &str = "openinference.span.kind";
    pub const TRACELOOP_KIND: &str = "traceloop.span.kind";
    pub const TRACELOOP_ENTITY_NAME: &str = "traceloop.entity.name";
    pub const INVOCATION_PARAMETERS: &str = "llm.invocation_parameters";
    /// `gen_ai.request.*` parameters kept as request parameters.
    pub const PARAMETERS: &[(&str, &str)] = &[
        ("gen_ai.request.temperature", "temperature"),
        ("gen_ai.request.max_tokens", "max_tokens"),
        ("gen_ai.request.top_p", "top_p"),
        ("gen_ai.request.top_k", "top_k"),
        ("gen_ai.request.seed", "seed"),
        ("gen_ai.request.stop_sequences", "stop_sequences"),
        ("gen_ai.request.frequency_penalty", "frequency_penalty"),
        ("gen_ai.request.presence_penalty", "presence_penalty"),
        ("llm.top_k", "top_k"),
        ("temperature", "temperature"),
    ];
    /// OTel GenAI ≤ 1.36 message events.
    pub const INPUT_MESSAGE_EVENTS: &[(&str, &str)] = &[
        ("gen_ai.system.message", "system"),
        ("gen_ai.user.message", "user"),
        ("gen_ai.assistant.message", "assistant"),
        ("gen_ai.tool.message", "tool"),
    ];
    pub const CHOICE_EVENT: &str = "gen_ai.choice";
}

/// Span names of Specula's seed convention.
mod seed_names {
    pub const REQUEST: &str = "gen_ai.request";
    pub const RESPONSE: &str = "gen_ai.response";
    pub const TOOL_CALL: &str = "gen_ai.tool_call";
    pub const TOOL_RESULT: &str = "gen_ai.tool_result";
}

fn first<'a>(attributes: &'a Attributes, names: &[&str]) -> Option<&'a Value> {
    names
        .iter()
        .find_map(|name| attributes.get(*name).filter(|value| !value.is_null()))
}

fn first_string(attributes: &Attributes, names: &[&str]) -> Option<String> {
    first(attributes, names)
        .and_then(value_to_text)
        .filter(|text| !text.is_empty())
}

fn first_count(attributes: &Attributes, names: &[&str]) -> Option<i64> {
    names
        .iter()
        .find_map(|name| attributes.get(*name).and_then(value_to_count))
}

/// A token count from an integer, a whole double or a numeric string; negative counts are dropped.
fn value_to_count(value: &Value) -> Option<i64> {
    let count = match value {
        Value::Number(number) => number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }?;
    (count >= 0).then_some(count)
}

/// Text of a value: strings as they are, anything else as compact JSON.
fn value_to_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

fn value_to_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// Collects indexed attributes `{prefix}.{i}.{field}` (OpenLLMetry, and
/// OpenInference with `field_prefix` `message.`) into messages
/// `[{"role", "content", "tool_calls": [{"id", "name", "arguments"}], "tool_call_id"}]`,
/// in index order. Tool calls arrive as `tool_calls.{j}.{id|name|arguments}`
/// (OpenLLMetry) or `tool_calls.{j}.tool_call.{id|function.name|function.arguments}`
/// (OpenInference).
fn indexed_messages(attributes: &Attributes, prefix: &str, field_prefix: &str) -> Option<Value> {
    let mut messages: BTreeMap<usize, Map<String, Value>> = BTreeMap::new();
    let mut calls: BTreeMap<(usize, usize), Map<String, Value>> = BTreeMap::new();
    for (key, value) in attributes {
        let Some(rest) = key.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('.')) else {
            continue;
        };
        let Some((index, field)) = rest.split_once('.') else {
            continue;
        };
        let Ok(index) = index.parse::<usize>() else {
            continue;
        };
        let field = field.strip_prefix(field_prefix).unwrap_or(field);
        if let Some(call) = field.strip_prefix("tool_calls.") {
            let Some((call_index, call_field)) = call.split_once('.') else {
                continue;
            };
            let Ok(call_index) = call_index.parse::<usize>() else {
                continue;
            };
            let call_field = call_field.strip_prefix("tool_call.").unwrap_or(call_field);
            let call_field = call_field.strip_prefix("function.").unwrap_or(call_field);
            if matches!(call_field, "id" | "name" | "arguments") {
                calls
                    .entry((index, call_index))
                    .or_default()
                    .insert(call_field.to_owned(), value.clone());
            }
        } else if matches!(field, "role" | "content" | "tool_call_id" | "name") {
            messages
                .entry(index)
                .or_default()
                .insert(field.to_owned(), value.clone());
        }
    }
    for ((index, _), call) in calls {
        let message = messages.entry(index).or_default();
        if let Value::Array(list) = message
            .entry("tool_calls")
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            list.push(Value::Object(call));
        }
    }
    (!messages.is_empty()).then(|| Value::Array(messages.into_values().map(Value::Object).collect()))
}

/// The values of `{prefix}.{i}.{field}` attributes, in index order.
fn indexed_values(attributes: &Attributes, prefix: &str, field: &str) -> Vec<Value> {
    let mut values: Vec<(usize, Value)> = attributes
        .iter()
        .filter_map(|(key, value)| {
            let rest = key.strip_prefix(prefix)?.strip_prefix('.')?;
            let (index, name) = rest.split_once('.')?;
            (name == field)
                .then(|| Some((index.parse().ok()?, value.clone())))
                .flatten()
        })
        .collect();
    values.sort_by_key(|(index, _)| *index);
    values.into_iter().map(|(_, value)| value).collect()
}

/// Messages from OTel GenAI ≤ 1.36 events: inputs from `gen_ai.*.message`, outputs from `gen_ai.choice`.
fn event_messages(events: &[SpanEvent]) -> (Option<Value>, Option<Value>) {
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    for event in events {
        if let Some((_, role)) = keys::INPUT_MESSAGE_EVENTS
            .iter()
            .find(|(name, _)| *name == event.name)
        {
            let mut message = Map::new();
            message.insert(
                "role".to_owned(),
                json!(event.attributes.get("role").cloned().unwrap_or(json!(role))),
            );
            if let Some(content) = event.attributes.get("content") {
                message.insert("content".to_owned(), content.clone());
            }
            inputs.push(Value::Object(message));
        } else if event.name == keys::CHOICE_EVENT {
            let mut choice = event.attributes.clone();
            if let Some(Value::String(text)) = choice.get("message")
                && let Ok(parsed) = serde_json::from_str::<Value>(text)
            {
                choice.insert("message".to_owned(), parsed);
            }
            outputs.push(Value::Object(choice));
        }
    }
    let wrap = |messages: Vec<Value>| (!messages.is_empty()).then_some(Value::Array(messages));
    (wrap(inputs), wrap(outputs))
}

/// A JSON attribute that may arrive as a JSON string or as a structured value.
fn json_attribute(attributes: &Attributes, names: &[&str]) -> Option<Value> {
    match first(attributes, names)? {
        Value::String(text) => serde_json::from_str(text)
            .ok()
            .or_else(|| Some(Value::String(text.clone()))),
        other => Some(other.clone()),
    }
}

fn kind_of(name: &str, attributes: &Attributes, operation: Option<&str>, has_model: bool) -> LlmKind {
    match name {
        seed_names::REQUEST => return LlmKind::Request,
        seed_names::RESPONSE => return LlmKind::Response,
        seed_names::TOOL_CALL => return LlmKind::ToolCall,
        seed_names::TOOL_RESULT => return LlmKind::ToolResult,
        _ => {}
    }
    if let Some(operation) = operation {
        match operation {
            "chat" | "text_completion" | "generate_content" | "completion" => return LlmKind::Request,
            "embeddings" | "embedding" => return LlmKind::Embedding,
            "retrieval" | "rerank" => return LlmKind::Retrieval,
            "execute_tool" => return LlmKind::ToolCall,
            "invoke_agent" | "create_agent" | "invoke_workflow" => return LlmKind::Agent,
            _ => {}
        }
    }
    if let Some(kind) = attributes.get(keys::OPENINFERENCE_KIND).and_then(Value::as_str) {
        match kind.to_ascii_uppercase().as_str() {
            "LLM" => return LlmKind::Request,
            "TOOL" => return LlmKind::ToolCall,
            "AGENT" | "CHAIN" => return LlmKind::Agent,
            "RETRIEVER" | "RERANKER" => return LlmKind::Retrieval,
            "EMBEDDING" => return LlmKind::Embedding,
            _ => {}
        }
    }
    if let Some(kind) = attributes.get(keys::TRACELOOP_KIND).and_then(Value::as_str) {
        match kind {
            "workflow" | "agent" | "task" => return LlmKind::Agent,
            "tool" => return LlmKind::ToolCall,
            _ => {}
        }
    }
    if attributes.contains_key("gen_ai.tool.name") || attributes.contains_key("tool.name") {
        return LlmKind::ToolCall;
    }
    if has_model {
        LlmKind::Request
    } else {
        LlmKind::Other
    }
}

/// Derives the LLM fields of a span named `name`.
pub fn derive(name: &str, attributes: &Attributes, events: &[SpanEvent]) -> LlmFields {
    let operation = first_string(attributes, keys::OPERATION);
    let request_model = first_string(attributes, keys::REQUEST_MODEL);
    let model = first_string(attributes, keys::RESPONSE_MODEL).or_else(|| request_model.clone());
    let kind = kind_of(name, attributes, operation.as_deref(), model.is_some());

    let mut parameters = Map::new();
    if let Some(Value::Object(invocation)) = json_attribute(attributes, &[keys::INVOCATION_PARAMETERS]) {
        parameters.extend(invocation);
    }
    for (key, parameter) in keys::PARAMETERS {
        if let Some(value) = attributes.get(*key) {
            parameters
                .entry((*parameter).to_owned())
                .or_insert_with(|| value.clone());
        }
    }

    let finish_reasons = match first(attributes, keys::FINISH_REASONS) {
        Some(Value::Array(reasons)) => reasons.iter().filter_map(value_to_text).collect(),
        Some(other) => value_to_text(other).into_iter().collect(),
        None => indexed_values(attributes, "gen_ai.completion", "finish_reason")
            .iter()
            .filter_map(value_to_text)
            .collect(),
    };

    let (event_inputs, event_outputs) = event_messages(events);
    let prompt = json_attribute(attributes, keys::INPUT_MESSAGES)
        .map(|messages| {
            with_system_instructions(messages, json_attribute(attributes, keys::SYSTEM_INSTRUCTIONS))
        })
        .or(event_inputs)
        .or_else(|| indexed_messages(attributes, "llm.input_messages", "message."))
        .or_else(|| indexed_messages(attributes, "gen_ai.prompt", ""))
        .map(into_text)
        .or_else(|| first_string(attributes, keys::PROMPT_TEXT).filter(|_| kind != LlmKind::ToolCall));
    let completion = json_attribute(attributes, keys::OUTPUT_MESSAGES)
        .or(event_outputs)
        .or_else(|| indexed_messages(attributes, "llm.output_messages", "message."))
        .or_else(|| indexed_messages(attributes, "gen_ai.completion", ""))
        .map(into_text)
        .or_else(|| first_string(attributes, keys::COMPLETION_TEXT).filter(|_| kind != LlmKind::ToolCall));

    let is_tool = matches!(kind, LlmKind::ToolCall | LlmKind::ToolResult);
    let traceloop_tool = attributes.get(keys::TRACELOOP_KIND).and_then(Value::as_str) == Some("tool");
    let tool_name = first_string(attributes, keys::TOOL_NAME).or_else(|| {
        traceloop_tool
            .then(|| first_string(attributes, &[keys::TRACELOOP_ENTITY_NAME]))
            .flatten()
    });
    let tool_arguments = first_string(attributes, keys::TOOL_ARGUMENTS).or_else(|| {
        is_tool
            .then(|| first_string(attributes, &["traceloop.entity.input", "input.value"]))
            .flatten()
    });
    let tool_result = first_string(attributes, keys::TOOL_RESULT).or_else(|| {
        is_tool
            .then(|| first_string(attributes, &["traceloop.entity.output", "output.value"]))
            .flatten()
    });

    LlmFields {
        kind,
        operation,
        provider: first_string(attributes, keys::PROVIDER),
        model,
        request_model,
        tokens: TokenUsage {
            input: first_count(attributes, keys::INPUT_TOKENS),
            output: first_count(attributes, keys::OUTPUT_TOKENS),
            cache_read: first_count(attributes, keys::CACHE_READ_TOKENS),
            cache_write: first_count(attributes, keys::CACHE_WRITE_TOKENS),
            reasoning: first_count(attributes, keys::REASONING_TOKENS),
        },
        parameters,
        finish_reasons,
        response_id: first_string(attributes, keys::RESPONSE_ID),
        tool_name,
        tool_call_id: first_string(attributes, keys::TOOL_CALL_ID),
        tool_arguments,
        tool_result,
        diff: first_string(attributes, keys::DIFF),
        prompt,
        completion,
        session_id: first_string(attributes, keys::SESSION),
        end_user_id: first_string(attributes, keys::END_USER),
        client_cost_usd: first(attributes, keys::CLIENT_COST).and_then(value_to_f64),
    }
}

/// Messages as JSON text; a plain string (free text, or a digest under
/// hashed capture) as itself rather than as a quoted JSON string.
fn into_text(messages: Value) -> String {
    match messages {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

/// Puts `gen_ai.system_instructions` in front of the input messages as a system message.
fn with_system_instructions(messages: Value, instructions: Option<Value>) -> Value {
    match (messages, instructions) {
        (Value::Array(mut messages), Some(instructions)) => {
            let parts = match instructions {
                Value::Array(parts) => parts,
                other => vec![json!({"type": "text", "content": other})],
            };
            messages.insert(0, json!({"role": "system", "parts": parts}));
            Value::Array(messages)
        }
        (messages, _) => messages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(value: Value) -> Attributes {
        match value {
            Value::Object(map) => map,
            _ => panic!("an object"),
        }
    }

    #[test]
    fn otel_genai_latest() {
        let attrs = attributes(json!({
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 1200,
            "gen_ai.usage.output_tokens": 300,
            "gen_ai.usage.cache_read.input_tokens": 1000,
            "gen_ai.usage.cache_creation.input_tokens": 50,
            "gen_ai.usage.reasoning.output_tokens": 120,
            "gen_ai.request.temperature": 0.2,
            "gen_ai.request.max_tokens": 1024,
            "gen_ai.response.id": "chatcmpl-1",
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.input.messages": "[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"Fix the bug\"}]}]",
            "gen_ai.system_instructions": "[{\"type\":\"text\",\"content\":\"You are a coding agent\"}]",
            "gen_ai.output.messages": "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"Done\"}],\"finish_reason\":\"stop\"}]",
            "gen_ai.conversation.id": "conv-7",
            "user.id": "u-42"
        }));
        let fields = derive("chat gpt-4o", &attrs, &[]);
        assert_eq!(fields.kind, LlmKind::Request);
        assert_eq!(fields.provider.as_deref(), Some("openai"));
        assert_eq!(fields.model.as_deref(), Some("gpt-4o-2024-08-06"));
        assert_eq!(fields.request_model.as_deref(), Some("gpt-4o"));
        assert_eq!(
            fields.tokens,
            TokenUsage {
                input: Some(1200),
                output: Some(300),
                cache_read: Some(1000),
                cache_write: Some(50),
                reasoning: Some(120)
            }
        );
        assert_eq!(fields.parameters["temperature"], json!(0.2));
        assert_eq!(fields.parameters["max_tokens"], json!(1024));
        assert_eq!(fields.finish_reasons, ["stop"]);
        assert_eq!(fields.response_id.as_deref(), Some("chatcmpl-1"));
        let prompt: Value = serde_json::from_str(fields.prompt.as_deref().unwrap()).unwrap();
        assert_eq!(prompt[0]["role"], "system");
        assert_eq!(prompt[1]["parts"][0]["content"], "Fix the bug");
        assert!(fields.completion.unwrap().contains("Done"));
        assert_eq!(fields.session_id.as_deref(), Some("conv-7"));
        assert_eq!(fields.end_user_id.as_deref(), Some("u-42"));
    }

    #[test]
    fn otel_genai_legacy_with_events() {
        let attrs = attributes(json!({
            "gen_ai.system": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4",
            "gen_ai.usage.prompt_tokens": "80",
            "gen_ai.usage.completion_tokens": 20
        }));
        let events = vec![
            SpanEvent {
                name: "gen_ai.system.message".into(),
                time_ns: 1,
                attributes: attributes(json!({"content": "Be brief"})),
            },
            SpanEvent {
                name: "gen_ai.user.message".into(),
                time_ns: 2,
                attributes: attributes(json!({"content": "Hi"})),
            },
            SpanEvent {
                name: "gen_ai.choice".into(),
                time_ns: 3,
                attributes: attributes(
                    json!({"index": 0, "finish_reason": "stop", "message": "{\"content\":\"Hello\"}"}),
                ),
            },
        ];
        let fields = derive("chat claude-sonnet-4", &attrs, &events);
        assert_eq!(
            fields.kind,
            LlmKind::Request,
            "a model without an operation is a request"
        );
        assert_eq!(fields.provider.as_deref(), Some("anthropic"));
        assert_eq!(fields.tokens.input, Some(80), "numeric strings count");
        assert_eq!(fields.tokens.output, Some(20));
        let prompt: Value = serde_json::from_str(&fields.prompt.unwrap()).unwrap();
        assert_eq!(
            prompt,
            json!([{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}])
        );
        let completion: Value = serde_json::from_str(&fields.completion.unwrap()).unwrap();
        assert_eq!(completion[0]["message"]["content"], "Hello");
    }

    #[test]
    fn openinference() {
        let attrs = attributes(json!({
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-mini",
            "llm.provider": "openai",
            "llm.token_count.prompt": 10,
            "llm.token_count.completion": 5,
            "llm.token_count.prompt_details.cache_read": 4,
            "llm.invocation_parameters": "{\"temperature\": 0.7, \"max_tokens\": 256}",
            "llm.input_messages.1.message.role": "user",
            "llm.input_messages.1.message.content": "second",
            "llm.input_messages.0.message.role": "system",
            "llm.input_messages.0.message.content": "first",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "answer",
            "session.id": "s-1",
            "llm.cost.total": 0.0012
        }));
        let fields = derive("ChatCompletion", &attrs, &[]);
        assert_eq!(fields.kind, LlmKind::Request);
        assert_eq!(fields.model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(fields.tokens.cache_read, Some(4));
        assert_eq!(fields.parameters["temperature"], json!(0.7));
        let prompt: Value = serde_json::from_str(&fields.prompt.unwrap()).unwrap();
        assert_eq!(
            prompt,
            json!([{"role": "system", "content": "first"}, {"role": "user", "content": "second"}])
        );
        assert_eq!(fields.session_id.as_deref(), Some("s-1"));
        assert_eq!(fields.client_cost_usd, Some(0.0012));

        let tool = attributes(
            json!({"openinference.span.kind": "TOOL", "tool.name": "read_file", "tool.parameters": "{\"path\":\"a.rs\"}", "output.value": "fn main(){}"}),
        );
        let fields = derive("read_file", &tool, &[]);
        assert_eq!(fields.kind, LlmKind::ToolCall);
        assert_eq!(fields.tool_name.as_deref(), Some("read_file"));
        assert_eq!(fields.tool_arguments.as_deref(), Some("{\"path\":\"a.rs\"}"));
        assert_eq!(fields.tool_result.as_deref(), Some("fn main(){}"));
        assert_eq!(fields.prompt, None);
    }

    #[test]
    fn openllmetry() {
        let attrs = attributes(json!({
            "llm.request.type": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4.1",
            "gen_ai.usage.prompt_tokens": 11,
            "gen_ai.usage.completion_tokens": 7,
            "gen_ai.usage.cache_read_input_tokens": 3,
            "llm.usage.total_tokens": 18,
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "hello",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "hi there",
            "gen_ai.completion.0.finish_reason": "stop",
            "traceloop.association.properties.user_id": "end-user"
        }));
        let fields = derive("openai.chat", &attrs, &[]);
        assert_eq!(fields.kind, LlmKind::Request);
        assert_eq!(fields.tokens.cache_read, Some(3));
        assert_eq!(fields.finish_reasons, ["stop"]);
        assert!(fields.prompt.unwrap().contains("hello"));
        assert!(fields.completion.unwrap().contains("hi there"));
        assert_eq!(fields.end_user_id.as_deref(), Some("end-user"));

        let tool = attributes(
            json!({"traceloop.span.kind": "tool", "traceloop.entity.name": "search", "traceloop.entity.input": "{\"q\":1}", "traceloop.entity.output": "[]"}),
        );
        let fields = derive("search.tool", &tool, &[]);
        assert_eq!(fields.kind, LlmKind::ToolCall);
        assert_eq!(fields.tool_name.as_deref(), Some("search"));
        assert_eq!(fields.tool_arguments.as_deref(), Some("{\"q\":1}"));
        assert_eq!(fields.tool_result.as_deref(), Some("[]"));
    }

    #[test]
    fn seed_names_and_diffs() {
        let request = attributes(json!({"prompt": "refactor", "model": "gpt-4o", "temperature": 0.1}));
        let fields = derive("gen_ai.request", &request, &[]);
        assert_eq!(fields.kind, LlmKind::Request);
        assert_eq!(fields.prompt.as_deref(), Some("refactor"));
        assert_eq!(fields.parameters["temperature"], json!(0.1));

        let diff = "--- a/x.rs\n+++ b/x.rs\n@@ -1 +1 @@\n-a\n+b\n";
        let result =
            attributes(json!({"tool.name": "apply_patch", "tool.output.diff": diff, "tool.status": "ok"}));
        let fields = derive("gen_ai.tool_result", &result, &[]);
        assert_eq!(fields.kind, LlmKind::ToolResult);
        assert_eq!(fields.diff.as_deref(), Some(diff));
        assert_eq!(fields.tool_name.as_deref(), Some("apply_patch"));

        let call = attributes(json!({"tool.name": "apply_patch", "tool.arguments": "{}"}));
        assert_eq!(derive("gen_ai.tool_call", &call, &[]).kind, LlmKind::ToolCall);
        assert_eq!(
            derive("gen_ai.response", &attributes(json!({"completion": "ok"})), &[]).kind,
            LlmKind::Response
        );
    }

    #[test]
    fn operations_map_to_kinds_and_plain_spans_are_other() {
        for (operation, kind) in [
            ("embeddings", LlmKind::Embedding),
            ("retrieval", LlmKind::Retrieval),
            ("execute_tool", LlmKind::ToolCall),
            ("invoke_agent", LlmKind::Agent),
            ("generate_content", LlmKind::Request),
        ] {
            let attrs = attributes(json!({"gen_ai.operation.name": operation}));
            assert_eq!(derive("x", &attrs, &[]).kind, kind, "{operation}");
        }
        let plain = attributes(json!({"http.method": "GET"}));
        assert_eq!(derive("GET /", &plain, &[]), LlmFields::default());
    }

    #[test]
    fn indexed_tool_calls_are_kept() {
        let openinference = attributes(json!({
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_1",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "read_file",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": "{\"path\": \"a.rs\"}",
            "llm.input_messages.0.message.role": "tool",
            "llm.input_messages.0.message.tool_call_id": "call_0",
            "llm.input_messages.0.message.content": "fn main() {}",
            "llm.model_name": "gpt-4o",
        }));
        let fields = derive("ChatCompletion", &openinference, &[]);
        let completion: Value = serde_json::from_str(&fields.completion.unwrap()).unwrap();
        assert_eq!(
            completion,
            json!([{"role": "assistant", "tool_calls": [{"id": "call_1", "name": "read_file", "arguments": "{\"path\": \"a.rs\"}"}]}])
        );
        let prompt: Value = serde_json::from_str(&fields.prompt.unwrap()).unwrap();
        assert_eq!(prompt[0]["tool_call_id"], "call_0");

        let openllmetry = attributes(json!({
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.tool_calls.1.name": "b",
            "gen_ai.completion.0.tool_calls.0.name": "a",
            "gen_ai.completion.0.tool_calls.0.arguments": "{}",
            "gen_ai.request.model": "gpt-4o",
        }));
        let fields = derive("openai.chat", &openllmetry, &[]);
        let completion: Value = serde_json::from_str(&fields.completion.unwrap()).unwrap();
        assert_eq!(completion[0]["tool_calls"][0]["name"], "a");
        assert_eq!(completion[0]["tool_calls"][1]["name"], "b");
    }

    #[test]
    fn bad_token_values_are_ignored() {
        let attrs = attributes(
            json!({"gen_ai.usage.input_tokens": -5, "gen_ai.usage.output_tokens": "many", "gen_ai.usage.cache_read.input_tokens": 3.0}),
        );
        let fields = derive("x", &attrs, &[]);
        assert_eq!(fields.tokens.input, None);
        assert_eq!(fields.tokens.output, None);
        assert_eq!(fields.tokens.cache_read, Some(3));
    }
}
