//! The model a request asked for, beside the one that answered: providers
//! answer `gpt-4o` with `gpt-4o-2024-08-06`, and a filter by the model asked
//! for must find those spans. Kept only where the two differ, so the index
//! holds only those spans. Older spans get theirs from a background job that
//! reads their payloads (registered here).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The job that fills `request_model` for spans stored before it existed.
const REQUEST_MODEL_BACKFILL: &str = "request_model_backfill";

const UP: &[&str] = &[
    "ALTER TABLE spans ADD COLUMN request_model TEXT",
    "CREATE INDEX IF NOT EXISTS idx_spans_org_request_model_time \
     ON spans (org_id, request_model, start_time_ns) WHERE request_model IS NOT NULL",
];

const DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS idx_spans_org_request_model_time",
    "ALTER TABLE spans DROP COLUMN request_model",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, UP, UP).await?;
        crate::register_maintenance_job(manager, REQUEST_MODEL_BACKFILL).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::unregister_maintenance_job(manager, REQUEST_MODEL_BACKFILL).await?;
        crate::run_per_backend(manager, DOWN, DOWN).await
    }
}
