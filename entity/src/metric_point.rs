//! One data point of an OTLP metric.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "metric_points")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: Uuid,
    pub name: String,
    pub unit: String,
    /// `gauge`, `sum`, `histogram`, `exponential_histogram` or `summary`.
    pub kind: String,
    pub service_name: String,
    /// JSON: the point's attributes, with the resource's under `resource`.
    #[sea_orm(column_type = "Text")]
    pub attributes: String,
    pub start_time_ns: i64,
    pub time_ns: i64,
    pub value: Option<f64>,
    pub count: Option<i64>,
    pub sum: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// JSON: explicit bounds and counts, exponential buckets, or summary quantiles.
    #[sea_orm(column_type = "Text", nullable)]
    pub buckets: Option<String>,
    pub temporality: Option<String>,
    pub monotonic: Option<bool>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
