//! The demo workload an organization was given, and how to find what it added.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "demo_workloads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: Uuid,
    /// 16 hex digits: the start of every demo trace id, and the value of
    /// the `specula.demo` resource attribute on every demo span and point.
    pub marker: String,
    /// The token the demo was ingested with (revoked, its secret never shown).
    pub token_id: Uuid,
    pub created_by: Option<Uuid>,
    pub created_at_ns: i64,
    pub traces: i64,
    pub spans: i64,
    pub metric_points: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
