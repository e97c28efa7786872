//! An organization's price for a model (or a name pattern), from a time on.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "model_prices")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: Uuid,
    /// An exact model name in lower case, or a pattern where `*` matches any text.
    pub model: String,
    pub provider: String,
    /// Micro-dollars per million tokens.
    pub input: i64,
    pub output: i64,
    pub cache_read: Option<i64>,
    pub cache_write: Option<i64>,
    pub reasoning: Option<i64>,
    /// Spans that start at or after this time use this price.
    pub effective_from_ns: i64,
    pub note: String,
    pub updated_by: Option<Uuid>,
    pub updated_at_ns: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
