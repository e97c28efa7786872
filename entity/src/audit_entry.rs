//! One entry of an organization's audit log: who changed what, and when.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: Uuid,
    pub actor_user_id: Option<Uuid>,
    /// The actor's email (or the system) at the time.
    pub actor: String,
    /// A stable name such as `prices.updated`.
    pub action: String,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    /// JSON with the particulars.
    #[sea_orm(column_type = "Text")]
    pub detail: String,
    pub at_ns: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
