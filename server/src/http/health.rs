//! Liveness and readiness probes for orchestrators and load balancers.

use std::time::Duration;

use app::{
    error::{AppError, Result},
    state::AppState,
};
use axum::{Json, extract::State};
use serde::Serialize;

/// How long readiness waits for the database.
const DATABASE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize)]
pub struct Health {
    status: &'static str,
    version: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Readiness {
    status: &'static str,
    database: &'static str,
    instance_id: String,
}

/// `GET /healthz`: the process is alive and serving HTTP. Touches nothing else.
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// `GET /readyz`: the database answers, so requests can be served (503 otherwise).
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>> {
    match tokio::time::timeout(DATABASE_CHECK_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => Ok(Json(Readiness {
            status: "ok",
            database: "ok",
            instance_id: state.instance.instance_id.to_string(),
        })),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check: database unreachable");
            Err(AppError::Unavailable("database unreachable"))
        }
        Err(_) => {
            tracing::warn!("readiness check: database did not answer in time");
            Err(AppError::Unavailable("database did not answer in time"))
        }
    }
}
