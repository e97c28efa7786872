//! The prompt spans of an organization by time, which the near-duplicate
//! clusters of a time range read; and `deleted_prompts`, the prompts
//! deleted lately (with their spans), which every replica's in-memory
//! index follows to forget them. Rows older than an hour are pruned by the
//! deletions after them: a replica down longer reloads its index at start.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE: &[&str] = &[
    "CREATE INDEX idx_prompt_spans_org_time ON prompt_spans (org_id, start_time_ns)",
    "CREATE TABLE deleted_prompts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id uuid_text NOT NULL,
        prompt_id INTEGER NOT NULL,
        deleted_at_ns INTEGER NOT NULL
    )",
    "CREATE INDEX idx_deleted_prompts_time ON deleted_prompts (deleted_at_ns)",
];

const POSTGRES: &[&str] = &[
    "CREATE INDEX idx_prompt_spans_org_time ON prompt_spans (org_id, start_time_ns)",
    "CREATE TABLE deleted_prompts (
        id BIGSERIAL PRIMARY KEY,
        org_id uuid NOT NULL,
        prompt_id BIGINT NOT NULL,
        deleted_at_ns BIGINT NOT NULL
    )",
    "CREATE INDEX idx_deleted_prompts_time ON deleted_prompts (deleted_at_ns)",
];

const DOWN: &[&str] = &[
    "DROP TABLE deleted_prompts",
    "DROP INDEX idx_prompt_spans_org_time",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, SQLITE, POSTGRES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, DOWN, DOWN).await
    }
}
