//! GenAI histogram points thinned per hour and per day, kept up to date at
//! ingest so that the Costs page reads a month of metrics in a few hundred
//! rows, whatever the exporters' interval.
//!
//! A cumulative point repeats everything its series counted since the
//! series (re)started, so within a period only the last point of each run
//! (series and start time) matters: the earlier ones' differences add up to
//! it. A row keeps that point; an older point arriving later (a retry, or
//! a second replica) never replaces a newer one, so the upsert gives the
//! same rows in any order and any number of times, with no lock. A delta
//! point cannot be thinned that way and keeps a row of its own, keyed by
//! its time, which also makes a retried one count once.

use std::collections::HashMap;

use entity::metric_point;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
    TransactionTrait, Value,
};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    error::Result,
    platform::services::{
        maintenance,
        transaction::{WriteTransaction, value_groups},
    },
    telemetry::services::ingest::usage::RollupPeriod,
};

/// Tokens per operation, a histogram in `{token}` split by token type.
pub const TOKEN_USAGE: &str = "gen_ai.client.token.usage";
/// Operation duration, a histogram in seconds.
pub const OPERATION_DURATION: &str = "gen_ai.client.operation.duration";

/// The periods rows are kept for (the usage rollups' hours and days).
const PERIODS: [RollupPeriod; 2] = [RollupPeriod::Hour, RollupPeriod::Day];

/// Rows per statement: 15 parameters each stays far below either
/// database's limit on bound parameters.
const ROLLUP_CHUNK: usize = 500;

/// A stored metric point, as far as the rollups need it.
#[derive(Clone, Debug, PartialEq)]
pub struct RollupPoint<'a> {
    pub org_id: Uuid,
    pub name: &'a str,
    pub unit: &'a str,
    pub kind: &'a str,
    pub service_name: &'a str,
    /// The attributes' JSON text, as stored in `metric_points`.
    pub attributes: &'a str,
    pub start_time_ns: i64,
    pub time_ns: i64,
    pub count: Option<i64>,
    pub sum: Option<f64>,
    /// The stored buckets' JSON text.
    pub buckets: Option<&'a str>,
    pub temporality: Option<&'a str>,
}

impl RollupPoint<'_> {
    /// Only the GenAI histograms the Costs page charts are rolled up.
    pub fn is_rolled_up(&self) -> bool {
        (self.name == TOKEN_USAGE || self.name == OPERATION_DURATION)
            && (self.kind == "histogram" || self.kind == "exponential_histogram")
    }

    fn cumulative(&self) -> bool {
        self.temporality == Some("cumulative")
    }

    /// The series' identity beside its name: a hash of the service and the
    /// attributes (SHA-256, so it is the same in every process and release).
    fn series_hash(&self) -> i64 {
        let digest = Sha256::new()
            .chain_update(self.service_name.as_bytes())
            .chain_update([0])
            .chain_update(self.attributes.as_bytes())
            .finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(first)
    }

    /// What makes the row one run's latest point, or one delta point.
    fn run_ns(&self) -> i64 {
        if self.cumulative() {
            self.start_time_ns
        } else {
            self.time_ns
        }
    }

    /// Only durations are read as a distribution; token counts are summed.
    fn kept_buckets(&self) -> Option<&str> {
        (self.name == OPERATION_DURATION && self.kind == "histogram")
            .then_some(self.buckets)
            .flatten()
    }
}

/// The primary key of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct RowKey<'a> {
    org_id: Uuid,
    period_ns: i64,
    period_start_ns: i64,
    name: &'a str,
    series_hash: i64,
    run_ns: i64,
}

/// Each period's latest point of each run among `points` (the ones that
/// are rolled up), by row key.
fn latest_per_row<'a>(points: &[RollupPoint<'a>]) -> HashMap<RowKey<'a>, RollupPoint<'a>> {
    let mut rows: HashMap<RowKey<'a>, RollupPoint<'a>> = HashMap::new();
    for point in points.iter().filter(|point| point.is_rolled_up()) {
        let series_hash = point.series_hash();
        for period in PERIODS {
            let key = RowKey {
                org_id: point.org_id,
                period_ns: period.length_ns(),
                period_start_ns: period.start_of(point.time_ns),
                name: point.name,
                series_hash,
                run_ns: point.run_ns(),
            };
            match rows.get_mut(&key) {
                Some(kept) if kept.time_ns >= point.time_ns => {}
                Some(kept) => *kept = point.clone(),
                None => {
                    rows.insert(key, point.clone());
                }
            }
        }
    }
    rows
}

/// Rolls `points` up, in the caller's transaction.
pub async fn upsert(txn: &impl WriteTransaction, points: &[RollupPoint<'_>]) -> Result<(), DbErr> {
    let mut rows: Vec<(RowKey, RollupPoint)> = latest_per_row(points).into_iter().collect();
    // In key order: two replicas' commits then lock shared rows in the same
    // order and cannot deadlock on PostgreSQL.
    rows.sort_unstable_by_key(|(key, _)| *key);
    if rows.is_empty() {
        return Ok(());
    }
    let backend = txn.backend();
    const COLUMNS: [&str; 15] = [
        "org_id",
        "period_ns",
        "period_start_ns",
        "name",
        "series_hash",
        "run_ns",
        "start_time_ns",
        "time_ns",
        "unit",
        "service_name",
        "attributes",
        "count",
        "sum",
        "buckets",
        "cumulative",
    ];
    let key = &COLUMNS[..6];
    let updates = COLUMNS[6..]
        .iter()
        .map(|column| format!("{column} = excluded.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    for chunk in rows.chunks(ROLLUP_CHUNK) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * COLUMNS.len());
        for (key, point) in chunk {
            values.extend([
                key.org_id.into(),
                key.period_ns.into(),
                key.period_start_ns.into(),
                key.name.into(),
                key.series_hash.into(),
                key.run_ns.into(),
                point.start_time_ns.into(),
                point.time_ns.into(),
                point.unit.into(),
                point.service_name.into(),
                point.attributes.into(),
                point.count.unwrap_or(0).into(),
                point.sum.unwrap_or(0.0).into(),
                point.kept_buckets().map(str::to_owned).into(),
                point.cumulative().into(),
            ]);
        }
        // A row only ever moves forward in time: replaying older points,
        // in any order, leaves it as it is.
        let sql = format!(
            "INSERT INTO metric_rollups ({}) VALUES {} ON CONFLICT ({}) DO UPDATE SET {updates} \
             WHERE excluded.time_ns > metric_rollups.time_ns",
            COLUMNS.join(", "),
            value_groups(backend, chunk.len(), COLUMNS.len()),
            key.join(", "),
        );
        txn.execute_statement(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// The `maintenance_jobs` row of the backfill (inserted by its migration).
const METRIC_ROLLUP_BACKFILL: &str = "metric_rollup_backfill";

/// Points read per backfill batch, each batch one transaction.
const BACKFILL_BATCH: u64 = 2_000;

/// Rolls up the GenAI points stored before the rollups existed, in id
/// order and in batches, recording its progress with each batch. Points
/// stored since are rolled up at ingest; rolling one up again changes
/// nothing, so a restart, or two replicas at once, do no harm. Returns how
/// many points were read.
pub async fn backfill(db: &DatabaseConnection, stop: &CancellationToken) -> Result<u64> {
    let Some(mut position) = maintenance::unfinished(db, METRIC_ROLLUP_BACKFILL).await? else {
        return Ok(0);
    };
    let last = metric_point::Entity::find()
        .select_only()
        .column_as(metric_point::Column::Id.max(), "last")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten()
        .unwrap_or(0);
    let mut read = 0;
    while position < last && !stop.is_cancelled() {
        let rows = metric_point::Entity::find()
            .filter(metric_point::Column::Id.gt(position))
            .filter(metric_point::Column::Id.lte(last))
            .filter(metric_point::Column::Name.is_in([TOKEN_USAGE, OPERATION_DURATION]))
            .order_by_asc(metric_point::Column::Id)
            .limit(BACKFILL_BATCH)
            .all(db)
            .await?;
        let batch_end = rows.last().map_or(last, |row| row.id);
        let points: Vec<RollupPoint> = rows
            .iter()
            .map(|row| RollupPoint {
                org_id: row.org_id,
                name: &row.name,
                unit: &row.unit,
                kind: &row.kind,
                service_name: &row.service_name,
                attributes: &row.attributes,
                start_time_ns: row.start_time_ns,
                time_ns: row.time_ns,
                count: row.count,
                sum: row.sum,
                buckets: row.buckets.as_deref(),
                temporality: row.temporality.as_deref(),
            })
            .collect();
        let txn = db.begin().await?;
        upsert(&txn, &points).await?;
        maintenance::set_progress(&txn, METRIC_ROLLUP_BACKFILL, batch_end, false).await?;
        txn.commit().await?;
        read += rows.len() as u64;
        position = batch_end;
    }
    if position >= last {
        maintenance::set_progress(db, METRIC_ROLLUP_BACKFILL, position, true).await?;
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::services::ingest::usage::{DAY_NS, HOUR_NS};

    const T0: i64 = 1_764_547_200_000_000_000; // 2025-12-01T00:00:00Z
    const MINUTE: i64 = 60_000_000_000;

    fn point(
        time_ns: i64,
        start_time_ns: i64,
        temporality: &'static str,
        count: i64,
    ) -> RollupPoint<'static> {
        RollupPoint {
            org_id: Uuid::nil(),
            name: OPERATION_DURATION,
            unit: "s",
            kind: "histogram",
            service_name: "agent",
            attributes: r#"{"gen_ai.request.model":"gpt-4o"}"#,
            start_time_ns,
            time_ns,
            count: Some(count),
            sum: Some(count as f64),
            buckets: Some(r#"{"explicit_bounds":[1.0],"bucket_counts":[0,0]}"#),
            temporality: Some(temporality),
        }
    }

    fn kept(rows: &HashMap<RowKey, RollupPoint>, period_ns: i64) -> Vec<(i64, i64, i64)> {
        let mut kept: Vec<(i64, i64, i64)> = rows
            .iter()
            .filter(|(key, _)| key.period_ns == period_ns)
            .map(|(key, point)| (key.period_start_ns, point.time_ns, point.count.unwrap_or(0)))
            .collect();
        kept.sort_unstable();
        kept
    }

    #[test]
    fn a_cumulative_run_keeps_its_last_point_per_period() {
        // Every 15 minutes for two hours, out of order, one retried.
        let mut points: Vec<RollupPoint> = (1..=8)
            .map(|index| point(T0 + index * 15 * MINUTE, T0, "cumulative", index))
            .collect();
        points.reverse();
        points.push(point(T0 + 15 * MINUTE, T0, "cumulative", 1));
        let rows = latest_per_row(&points);
        assert_eq!(
            kept(&rows, HOUR_NS),
            [
                (T0, T0 + 45 * MINUTE, 3),
                (T0 + HOUR_NS, T0 + 105 * MINUTE, 7),
                (T0 + 2 * HOUR_NS, T0 + 120 * MINUTE, 8),
            ]
        );
        assert_eq!(kept(&rows, DAY_NS), [(T0, T0 + 120 * MINUTE, 8)]);
    }

    #[test]
    fn a_restart_starts_a_run_of_its_own() {
        let points = [
            point(T0 + 10 * MINUTE, T0, "cumulative", 5),
            point(T0 + 30 * MINUTE, T0 + 20 * MINUTE, "cumulative", 1),
        ];
        let rows = latest_per_row(&points);
        assert_eq!(
            kept(&rows, HOUR_NS),
            [(T0, T0 + 10 * MINUTE, 5), (T0, T0 + 30 * MINUTE, 1)]
        );
    }

    #[test]
    fn delta_points_keep_a_row_each_and_a_retry_counts_once() {
        let points = [
            point(T0 + MINUTE, T0, "delta", 2),
            point(T0 + 2 * MINUTE, T0 + MINUTE, "delta", 3),
            point(T0 + 2 * MINUTE, T0 + MINUTE, "delta", 3),
        ];
        let rows = latest_per_row(&points);
        assert_eq!(
            kept(&rows, HOUR_NS),
            [(T0, T0 + MINUTE, 2), (T0, T0 + 2 * MINUTE, 3)]
        );
    }

    #[test]
    fn only_genai_histograms_are_rolled_up_and_only_durations_keep_buckets() {
        let duration = point(T0, T0, "cumulative", 1);
        assert!(duration.is_rolled_up());
        assert!(duration.kept_buckets().is_some());
        let tokens = RollupPoint {
            name: TOKEN_USAGE,
            ..duration.clone()
        };
        assert!(tokens.is_rolled_up());
        assert_eq!(tokens.kept_buckets(), None);
        assert!(
            !RollupPoint {
                name: "http.client.duration",
                ..duration.clone()
            }
            .is_rolled_up()
        );
        assert!(
            !RollupPoint {
                kind: "sum",
                ..duration.clone()
            }
            .is_rolled_up()
        );
        // Series differ by service and attributes, stably.
        let other_service = RollupPoint {
            service_name: "other",
            ..duration.clone()
        };
        assert_ne!(duration.series_hash(), other_service.series_hash());
        assert_eq!(duration.series_hash(), point(T0 + 1, 0, "delta", 9).series_hash());
    }
}
