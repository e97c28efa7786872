//! What the span store writes: a span's column values and its compressed
//! payload, prepared on the request's thread so the single writer only
//! binds values and commits.

use sea_orm::Value;
use uuid::Uuid;

use crate::telemetry::services::span::{genai::TokenUsage, record::StatusCode};

/// A span ready for the database: its column values and its compressed payload.
#[derive(Clone, Debug)]
pub struct SpanRow {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub span_kind: &'static str,
    pub llm_kind: &'static str,
    pub service_name: String,
    pub start_time_ns: i64,
    pub end_time_ns: i64,
    pub status_code: StatusCode,
    pub status_message: Option<String>,
    pub operation: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    /// The model the request asked for, when the answer names another (a
    /// dated snapshot such as `gpt-4o-2024-08-06` for `gpt-4o`); `None` when
    /// they agree, so the index holds only the spans that need it.
    pub request_model: Option<String>,
    pub tokens: TokenUsage,
    pub tool_name: Option<String>,
    pub tool_call_id: Option<String>,
    pub session_id: Option<String>,
    pub end_user_id: Option<String>,
    /// `None` when not priced.
    pub cost_nanos: Option<i64>,
    pub unpriced: bool,
    pub payload: Vec<u8>,
    /// The words full-text search finds the span by
    /// ([`search::searchable_text`]); `None` for spans without text.
    pub search_text: Option<String>,
    /// The agent its usage is attributed to (see [`usage::attribute_agents`]).
    pub agent: Option<String>,
}

/// The spans of one export request, for one organization.
pub struct SpanBatch {
    pub org_id: Uuid,
    /// The API token that sent them, if any (usage is rolled up per token).
    pub token_id: Option<Uuid>,
    pub rows: Vec<SpanRow>,
    /// Spans of the same export the organization's sampling left out,
    /// counted in the commit that stores the rest.
    pub sampled_out: u64,
}

impl SpanRow {
    /// The row's values in [`SPAN_COLUMNS`] order; usage spans also name
    /// the rollup row they were added to (`usage` true).
    pub(super) fn push_values(
        &self,
        usage: bool,
        org_id: Uuid,
        token_id: Option<Uuid>,
        ingested_at_ns: i64,
        values: &mut Vec<Value>,
    ) {
        let tokens = self.tokens;
        values.extend([
            org_id.into(),
            self.trace_id.clone().into(),
            self.span_id.clone().into(),
            self.parent_span_id.clone().into(),
            self.name.clone().into(),
            self.span_kind.into(),
            self.llm_kind.into(),
            self.service_name.clone().into(),
            self.start_time_ns.into(),
            self.end_time_ns.into(),
            self.end_time_ns.saturating_sub(self.start_time_ns).into(),
            self.status_code.as_str().into(),
            self.status_message.clone().into(),
            self.operation.clone().into(),
            self.provider.clone().into(),
            self.model.clone().into(),
            self.request_model.clone().into(),
            tokens.input.into(),
            tokens.output.into(),
            tokens.cache_read.into(),
            tokens.cache_write.into(),
            tokens.reasoning.into(),
            self.tool_name.clone().into(),
            self.tool_call_id.clone().into(),
            self.session_id.clone().into(),
            self.end_user_id.clone().into(),
            self.cost_nanos.into(),
            self.unpriced.into(),
            self.payload.clone().into(),
            ingested_at_ns.into(),
            usage.then(|| self.agent.clone()).flatten().into(),
            usage.then_some(token_id).flatten().into(),
        ]);
    }
}

pub(super) const SPAN_COLUMNS: &[&str] = &[
    "org_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "span_kind",
    "llm_kind",
    "service_name",
    "start_time_ns",
    "end_time_ns",
    "duration_ns",
    "status_code",
    "status_message",
    "operation",
    "provider",
    "model",
    "request_model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "tool_name",
    "tool_call_id",
    "session_id",
    "end_user_id",
    "cost_nanos",
    "unpriced",
    "payload",
    "ingested_at_ns",
    "agent",
    "token_id",
];
