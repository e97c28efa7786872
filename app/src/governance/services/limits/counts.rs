//! What ingest accepted and refused, per organization and hour of arrival:
//! counted in memory on the request path and added to `ingest_counts`
//! every second (and once more on shutdown), so no request waits for a
//! write. The monthly quota reads the month's sum, refreshed every
//! [`MONTH_REFRESH`], plus what this replica has counted since: another
//! replica's spans show within that time, which is all a quota can
//! overshoot by.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use sea_orm::{DatabaseConnection, DbErr, Statement, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    error::Result,
    governance::types::RefusedCounts,
    platform::services::transaction::{WriteTransaction, placeholder, value_groups},
};

use super::calendar::{HOUR_NS, month_start_ns};

/// How often counts are written.
pub const FLUSH_PERIOD: Duration = Duration::from_secs(1);
/// How long a month's stored sum is trusted.
pub const MONTH_REFRESH: Duration = Duration::from_secs(2);

/// What one organization's hour holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HourCounts {
    pub accepted_spans: u64,
    pub rate_limited_exports: u64,
    pub over_quota_exports: u64,
    pub invalid_exports: u64,
    pub rate_limited_requests: u64,
}

impl HourCounts {
    fn add(&mut self, other: &Self) {
        self.accepted_spans += other.accepted_spans;
        self.rate_limited_exports += other.rate_limited_exports;
        self.over_quota_exports += other.over_quota_exports;
        self.invalid_exports += other.invalid_exports;
        self.rate_limited_requests += other.rate_limited_requests;
    }

    fn as_values(&self) -> [i64; 5] {
        [
            self.accepted_spans,
            self.rate_limited_exports,
            self.over_quota_exports,
            self.invalid_exports,
            self.rate_limited_requests,
        ]
        .map(|count| i64::try_from(count).unwrap_or(i64::MAX))
    }

    pub fn refused(&self) -> RefusedCounts {
        RefusedCounts {
            rate_limited_exports: self.rate_limited_exports,
            over_quota_exports: self.over_quota_exports,
            invalid_exports: self.invalid_exports,
            rate_limited_requests: self.rate_limited_requests,
        }
    }
}

/// One thing counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    AcceptedSpans,
    RateLimitedExport,
    OverQuotaExport,
    InvalidExport,
    RateLimitedRequest,
}

const COLUMNS: [&str; 5] = [
    "accepted_spans",
    "rate_limited_exports",
    "over_quota_exports",
    "invalid_exports",
    "rate_limited_requests",
];

#[derive(Clone, Debug, Default)]
pub struct IngestCounts {
    state: Arc<Mutex<CountsState>>,
}

#[derive(Debug, Default)]
struct CountsState {
    /// Counted here, not yet written: by organization and hour.
    pending: HashMap<(Uuid, i64), HourCounts>,
    /// Accepted spans of an organization's month as last read or written.
    months: HashMap<Uuid, MonthSum>,
}

#[derive(Clone, Copy, Debug)]
struct MonthSum {
    month_start_ns: i64,
    stored: u64,
    read_at: Instant,
}

impl IngestCounts {
    fn lock(&self) -> MutexGuard<'_, CountsState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts `amount` of `what` for `org_id` at `now_ns`.
    pub fn add(&self, org_id: Uuid, what: Counted, amount: u64, now_ns: i64) {
        if amount == 0 {
            return;
        }
        let hour = now_ns - now_ns.rem_euclid(HOUR_NS);
        let mut state = self.lock();
        let counts = state.pending.entry((org_id, hour)).or_default();
        let slot = match what {
            Counted::AcceptedSpans => &mut counts.accepted_spans,
            Counted::RateLimitedExport => &mut counts.rate_limited_exports,
            Counted::OverQuotaExport => &mut counts.over_quota_exports,
            Counted::InvalidExport => &mut counts.invalid_exports,
            Counted::RateLimitedRequest => &mut counts.rate_limited_requests,
        };
        *slot += amount;
    }

    /// Spans `org_id` had accepted this month (UTC) at `now_ns`, every replica's.
    pub async fn month_accepted(&self, db: &DatabaseConnection, org_id: Uuid, now_ns: i64) -> Result<u64> {
        let month_start_ns = month_start_ns(now_ns);
        let cached = self
            .lock()
            .months
            .get(&org_id)
            .copied()
            .filter(|sum| sum.month_start_ns == month_start_ns && sum.read_at.elapsed() < MONTH_REFRESH);
        let stored = match cached {
            Some(sum) => sum.stored,
            None => {
                let read_at = Instant::now();
                let stored = stored_since(db, org_id, month_start_ns).await?.accepted_spans;
                self.lock().months.insert(
                    org_id,
                    MonthSum {
                        month_start_ns,
                        stored,
                        read_at,
                    },
                );
                stored
            }
        };
        let pending: u64 = self
            .lock()
            .pending
            .iter()
            .filter(|((org, hour), _)| *org == org_id && *hour >= month_start_ns)
            .map(|(_, counts)| counts.accepted_spans)
            .sum();
        Ok(stored + pending)
    }

    /// Writes what was counted; on failure it is kept for the next try.
    pub async fn flush(&self, db: &DatabaseConnection) -> Result<()> {
        let pending = std::mem::take(&mut self.lock().pending);
        if pending.is_empty() {
            return Ok(());
        }
        let rows: Vec<_> = pending.iter().collect();
        match write(db, &rows).await {
            Ok(()) => {
                let mut state = self.lock();
                for ((org_id, hour), counts) in &pending {
                    if let Some(sum) = state.months.get_mut(org_id)
                        && *hour >= sum.month_start_ns
                    {
                        sum.stored += counts.accepted_spans;
                    }
                }
                Ok(())
            }
            Err(err) => {
                let mut state = self.lock();
                for (key, counts) in pending {
                    state.pending.entry(key).or_default().add(&counts);
                }
                Err(err.into())
            }
        }
    }

    /// Flushes every [`FLUSH_PERIOD`] until `stop`, then once more.
    pub async fn run_flusher(self, db: DatabaseConnection, stop: CancellationToken) {
        loop {
            let stopping = tokio::select! {
                () = stop.cancelled() => true,
                () = tokio::time::sleep(FLUSH_PERIOD) => false,
            };
            let flushed = self.flush(&db).await;
            crate::platform::services::metrics::job_result("ingest_counts", &flushed);
            if let Err(err) = flushed {
                tracing::warn!(error = %err, "writing ingest counts failed; kept for the next try");
            }
            if stopping {
                return;
            }
        }
    }
}

async fn write(db: &DatabaseConnection, rows: &[(&(Uuid, i64), &HourCounts)]) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    for chunk in rows.chunks(100) {
        let updates = COLUMNS
            .iter()
            .map(|column| format!("{column} = ingest_counts.{column} + excluded.{column}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO ingest_counts (org_id, hour_ns, {}) VALUES {} \
             ON CONFLICT (org_id, hour_ns) DO UPDATE SET {updates}",
            COLUMNS.join(", "),
            value_groups(backend, chunk.len(), 2 + COLUMNS.len()),
        );
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * (2 + COLUMNS.len()));
        for ((org_id, hour), counts) in chunk {
            values.push((*org_id).into());
            values.push((*hour).into());
            values.extend(counts.as_values().map(Value::from));
        }
        db.execute_statement(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// Everything stored for `org_id` since `since_ns`, all hours together.
pub async fn stored_since(db: &DatabaseConnection, org_id: Uuid, since_ns: i64) -> Result<HourCounts> {
    let backend = db.get_database_backend();
    let sums = COLUMNS
        .iter()
        .map(|column| format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT)"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {sums} FROM ingest_counts WHERE org_id = {} AND hour_ns >= {}",
        placeholder(backend, 1),
        placeholder(backend, 2),
    );
    let rows = db
        .query_rows::<(i64, i64, i64, i64, i64)>(Statement::from_sql_and_values(
            backend,
            sql,
            [org_id.into(), since_ns.into()],
        ))
        .await?;
    let count = |value: i64| u64::try_from(value).unwrap_or(0);
    Ok(rows.first().map_or_else(HourCounts::default, |row| HourCounts {
        accepted_spans: count(row.0),
        rate_limited_exports: count(row.1),
        over_quota_exports: count(row.2),
        invalid_exports: count(row.3),
        rate_limited_requests: count(row.4),
    }))
}
