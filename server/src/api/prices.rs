//! `/api/v1/orgs/{org}/prices` and `/api/v1/orgs/{org}/cost-recomputes`:
//! what models cost an organization, and re-pricing stored spans after a change.

use app::{
    costs::{
        services::{prices, recompute},
        types::{PriceList, PriceOverrides, RecomputeJob, RecomputeRequest},
    },
    error::Result,
    state::AppState,
};
use axum::{Json, extract::State, http::StatusCode};
use uuid::Uuid;

use super::{
    extract::{ApiJson, ApiPath, Caller, SignedIn},
    openapi::{ApiErrors, BodyErrors},
};

/// The built-in price table (with source and date per row) and the
/// organization's own prices, which take precedence from their effective time.
#[utoipa::path(
    get, path = "/orgs/{org}/prices", operation_id = "list_prices", tag = "costs",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = PriceList), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<Json<PriceList>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(prices::list(&state.db, org_id).await?))
}

/// Replaces the organization's prices with the given set (admins). Spans
/// ingested from now on are priced with them; recompute a time range to
/// re-price spans already stored.
#[utoipa::path(
    put, path = "/orgs/{org}/prices", operation_id = "replace_prices", tag = "costs",
    params(("org" = Uuid, Path, description = "Organization id")),
    request_body = PriceOverrides,
    responses((status = 200, body = PriceList), ApiErrors, BodyErrors),
    security(("session" = [])),
)]
pub async fn replace(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(org_id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<PriceOverrides>,
) -> Result<Json<PriceList>> {
    let list = prices::replace_all(
        &state.db,
        &state.prices,
        org_id,
        &signed_in.actor(),
        &request.overrides,
    )
    .await?;
    Ok(Json(list))
}

/// Queues a job that re-prices the organization's spans that started in
/// the range with the prices in force now, and corrects their traces' and
/// usage rollups' sums (admins). Poll the job for its progress.
#[utoipa::path(
    post, path = "/orgs/{org}/cost-recomputes", operation_id = "request_recompute", tag = "costs",
    params(("org" = Uuid, Path, description = "Organization id")),
    request_body = RecomputeRequest,
    responses((status = 202, body = RecomputeJob), ApiErrors, BodyErrors),
    security(("session" = [])),
)]
pub async fn request_recompute(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(org_id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<RecomputeRequest>,
) -> Result<(StatusCode, Json<RecomputeJob>)> {
    let job = recompute::request(&state.db, org_id, &signed_in.actor(), &request).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// The organization's ten newest recompute jobs, newest first.
#[utoipa::path(
    get, path = "/orgs/{org}/cost-recomputes", operation_id = "list_recomputes", tag = "costs",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = Vec<RecomputeJob>), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn list_recomputes(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<Json<Vec<RecomputeJob>>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(recompute::recent(&state.db, org_id).await?))
}

/// One recompute job and its progress.
#[utoipa::path(
    get, path = "/orgs/{org}/cost-recomputes/{id}", operation_id = "get_recompute", tag = "costs",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = i64, Path, description = "Job id")),
    responses((status = 200, body = RecomputeJob), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn get_recompute(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((org_id, id)): ApiPath<(Uuid, i64)>,
) -> Result<Json<RecomputeJob>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(recompute::get(&state.db, org_id, id).await?))
}
