//! Prometheus metrics: the process-wide recorder, the figures sampled when
//! `/metrics` is read (queue depth, database pool, live-tail streams, job
//! lag, process), HTTP latency by route, and the two ways to read them: on
//! the main listener for a `metrics` token or an instance administrator,
//! or on `SPECULA_METRICS_LISTEN` for whoever reaches that address.
//!
//! The names live in [`app::platform::services::metrics`], where the
//! application records most of them.

use std::{sync::OnceLock, time::Instant};

use app::{
    accounts::types::TokenScope,
    error::AppError,
    platform::services::metrics::{self as names, DESCRIPTIONS},
    state::AppState,
};
use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::DatabaseBackend;

use crate::api::{bearer::require_scope, extract::Caller};

/// The exposition format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Latency buckets (seconds): from a cached page to a slow export.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Rows per commit: one small export up to the writer's largest batch.
const BATCH_ROW_BUCKETS: [f64; 12] = [
    1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0, 25_000.0, 50_000.0,
];

/// The recorder and what it samples, installed once per process (the
/// integration tests start many servers in one).
struct Exporter {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

fn exporter() -> &'static Exporter {
    static EXPORTER: OnceLock<Exporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &LATENCY_BUCKETS)
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full(names::INGEST_BATCH_ROWS.to_owned()),
                    &BATCH_ROW_BUCKETS,
                )
            })
            .expect("the bucket lists are not empty");
        let handle = match builder.install_recorder() {
            Ok(handle) => handle,
            Err(err) => {
                // Another recorder is global (an embedding program's): ours
                // still renders what is recorded into it directly, nothing else.
                tracing::warn!(error = %err, "metrics recorder not installed");
                PrometheusBuilder::new().build_recorder().handle()
            }
        };
        // The exporter keeps one help text per name, whatever its kind.
        for (name, help) in DESCRIPTIONS {
            metrics::describe_counter!(name, help);
        }
        let process = metrics_process::Collector::default();
        process.describe();
        metrics::gauge!(names::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        // Present from the start, so that a rate over them (and an alert on
        // drops) has a series before the first span is forwarded.
        for outcome in ["forwarded", "refused", "dropped"] {
            metrics::counter!(names::FORWARDED_SPANS, "outcome" => outcome).increment(0);
        }
        Exporter { handle, process }
    })
}

/// Installs the recorder (once) and starts recording: call before serving.
pub fn install() {
    exporter();
}

/// Drains histogram samples into their buckets now and then, so that
/// memory stays bounded between scrapes (and without any).
pub async fn run_upkeep(stop: tokio_util::sync::CancellationToken) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = every.tick() => exporter().handle.run_upkeep(),
            () = stop.cancelled() => break,
        }
    }
}

/// The exposition text, with the sampled figures taken now.
pub fn render(state: &AppState) -> String {
    let exporter = exporter();
    let queue = &state.ingest;
    metrics::gauge!(names::INGEST_QUEUE_DEPTH).set(queue.queued_batches() as f64);
    metrics::gauge!(names::INGEST_QUEUE_CAPACITY).set(queue.queue_capacity() as f64);
    metrics::gauge!(names::LIVE_TAIL_LISTENERS).set(state.live.listeners() as f64);
    let (open, idle, max) = pool_use(&state.db);
    metrics::gauge!(names::DB_POOL_CONNECTIONS, "state" => "idle").set(idle as f64);
    metrics::gauge!(names::DB_POOL_CONNECTIONS, "state" => "in_use").set(open.saturating_sub(idle) as f64);
    metrics::gauge!(names::DB_POOL_MAX_CONNECTIONS).set(max as f64);
    names::record_job_lags();
    exporter.process.collect();
    exporter.handle.run_upkeep();
    exporter.handle.render()
}

/// Open, idle and most connections of the server's database pool.
fn pool_use(db: &sea_orm::DatabaseConnection) -> (usize, usize, u32) {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size() as usize,
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        DatabaseBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size() as usize,
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => (0, 0, 0),
    }
}

fn exposition(state: &AppState) -> Response {
    let mut response = render(state).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// `GET /metrics` on the main listener: a token with the `metrics` scope,
/// or a signed-in instance administrator.
pub async fn scrape(State(state): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    match &caller {
        Caller::Token(token, _) => require_scope(token, TokenScope::Metrics)?,
        Caller::User(signed_in) if signed_in.user.instance_admin => {}
        Caller::User(_) => {
            return Err(AppError::Forbidden(
                "metrics are for instance administrators and `metrics` tokens",
            ));
        }
    }
    Ok(exposition(&state))
}

/// The router of `SPECULA_METRICS_LISTEN`: `/metrics` without
/// authentication, for an address only the monitoring network reaches.
pub fn open_router(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(state): State<AppState>| async move { exposition(&state) }),
        )
        .with_state(state)
}

/// Records every request's latency by method, matched route and status
/// (the route pattern, never the path: ids would make a series each).
pub async fn track_http(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || unmatched_route(request.uri().path()),
        |path| path.as_str().to_owned(),
    );
    let response = next.run(request).await;
    metrics::histogram!(
        names::HTTP_REQUEST_SECONDS,
        "method" => method,
        "route" => route,
        "status" => response.status().as_u16().to_string(),
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// The series of a request no route pattern matched: the static assets
/// under `/pkg` as one, everything else (pages the UI routes, 404s) as another.
fn unmatched_route(path: &str) -> String {
    if path.starts_with("/pkg/") {
        "/pkg/{file}".to_owned()
    } else {
        "unmatched".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmatched_paths_make_two_series_at_most() {
        assert_eq!(unmatched_route("/pkg/specula-1234.wasm"), "/pkg/{file}");
        assert_eq!(unmatched_route("/nowhere/0192"), "unmatched");
        assert_eq!(unmatched_route("/pkgs"), "unmatched");
    }
}
