//! What the Costs and Prices pages call: adapters from the signed-in user's
//! session to the same cost services the REST API calls.

// The price form's server function takes one argument per field, and the
// code `#[server]` generates for it carries no attribute of ours.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use uuid::Uuid;

use crate::{
    costs::types::{CostDashboard, PriceOverride, PricesPage, RecomputeJob},
    error::ApiError,
};

/// The Costs page's data for `range` (or a custom `since`/`until` window).
#[server]
pub async fn load_cost_dashboard(
    org_id: Uuid,
    range: Option<String>,
    since: Option<String>,
    until: Option<String>,
) -> Result<CostDashboard, ApiError> {
    use crate::{
        accounts::types::Action, charts::costs as cost_charts, costs::services::dashboard,
        platform::services::now_ns, server_context::member,
    };

    let (state, user) = member(org_id, Action::Read).await?;
    let zone = crate::server_context::display_zone(&user).await;
    let (mut since, mut until) = (since, until);
    zone.read_local(&mut [&mut since, &mut until]);
    let data =
        dashboard::dashboard(&state.db, org_id, range.as_deref(), since, until, now_ns(), &zone).await?;
    Ok(cost_charts::dashboard(data, &zone).await?)
}

#[server]
pub async fn load_prices_page(org_id: Uuid) -> Result<PricesPage, ApiError> {
    use crate::costs::{fragments, types::PricesPageData};

    let (state, _, user) = crate::server_context::signed_in().await?;
    let PricesPageData {
        prices,
        jobs,
        audit,
        can_edit,
    } = crate::costs::services::prices::page(&state.db, org_id, user.id).await?;
    let zone = crate::server_context::display_zone(&user).await;
    Ok(PricesPage {
        overrides: prices.overrides,
        builtin_html: fragments::builtin_table(prices.builtin),
        jobs,
        audit_html: fragments::audit_list(audit, &zone),
        can_edit,
    })
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
    use crate::costs::types::PriceOverrideInput;

    let (state, _, user) = crate::server_context::signed_in().await?;
    // The field is the user's local time.
    let mut effective_from = effective_from;
    crate::server_context::display_zone(&user)
        .await
        .read_local(&mut [&mut effective_from]);
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
    Ok(crate::costs::services::prices::save_one(
        &state.db,
        &state.prices,
        org_id,
        &crate::server_context::actor(&state, &user).await,
        id,
        input,
    )
    .await?)
}

#[server]
pub async fn delete_price(org_id: Uuid, id: i64) -> Result<(), ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    Ok(crate::costs::services::prices::delete_one(
        &state.db,
        &state.prices,
        org_id,
        &crate::server_context::actor(&state, &user).await,
        id,
    )
    .await?)
}

#[server]
pub async fn start_recompute(org_id: Uuid, since: String, until: String) -> Result<RecomputeJob, ApiError> {
    use crate::costs::types::RecomputeRequest;

    let (state, _, user) = crate::server_context::signed_in().await?;
    // The fields are the user's local times.
    let zone = crate::server_context::display_zone(&user).await;
    let request = RecomputeRequest {
        since: zone.local_to_rfc3339(&since),
        until: zone.local_to_rfc3339(&until),
    };
    Ok(crate::costs::services::recompute::request(
        &state.db,
        org_id,
        &crate::server_context::actor(&state, &user).await,
        &request,
    )
    .await?)
}

#[server]
pub async fn list_recomputes(org_id: Uuid) -> Result<Vec<RecomputeJob>, ApiError> {
    use crate::{accounts::types::Action, server_context::member};

    let (state, _) = member(org_id, Action::Read).await?;
    Ok(crate::costs::services::recompute::recent(&state.db, org_id).await?)
}
