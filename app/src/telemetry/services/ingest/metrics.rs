//! Metric points as Specula keeps them, and inserting them: the batching
//! writer commits them with whatever spans are queued, before the requests
//! are answered.

use entity::metric_point;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    DbErr, EntityTrait, QueryTrait, Statement,
};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    platform::services::transaction::{WriteTransaction, placeholder},
    telemetry::services::{
        ingest::metric_rollups::{self, RollupPoint},
        span::record::Attributes,
    },
};

/// Rows inserted per statement (well under either database's bind limit).
const INSERT_CHUNK: usize = 200;

#[derive(Clone, Debug, PartialEq)]
pub struct MetricPoint {
    pub name: String,
    pub unit: String,
    /// `gauge`, `sum`, `histogram`, `exponential_histogram` or `summary`.
    pub kind: &'static str,
    pub service_name: String,
    /// The point's attributes, with the resource's under `resource`.
    pub attributes: Attributes,
    pub start_time_ns: i64,
    pub time_ns: i64,
    pub value: Option<f64>,
    pub count: Option<i64>,
    pub sum: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub buckets: Option<Value>,
    pub temporality: Option<&'static str>,
    pub monotonic: Option<bool>,
}

/// One export request's points, for one organization.
#[derive(Debug)]
pub struct PointBatch {
    pub org_id: Uuid,
    pub points: Vec<MetricPoint>,
}

/// Inserts the batches' points inside the writer's transaction, and rolls
/// up the GenAI ones.
pub(crate) async fn insert_points(txn: &impl WriteTransaction, batches: &[PointBatch]) -> Result<(), DbErr> {
    // The JSON texts once, for the row and its rollups.
    let texts: Vec<(String, Option<String>)> = batches
        .iter()
        .flat_map(|batch| &batch.points)
        .map(|point| {
            (
                Value::Object(point.attributes.clone()).to_string(),
                point.buckets.as_ref().map(Value::to_string),
            )
        })
        .collect();
    let points = || {
        batches
            .iter()
            .flat_map(|batch| batch.points.iter().map(move |point| (batch.org_id, point)))
            .zip(&texts)
    };
    let rollup_points: Vec<RollupPoint> = points()
        .map(|((org_id, point), (attributes, buckets))| RollupPoint {
            org_id,
            name: &point.name,
            unit: &point.unit,
            kind: point.kind,
            service_name: &point.service_name,
            attributes,
            start_time_ns: point.start_time_ns,
            time_ns: point.time_ns,
            count: point.count,
            sum: point.sum,
            buckets: buckets.as_deref(),
            temporality: point.temporality,
        })
        .filter(RollupPoint::is_rolled_up)
        .collect();
    // Built before the first await: a borrowing iterator held across it
    // would make the writer's future not `Send`.
    let rows: Vec<metric_point::ActiveModel> = points()
        .map(
            |((org_id, point), (attributes, buckets))| metric_point::ActiveModel {
                id: NotSet,
                org_id: Set(org_id),
                name: Set(point.name.clone()),
                unit: Set(point.unit.clone()),
                kind: Set(point.kind.to_owned()),
                service_name: Set(point.service_name.clone()),
                attributes: Set(attributes.clone()),
                start_time_ns: Set(point.start_time_ns),
                time_ns: Set(point.time_ns),
                value: Set(point.value),
                count: Set(point.count),
                sum: Set(point.sum),
                min: Set(point.min),
                max: Set(point.max),
                buckets: Set(buckets.clone()),
                temporality: Set(point.temporality.map(str::to_owned)),
                monotonic: Set(point.monotonic),
            },
        )
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
        txn.execute_statement(metric_point::Entity::insert_many(chunk).build(txn.backend()))
            .await?;
    }
    metric_rollups::upsert(txn, &rollup_points).await
}

/// Deletes the organization's metric points, and their rollup rows, whose
/// resource carries the string attribute `key` = `value` (as stored: the
/// compact JSON of the point's attributes, the resource's under `resource`).
/// Returns how many points went. `value` must not hold LIKE wildcards.
pub async fn delete_points_of_resource(
    txn: &impl WriteTransaction,
    org_id: Uuid,
    key: &str,
    value: &str,
) -> Result<u64, DbErr> {
    if [key, value]
        .iter()
        .any(|text| text.contains(['%', '_', '"', '\\']))
    {
        return Err(DbErr::Custom(format!("not a plain attribute: {key}={value}")));
    }
    let backend = txn.backend();
    let pattern = format!(
        "%{}%",
        serde_json::json!({ key: value })
            .to_string()
            .trim_matches(['{', '}'])
    );
    let mut deleted = 0;
    for table in ["metric_points", "metric_rollups"] {
        let sql = format!(
            "DELETE FROM {table} WHERE org_id = {} AND attributes LIKE {}",
            placeholder(backend, 1),
            placeholder(backend, 2)
        );
        let result = txn
            .execute_statement(Statement::from_sql_and_values(
                backend,
                sql,
                [org_id.into(), pattern.clone().into()],
            ))
            .await?;
        if table == "metric_points" {
            deleted = result.rows_affected;
        }
    }
    Ok(deleted)
}
