//! Whether a user reads times in UTC rather than in their browser's time zone.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &["ALTER TABLE users ADD COLUMN times_in_utc BOOLEAN NOT NULL DEFAULT FALSE"];
const DOWN: &[&str] = &["ALTER TABLE users DROP COLUMN times_in_utc"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, UP, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, DOWN, DOWN).await
    }
}
