//! What the cost and usage reads exchange: the usage report (rollups grouped
//! by time and dimension) and the per-span cost log. Shared by the REST API,
//! the Costs page's server functions and the browser.

use serde::{Deserialize, Deserializer, Serialize};

/// Nano-dollars per US dollar.
pub const NANOS_PER_USD: f64 = 1e9;

/// `GET /api/v1/usage`: rollups over a time range, by time bucket and by
/// the dimensions named in `group_by`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct UsageQuery {
    /// Start of the range (RFC 3339, a UTC date and time, or Unix ns); rounded down to the hour. Default: 30 days before `until`.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::time))]
    pub since: Option<String>,
    /// End of the range, exclusive (default: now); rounded up to the hour.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::time))]
    pub until: Option<String>,
    /// `hour`, `day`, `week`, `total` (one bucket for the whole range) or `auto` (the default: hours up to 2 days, days up to 90, weeks beyond).
    #[cfg_attr(feature = "ssr", param(schema_with = usage_granularity))]
    pub granularity: Option<String>,
    /// Comma-separated dimensions: `model`, `provider`, `service`, `agent`, `token`.
    #[cfg_attr(feature = "ssr", param(schema_with = usage_group_by))]
    pub group_by: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub service: Option<String>,
    /// The agent (the enclosing agent span's or root span's name).
    pub agent: Option<String>,
    /// An API token id.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::uuid))]
    pub token: Option<String>,
}

/// The sums of some rollups.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageFigures {
    /// Model calls (request and embedding spans).
    pub requests: i64,
    /// Model calls that ended in error.
    pub errors: i64,
    /// Input tokens, cached ones included.
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    /// Exact cost in nano-dollars (1e-9 USD).
    pub cost_nanos: i64,
    /// Spans that used tokens of a model without a price (not in the cost).
    pub unpriced: i64,
    /// Mean model-call latency, when there were calls.
    pub mean_latency_ms: Option<f64>,
    /// Latency percentiles, read from the rollups' histogram (within one bucket, a factor of √2).
    pub p50_latency_ms: Option<f64>,
    pub p95_latency_ms: Option<f64>,
    pub p99_latency_ms: Option<f64>,
}

impl UsageFigures {
    pub fn cost_usd(&self) -> f64 {
        self.cost_nanos as f64 / NANOS_PER_USD
    }

    /// Errors per model call, 0 to 1; `None` without calls.
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 / self.requests as f64)
    }

    /// Input tokens not read from a cache.
    pub fn uncached_input_tokens(&self) -> i64 {
        (self.input_tokens - self.cache_read_tokens).max(0)
    }
}

/// One group of a usage report: a time bucket and the dimension values it
/// is grouped by (absent when not grouped by that dimension; empty when the
/// spans did not say).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageRow {
    /// The bucket's start, Unix ns (the range's start when `granularity=total`).
    pub time_ns: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// API token id (the nil id for spans stored without a token, such as the demo trace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// The token's name, when it still exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
    /// The first characters of the token's secret, when it still exists
    /// (names need not be unique).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_prefix: Option<String>,
    pub usage: UsageFigures,
}

/// `GET /api/v1/usage`'s answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageReport {
    /// The range actually read (whole hours), Unix ns.
    pub since_ns: i64,
    pub until_ns: i64,
    /// `hour`, `day`, `week` or `total`.
    pub granularity: String,
    pub group_by: Vec<String>,
    /// In time order, then by the dimension values.
    pub rows: Vec<UsageRow>,
    /// The whole range, all groups together.
    pub totals: UsageFigures,
}

/// `GET /api/v1/cost-logs`: spans that used a model, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct CostLogQuery {
    /// Start of the range: RFC 3339, a UTC date and time, or Unix ns.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::time))]
    pub since: Option<String>,
    /// End of the range (exclusive).
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::time))]
    pub until: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub service: Option<String>,
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::trace_id))]
    pub trace_id: Option<String>,
    /// Only spans whose model had no price (`true`).
    #[cfg_attr(feature = "ssr", param(schema_with = cost_log_unpriced))]
    pub unpriced: Option<String>,
    /// Page size (default 50, at most 500; CSV exports take up to 10,000).
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::limit))]
    pub limit: Option<String>,
    /// From a previous page's `next_cursor`.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::span_cursor))]
    pub cursor: Option<String>,
    /// `json` (default) or `csv`.
    #[cfg_attr(feature = "ssr", param(schema_with = cost_log_format))]
    pub format: Option<String>,
}

/// One span's cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CostLogEntry {
    pub time_ns: i64,
    pub trace_id: String,
    pub span_id: String,
    pub name: String,
    pub llm_kind: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub service: String,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    /// Nano-dollars; `None` when not priced.
    pub cost_nanos: Option<i64>,
    pub unpriced: bool,
}

/// A page of the cost log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CostLogPage {
    pub entries: Vec<CostLogEntry>,
    pub next_cursor: Option<String>,
}

/// The Costs page's quick ranges: `range` value, label, length in hours.
pub const COST_RANGES: &[(&str, &str, i64)] = &[
    ("24h", "Last 24 hours", 24),
    ("7d", "Last 7 days", 7 * 24),
    ("30d", "Last 30 days", 30 * 24),
    ("90d", "Last 90 days", 90 * 24),
];

/// The range the Costs page shows when none is chosen.
pub const DEFAULT_COST_RANGE: &str = "30d";

/// One chart of the Costs page: the server-drawn SVG, its numbers as CSV
/// (a `data:` link, so the download needs no request) and as a table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartPanel {
    /// Stable id for links, tests and the CSV file name.
    pub id: String,
    pub title: String,
    pub svg: String,
    pub csv_href: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Everything the Costs page shows for one range.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostDashboard {
    pub since_ns: i64,
    pub until_ns: i64,
    /// `hour`, `day` or `week`: the charts' time buckets.
    pub granularity: String,
    pub totals: UsageFigures,
    /// The same length of time just before, for comparison.
    pub previous: UsageFigures,
    pub charts: Vec<ChartPanel>,
    /// Charts of the OTel GenAI metrics sent to `/v1/metrics`; empty when
    /// the range has none.
    pub genai_metrics: Vec<ChartPanel>,
    pub top_traces: Vec<crate::telemetry::types::TraceSummary>,
}

// Prices: the built-in table, an organization's overrides and cost-recompute
// jobs. Prices travel as exact decimal strings of USD per million tokens.

/// A row of the built-in price table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BuiltinPrice {
    pub provider: String,
    pub model: String,
    /// USD per million input tokens, e.g. `"2.5"`.
    pub input_usd_per_mtok: String,
    pub output_usd_per_mtok: String,
    /// Cached input read (the input price when absent).
    pub cache_read_usd_per_mtok: Option<String>,
    /// Cache creation (the input price when absent).
    pub cache_write_usd_per_mtok: Option<String>,
    /// Reasoning output, where it differs from the output price.
    pub reasoning_usd_per_mtok: Option<String>,
    /// Where the price was read, and when.
    pub source: String,
    pub date: String,
}

/// One of an organization's prices: for a model name or a pattern, from a time on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PriceOverride {
    pub id: i64,
    /// An exact model name (matched like the built-in table's, so dated
    /// snapshots and provider prefixes are included) or a pattern where `*`
    /// matches any text.
    pub model: String,
    pub is_pattern: bool,
    pub provider: String,
    pub input_usd_per_mtok: String,
    pub output_usd_per_mtok: String,
    pub cache_read_usd_per_mtok: Option<String>,
    pub cache_write_usd_per_mtok: Option<String>,
    pub reasoning_usd_per_mtok: Option<String>,
    /// Spans that start at or after this time (RFC 3339) use this price.
    pub effective_from: String,
    pub note: String,
    pub updated_by: Option<String>,
    pub updated_at: String,
}

/// A price to store: one element of `PUT …/prices`, or the Prices page's form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PriceOverrideInput {
    /// A model name, or a pattern with `*` (e.g. `ft:gpt-4o:acme:*`).
    pub model: String,
    #[serde(default)]
    pub provider: Option<String>,
    /// USD per million tokens, as a string or a number (at most 6 decimals).
    #[serde(deserialize_with = "decimal")]
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "2.5"))]
    pub input_usd_per_mtok: String,
    #[serde(deserialize_with = "decimal")]
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "10"))]
    pub output_usd_per_mtok: String,
    #[serde(default, deserialize_with = "optional_decimal")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub cache_read_usd_per_mtok: Option<String>,
    #[serde(default, deserialize_with = "optional_decimal")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub cache_write_usd_per_mtok: Option<String>,
    #[serde(default, deserialize_with = "optional_decimal")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub reasoning_usd_per_mtok: Option<String>,
    /// RFC 3339, a UTC date and time, or Unix ns. Default: 1970-01-01, so
    /// the price applies to every span.
    #[serde(default)]
    pub effective_from: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `PUT /api/v1/orgs/{org}/prices`: the organization's complete set of prices.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PriceOverrides {
    pub overrides: Vec<PriceOverrideInput>,
}

/// `GET /api/v1/orgs/{org}/prices`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PriceList {
    pub overrides: Vec<PriceOverride>,
    pub builtin: Vec<BuiltinPrice>,
}

/// A job re-pricing stored spans, and how far it has got.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RecomputeJob {
    pub id: i64,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    pub since: String,
    pub until: String,
    pub scanned_spans: i64,
    /// Spans whose cost changed.
    pub repriced_spans: i64,
    /// What the range's total cost changed by, in nano-dollars.
    pub cost_delta_nanos: i64,
    /// 0 to 1: how far through the time range the walk is.
    pub progress: f64,
    pub requested_by: Option<String>,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
}

/// `POST /api/v1/orgs/{org}/cost-recomputes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RecomputeRequest {
    /// RFC 3339, a UTC date and time, or Unix ns.
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::telemetry::types::query_schemas::time_value))]
    pub since: String,
    /// Exclusive; after `since`.
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::telemetry::types::query_schemas::time_value))]
    pub until: String,
}

/// Everything the Prices page shows; its read-only tables as HTML the
/// server rendered (`costs::fragments`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PricesPage {
    pub overrides: Vec<PriceOverride>,
    pub builtin_html: String,
    pub jobs: Vec<RecomputeJob>,
    pub audit_html: String,
    pub can_edit: bool,
}

/// What the Prices page's server function renders [`PricesPage`] from.
#[cfg(feature = "ssr")]
pub struct PricesPageData {
    pub prices: PriceList,
    pub jobs: Vec<RecomputeJob>,
    pub audit: Vec<crate::platform::types::AuditEntry>,
    pub can_edit: bool,
}

fn decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Decimal {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(match Decimal::deserialize(deserializer)? {
        Decimal::Text(text) => text,
        Decimal::Number(number) => number.to_string(),
    })
}

fn optional_decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "decimal")] String);
    Ok(Option::<Wrapped>::deserialize(deserializer)?
        .map(|Wrapped(text)| text)
        .filter(|text| !text.trim().is_empty()))
}

#[cfg(feature = "ssr")]
fn usage_granularity() -> utoipa::openapi::Object {
    crate::telemetry::types::query_schemas::one_of(&["auto", "hour", "day", "week", "total"], "Bucket size")
}

/// Comma-separated dimensions; blanks around them and empty items are ignored.
#[cfg(feature = "ssr")]
fn usage_group_by() -> utoipa::openapi::Object {
    let dimension = "\\s*(model|provider|service|agent|token)?\\s*";
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .pattern(Some(format!("^{dimension}(,{dimension})*$")))
        .description(Some("Comma-separated dimensions"))
        .build()
}

#[cfg(feature = "ssr")]
fn cost_log_unpriced() -> utoipa::openapi::Object {
    crate::telemetry::types::query_schemas::one_of(&["true", "false"], "Only unpriced spans")
}

#[cfg(feature = "ssr")]
fn cost_log_format() -> utoipa::openapi::Object {
    crate::telemetry::types::query_schemas::one_of(&["json", "csv"], "Answer as JSON or CSV")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_derive_rates_and_uncached_input() {
        let figures = UsageFigures {
            requests: 4,
            errors: 1,
            input_tokens: 1_000,
            cache_read_tokens: 400,
            cost_nanos: 2_500_000_000,
            ..Default::default()
        };
        assert_eq!(figures.error_rate(), Some(0.25));
        assert_eq!(figures.uncached_input_tokens(), 600);
        assert_eq!(figures.cost_usd(), 2.5);
        assert_eq!(UsageFigures::default().error_rate(), None);
    }
}
