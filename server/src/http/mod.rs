//! The HTTP surface: one router for the UI (server-rendered Leptos pages,
//! server functions, static assets), the health probes and, later, the REST
//! API and OTLP/HTTP. Cross-cutting layers (request ids, tracing, body limit,
//! compression) are applied here once for every route.

mod health;

use std::time::Duration;

use app::{App, shell, state::AppState};
use axum::{
    Router,
    body::Body,
    extract::State,
    http::{HeaderName, Request},
    response::IntoResponse,
    routing::get,
};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list, handle_server_fns_with_context};
use tower::ServiceBuilder;
use tower_http::{
    compression::CompressionLayer,
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    services::ServeDir,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Limits the router enforces on every request.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    pub max_body_bytes: usize,
}

/// Builds the whole HTTP application for `state`.
pub fn router(state: AppState, limits: HttpLimits) -> Router {
    let routes = generate_route_list(App);
    let pkg_dir = format!(
        "{}/{}",
        state.leptos_options.site_root, state.leptos_options.site_pkg_dir
    );

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(
            "/api/{*server_fn}",
            get(server_fn_handler).post(server_fn_handler),
        )
        .nest_service("/pkg", ServeDir::new(pkg_dir))
        .leptos_routes_with_context(
            &state,
            routes,
            {
                let state = state.clone();
                move || provide_context(state.clone())
            },
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|request: &Request<Body>| {
                            let request_id = request
                                .headers()
                                .get(REQUEST_ID)
                                .and_then(|value| value.to_str().ok())
                                .unwrap_or_default();
                            tracing::info_span!(
                                "http",
                                method = %request.method(),
                                path = %request.uri().path(),
                                request_id,
                            )
                        })
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
                .layer(CompressionLayer::new()),
        )
        .with_state(state)
}

async fn server_fn_handler(State(state): State<AppState>, request: Request<Body>) -> impl IntoResponse {
    handle_server_fns_with_context(move || provide_context(state.clone()), request).await
}

/// How often background checks (readiness) may wait on the database.
pub(crate) const DATABASE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);
