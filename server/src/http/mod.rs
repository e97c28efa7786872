//! The HTTP surface: one router for the UI (server-rendered Leptos pages,
//! server functions, static assets), the health probes and, later, the REST
//! API and OTLP/HTTP. Cross-cutting layers (request ids, tracing, body limit,
//! compression) are applied here once for every route.

mod csrf;
mod health;

use std::sync::OnceLock;

use app::{App, accounts::services::sessions::DbSessionStore, shell, state::AppState};
use axum::{
    Router,
    body::Body,
    extract::DefaultBodyLimit,
    http::{HeaderName, HeaderValue, Request, Response, StatusCode, header},
    middleware,
    routing::get,
};
use leptos::prelude::provide_context;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tower::ServiceBuilder;
use tower_http::{
    compression::CompressionLayer,
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    services::{ServeDir, fs::ServeFileSystemResponseBody as ServeFileBody},
    set_header::{SetResponseHeader, SetResponseHeaderLayer},
    trace::TraceLayer,
};
use tower_sessions::{Expiry, SessionManagerLayer, cookie::SameSite};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::api::openapi::{self, ApiDoc};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Settings of the HTTP layer, from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct HttpSettings {
    pub max_body_bytes: usize,
    /// Largest OTLP body once decompressed.
    pub max_decompressed_bytes: usize,
    /// Browser sessions end after this long without activity.
    pub session_ttl: std::time::Duration,
    /// Session cookies get `Secure` (the public URL is https).
    pub secure_cookies: bool,
}

/// The app's routes, listed once per process. Listing renders the app with
/// resource loading suppressed through a process-wide flag, so a page being
/// served meanwhile (another server in the same process: tests) could have
/// its resources suspended forever; listing once, before anything serves,
/// rules that out.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Builds the whole HTTP application for `state`.
pub fn router(state: AppState, settings: HttpSettings) -> Router {
    let routes = route_list();
    let pkg_dir = format!(
        "{}/{}",
        state.leptos_options.site_root, state.leptos_options.site_pkg_dir
    );

    // Pages, server functions and the REST API use the session; they get the
    // session layer (and the CSRF check inside it).
    let (api, mut api_document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", crate::api::router(&state))
        .split_for_parts();
    let (otlp, otlp_document) = crate::otlp::routes(
        &state,
        crate::otlp::DecodeLimits {
            max_decompressed_bytes: settings.max_decompressed_bytes,
        },
    )
    .split_for_parts();
    api_document.merge(otlp_document);
    let with_session = Router::new()
        .route("/metrics", get(crate::metrics::scrape))
        .merge(api)
        // Also registers every server function, with the same context.
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
        // Innermost first: the CSRF check runs inside the session layer.
        .layer(middleware::from_fn_with_state(
            csrf::TrustedOrigins::new(&state.instance.public_url),
            csrf::refuse_cross_site,
        ))
        .layer(session_layer(&state, settings));

    // Probes, OTLP (bearer tokens) and static assets never touch a session,
    // so they cost no session read or write.
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(otlp)
        .nest_service("/pkg", static_assets(&pkg_dir))
        .merge(SwaggerUi::new(openapi::BROWSER_PATH).url(openapi::DOCUMENT_PATH, api_document))
        .merge(with_session)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(finished_request),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(RequestBodyLimitLayer::new(settings.max_body_bytes))
                .layer(DefaultBodyLimit::max(settings.max_body_bytes))
                .layer(CompressionLayer::new()),
        )
        // Inside the routers' matching, so each request names its route.
        .layer(middleware::from_fn(crate::metrics::track_http))
        .with_state(state)
}

/// Each request's span: its id for the logs, and for self-tracing an OTel
/// server span named by method and route pattern (never the path, which
/// holds ids), a child of the caller's `traceparent` when it sent one.
fn request_span(request: &Request<Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|path| path.as_str());
    let span = tracing::info_span!(
        "http",
        method = %request.method(),
        path = %request.uri().path(),
        request_id,
        otel.name = format!("{} {}", request.method(), route.unwrap_or_default()).trim_end(),
        otel.kind = "server",
        http.route = route,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderCarrier(request.headers()))
    });
    // Without self-tracing there is no OTel span to parent.
    let _ = tracing_opentelemetry::OpenTelemetrySpanExt::set_parent(&span, parent);
    span
}

/// Logs an answered request, and gives its span the status (an error for 5xx).
fn finished_request<B>(response: &Response<B>, latency: std::time::Duration, span: &tracing::Span) {
    let status = response.status();
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    tracing::info!(latency = ?latency, status = status.as_u16(), "finished processing request");
}

/// Request headers as an OTel propagation carrier.
struct HeaderCarrier<'a>(&'a axum::http::HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// The browser bundle and stylesheet. The build writes brotli and gzip
/// copies beside each file, sent to browsers that accept them (the global
/// compression layer leaves an encoded answer alone), so no request pays for
/// compressing 2 MB. Their names change with their content, so browsers keep
/// them for a year without asking again; a missing file is not kept.
fn static_assets(pkg_dir: &str) -> SetResponseHeader<ServeDir, ImmutableWhenFound> {
    ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            immutable_when_found as ImmutableWhenFound,
        ))
        .service(ServeDir::new(pkg_dir).precompressed_br().precompressed_gzip())
}

type ImmutableWhenFound = fn(&Response<ServeFileBody>) -> Option<HeaderValue>;

fn immutable_when_found(response: &Response<ServeFileBody>) -> Option<HeaderValue> {
    (response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED)
        .then(|| HeaderValue::from_static("public, max-age=31536000, immutable"))
}

/// Database-backed sessions: `HttpOnly`, `SameSite=Lax`, `Secure` over https,
/// expiring after a period of inactivity. Saving on every request that
/// carries a session is what moves the expiry forward with activity.
fn session_layer(state: &AppState, settings: HttpSettings) -> SessionManagerLayer<DbSessionStore> {
    let ttl = time::Duration::try_from(settings.session_ttl).unwrap_or(time::Duration::days(7));
    SessionManagerLayer::new(DbSessionStore::new(state.db.clone()))
        .with_name(app::accounts::services::sessions::SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(settings.secure_cookies)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(ttl))
        .with_always_save(true)
}
