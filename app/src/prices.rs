//! What the price reads and edits exchange: the built-in table, an
//! organization's overrides, cost-recompute jobs and the audit entries about
//! them. Shared by the REST API, the Prices page's server functions and the
//! browser. Prices travel as exact decimal strings of USD per million tokens.

// The price form's server function takes one argument per field, and the
// code `#[server]` generates for it carries no attribute of ours.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

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
    pub since: String,
    /// Exclusive.
    pub until: String,
}

/// One entry of the organization's audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub summary: String,
}

/// Everything the Prices page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PricesPage {
    pub prices: PriceList,
    pub jobs: Vec<RecomputeJob>,
    pub audit: Vec<AuditEntry>,
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

#[server]
pub async fn load_prices_page(org_id: Uuid) -> Result<PricesPage, ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    Ok(crate::services::prices::page(&state.db, org_id, user.id).await?)
}

/// Adds a price (`id` empty) or changes one, from the Prices page's form.
#[server]
pub async fn save_price(
    org_id: Uuid,
    id: Option<i64>,
    model: String,
    provider: Option<String>,
    input_usd_per_mtok: String,
    output_usd_per_mtok: String,
    cache_read_usd_per_mtok: Option<String>,
    cache_write_usd_per_mtok: Option<String>,
    reasoning_usd_per_mtok: Option<String>,
    effective_from: Option<String>,
    note: Option<String>,
) -> Result<PriceOverride, ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    let blank_is_none = |value: Option<String>| value.filter(|text| !text.trim().is_empty());
    let input = PriceOverrideInput {
        model,
        provider: blank_is_none(provider),
        input_usd_per_mtok,
        output_usd_per_mtok,
        cache_read_usd_per_mtok: blank_is_none(cache_read_usd_per_mtok),
        cache_write_usd_per_mtok: blank_is_none(cache_write_usd_per_mtok),
        reasoning_usd_per_mtok: blank_is_none(reasoning_usd_per_mtok),
        effective_from: blank_is_none(effective_from),
        note: blank_is_none(note),
    };
    Ok(crate::services::prices::save_one(&state.db, &state.prices, org_id, &user, id, input).await?)
}

#[server]
pub async fn delete_price(org_id: Uuid, id: i64) -> Result<(), ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    Ok(crate::services::prices::delete_one(&state.db, &state.prices, org_id, &user, id).await?)
}

#[server]
pub async fn start_recompute(org_id: Uuid, since: String, until: String) -> Result<RecomputeJob, ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    let request = RecomputeRequest { since, until };
    Ok(crate::services::recompute::request(&state.db, org_id, &user, &request).await?)
}

#[server]
pub async fn list_recomputes(org_id: Uuid) -> Result<Vec<RecomputeJob>, ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    crate::services::orgs::authorize(&state.db, org_id, user.id, crate::accounts::Action::Read).await?;
    Ok(crate::services::recompute::recent(&state.db, org_id).await?)
}
