//! Spans and traces as the read API and the UI see them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A trace's rollup.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SpanTokens {
    pub input: Option<i64>,
    pub output: Option<i64>,
    pub cache_read: Option<i64>,
    pub cache_write: Option<i64>,
    pub reasoning: Option<i64>,
}

/// A span with its derived LLM fields, its large text and everything else
/// it carried: the list row's columns (flattened on the wire) plus what only
/// the detail shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SpanView {
    #[serde(flatten)]
    pub summary: SpanSummary,
    pub end_time_ns: i64,
    pub status_message: Option<String>,
    pub tool_call_id: Option<String>,
    pub prompt: Option<String>,
    pub completion: Option<String>,
    pub tool_arguments: Option<String>,
    pub tool_result: Option<String>,
    pub diff: Option<String>,
    /// Resource, scope, attributes, events, links, parameters, finish reasons.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub details: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TraceDetail {
    pub trace: TraceSummary,
    /// In start-time order.
    pub spans: Vec<SpanView>,
}

/// One row of the spans explorer: the indexed columns, no payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SpanSummary {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub llm_kind: String,
    pub span_kind: String,
    pub service_name: String,
    pub start_time_ns: i64,
    pub duration_ns: i64,
    pub status_code: String,
    pub operation: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub tool_name: Option<String>,
    pub tokens: SpanTokens,
    /// Nano-dollars (1e-9 USD); `None` when the span is not priced.
    pub cost_nanos: Option<i64>,
    pub unpriced: bool,
    pub session_id: Option<String>,
    pub end_user_id: Option<String>,
    /// The similarity checks flagged its prompt: near an abuse pattern, or
    /// one of a burst of near-duplicates from one end user.
    #[serde(default)]
    pub flagged: bool,
}

/// A page of spans, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SpanPage {
    pub spans: Vec<SpanSummary>,
    /// Pass as `cursor` for the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A page of trace rollups, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TracePage {
    pub traces: Vec<TraceSummary>,
    pub next_cursor: Option<String>,
}

/// The explorer's filters as query parameters (`GET /api/v1/spans`, and the
/// Spans page's URL). Every field is optional text, checked by the server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct SpanQuery {
    /// `request`, `response`, `tool_call`, `tool_result`, `agent`, `embedding`, `retrieval`, `other`.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::span_kind))]
    pub kind: Option<String>,
    /// Spans of this model: the model the request asked for or the one that
    /// answered, so `gpt-4o` also finds spans answered by
    /// `gpt-4o-2024-08-06`. Exact, case-sensitive.
    pub model: Option<String>,
    pub provider: Option<String>,
    pub service: Option<String>,
    pub tool: Option<String>,
    /// `ok`, `error` or `unset`.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::span_status))]
    pub status: Option<String>,
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::trace_id))]
    pub trace_id: Option<String>,
    /// Session or conversation id.
    pub session: Option<String>,
    /// End-user id.
    pub user: Option<String>,
    /// Start of the time range: RFC 3339 or Unix nanoseconds.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::time))]
    pub since: Option<String>,
    /// End of the time range (exclusive): RFC 3339 or Unix nanoseconds.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::time))]
    pub until: Option<String>,
    /// Shortest duration, in milliseconds.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::amount))]
    pub min_duration_ms: Option<String>,
    /// Lowest cost, in US dollars.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::amount))]
    pub min_cost_usd: Option<String>,
    /// Words that must all appear in the prompt, completion, tool arguments or result, or diff.
    pub q: Option<String>,
    /// `true`: only request spans the similarity checks flagged (their prompt matched an abuse pattern or joined a burst); `false`: only the others.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::boolean))]
    pub flagged: Option<String>,
    /// Page size (default 50, at most 500).
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::limit))]
    pub limit: Option<String>,
    /// From a previous page's `next_cursor`.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::span_cursor))]
    pub cursor: Option<String>,
    /// `attr.<key>=<value>` parameters: span attributes that must equal these values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ssr", param(ignore))]
    pub attributes: Vec<(String, String)>,
}

/// Filters of the trace list (`GET /api/v1/traces`, and the Traces page's URL).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct TraceQuery {
    /// The root span's service.
    pub service: Option<String>,
    /// Traces with at least one span of this model (asked for or answering,
    /// as the spans' `model` filter matches).
    pub model: Option<String>,
    /// `error` (some span failed) or `ok` (none did).
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::trace_status))]
    pub status: Option<String>,
    /// Start of the time range: RFC 3339 or Unix nanoseconds.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::time))]
    pub since: Option<String>,
    /// End of the time range (exclusive): RFC 3339 or Unix nanoseconds.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::time))]
    pub until: Option<String>,
    /// Shortest duration, in milliseconds.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::amount))]
    pub min_duration_ms: Option<String>,
    /// Lowest cost, in US dollars.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::amount))]
    pub min_cost_usd: Option<String>,
    /// Traces with a span whose text contains all these words.
    pub q: Option<String>,
    /// Page size (default 50, at most 500).
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::limit))]
    pub limit: Option<String>,
    /// From a previous page's `next_cursor`.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::trace_cursor))]
    pub cursor: Option<String>,
}

/// The explorer's quick time ranges: URL value, label, length in seconds.
pub const TIME_RANGES: &[(&str, &str, i64)] = &[
    ("15m", "Last 15 minutes", 15 * 60),
    ("1h", "Last hour", 3600),
    ("24h", "Last 24 hours", 24 * 3600),
    ("7d", "Last 7 days", 7 * 24 * 3600),
    ("all", "All time", 0),
];

/// The LLM kinds a span is classified as (the `kind` filter's values).
pub const LLM_KINDS: &[&str] = &[
    "request",
    "response",
    "tool_call",
    "tool_result",
    "agent",
    "embedding",
    "retrieval",
    "other",
];

/// A span's status codes (the `status` filter's values).
pub const SPAN_STATUSES: &[&str] = &["ok", "error", "unset"];

/// The `range` value that means "use `since` and `until`".
pub const CUSTOM_RANGE: &str = "custom";

/// Whether spans arrive: what the configuration card shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestStatus {
    /// When the organization's latest span was stored (Unix ns), if ever.
    pub last_span_at_ns: Option<i64>,
    /// The server's clock, so the browser can say "N s ago" without trusting its own.
    pub now_ns: i64,
}

impl IngestStatus {
    /// Whole seconds since the last span, if there was one.
    pub fn seconds_since_last_span(&self) -> Option<i64> {
        self.last_span_at_ns
            .map(|last| (self.now_ns - last).max(0) / 1_000_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_since_last_span() {
        let status = IngestStatus {
            last_span_at_ns: Some(1_000_000_000),
            now_ns: 43_500_000_000,
        };
        assert_eq!(status.seconds_since_last_span(), Some(42));
        assert_eq!(
            IngestStatus {
                last_span_at_ns: None,
                now_ns: 5
            }
            .seconds_since_last_span(),
            None
        );
        // A clock slightly behind the span's is not negative.
        assert_eq!(
            IngestStatus {
                last_span_at_ns: Some(10),
                now_ns: 5
            }
            .seconds_since_last_span(),
            Some(0)
        );
    }
}

/// The demo workload "Run demo" added to an organization: what it holds and
/// how to tell it apart (its services are named `demo-…`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DemoData {
    /// When it was added (Unix ns).
    pub added_at_ns: i64,
    /// Who added it (their email), if they still exist.
    pub added_by: Option<String>,
    /// 16 hex digits: every demo trace id starts with them, and every demo
    /// span and metric point carries them as the resource attribute `specula.demo`.
    pub marker: String,
    pub traces: i64,
    pub spans: i64,
    pub metric_points: i64,
}

/// What "Remove demo data" deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DemoRemoval {
    pub traces: u64,
    pub spans: u64,
    pub metric_points: u64,
    /// Usage rollup rows (hourly and daily) of the demo's token.
    pub usage_rollups: u64,
}

/// The OpenAPI schemas of the read APIs' query parameters: what the server
/// accepts, as patterns. Every one admits the empty value, which the server
/// reads as an absent parameter (what a form sends for a blank field).
#[cfg(feature = "ssr")]
pub mod query_schemas {
    use utoipa::openapi::{Object, ObjectBuilder, Type};

    /// Years whose times fit in signed 64-bit Unix nanoseconds (1678 to 2261).
    const YEAR: &str = "(16(7[89]|[89][0-9])|1[7-9][0-9]{2}|2[01][0-9]{2}|22[0-5][0-9]|226[01])";
    /// Month and day of a valid date (29 February left out: leap years only).
    const MONTH_DAY: &str = "((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))";
    const CLOCK: &str =
        "([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?";

    /// A time, unanchored: Unix nanoseconds, RFC 3339, or a date and time
    /// without a zone (read as UTC), as `parse_time` reads them.
    fn time_pattern() -> String {
        format!("([+-]?[0-9]{{1,18}}|{YEAR}-{MONTH_DAY}T{CLOCK})")
    }

    const TIME_DESCRIPTION: &str = "Unix nanoseconds, an RFC 3339 time (`2026-01-31T09:30:00Z`) or a UTC date and time without a zone (`2026-01-31T09:30`)";

    fn text(pattern: String, description: &str) -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(pattern))
            .description(Some(description))
            .build()
    }

    /// A time in a request body (blanks around it are ignored).
    pub fn time_value() -> Object {
        text(format!("^\\s*{}\\s*$", time_pattern()), TIME_DESCRIPTION)
    }

    /// A time parameter; empty is absent.
    pub fn time() -> Object {
        text(format!("^{}?$", time_pattern()), TIME_DESCRIPTION)
    }

    /// Page size, 1 to 500; empty is the default, 50.
    pub fn limit() -> Object {
        text(
            "^(\\+?0*([1-9][0-9]?|[1-4][0-9]{2}|500))?$".to_owned(),
            "Page size: 1 to 500 (default 50)",
        )
    }

    /// A span page's cursor: opaque, as a previous page's `next_cursor` gave it.
    pub fn span_cursor() -> Object {
        text(
            "^([+-]?[0-9]{1,18}_[+-]?[0-9]{1,18})?$".to_owned(),
            "A previous page's `next_cursor`, unchanged",
        )
    }

    /// A trace page's cursor: opaque, as a previous page's `next_cursor` gave it.
    pub fn trace_cursor() -> Object {
        text(
            "^([+-]?[0-9]{1,18}_.*)?$".to_owned(),
            "A previous page's `next_cursor`, unchanged",
        )
    }

    /// A non-negative amount (milliseconds, dollars) as a decimal number.
    pub fn amount() -> Object {
        text(
            "^(\\+?([0-9]{1,30}(\\.[0-9]{0,30})?|\\.[0-9]{1,30})([eE][+-]?[0-9]{1,2})?)?$".to_owned(),
            "A non-negative decimal number",
        )
    }

    /// `true` or `false` (empty: either).
    pub fn boolean() -> Object {
        text("^(true|false)?$".to_owned(), "true or false")
    }

    /// A trace id filter: 32 hex digits.
    pub fn trace_id() -> Object {
        text("^([0-9a-fA-F]{32})?$".to_owned(), "32 hex digits")
    }

    /// One of `values`, or empty.
    pub fn one_of(values: &[&str], description: &str) -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(std::iter::once("").chain(values.iter().copied())))
            .description(Some(description))
            .build()
    }

    pub fn span_kind() -> Object {
        one_of(super::LLM_KINDS, "The span's LLM kind")
    }

    pub fn span_status() -> Object {
        one_of(super::SPAN_STATUSES, "The span's status")
    }

    pub fn trace_status() -> Object {
        one_of(&["ok", "error"], "`error`: some span failed; `ok`: none did")
    }

    /// A UUID, hyphenated or as 32 hex digits (a format would not admit the empty value).
    pub fn uuid() -> Object {
        text(
            "^([0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$".to_owned(),
            "An API token id",
        )
    }
}
