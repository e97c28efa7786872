//! The policy's rate limits, monthly span quota and cost budgets, and what
//! the usage API reports against them.

use serde::{Deserialize, Serialize};

use super::{object, objects, optional_whole_number, whole_of};

/// How fast an organization, and each of its API tokens, may send spans
/// and call the REST API, and how many spans it may send in a month.
/// Absent: the installation's (`SPECULA_INGEST_RATE`, …), or no limit. An
/// organization's value can lower the installation's, never raise it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Spans (and metric points) per second, all the organization's tokens together.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "optional_object")]
    pub ingest: Option<RateSetting>,
    /// REST API requests per second made with the organization's tokens.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "optional_object")]
    pub api: Option<RateSetting>,
    /// Spans accepted per calendar month (UTC), 1 to 10^12.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_number"
    )]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 1_000_000_000_000_u64))]
    pub monthly_spans: Option<u64>,
    /// Limits of single tokens, within the organization's (at most 100; a token listed
    /// twice gets the tighter of its entries).
    #[serde(deserialize_with = "objects")]
    #[cfg_attr(feature = "ssr", schema(max_items = 100))]
    pub tokens: Vec<TokenRateLimits>,
}

/// A token bucket: `per_second` on average, up to `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RateSetting {
    /// 1 to 10,000,000.
    #[serde(deserialize_with = "whole_number")]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 10_000_000))]
    pub per_second: u64,
    /// 1 to 100,000,000; absent: twice `per_second`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_number"
    )]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100_000_000))]
    pub burst: Option<u64>,
}

/// One API token's own limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TokenRateLimits {
    /// The token's id, as the API tokens page and `GET /api/v1/tokens` give it.
    #[cfg_attr(
        feature = "ssr",
        schema(pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
    )]
    pub token_id: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_object"
    )]
    pub ingest: Option<RateSetting>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_object"
    )]
    pub api: Option<RateSetting>,
}

/// A monthly cost budget: of the whole organization, of one service's spans,
/// of one token's, or of one service's sent with one token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Names the budget in usage reports and alerts (1 to 64 of `a-z 0-9 _ -`; alert
    /// rules name the first budget of an id).
    #[cfg_attr(feature = "ssr", schema(pattern = "^[a-z0-9_-]{1,64}$"))]
    pub id: String,
    /// US dollars per calendar month (UTC), a decimal string (0: nothing may be spent).
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[0-9]{1,9}(\.[0-9]{1,9})?$"))]
    pub monthly_usd: String,
    /// Only this service's spans (`service.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 200))]
    pub service: Option<String>,
    /// Only this API token's spans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "ssr",
        schema(pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
    )]
    pub token_id: Option<String>,
    /// Percentages of the budget that alert rules report crossing (1 to 1,000; default 50, 80, 100).
    #[serde(default = "default_thresholds", deserialize_with = "whole_numbers")]
    #[cfg_attr(feature = "ssr", schema(schema_with = thresholds))]
    pub thresholds: Vec<u32>,
    /// Once spent, the evaluate API denies calls it covers (reason `budget`).
    #[serde(default)]
    pub hard: bool,
}

fn default_thresholds() -> Vec<u32> {
    vec![50, 80, 100]
}

/// Up to 10 percentages from 1 to 1,000.
#[cfg(feature = "ssr")]
fn thresholds() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};

    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(1_000)),
        )
        .max_items(Some(10))
        .description(Some(
            "Percentages of the budget that alert rules report crossing (1 to 1,000; default 50, 80, 100).",
        ))
        .build()
}

/// A whole number that JSON may spell `120.0` (see `optional_whole_number`).
pub(crate) fn whole_number<'de, D>(deserializer: D) -> Result<u64, D::Error>
where
    D: serde::Deserializer<'de>,
{
    optional_whole_number(deserializer)?.ok_or_else(|| serde::de::Error::custom("expected a whole number"))
}

/// Whole numbers that JSON may spell `80.0`.
fn whole_numbers<'de, D>(deserializer: D) -> Result<Vec<u32>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Vec::<serde_json::Number>::deserialize(deserializer)?
        .into_iter()
        .map(|number| {
            whole_of(&number)
                .and_then(|whole| u32::try_from(whole).ok())
                .ok_or_else(|| {
                    serde::de::Error::custom(format!("expected a whole number in range, got {number}"))
                })
        })
        .collect()
}

/// An optional part, which JSON must give as an object.
pub(crate) fn optional_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Option::<serde_json::Map<String, serde_json::Value>>::deserialize(deserializer)?
        .map(|map| object(serde_json::Value::Object(map)))
        .transpose()
        .map_err(serde::de::Error::custom)
}

/// The organization's month so far against its quota, rate limits and
/// budgets (`GET /api/v1/usage`, the Costs page).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LimitsReport {
    /// The calendar month (UTC) counted, e.g. `2026-12`.
    pub month: String,
    /// Spans accepted this month.
    pub spans_this_month: u64,
    /// Spans accepted in the last hour.
    pub spans_last_hour: u64,
    /// The monthly span quota in force; absent: none.
    pub monthly_spans: Option<u64>,
    /// Spans (and metric points) per second, the organization's tokens together; absent: no limit.
    pub ingest: Option<RateInForce>,
    /// REST API requests per second with the organization's tokens; absent: no limit.
    pub api: Option<RateInForce>,
    /// Tokens with limits of their own.
    pub tokens: Vec<TokenRatesInForce>,
    /// What was refused this month, by reason.
    pub refused: RefusedCounts,
    pub budgets: Vec<BudgetStatus>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RateInForce {
    pub per_second: u64,
    pub burst: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenRatesInForce {
    pub token_id: String,
    pub ingest: Option<RateInForce>,
    pub api: Option<RateInForce>,
}

/// Spans and requests refused, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RefusedCounts {
    /// Export requests refused for an ingest rate limit.
    pub rate_limited_exports: u64,
    /// Trace export requests refused for the monthly quota.
    pub over_quota_exports: u64,
    /// Export requests refused as malformed, too large, of an unknown type or without the scope.
    pub invalid_exports: u64,
    /// REST API requests refused for the API rate.
    pub rate_limited_requests: u64,
}

/// One budget's month so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BudgetStatus {
    pub id: String,
    pub service: Option<String>,
    pub token_id: Option<String>,
    /// The budget, US dollars.
    pub monthly_usd: String,
    /// Spent this month, US dollars.
    pub spent_usd: String,
    /// Spent as a percentage of the budget.
    pub percent: f64,
    /// Spent so far scaled to the whole month, US dollars.
    pub projected_usd: String,
    pub projected_percent: f64,
    pub thresholds: Vec<u32>,
    /// The highest threshold reached, if any.
    pub crossed: Option<u32>,
    pub hard: bool,
}
