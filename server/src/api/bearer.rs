//! The bearer-token middleware: `Authorization: Bearer <token>` becomes a
//! [`TokenPrincipal`] (organization and scopes) in the request's extensions,
//! or the request is refused with 401 and `WWW-Authenticate: Bearer`.
//! Routes check the scope they need with [`require_scope`].

use app::{
    accounts::{
        services::tokens::{self, TokenPrincipal},
        types::TokenScope,
    },
    error::AppError,
    state::AppState,
};
use axum::{
    extract::{Request, State},
    http::{header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};

pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let principal = match bearer_secret(&parts) {
        Ok(Some(secret)) => tokens::authenticate(&state.db, &state.tokens, secret).await,
        Ok(None) => Err(AppError::InvalidToken("missing `Authorization: Bearer <token>`")),
        Err(err) => Err(err),
    };
    match principal {
        Ok(principal) => {
            parts.extensions.insert(principal);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(err) => err.into_response(),
    }
}

/// 403 unless the authenticated token carries `scope`.
pub fn require_scope(principal: &TokenPrincipal, scope: TokenScope) -> Result<(), AppError> {
    if principal.allows(scope) {
        Ok(())
    } else {
        Err(AppError::Forbidden(match scope {
            TokenScope::Ingest => "this API token lacks the `ingest` scope",
            TokenScope::Read => "this API token lacks the `read` scope",
            TokenScope::Evaluate => "this API token lacks the `evaluate` scope",
            TokenScope::Metrics => "this API token lacks the `metrics` scope",
        }))
    }
}

/// The secret of an `Authorization: Bearer …` header; `Ok(None)` without one.
pub fn bearer_secret(parts: &Parts) -> Result<Option<&str>, AppError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| AppError::InvalidToken("malformed Authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, secret)) if scheme.eq_ignore_ascii_case("bearer") => Ok(Some(secret.trim())),
        _ => Err(AppError::InvalidToken("expected `Authorization: Bearer <token>`")),
    }
}
