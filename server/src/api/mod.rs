//! The REST API under `/api/v1`: JSON in, JSON out, errors as
//! `{"error": {"code", "message"}}`. Handlers are thin: extract, call a
//! service, answer. Authentication is a session cookie or, where the route
//! allows, `Authorization: Bearer <token>`.

mod auth;
pub mod bearer;
pub mod extract;
mod live;
mod orgs;
mod tokens;
mod traces;

use app::{error::AppError, state::AppState};
use axum::{
    Router, middleware,
    routing::{any, delete, get, patch, post},
};

pub fn router(state: &AppState) -> Router<AppState> {
    let token_only = Router::new()
        .route("/token", get(tokens::introspect))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            bearer::require_token,
        ));

    Router::new()
        .route("/auth/signup", post(auth::signup))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/logout-all", post(auth::logout_everywhere))
        .route("/auth/password", post(auth::change_password))
        .route("/me", get(auth::me))
        .route("/orgs", get(orgs::list).post(orgs::create))
        .route("/orgs/{org}", delete(orgs::delete))
        .route("/orgs/{org}/members", get(orgs::members).post(orgs::invite))
        .route(
            "/orgs/{org}/members/{user}",
            patch(orgs::change_role).delete(orgs::remove_member),
        )
        .route("/orgs/{org}/invitations", get(orgs::invitations))
        .route("/orgs/{org}/invitations/{id}", delete(orgs::revoke_invitation))
        .route("/orgs/{org}/tokens", get(tokens::list).post(tokens::mint))
        .route("/orgs/{org}/tokens/{id}", delete(tokens::revoke))
        .route("/spans", get(traces::list_spans))
        .route("/live", get(live::live))
        .route("/traces", get(traces::list))
        .route("/traces/{trace_id}", get(traces::get))
        .route("/traces/{trace_id}/spans/{span_id}", get(traces::span))
        .route("/traces/{trace_id}/export", get(traces::export))
        .route("/invitations/{token}", get(orgs::preview_invitation))
        .route("/invitations/{token}/accept", post(orgs::accept_invitation))
        .merge(token_only)
        .route("/{*unknown}", any(unknown_endpoint))
}

/// Unknown paths under `/api/v1` answer in the API's error shape, not with the 404 page.
async fn unknown_endpoint() -> AppError {
    AppError::NotFound("API endpoint")
}
