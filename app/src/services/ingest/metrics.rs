//! Metric points as Specula keeps them, and storing them: one transaction
//! per export request, committed before the request is answered.

use entity::metric_point;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    DatabaseConnection, DbErr, EntityTrait, TransactionTrait,
};
use serde_json::Value;
use uuid::Uuid;

use super::record::Attributes;

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

pub async fn store_points(
    db: &DatabaseConnection,
    org_id: Uuid,
    points: Vec<MetricPoint>,
) -> Result<u64, DbErr> {
    let total = points.len() as u64;
    let rows: Vec<metric_point::ActiveModel> = points
        .into_iter()
        .map(|point| metric_point::ActiveModel {
            id: NotSet,
            org_id: Set(org_id),
            name: Set(point.name),
            unit: Set(point.unit),
            kind: Set(point.kind.to_owned()),
            service_name: Set(point.service_name),
            attributes: Set(Value::Object(point.attributes).to_string()),
            start_time_ns: Set(point.start_time_ns),
            time_ns: Set(point.time_ns),
            value: Set(point.value),
            count: Set(point.count),
            sum: Set(point.sum),
            min: Set(point.min),
            max: Set(point.max),
            buckets: Set(point.buckets.map(|buckets| buckets.to_string())),
            temporality: Set(point.temporality.map(str::to_owned)),
            monotonic: Set(point.monotonic),
        })
        .collect();
    let txn = db.begin().await?;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
        metric_point::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(total)
}
