//! What the cost and usage reads exchange: the usage report (rollups grouped
//! by time and dimension) and the per-span cost log. Shared by the REST API,
//! the Costs page's server functions and the browser.

use serde::{Deserialize, Serialize};

/// Nano-dollars per US dollar.
pub const NANOS_PER_USD: f64 = 1e9;

/// `GET /api/v1/usage`: rollups over a time range, by time bucket and by
/// the dimensions named in `group_by`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct UsageQuery {
    /// Start of the range (RFC 3339, a UTC date and time, or Unix ns); rounded down to the hour. Default: 30 days before `until`.
    pub since: Option<String>,
    /// End of the range, exclusive (default: now); rounded up to the hour.
    pub until: Option<String>,
    /// `hour`, `day`, `week`, `total` (one bucket for the whole range) or `auto` (the default: hours up to 2 days, days up to 90, weeks beyond).
    pub granularity: Option<String>,
    /// Comma-separated dimensions: `model`, `provider`, `service`, `agent`, `token`.
    pub group_by: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub service: Option<String>,
    /// The agent (the enclosing agent span's or root span's name).
    pub agent: Option<String>,
    /// An API token id.
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
    pub since: Option<String>,
    /// End of the range (exclusive).
    pub until: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub service: Option<String>,
    pub trace_id: Option<String>,
    /// Only spans whose model had no price (`true`).
    pub unpriced: Option<String>,
    /// Page size (default 50, at most 500; CSV exports take up to 10,000).
    pub limit: Option<String>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// `json` (default) or `csv`.
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
    pub top_traces: Vec<crate::telemetry::TraceSummary>,
}

/// The Costs page's data for `range` (or a custom `since`/`until` window).
#[leptos::server]
pub async fn load_cost_dashboard(
    org_id: uuid::Uuid,
    range: Option<String>,
    since: Option<String>,
    until: Option<String>,
) -> Result<CostDashboard, crate::error::ApiError> {
    use crate::{
        accounts::Action,
        services::{cost_dashboard, orgs},
    };

    let (state, _, user) = crate::server_context::signed_in().await?;
    orgs::authorize(&state.db, org_id, user.id, Action::Read).await?;
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    Ok(cost_dashboard::dashboard(&state.db, org_id, range.as_deref(), since, until, now_ns).await?)
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
