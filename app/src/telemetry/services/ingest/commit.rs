//! One commit of the ingest writer: the span store's writes, the usage
//! rollups of the new spans, the metric points, and (on PostgreSQL) a
//! notice to every replica's live tails, in one transaction.

use std::collections::BTreeMap;

use sea_orm::{DatabaseBackend, DatabaseConnection, DbErr, Statement, TransactionTrait, Value};
use uuid::Uuid;

use crate::{
    platform::services::{
        now_ns,
        sqlite_connection::SqliteWriterConnection,
        transaction::{WriteTransaction, value_groups},
    },
    telemetry::services::{
        ingest::{
            metrics::{self, PointBatch},
            usage::{self, UsageDeltas},
        },
        live,
        span_store::{self, SpanBatch},
    },
};

/// What a commit maintains besides the spans themselves.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// Keep the usage rollups up to date (off only to measure their cost).
    pub usage_rollups: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { usage_rollups: true }
    }
}

/// The connection the ingest writer commits on.
#[derive(Debug)]
pub enum WriterConnection {
    /// A sea-orm pool (PostgreSQL: the server's pool, shared).
    Pooled(DatabaseConnection),
    /// SQLite: one connection of the writer's own, driven on its thread.
    Sqlite(SqliteWriterConnection),
}

/// Stores the span and metric-point batches in one transaction; returns,
/// per span batch, how many of its spans were new (the rest were already
/// stored: a retried export).
pub async fn store_batches(
    db: &WriterConnection,
    batches: &[SpanBatch],
    point_batches: &[PointBatch],
    options: StoreOptions,
) -> Result<Vec<u64>, DbErr> {
    match db {
        WriterConnection::Pooled(db) => {
            let txn = db.begin().await?;
            let stored = write_batches(&txn, batches, point_batches, options).await?;
            txn.commit().await?;
            Ok(stored)
        }
        WriterConnection::Sqlite(db) => {
            let txn = db.begin()?;
            let stored = write_batches(&txn, batches, point_batches, options).await?;
            txn.commit()?;
            Ok(stored)
        }
    }
}

/// The statements of [`store_batches`], inside its transaction.
async fn write_batches(
    txn: &impl WriteTransaction,
    batches: &[SpanBatch],
    point_batches: &[PointBatch],
    options: StoreOptions,
) -> Result<Vec<u64>, DbErr> {
    let ingested_at_ns = now_ns();
    let new_spans = span_store::write_spans(txn, batches, ingested_at_ns, usage::is_usage).await?;
    let mut stored = vec![0; batches.len()];
    let mut usage = UsageDeltas::default();
    for span in &new_spans {
        if options.usage_rollups {
            usage.add(span.org_id, span.token_id, span.row);
        }
        stored[span.batch] += 1;
    }
    if !usage.is_empty() {
        usage::upsert(txn, usage.into_rows()).await?;
    }
    count_sampled_out(txn, batches, ingested_at_ns).await?;
    let mut orgs_with_new_spans: Vec<Uuid> = new_spans.iter().map(|span| span.org_id).collect();
    orgs_with_new_spans.sort_unstable();
    orgs_with_new_spans.dedup();
    metrics::insert_points(txn, point_batches).await?;
    if txn.backend() == DatabaseBackend::Postgres {
        // Delivered to every replica's listener when (and only if) this commits.
        for org_id in &orgs_with_new_spans {
            txn.execute_statement(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [live::NOTIFY_CHANNEL.into(), org_id.to_string().into()],
            ))
            .await?;
        }
    }
    Ok(stored)
}

const DAY_NS: i64 = 86_400 * 1_000_000_000;

/// Adds the spans each organization's sampling left out to its count of
/// the day (UTC), in the commit of the spans it kept: what was dropped is
/// counted exactly when what was kept is stored.
async fn count_sampled_out(
    txn: &impl WriteTransaction,
    batches: &[SpanBatch],
    now_ns: i64,
) -> Result<(), DbErr> {
    let mut counts: BTreeMap<Uuid, u64> = BTreeMap::new();
    for batch in batches.iter().filter(|batch| batch.sampled_out > 0) {
        *counts.entry(batch.org_id).or_default() += batch.sampled_out;
    }
    if counts.is_empty() {
        return Ok(());
    }
    let backend = txn.backend();
    let day_ns = now_ns - now_ns.rem_euclid(DAY_NS);
    let sql = format!(
        "INSERT INTO ingest_drops (org_id, day_ns, reason, spans) VALUES {} \
         ON CONFLICT (org_id, day_ns, reason) DO UPDATE SET spans = ingest_drops.spans + excluded.spans",
        value_groups(backend, counts.len(), 4)
    );
    let values: Vec<Value> = counts
        .into_iter()
        .flat_map(|(org_id, spans)| {
            [
                org_id.into(),
                day_ns.into(),
                "sampled_out".into(),
                i64::try_from(spans).unwrap_or(i64::MAX).into(),
            ]
        })
        .collect();
    txn.execute_statement(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}
