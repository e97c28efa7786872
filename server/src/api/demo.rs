//! `/api/v1/orgs/{org}/demo`: a week of demo telemetry for an organization
//! to look around in, and its removal.

use app::{
    error::{AppError, Result},
    state::AppState,
    telemetry::{
        services::demo_workload,
        types::{DemoData, DemoRemoval},
    },
};
use axum::{Json, extract::State, http::StatusCode};
use uuid::Uuid;

use super::{
    extract::{ApiPath, Caller, SignedIn},
    openapi::{ApiErrors, Conflict},
};

/// The organization's demo data, if "Run demo" added some (404 otherwise).
#[utoipa::path(
    get, path = "/orgs/{org}/demo", operation_id = "get_demo_data", tag = "organizations",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = DemoData), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<Json<DemoData>> {
    caller.authorize_read(&state, org_id).await?;
    demo_workload::get(&state.db, org_id)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("demo data"))
}

/// Adds a week of demo telemetry (admins): some 300 agent runs of three
/// services named `demo-…`, four models from two providers, tool calls with
/// diffs, errors and retries, end users, sessions and GenAI metrics, sent
/// through OTLP ingest. 409 when the organization has demo data already.
#[utoipa::path(
    post, path = "/orgs/{org}/demo", operation_id = "run_demo", tag = "organizations",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses((status = 201, body = DemoData), ApiErrors, Conflict),
    security(("session" = [])),
)]
pub async fn add(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<(StatusCode, Json<DemoData>)> {
    let added = demo_workload::add(&state, org_id, &signed_in.actor()).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// Deletes exactly what "Run demo" added (admins): its traces and spans,
/// metric points, usage rollups and token.
#[utoipa::path(
    delete, path = "/orgs/{org}/demo", operation_id = "remove_demo_data", tag = "organizations",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = DemoRemoval), ApiErrors),
    security(("session" = [])),
)]
pub async fn remove(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<Json<DemoRemoval>> {
    Ok(Json(
        demo_workload::remove(&state, org_id, &signed_in.actor()).await?,
    ))
}
