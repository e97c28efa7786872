//! A job that re-prices an organization's stored spans in a time range, and
//! its progress.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cost_recomputes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: Uuid,
    pub requested_by: Option<Uuid>,
    pub since_ns: i64,
    pub until_ns: i64,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    pub scanned_spans: i64,
    pub repriced_spans: i64,
    pub cost_delta_nanos: i64,
    /// The walk goes on after (cursor_start_ns, cursor_id).
    pub cursor_start_ns: Option<i64>,
    pub cursor_id: i64,
    pub lease_until_ns: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub created_at_ns: i64,
    pub finished_at_ns: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
