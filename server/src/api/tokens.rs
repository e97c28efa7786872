//! `/api/v1/orgs/{org}/tokens` and `/api/v1/token`: API tokens.

use app::{
    accounts::{
        services::tokens::{self, NewToken, TokenPrincipal},
        types::{MintedToken, TokenInfo, TokenScope},
    },
    error::{ErrorBody, Result},
    state::AppState,
};
use axum::{Extension, Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    extract::{ApiJson, ApiPath, Caller, SignedIn},
    openapi::{ApiErrors, BodyErrors, Conflict},
};

#[derive(Deserialize, ToSchema)]
pub struct MintRequest {
    /// 1 to 100 characters once trimmed.
    #[schema(max_length = 100, pattern = r"\S")]
    name: String,
    /// At least one; repeats count once.
    #[schema(min_items = 1)]
    scopes: Vec<TokenScope>,
    /// RFC 3339 time, in the future, after which the token stops working; none for no expiry.
    expires_at: Option<DateTime<Utc>>,
}

/// The organization's API tokens (never their secrets).
#[utoipa::path(
    get, path = "/orgs/{org}/tokens", operation_id = "list_tokens", tag = "tokens",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = Vec<TokenInfo>), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<Json<Vec<TokenInfo>>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(tokens::list(&state.db, org_id).await?))
}

/// Mints a token (admins). The answer holds the secret, shown this once.
#[utoipa::path(
    post, path = "/orgs/{org}/tokens", operation_id = "mint_token", tag = "tokens",
    params(("org" = Uuid, Path, description = "Organization id")),
    request_body = MintRequest,
    responses((status = 201, body = MintedToken), ApiErrors, Conflict, BodyErrors),
    security(("session" = [])),
)]
pub async fn mint(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(org_id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<MintRequest>,
) -> Result<(StatusCode, Json<MintedToken>)> {
    let minted = tokens::mint(
        &state.db,
        org_id,
        &signed_in.actor(),
        NewToken {
            name: request.name,
            scopes: request.scopes,
            expires_at: request.expires_at,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(minted)))
}

/// Revokes a token (admins): it stops working at once.
#[utoipa::path(
    delete, path = "/orgs/{org}/tokens/{id}", operation_id = "revoke_token", tag = "tokens",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = Uuid, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), ApiErrors, Conflict),
    security(("session" = [])),
)]
pub async fn revoke(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, token_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode> {
    tokens::revoke(&state.db, &state.tokens, org_id, &signed_in.actor(), token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct TokenIntrospection {
    token_id: Uuid,
    organization_id: Uuid,
    scopes: Vec<TokenScope>,
}

/// Which organization and scopes the presented token carries, so an SDK
/// setup can be checked. Bearer tokens only.
#[utoipa::path(
    get, path = "/token", operation_id = "introspect_token", tag = "tokens",
    responses(
        (status = 200, body = TokenIntrospection),
        (status = 401, description = "Missing, unknown, expired or revoked token", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn introspect(Extension(principal): Extension<TokenPrincipal>) -> Json<TokenIntrospection> {
    Json(TokenIntrospection {
        token_id: principal.token_id,
        organization_id: principal.org_id,
        scopes: principal.scopes,
    })
}
