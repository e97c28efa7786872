//! The retention job: deletes what each organization's policy says has
//! expired (spans with their payloads, search entries and traces; the
//! similarity log; governance events; audit entries past `audit_days`,
//! 400 by default), in bounded batches so ingest keeps its turn at the
//! database. Usage and cost rollups are kept.
//!
//! One replica at a time runs a pass (a lease on the `retention_job` row),
//! every `interval` counted from the last pass's start on any replica. A
//! pass that stopped halfway (a restart) is simply run again: what it
//! deletes is decided by the cutoffs alone. Each batch commits with its
//! counts in `retention_progress`, which the Policies page shows; each
//! organization's pass that deleted something writes one audit entry.

use std::time::Duration;
use tracing::Instrument;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::book;
use crate::{
    error::Result,
    governance::types::{RetentionCounts, RetentionPolicy, RetentionStatus},
    platform::services::{
        audit::{self, Actor},
        lease::{self, Lease},
        now_ns, rfc3339,
        transaction::{WriteTransaction, begin_write, placeholder},
    },
    telemetry::services::span_store::{delete_spans_before, delete_traces_before},
};

/// How long the audit log is kept when the policy does not say.
pub const DEFAULT_AUDIT_DAYS: u32 = 400;
const DAY_NS: i64 = 86_400 * 1_000_000_000;
/// Rows per transaction: long enough to delete quickly, short enough that
/// ingest's writer never waits long for SQLite's write lock.
const BATCH: u64 = 2_000;
const JOB_TABLE: &str = "retention_job";
const JOB: &str = "retention";
const LEASE_NS: i64 = 60 * 1_000_000_000;
/// How often an idle replica looks whether a pass is due.
const POLL: Duration = Duration::from_secs(30);

/// When each kind of data expires for one organization: before these times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cutoffs {
    pub spans: Option<i64>,
    pub similarity_logs: Option<i64>,
    pub governance_events: Option<i64>,
    pub audit: i64,
}

impl Cutoffs {
    pub fn new(retention: &RetentionPolicy, now_ns: i64) -> Self {
        let before = |days: u32| now_ns.saturating_sub(i64::from(days) * DAY_NS);
        Self {
            spans: retention.spans_days.map(before),
            similarity_logs: retention.similarity_logs_days.map(before),
            governance_events: retention.governance_events_days.map(before),
            audit: before(retention.audit_days.unwrap_or(DEFAULT_AUDIT_DAYS)),
        }
    }
}

/// Runs passes every `interval` until `stop`, as `owner` (this replica).
pub async fn run(db: DatabaseConnection, interval: Duration, owner: String, stop: CancellationToken) {
    let lease = Lease {
        table: JOB_TABLE,
        name: JOB,
        owner: &owner,
        length_ns: LEASE_NS,
    };
    loop {
        let pass = pass_if_due(&db, lease, interval, &stop).await;
        // Not due, or due on the replica holding the lease: on time either way.
        crate::platform::services::metrics::job_result("retention", &pass);
        match pass {
            Ok(Some(deleted)) if deleted.any() => tracing::info!(?deleted, "retention pass done"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "retention pass failed; trying again later"),
        }
        tokio::select! {
            () = tokio::time::sleep(POLL.min(interval)) => {}
            () = stop.cancelled() => break,
        }
    }
    if let Err(err) = lease::release(&db, lease).await {
        tracing::warn!(error = %err, "retention: giving the lease up failed; it will expire");
    }
}

/// Runs a pass when the last one (on any replica) started `interval` ago
/// or did not finish, and this replica holds the lease; what it deleted.
pub async fn pass_if_due(
    db: &DatabaseConnection,
    lease: Lease<'_>,
    interval: Duration,
    stop: &CancellationToken,
) -> Result<Option<RetentionCounts>> {
    let now = now_ns();
    let (started, finished) = job_times(db).await?;
    let interval_ns = i64::try_from(interval.as_nanos()).unwrap_or(i64::MAX);
    let due = finished < started || now.saturating_sub(started) >= interval_ns;
    if !due || !lease::claim(db, lease, now).await? {
        return Ok(None);
    }
    set_job_time(db, "pass_started_at_ns", now).await?;
    let mut deleted = RetentionCounts::default();
    for org_id in organizations(db).await? {
        let document = book::latest(db, org_id).await?.map(|(_, document)| document);
        let cutoffs = Cutoffs::new(&document.unwrap_or_default().retention, now);
        let applied = apply(db, lease, org_id, cutoffs, stop)
            .instrument(tracing::info_span!("retention", %org_id))
            .await?;
        let Some(counts) = applied else {
            // Stopped, or the lease went to another replica: it will finish.
            return Ok(Some(deleted));
        };
        deleted.add(&counts);
    }
    if deleted.spans > 0 && db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        // Makes the deleted rows' space reusable now rather than when
        // autovacuum comes round (it waits for a fifth of the table to be
        // dead); plain VACUUM takes no lock that holds ingest up.
        db.execute_unprepared("VACUUM (ANALYZE) spans, traces").await?;
    }
    set_job_time(db, "pass_finished_at_ns", now_ns()).await?;
    Ok(Some(deleted))
}

async fn job_times(db: &DatabaseConnection) -> Result<(i64, i64)> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT pass_started_at_ns, pass_finished_at_ns FROM {JOB_TABLE} WHERE name = {}",
                placeholder(backend, 1)
            ),
            [JOB.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => (
            row.try_get("", "pass_started_at_ns")?,
            row.try_get("", "pass_finished_at_ns")?,
        ),
        None => (0, 0),
    })
}

async fn set_job_time(db: &DatabaseConnection, column: &str, at_ns: i64) -> Result<()> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE {JOB_TABLE} SET {column} = {} WHERE name = {}",
            placeholder(backend, 1),
            placeholder(backend, 2)
        ),
        [at_ns.into(), JOB.into()],
    ))
    .await?;
    Ok(())
}

async fn organizations(db: &DatabaseConnection) -> Result<Vec<Uuid>> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM organizations ORDER BY id",
        ))
        .await?;
    rows.iter()
        .map(|row| row.try_get::<Uuid>("", "id").map_err(Into::into))
        .collect()
}

/// One kind of data a pass deletes, a batch at a time.
#[derive(Clone, Copy)]
enum Expiring {
    Spans,
    Traces,
    SimilarityLogs,
    GovernanceEvents,
    AuditEntries,
}

impl Expiring {
    /// Its figure among `counts`.
    fn figure(self, counts: &mut RetentionCounts) -> &mut u64 {
        match self {
            Self::Spans => &mut counts.spans,
            Self::Traces => &mut counts.traces,
            Self::SimilarityLogs => &mut counts.similarity_logs,
            Self::GovernanceEvents => &mut counts.governance_events,
            Self::AuditEntries => &mut counts.audit_entries,
        }
    }

    fn progress_column(self) -> &'static str {
        match self {
            Self::Spans => "pass_spans",
            Self::Traces => "pass_traces",
            Self::SimilarityLogs => "pass_similarity_logs",
            Self::GovernanceEvents => "pass_governance_events",
            Self::AuditEntries => "pass_audit_entries",
        }
    }

    /// Deletes one batch older than `cutoff`; how many rows went.
    async fn delete_batch(self, txn: &impl WriteTransaction, org_id: Uuid, cutoff: i64) -> Result<u64> {
        Ok(match self {
            Self::Spans => delete_spans_before(txn, org_id, cutoff, BATCH).await?,
            Self::Traces => delete_traces_before(txn, org_id, cutoff, BATCH).await?,
            Self::SimilarityLogs => {
                delete_rows_before(txn, "prompt_sim_logs", "time_ns", org_id, cutoff).await?
            }
            Self::GovernanceEvents => {
                delete_rows_before(txn, "governance_events", "created_at_ns", org_id, cutoff).await?
            }
            Self::AuditEntries => delete_audit_prefix(txn, org_id, cutoff).await?,
        })
    }
}

/// Deletes up to a batch of `table`'s rows of `org_id` older than `cutoff`
/// by `time_column` (each table has an index on the organization and it).
async fn delete_rows_before(
    txn: &impl WriteTransaction,
    table: &'static str,
    time_column: &'static str,
    org_id: Uuid,
    cutoff: i64,
) -> Result<u64> {
    let backend = txn.backend();
    let values: [Value; 3] = [org_id.into(), org_id.into(), cutoff.into()];
    Ok(txn
        .execute_statement(Statement::from_sql_and_values(
            backend,
            format!(
                "DELETE FROM {table} WHERE org_id = {} AND id IN (SELECT id FROM {table} \
                 WHERE org_id = {} AND {time_column} < {} LIMIT {BATCH})",
                placeholder(backend, 1),
                placeholder(backend, 2),
                placeholder(backend, 3)
            ),
            values,
        ))
        .await?
        .rows_affected)
}

/// Deletes up to a batch of the oldest audit entries written before
/// `cutoff`: always a run from the start of the chain (entries are numbered
/// in order), so what is left still verifies, from its first entry on.
async fn delete_audit_prefix(txn: &impl WriteTransaction, org_id: Uuid, cutoff: i64) -> Result<u64> {
    let backend = txn.backend();
    let (org, org_again, at) = (
        placeholder(backend, 1),
        placeholder(backend, 2),
        placeholder(backend, 3),
    );
    let values: [Value; 3] = [org_id.into(), org_id.into(), cutoff.into()];
    let rows = txn
        .query_rows::<(Option<i64>, Option<i64>)>(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT (SELECT MIN(seq) FROM audit_log WHERE org_id = {org}), \
                        (SELECT MIN(seq) FROM audit_log WHERE org_id = {org_again} AND at_ns >= {at})"
            ),
            values,
        ))
        .await?;
    let Some((Some(oldest), first_kept)) = rows.into_iter().next() else {
        return Ok(0);
    };
    // Every entry older than the cutoff, or all of them when none is newer.
    let end = first_kept
        .unwrap_or(i64::MAX)
        .min(oldest.saturating_add(BATCH as i64));
    let values: [Value; 2] = [org_id.into(), end.into()];
    Ok(txn
        .execute_statement(Statement::from_sql_and_values(
            backend,
            format!(
                "DELETE FROM audit_log WHERE org_id = {} AND seq < {}",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            values,
        ))
        .await?
        .rows_affected)
}

/// Deletes what has expired for `org_id`; what it deleted, or `None` when
/// it stopped early (shutdown, or the lease lost).
async fn apply(
    db: &DatabaseConnection,
    lease: Lease<'_>,
    org_id: Uuid,
    cutoffs: Cutoffs,
    stop: &CancellationToken,
) -> Result<Option<RetentionCounts>> {
    start_progress(db, org_id).await?;
    let mut counts = RetentionCounts::default();
    let kinds = [
        (Expiring::Spans, cutoffs.spans),
        (Expiring::Traces, cutoffs.spans),
        (Expiring::SimilarityLogs, cutoffs.similarity_logs),
        (Expiring::GovernanceEvents, cutoffs.governance_events),
        (Expiring::AuditEntries, Some(cutoffs.audit)),
    ];
    for (kind, cutoff) in kinds {
        let Some(cutoff) = cutoff else { continue };
        loop {
            if stop.is_cancelled() || !lease::claim(db, lease, now_ns()).await? {
                return Ok(None);
            }
            let started = std::time::Instant::now();
            let txn = begin_write(db).await?;
            let deleted = kind.delete_batch(&txn, org_id, cutoff).await?;
            if deleted > 0 {
                count_progress(&txn, org_id, kind, deleted).await?;
            }
            txn.commit().await?;
            *kind.figure(&mut counts) += deleted;
            if deleted < BATCH {
                break;
            }
            // As long again for everyone else: the job holds the write lock
            // (SQLite's is one for all) at most half the time. (Waiting
            // twice as long halved the rate and left ingest's p99 where it
            // was: BENCHMARKS.md.)
            tokio::time::sleep(started.elapsed()).await;
        }
    }
    if counts.any() {
        audit::record(
            db,
            org_id,
            &Actor::system(),
            "retention.applied",
            format!(
                "retention deleted {} spans, {} traces, {} similarity log entries, {} governance events and {} audit entries",
                counts.spans, counts.traces, counts.similarity_logs, counts.governance_events, counts.audit_entries
            ),
            json!({
                "deleted": counts,
                "before": {
                    "spans": cutoffs.spans.map(rfc3339),
                    "similarity_logs": cutoffs.similarity_logs.map(rfc3339),
                    "governance_events": cutoffs.governance_events.map(rfc3339),
                    "audit_entries": rfc3339(cutoffs.audit),
                },
            }),
        )
        .await?;
    }
    finish_progress(db, org_id).await?;
    Ok(Some(counts))
}

async fn start_progress(db: &DatabaseConnection, org_id: Uuid) -> Result<()> {
    let backend = db.get_database_backend();
    let now = now_ns();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO retention_progress (org_id, pass_started_at_ns) VALUES ({org}, {now}) \
             ON CONFLICT (org_id) DO UPDATE SET pass_started_at_ns = {now_again}, pass_finished_at_ns = 0, \
             pass_spans = 0, pass_traces = 0, pass_similarity_logs = 0, pass_governance_events = 0, \
             pass_audit_entries = 0",
            org = placeholder(backend, 1),
            now = placeholder(backend, 2),
            now_again = placeholder(backend, 3),
        ),
        [org_id.into(), now.into(), now.into()],
    ))
    .await?;
    Ok(())
}

async fn count_progress(
    txn: &impl WriteTransaction,
    org_id: Uuid,
    kind: Expiring,
    deleted: u64,
) -> Result<()> {
    let backend = txn.backend();
    let column = kind.progress_column();
    let deleted = i64::try_from(deleted).unwrap_or(i64::MAX);
    // Spans also count towards the total of every pass.
    let (also, values): (String, Vec<Value>) = match kind {
        Expiring::Spans => (
            format!(", total_spans = total_spans + {}", placeholder(backend, 2)),
            vec![deleted.into(), deleted.into(), org_id.into()],
        ),
        _ => (String::new(), vec![deleted.into(), org_id.into()]),
    };
    txn.execute_statement(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE retention_progress SET {column} = {column} + {}{also} WHERE org_id = {}",
            placeholder(backend, 1),
            placeholder(backend, values.len())
        ),
        values,
    ))
    .await?;
    Ok(())
}

async fn finish_progress(db: &DatabaseConnection, org_id: Uuid) -> Result<()> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE retention_progress SET pass_finished_at_ns = {} WHERE org_id = {}",
            placeholder(backend, 1),
            placeholder(backend, 2)
        ),
        [now_ns().into(), org_id.into()],
    ))
    .await?;
    Ok(())
}

/// What retention keeps for `org_id` and what its latest pass deleted.
pub async fn status(db: &impl ConnectionTrait, org_id: Uuid) -> Result<RetentionStatus> {
    let retention = book::latest(db, org_id)
        .await?
        .map(|(_, document)| document.retention)
        .unwrap_or_default();
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT pass_started_at_ns, pass_finished_at_ns, pass_spans, pass_traces, pass_similarity_logs, \
                 pass_governance_events, pass_audit_entries, total_spans FROM retention_progress WHERE org_id = {}",
                placeholder(backend, 1)
            ),
            [org_id.into()],
        ))
        .await?;
    let mut status = RetentionStatus {
        spans_days: retention.spans_days,
        similarity_logs_days: retention.similarity_logs_days,
        governance_events_days: retention.governance_events_days,
        audit_days: retention.audit_days.unwrap_or(DEFAULT_AUDIT_DAYS),
        pass_started_at: None,
        pass_finished_at: None,
        running: false,
        deleted: RetentionCounts::default(),
        total_spans_deleted: 0,
    };
    if let Some(row) = row {
        let number = |column: &str| -> Result<u64> { Ok(row.try_get::<i64>("", column)?.max(0) as u64) };
        let started: i64 = row.try_get("", "pass_started_at_ns")?;
        let finished: i64 = row.try_get("", "pass_finished_at_ns")?;
        status.pass_started_at = Some(rfc3339(started));
        status.pass_finished_at = (finished > 0).then(|| rfc3339(finished));
        status.running = finished == 0;
        status.deleted = RetentionCounts {
            spans: number("pass_spans")?,
            traces: number("pass_traces")?,
            similarity_logs: number("pass_similarity_logs")?,
            governance_events: number("pass_governance_events")?,
            audit_entries: number("pass_audit_entries")?,
        };
        status.total_spans_deleted = number("total_spans")?;
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_count_whole_days_back_and_the_audit_log_has_a_default() {
        let now = 1_800_000_000_000_000_000;
        let cutoffs = Cutoffs::new(
            &RetentionPolicy {
                spans_days: Some(30),
                governance_events_days: Some(1),
                ..Default::default()
            },
            now,
        );
        assert_eq!(cutoffs.spans, Some(now - 30 * DAY_NS));
        assert_eq!(cutoffs.similarity_logs, None);
        assert_eq!(cutoffs.governance_events, Some(now - DAY_NS));
        assert_eq!(cutoffs.audit, now - 400 * DAY_NS);
    }
}
