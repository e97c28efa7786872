//! The Costs page's GenAI metrics: charts for teams that export the OTel
//! GenAI client metrics (`gen_ai.client.token.usage`,
//! `gen_ai.client.operation.duration`) instead of, or as well as, spans.
//!
//! Points are read from the metric rollups (the last point of each
//! cumulative run per hour or day, see `ingest::metric_rollups`) and
//! folded here.
//! Delta points add up as they are; cumulative points (the OTel SDK
//! default) are turned into deltas per series first, because each one
//! repeats everything its series counted since it started. A series is a
//! metric name, a service and the point's attributes (resource ones
//! included); a drop in its count, or a later start time, is a reset (an
//! exporter restart), and then the point itself is the delta.
//!
//! Conventions: <https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/>.

use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Statement};
use uuid::Uuid;

pub mod histograms;

pub use histograms::{Distribution, ExplicitBuckets, HistogramPoint, deltas};

use crate::{
    costs::services::usage::{self, UsageRequest},
    error::Result,
    platform::services::transaction::placeholder,
    telemetry::services::ingest::usage::{HOUR_NS, RollupPeriod},
};

pub use crate::telemetry::services::ingest::metric_rollups::{OPERATION_DURATION, TOKEN_USAGE};

/// `input` or `output`; before semconv 1.27, `prompt` or `completion`.
pub const TOKEN_TYPE: &str = "gen_ai.token.type";
pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
pub const REQUEST_MODEL: &str = "gen_ai.request.model";
pub const PROVIDER_NAME: &str = "gen_ai.provider.name";
/// The provider's attribute before semconv 1.37.
pub const SYSTEM: &str = "gen_ai.system";
/// Set on the duration of operations that failed.
pub const ERROR_TYPE: &str = "error.type";

/// How far before the range points are read, only to find where each
/// cumulative series stood when the range began. SDKs export every minute
/// or so, and keep exporting an unchanged cumulative value, so an hour
/// finds it; a series silent for longer is counted from its next point.
const BASELINE_LOOKBACK_NS: i64 = HOUR_NS;

/// A row of [`points`]' query, read by position.
fn read_point(row: &QueryResult) -> Result<HistogramPoint> {
    let buckets: Option<String> = row.try_get_by_index(8)?;
    Ok(HistogramPoint {
        name: row.try_get_by_index(0)?,
        unit: row.try_get_by_index(1)?,
        service_name: row.try_get_by_index(2)?,
        attributes: row.try_get_by_index(3)?,
        start_time_ns: row.try_get_by_index(4)?,
        time_ns: row.try_get_by_index(5)?,
        count: row.try_get_by_index(6)?,
        sum: row.try_get_by_index(7)?,
        buckets: buckets.as_deref().and_then(ExplicitBuckets::parse),
        cumulative: row.try_get_by_index(9)?,
    })
}

/// The organization's GenAI histogram points from an hour before the
/// range of `request` (cumulative baselines) to its end, as the metric
/// rollups keep them: per hour, or per day for the whole days of a report
/// in days or longer, the last point of each cumulative run and every
/// delta point. Turned into deltas, they count what all the points did.
/// Also says whether any point is in the range.
pub async fn points(
    db: &DatabaseConnection,
    org_id: Uuid,
    request: &UsageRequest,
) -> Result<(Vec<HistogramPoint>, bool)> {
    let backend = db.get_database_backend();
    let mut parts = usage::parts(request);
    match parts.first_mut() {
        Some((RollupPeriod::Hour, since_ns, _)) => *since_ns -= BASELINE_LOOKBACK_NS,
        _ => parts.insert(
            0,
            (
                RollupPeriod::Hour,
                request.since_ns - BASELINE_LOOKBACK_NS,
                request.since_ns,
            ),
        ),
    }
    let mut values: Vec<sea_orm::Value> = vec![org_id.into(), TOKEN_USAGE.into(), OPERATION_DURATION.into()];
    let mut ranges = Vec::with_capacity(parts.len());
    for (period, since_ns, until_ns) in parts {
        values.extend([period.length_ns().into(), since_ns.into(), until_ns.into()]);
        let number = values.len();
        ranges.push(format!(
            "(period_ns = {} AND period_start_ns >= {} AND period_start_ns < {})",
            placeholder(backend, number - 2),
            placeholder(backend, number - 1),
            placeholder(backend, number),
        ));
    }
    let sql = format!(
        "SELECT name, unit, service_name, attributes, start_time_ns, time_ns, count, sum, buckets, cumulative \
        FROM metric_rollups \
        WHERE org_id = {} AND name IN ({}, {}) AND ({})",
        placeholder(backend, 1),
        placeholder(backend, 2),
        placeholder(backend, 3),
        ranges.join(" OR "),
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let points = rows.iter().map(read_point).collect::<Result<Vec<_>>>()?;
    let in_range = points.iter().any(|point| point.time_ns >= request.since_ns);
    Ok((points, in_range))
}
