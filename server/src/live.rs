//! Live tail across replicas: on PostgreSQL, every replica listens for the
//! `NOTIFY` the writers send in their commits and passes each announcement
//! to its own [`LiveHub`], so a span stored by one replica reaches live
//! tails served by any other. SQLite runs one server, whose writer
//! announces directly.

use std::time::Duration;

use app::telemetry::services::live::{LiveHub, NOTIFY_CHANNEL};
use sea_orm::{DatabaseBackend, DatabaseConnection, sqlx::postgres::PgListener};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Relays PostgreSQL notifications into `hub` until `stop`.
pub async fn relay_notifications(db: DatabaseConnection, hub: LiveHub, stop: CancellationToken) {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return;
    }
    while !stop.is_cancelled() {
        if let Err(err) = listen(&db, &hub, &stop).await {
            tracing::warn!(error = %err, "live-tail notifications interrupted; listening again");
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = stop.cancelled() => {}
            }
        }
    }
}

async fn listen(
    db: &DatabaseConnection,
    hub: &LiveHub,
    stop: &CancellationToken,
) -> Result<(), sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(db.get_postgres_connection_pool()).await?;
    listener.listen(NOTIFY_CHANNEL).await?;
    loop {
        let notification = tokio::select! {
            notification = listener.recv() => notification?,
            () = stop.cancelled() => return Ok(()),
        };
        match notification.payload().parse::<Uuid>() {
            Ok(org_id) => hub.announce(org_id),
            Err(_) => tracing::warn!(
                payload = notification.payload(),
                "unexpected live-tail notification"
            ),
        }
    }
}
