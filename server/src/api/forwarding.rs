//! `/api/v1/orgs/{org}/forwarding/destinations`: where the organization's
//! spans are also sent over OTLP, and how that is going. Members (and
//! `read` tokens) read; owners and admins change and test, with the
//! session, and every change is audited.

use app::{
    error::Result,
    forwarding::{
        services::{destinations, test_span},
        types::{Destination, DestinationInput, ForwardTest},
    },
    state::AppState,
};
use axum::{Json, extract::State, http::StatusCode};
use uuid::Uuid;

use super::{
    extract::{ApiJson, ApiPath, Caller, SignedIn},
    openapi::{ApiErrors, BodyErrors, Conflict},
};

/// The organization's forwarding destinations (header values left out)
/// with their counts: forwarded, waiting, dropped after the retry budget,
/// refused by the destination; the last error while one fails.
#[utoipa::path(
    get, path = "/orgs/{org}/forwarding/destinations", operation_id = "list_forward_destinations", tag = "forwarding",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = Vec<Destination>), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn list_destinations(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<Json<Vec<Destination>>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(destinations::list(&state.db, org_id).await?))
}

/// Adds a destination (owners and admins): `name`, `protocol`
/// (`http/protobuf` or `grpc`) and `endpoint` are required. It receives the
/// spans stored from now on. Addresses on loopback, private or link-local
/// networks are refused unless the installation allows them.
#[utoipa::path(
    post, path = "/orgs/{org}/forwarding/destinations", operation_id = "create_forward_destination", tag = "forwarding",
    params(("org" = Uuid, Path, description = "Organization id")),
    request_body = DestinationInput,
    responses((status = 201, body = Destination), ApiErrors, BodyErrors, Conflict),
    security(("session" = [])),
)]
pub async fn create_destination(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(org_id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<DestinationInput>,
) -> Result<(StatusCode, Json<Destination>)> {
    let created =
        destinations::create(&state.db, &state.forwarding, org_id, &signed_in.actor(), &input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One destination.
#[utoipa::path(
    get, path = "/orgs/{org}/forwarding/destinations/{id}", operation_id = "get_forward_destination", tag = "forwarding",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = Uuid, Path, description = "Destination id")),
    responses((status = 200, body = Destination), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn get_destination(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((org_id, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Destination>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(destinations::get(&state.db, org_id, id).await?))
}

/// Changes a destination (owners and admins): the fields given replace
/// theirs, `headers` all of them; `enabled: false` pauses it (its spans
/// wait). Spans not yet sent go to the changed destination.
#[utoipa::path(
    patch, path = "/orgs/{org}/forwarding/destinations/{id}", operation_id = "update_forward_destination", tag = "forwarding",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = Uuid, Path, description = "Destination id")),
    request_body = DestinationInput,
    responses((status = 200, body = Destination), ApiErrors, BodyErrors, Conflict),
    security(("session" = [])),
)]
pub async fn update_destination(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(input): ApiJson<DestinationInput>,
) -> Result<Json<Destination>> {
    let destination = destinations::update(
        &state.db,
        &state.forwarding,
        org_id,
        &signed_in.actor(),
        id,
        &input,
    )
    .await?;
    Ok(Json(destination))
}

/// Removes a destination (owners and admins); what it had not sent is not sent.
#[utoipa::path(
    delete, path = "/orgs/{org}/forwarding/destinations/{id}", operation_id = "delete_forward_destination", tag = "forwarding",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = Uuid, Path, description = "Destination id")),
    responses((status = 204), ApiErrors),
    security(("session" = [])),
)]
pub async fn delete_destination(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode> {
    destinations::delete(&state.db, org_id, &signed_in.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// "Send test span" (owners and admins): sends one span (service `specula`,
/// named "Specula forwarding test") to the destination now, the way its
/// spans go, and answers how it went, with the span's trace id to look up
/// there. The destination's counts are not changed.
#[utoipa::path(
    post, path = "/orgs/{org}/forwarding/destinations/{id}/test", operation_id = "test_forward_destination", tag = "forwarding",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = Uuid, Path, description = "Destination id")),
    responses((status = 200, body = ForwardTest), ApiErrors),
    security(("session" = [])),
)]
pub async fn test_destination(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<ForwardTest>> {
    Ok(Json(
        test_span::send_test(&state, org_id, &signed_in.actor(), id).await?,
    ))
}
