//! One saved version of an organization's policy document.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "policy_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: Uuid,
    /// 1, 2, 3… per organization.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i64,
    /// The document as JSON.
    #[sea_orm(column_type = "Text")]
    pub document: String,
    #[sea_orm(column_type = "Text")]
    pub comment: String,
    pub author_user_id: Option<Uuid>,
    /// The author's email as it was then.
    pub author: String,
    /// The version this one restored, if it did.
    pub restored_from: Option<i64>,
    pub created_at_ns: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
