//! Each embedder's vectors in prompt order: every replica's index follows
//! them by prompt id per embedder. Through the primary key (prompt id
//! first) a follower of the semantic model, far behind the hash embedder
//! while it works through a backlog, read past every later prompt's hash
//! vector on each look, every 250 ms.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &["CREATE INDEX idx_prompt_vectors_embedder ON prompt_vectors (embedder, prompt_id)"];

const DOWN: &[&str] = &["DROP INDEX idx_prompt_vectors_embedder"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, UP, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, DOWN, DOWN).await
    }
}
