//! The `specula` server: configuration, startup, and the HTTP application.
//!
//! `main.rs` only parses the command line; everything it starts is here so
//! integration tests can run the real server in-process on a random port.

pub mod admin;
pub mod api;
pub mod config;
pub mod db;
pub mod http;
pub mod live;
pub mod metrics;
pub mod otlp;
pub mod sealing_key;
pub mod site;
pub mod telemetry;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use app::{
    accounts::services::throttle::LoginThrottle,
    alerts::services::AlertSettings,
    forwarding::services::ForwardSettings,
    governance::services::{book::PolicyBook, events::EventLog, limits::Limits},
    platform::services::outbound::Outbound,
    similarity::services::{semantic::SemanticModel, semantic_worker::SemanticTier},
    state::{AccountSettings, AppState, InstanceIdentity},
    telemetry::services::{
        ingest::{
            commit::StoreOptions,
            writer::{IngestWriter, WriterSettings},
        },
        live::LiveHub,
    },
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::ServeConfig;

/// How often expired sessions are deleted.
const SESSION_CLEANUP_PERIOD: Duration = Duration::from_secs(15 * 60);
/// How often SQLite's WAL is copied into the database file in the background.
const WAL_CHECKPOINT_PERIOD: Duration = Duration::from_millis(500);
/// How often PostgreSQL's planner statistics are checked for staleness.
const STATISTICS_UPKEEP_PERIOD: Duration = Duration::from_secs(15);

/// A server whose database is open and migrated, ready to accept connections.
pub struct Server {
    state: AppState,
    config: ServeConfig,
    writer_stop: CancellationToken,
    writer_task: tokio::task::JoinHandle<()>,
    /// Writes governance events; stops with the span writer.
    events_task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Connects to the database, applies migrations and prepares the application state.
    pub async fn prepare(config: ServeConfig) -> anyhow::Result<Self> {
        let db = db::connect(
            &config.database_url,
            config.database_max_connections,
            config.sqlite_synchronous,
        )
        .await?;
        db::migrate(&db).await?;
        let instance_id = app::platform::services::instance::ensure_instance_id(&db).await?;

        let site_root = site::locate(config.site_root.as_deref()).unwrap_or_else(|| {
            tracing::warn!(
                "browser assets not found (looked next to the binary and in ./target/site); \
                 pages will render without interactivity. Build them with scripts/build.sh \
                 or set SPECULA_SITE_ROOT"
            );
            PathBuf::from("target/site")
        });
        if !site::is_complete(&site_root) {
            tracing::warn!(site_root = %site_root.display(), "site root holds no wasm bundle");
        }

        let semantic = match config.embedding_model_dir.clone() {
            Some(folder) => {
                let model = tokio::task::spawn_blocking(move || SemanticModel::load(&folder)).await??;
                tracing::info!(embedder = model.name(), "semantic embedding model loaded");
                Some(SemanticTier::new(model))
            }
            None => None,
        };

        let writer_stop = CancellationToken::new();
        let live = LiveHub::default();
        let writer_db = db::connect_writer(&config.database_url, &db, config.sqlite_synchronous).await?;
        let (ingest, writer_task) = IngestWriter::start(
            writer_db,
            WriterSettings {
                queue_capacity: config.ingest_queue as usize,
                max_batch_spans: config.ingest_batch_spans as usize,
                max_batch_wait: config.ingest_batch_wait,
                store: StoreOptions {
                    usage_rollups: config.ingest_usage_rollups,
                },
            },
            live.clone(),
            writer_stop.clone(),
        )?;
        let (governance_events, events_task) = EventLog::start(db.clone(), writer_stop.clone());
        let limits = Limits::new(&db);
        let alerts = AlertSettings {
            interval: config.alert_interval,
            outbound: Outbound::new(config.alerts_allow_private_networks),
            sealing: sealing_key::load(&config)?,
            smtp_roots: match &config.smtp_ca_file {
                Some(path) => Some(
                    std::fs::read(path)
                        .map_err(|err| {
                            anyhow::anyhow!("reading SPECULA_SMTP_CA_FILE {}: {err}", path.display())
                        })?
                        .into(),
                ),
                None => None,
            },
            public_url: config.public_url(),
        };
        let forwarding = ForwardSettings {
            outbound: Outbound::new(config.forwarding_allow_private_networks),
            sealing: alerts.sealing.clone(),
        };
        if alerts.sealing.is_none() {
            tracing::warn!(
                "no sealing key (SPECULA_SECRETS_KEY): alert channels and forwarding headers cannot be added"
            );
        }
        let state = AppState {
            db,
            leptos_options: site::leptos_options(&site_root, config.listen),
            instance: Arc::new(InstanceIdentity {
                instance_id,
                public_url: config.public_url(),
                public_grpc_url: config.public_grpc_url(),
                trusted_proxies: config.trusted_proxies.clone(),
            }),
            accounts: Arc::new(AccountSettings {
                open_signup: config.open_signup,
            }),
            login_throttle: Arc::new(LoginThrottle::default()),
            tokens: Default::default(),
            ingest,
            policies: PolicyBook::new(config.ingest_policy(), config.installation_limits()),
            limits,
            governance_events,
            live,
            prices: Default::default(),
            demo: Arc::new(otlp::OtlpDemo),
            prompts: Default::default(),
            abuse: Default::default(),
            semantic,
            alerts,
            forwarder: Arc::new(otlp::OtlpForwarder {
                settings: forwarding.clone(),
            }),
            forwarding,
        };
        tracing::info!(
            %instance_id,
            database = %config.database_url.redacted(),
            site_root = %site_root.display(),
            public_url = %state.instance.public_url,
            "server prepared"
        );
        Ok(Self {
            state,
            config,
            writer_stop,
            writer_task,
            events_task,
        })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves HTTP on `listener` until `shutdown` is cancelled, then stops
    /// accepting connections and lets in-flight requests finish for up to the
    /// configured grace period.
    pub async fn run(self, listeners: Listeners, shutdown: CancellationToken) -> anyhow::Result<()> {
        let max_decompressed_bytes = usize::try_from(self.config.max_decompressed_size).unwrap_or(usize::MAX);
        let settings = http::HttpSettings {
            max_body_bytes: usize::try_from(self.config.max_body_size).unwrap_or(usize::MAX),
            max_decompressed_bytes,
            session_ttl: self.config.session_ttl,
            secure_cookies: self.config.secure_cookies(),
        };
        metrics::install();
        let app = http::router(self.state.clone(), settings);
        let grpc = otlp::grpc_router(self.state.clone(), max_decompressed_bytes);
        // This process's name on the leases of jobs that run on one replica at a time.
        let owner = format!("{}/{}", std::process::id(), uuid::Uuid::new_v4());
        let session_cleanup = tokio::spawn(app::accounts::services::sessions::run_expired_cleanup(
            self.state.db.clone(),
            SESSION_CLEANUP_PERIOD,
            owner.clone(),
            shutdown.clone(),
        ));
        let live_hub = self.state.live.clone();
        let closing = shutdown.clone();
        tokio::spawn(async move {
            closing.cancelled().await;
            live_hub.close();
        });
        let notifications = tokio::spawn(live::relay_notifications(
            self.state.db.clone(),
            self.state.live.clone(),
            self.state.policies.clone(),
            shutdown.clone(),
        ));
        let checkpoints = tokio::spawn(db::run_wal_checkpoints(
            self.state.db.clone(),
            WAL_CHECKPOINT_PERIOD,
            self.writer_stop.child_token(),
        ));
        // Counts are written once more after the last request is answered.
        let ingest_counts = tokio::spawn(
            self.state
                .limits
                .counts
                .clone()
                .run_flusher(self.state.db.clone(), self.writer_stop.child_token()),
        );
        let statistics = tokio::spawn(db::run_statistics_upkeep(
            self.state.db.clone(),
            STATISTICS_UPKEEP_PERIOD,
            db::ANALYZE_AFTER_NEW_SPANS,
            owner.clone(),
            shutdown.clone(),
        ));
        let db = &self.state.db;
        let mut background = vec![
            (
                "search backfill",
                tokio::spawn(run_backfill(
                    db.clone(),
                    "search_backfill",
                    "older spans indexed for full-text search",
                    owner.clone(),
                    shutdown.clone(),
                    |db, stop| async move {
                        app::telemetry::services::span_store::backfill_index(&db, &stop).await
                    },
                )),
            ),
            (
                "metric rollup backfill",
                tokio::spawn(run_backfill(
                    db.clone(),
                    "metric_rollup_backfill",
                    "older GenAI metric points rolled up",
                    owner.clone(),
                    shutdown.clone(),
                    |db, stop| async move {
                        app::telemetry::services::ingest::metric_rollups::backfill(&db, &stop).await
                    },
                )),
            ),
            (
                "request model backfill",
                tokio::spawn(run_backfill(
                    db.clone(),
                    "request_model_backfill",
                    "request models of older spans filled in",
                    owner.clone(),
                    shutdown.clone(),
                    |db, stop| async move {
                        app::telemetry::services::span_store::backfill_request_models(&db, &stop).await
                    },
                )),
            ),
            (
                "cost recompute worker",
                tokio::spawn(app::costs::services::recompute::run_jobs(
                    db.clone(),
                    shutdown.clone(),
                )),
            ),
            (
                "prompt index",
                tokio::spawn(app::similarity::services::search::follow_prompts(
                    db.clone(),
                    std::iter::once(self.state.prompts.clone())
                        .chain(self.state.semantic.as_ref().map(|tier| tier.index.clone()))
                        .collect(),
                    self.state.abuse.clone(),
                    shutdown.clone(),
                )),
            ),
        ];
        background.push((
            "retention job",
            tokio::spawn(app::governance::services::retention::run(
                db.clone(),
                self.config.retention_interval,
                format!("{}/{}", std::process::id(), uuid::Uuid::new_v4()),
                shutdown.clone(),
            )),
        ));
        background.push((
            "alert evaluator",
            tokio::spawn(app::alerts::services::evaluator::run(
                app::alerts::services::evaluator::Evaluator {
                    db: db.clone(),
                    settings: self.state.alerts.clone(),
                    policies: self.state.policies.clone(),
                    limits: self.state.limits.clone(),
                },
                format!("{}/{}", std::process::id(), uuid::Uuid::new_v4()),
                shutdown.clone(),
            )),
        ));
        background.push((
            "alert deliveries",
            tokio::spawn(app::alerts::services::deliveries::run(
                db.clone(),
                self.state.alerts.clone(),
                format!("{}/{}", std::process::id(), uuid::Uuid::new_v4()),
                shutdown.clone(),
            )),
        ));
        background.push((
            "OTLP forwarder",
            tokio::spawn(otlp::run_forwarder(
                db.clone(),
                self.state.forwarding.clone(),
                format!("{}/{}", std::process::id(), uuid::Uuid::new_v4()),
                shutdown.clone(),
            )),
        ));
        if self.config.similarity_worker {
            let owner = format!("{}/{}", std::process::id(), uuid::Uuid::new_v4());
            background.push((
                "prompt similarity worker",
                tokio::spawn(app::similarity::services::worker::run(
                    db.clone(),
                    self.state.ingest.clone(),
                    self.state.prompts.clone(),
                    self.state.abuse.clone(),
                    owner,
                    shutdown.clone(),
                )),
            ));
        }
        if let Some(tier) = self.state.semantic.clone() {
            let owner = format!("{}/{}", std::process::id(), uuid::Uuid::new_v4());
            background.push((
                "semantic embedding worker",
                tokio::spawn(app::similarity::services::semantic_worker::run(
                    db.clone(),
                    self.state.ingest.clone(),
                    tier,
                    owner,
                    shutdown.clone(),
                )),
            ));
        }
        let metrics_upkeep = tokio::spawn(metrics::run_upkeep(shutdown.clone()));
        let grace = self.config.shutdown_grace;
        tracing::info!(
            http = %listeners.http.local_addr()?,
            grpc = %listeners.grpc.local_addr()?,
            metrics = ?listeners.metrics.as_ref().and_then(|listener| listener.local_addr().ok()),
            "listening"
        );
        let metrics_listener = async {
            match listeners.metrics {
                Some(listener) => {
                    let router = metrics::open_router(self.state.clone());
                    serve_until(listener, router, shutdown.clone(), grace).await
                }
                None => Ok(()),
            }
        };
        let (http_result, grpc_result, metrics_result) = tokio::join!(
            serve_until(listeners.http, app, shutdown.clone(), grace),
            serve_until(listeners.grpc, grpc, shutdown.clone(), grace),
            metrics_listener,
        );
        http_result?;
        grpc_result?;
        metrics_result?;
        shutdown.cancel();
        // Every request has been answered; commit what is still queued, then stop.
        self.writer_stop.cancel();
        if let Err(err) = self.writer_task.await {
            tracing::error!(error = %err, "span writer failed");
        }
        if let Err(err) = self.events_task.await {
            tracing::error!(error = %err, "governance event writer failed");
        }
        if let Err(err) = ingest_counts.await {
            tracing::error!(error = %err, "ingest count writer failed");
        }
        if let Err(err) = session_cleanup.await {
            tracing::warn!(error = %err, "session cleanup task failed");
        }
        if let Err(err) = notifications.await {
            tracing::warn!(error = %err, "live-tail notification task failed");
        }
        if let Err(err) = checkpoints.await {
            tracing::warn!(error = %err, "WAL checkpoint task failed");
        }
        if let Err(err) = metrics_upkeep.await {
            tracing::warn!(error = %err, "metrics upkeep task failed");
        }
        if let Err(err) = statistics.await {
            tracing::warn!(error = %err, "statistics upkeep task failed");
        }
        for (task, handle) in background {
            if let Err(err) = handle.await {
                tracing::warn!(error = %err, task, "background task failed");
            }
        }
        self.state.db.clone().close().await?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Runs a one-off backfill (`name`: its lease and job name) on one replica
/// at a time: while another holds its lease, waits and tries again, since
/// that one may stop before it finishes. A failure is logged and the next
/// start goes on from the last batch done; `done` says what its count is.
async fn run_backfill<Run, Done>(
    db: sea_orm::DatabaseConnection,
    name: &'static str,
    done: &'static str,
    owner: String,
    stop: tokio_util::sync::CancellationToken,
    run: Run,
) where
    Run: Fn(sea_orm::DatabaseConnection, tokio_util::sync::CancellationToken) -> Done,
    Done: std::future::Future<Output = app::error::Result<u64>>,
{
    use app::platform::services::{lease, metrics};
    loop {
        match lease::while_holding(&db, name, &owner, run(db.clone(), stop.clone())).await {
            Ok(Some(result)) => {
                metrics::job_completed(name, &result);
                match result {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, job = name, "{done}"),
                    Err(err) => tracing::warn!(error = %err, job = name, "backfill stopped"),
                }
                return;
            }
            Ok(None) => metrics::job_pass(name, metrics::JobOutcome::Standby),
            Err(err) => {
                metrics::job_pass(name, metrics::JobOutcome::Error);
                tracing::warn!(error = %err, job = name, "backfill's lease not read");
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(30)) => {}
        }
    }
}

/// The sockets the server answers on.
pub struct Listeners {
    /// UI, REST API and OTLP/HTTP.
    pub http: TcpListener,
    /// OTLP/gRPC.
    pub grpc: TcpListener,
    /// `/metrics` without authentication, when configured.
    pub metrics: Option<TcpListener>,
}

impl Listeners {
    pub async fn bind(config: &ServeConfig) -> anyhow::Result<Self> {
        let bind = |address: SocketAddr| async move {
            TcpListener::bind(address)
                .await
                .map_err(|err| anyhow::anyhow!("cannot listen on {address}: {err}"))
        };
        Ok(Self {
            http: bind(config.listen).await?,
            grpc: bind(config.grpc_listen).await?,
            metrics: match config.metrics_listen {
                Some(address) => Some(bind(address).await?),
                None => None,
            },
        })
    }
}

/// Serves `router` on `listener` until `shutdown`, then lets in-flight
/// requests finish for up to `grace`.
async fn serve_until(
    listener: TcpListener,
    router: axum::Router,
    shutdown: CancellationToken,
    grace: Duration,
) -> anyhow::Result<()> {
    let signal = shutdown.clone();
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move { signal.cancelled().await });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = &mut server => result?,
        () = shutdown.cancelled() => {
            tracing::info!(grace = %humantime::format_duration(grace), "shutting down: finishing in-flight requests");
            match tokio::time::timeout(grace, server).await {
                Ok(result) => result?,
                Err(_) => tracing::warn!("shutdown grace period over; closing remaining connections"),
            }
        }
    }
    Ok(())
}

/// Cancels `token` on SIGINT (Ctrl-C) or SIGTERM.
pub async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => tracing::info!("received Ctrl-C"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
    token.cancel();
}
