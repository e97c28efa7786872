//! Notices across replicas: on PostgreSQL, every replica listens for the
//! `NOTIFY`s sent in commits and acts on each in its own memory. A span
//! stored by one replica reaches live tails served by any other (the
//! writers announce organizations with new spans), and a policy saved on
//! one replica is forgotten by every other's policy book, so their next
//! span follows it. SQLite runs one server, which does both directly.

use std::time::Duration;

use app::{
    governance::services::book::{self, PolicyBook},
    telemetry::services::live::{self, LiveHub},
};
use sea_orm::{DatabaseBackend, DatabaseConnection, sqlx::postgres::PgListener};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Relays PostgreSQL notifications into `hub` and `policies` until `stop`.
pub async fn relay_notifications(
    db: DatabaseConnection,
    hub: LiveHub,
    policies: PolicyBook,
    stop: CancellationToken,
) {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return;
    }
    while !stop.is_cancelled() {
        if let Err(err) = listen(&db, &hub, &policies, &stop).await {
            tracing::warn!(error = %err, "notifications interrupted; listening again");
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
    policies: &PolicyBook,
    stop: &CancellationToken,
) -> Result<(), sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(db.get_postgres_connection_pool()).await?;
    listener
        .listen_all([live::NOTIFY_CHANNEL, book::NOTIFY_CHANNEL])
        .await?;
    // A save announced while no one listened went unheard: load every
    // policy afresh.
    policies.forget_all();
    loop {
        let notification = tokio::select! {
            notification = listener.recv() => notification?,
            () = stop.cancelled() => return Ok(()),
        };
        let Ok(org_id) = notification.payload().parse::<Uuid>() else {
            tracing::warn!(
                channel = notification.channel(),
                payload = notification.payload(),
                "unexpected notification"
            );
            continue;
        };
        match notification.channel() {
            book::NOTIFY_CHANNEL => policies.forget(org_id),
            _ => hub.announce(org_id),
        }
    }
}
