//! `/api/v1/orgs/{org}/tokens` and `/api/v1/token`: API tokens.

use app::{
    accounts::{MintedToken, TokenInfo, TokenScope},
    error::Result,
    services::tokens::{self, NewToken, TokenPrincipal},
    state::AppState,
};
use axum::{Extension, Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{ApiJson, ApiPath, Caller, SignedIn};

#[derive(Deserialize)]
pub struct MintRequest {
    name: String,
    scopes: Vec<TokenScope>,
    /// RFC 3339 time after which the token stops working; none for no expiry.
    expires_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/orgs/{org}/tokens`
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<Json<Vec<TokenInfo>>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(tokens::list(&state.db, org_id).await?))
}

/// `POST /api/v1/orgs/{org}/tokens`: the answer holds the secret, shown this once.
pub async fn mint(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(org_id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<MintRequest>,
) -> Result<(StatusCode, Json<MintedToken>)> {
    let minted = tokens::mint(
        &state.db,
        org_id,
        signed_in.user.id,
        NewToken {
            name: request.name,
            scopes: request.scopes,
            expires_at: request.expires_at,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(minted)))
}

/// `DELETE /api/v1/orgs/{org}/tokens/{id}`
pub async fn revoke(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, token_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode> {
    tokens::revoke(&state.db, org_id, signed_in.user.id, token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
pub struct TokenIntrospection {
    token_id: Uuid,
    organization_id: Uuid,
    scopes: Vec<TokenScope>,
}

/// `GET /api/v1/token`: which organization and scopes the presented token
/// carries, so an SDK setup can be checked. Behind the bearer middleware.
pub async fn introspect(Extension(principal): Extension<TokenPrincipal>) -> Json<TokenIntrospection> {
    Json(TokenIntrospection {
        token_id: principal.token_id,
        organization_id: principal.org_id,
        scopes: principal.scopes,
    })
}
