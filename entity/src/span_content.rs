//! The large text of a span, kept out of the hot `spans` row.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "span_contents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub span_row_id: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub prompt: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub completion: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub tool_arguments: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub tool_result: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub diff: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
