//! Spans and traces as the read API and the UI see them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A trace's rollup.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceSummary {
    pub trace_id: String,
    pub root_span_name: Option<String>,
    pub service_name: String,
    pub start_time_ns: i64,
    pub end_time_ns: i64,
    pub duration_ns: i64,
    pub span_count: i64,
    pub error_count: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Sum of the priced spans' cost in nano-dollars (1e-9 USD).
    pub cost_nanos: i64,
    /// Spans whose model has no price (their cost is not in `cost_nanos`).
    pub unpriced_spans: i64,
    /// Distinct models used in the trace, sorted.
    pub models: Vec<String>,
}

/// Token counts of a span; `input` includes cached input tokens.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanTokens {
    pub input: Option<i64>,
    pub output: Option<i64>,
    pub cache_read: Option<i64>,
    pub cache_write: Option<i64>,
    pub reasoning: Option<i64>,
}

/// A span with its derived LLM fields, its large text and everything else it carried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanView {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub span_kind: String,
    pub llm_kind: String,
    pub service_name: String,
    pub start_time_ns: i64,
    pub end_time_ns: i64,
    pub duration_ns: i64,
    pub status_code: String,
    pub status_message: Option<String>,
    pub operation: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub tokens: SpanTokens,
    pub tool_name: Option<String>,
    pub tool_call_id: Option<String>,
    pub session_id: Option<String>,
    pub end_user_id: Option<String>,
    /// Nano-dollars (1e-9 USD); `None` when the span is not priced.
    pub cost_nanos: Option<i64>,
    /// Tokens were used by a model without a price.
    pub unpriced: bool,
    pub prompt: Option<String>,
    pub completion: Option<String>,
    pub tool_arguments: Option<String>,
    pub tool_result: Option<String>,
    pub diff: Option<String>,
    /// Resource, scope, attributes, events, links, parameters, finish reasons.
    pub details: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceDetail {
    pub trace: TraceSummary,
    /// In start-time order.
    pub spans: Vec<SpanView>,
}
