//! The single row that identifies this Specula installation.
//!
//! Every replica that shares a database reports the same instance id, which
//! makes logs and self-traces from several replicas attributable to one
//! deployment.

use sea_orm::entity::prelude::*;

/// The primary key of the only row; the table never holds another.
pub const SINGLETON: i32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "instance")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub singleton: i32,
    #[sea_orm(unique)]
    pub instance_id: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
