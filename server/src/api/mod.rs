//! The REST API under `/api/v1`: JSON in, JSON out, errors as
//! `{"error": {"code", "message"}}`. Handlers are thin: extract, call a
//! service, answer. Authentication is a session cookie or, where the route
//! allows, `Authorization: Bearer <token>`.

mod alerts;
mod audit;
mod auth;
pub mod bearer;
mod costs;
mod csv;
mod demo;
pub mod extract;
mod forwarding;
mod governance;
mod live;
pub mod openapi;
mod orgs;
mod prices;
pub mod rate_limit;
mod similarity;
mod tokens;
mod traces;

use app::{error::AppError, state::AppState};
use axum::{middleware, routing::any};
use utoipa_axum::{router::OpenApiRouter, routes};

/// The API's routes, each registered with its OpenAPI description.
pub fn router(state: &AppState) -> OpenApiRouter<AppState> {
    let token_only = OpenApiRouter::new()
        .routes(routes!(tokens::introspect))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            bearer::require_token,
        ));

    OpenApiRouter::new()
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::logout_everywhere))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::me))
        .routes(routes!(orgs::list, orgs::create))
        .routes(routes!(orgs::delete))
        .routes(routes!(orgs::members, orgs::invite))
        .routes(routes!(orgs::change_role, orgs::remove_member))
        .routes(routes!(orgs::invitations))
        .routes(routes!(orgs::revoke_invitation))
        .routes(routes!(audit::list))
        .routes(routes!(audit::verify))
        .routes(routes!(tokens::list, tokens::mint))
        .routes(routes!(tokens::revoke))
        .routes(routes!(traces::list_spans))
        .routes(routes!(live::live))
        .routes(routes!(traces::list))
        .routes(routes!(traces::get))
        .routes(routes!(traces::span))
        .routes(routes!(traces::export))
        .routes(routes!(costs::usage))
        .routes(routes!(costs::cost_logs))
        .routes(routes!(prices::list, prices::replace))
        .routes(routes!(prices::request_recompute, prices::list_recomputes))
        .routes(routes!(prices::get_recompute))
        .routes(routes!(demo::get, demo::add, demo::remove))
        .routes(routes!(similarity::search))
        .routes(routes!(similarity::list_clusters))
        .routes(routes!(similarity::list_patterns, similarity::add_pattern))
        .routes(routes!(similarity::remove_pattern))
        .routes(routes!(similarity::update_settings))
        .routes(routes!(similarity::list_logs))
        .routes(routes!(governance::current, governance::save))
        .routes(routes!(governance::versions))
        .routes(routes!(governance::version))
        .routes(routes!(governance::restore))
        .routes(routes!(governance::dry_run))
        .routes(routes!(governance::dropped_spans))
        .routes(routes!(governance::evaluate))
        .routes(routes!(governance::list_events))
        .routes(routes!(governance::retention_status))
        .routes(routes!(alerts::list_rules, alerts::create_rule))
        .routes(routes!(
            alerts::get_rule,
            alerts::replace_rule,
            alerts::delete_rule
        ))
        .routes(routes!(alerts::list_silences, alerts::create_silence))
        .routes(routes!(alerts::delete_silence))
        .routes(routes!(alerts::list_events))
        .routes(routes!(alerts::list_channels, alerts::create_channel))
        .routes(routes!(
            alerts::get_channel,
            alerts::replace_channel,
            alerts::delete_channel
        ))
        .routes(routes!(alerts::test_channel))
        .routes(routes!(alerts::list_deliveries))
        .routes(routes!(
            forwarding::list_destinations,
            forwarding::create_destination
        ))
        .routes(routes!(
            forwarding::get_destination,
            forwarding::update_destination,
            forwarding::delete_destination
        ))
        .routes(routes!(forwarding::test_destination))
        .routes(routes!(orgs::preview_invitation))
        .routes(routes!(orgs::accept_invitation))
        .merge(token_only)
        .route("/{*unknown}", any(unknown_endpoint))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit_api_rate,
        ))
}

/// Unknown paths under `/api/v1` answer in the API's error shape, not with the 404 page.
async fn unknown_endpoint() -> AppError {
    AppError::NotFound("API endpoint")
}
