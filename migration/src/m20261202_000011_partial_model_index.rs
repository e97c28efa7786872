//! The spans-by-model index holds only spans that name a model. Most spans
//! of an agent's trace (its own steps, tool calls and results) have none, and
//! every query that reads this index asks for a model (`model = …` implies
//! `model IS NOT NULL`, which both databases prove), so their entries were
//! written at ingest for nothing.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "DROP INDEX IF EXISTS idx_spans_org_model_time",
    "CREATE INDEX IF NOT EXISTS idx_spans_org_model_time ON spans (org_id, model, start_time_ns) \
     WHERE model IS NOT NULL",
];

const DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS idx_spans_org_model_time",
    "CREATE INDEX IF NOT EXISTS idx_spans_org_model_time ON spans (org_id, model, start_time_ns)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, UP, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, DOWN, DOWN).await
    }
}
