//! Each organization's policy, one row per saved version (nothing is
//! overwritten: a restore is a new version), and what ingest left out on a
//! policy's account, per organization, day and reason, counted in the
//! commit of the spans it kept.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE: &[&str] = &[
    "CREATE TABLE policy_versions (
        org_id uuid_text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        document TEXT NOT NULL,
        comment TEXT NOT NULL,
        author_user_id uuid_text,
        author TEXT NOT NULL,
        restored_from INTEGER,
        created_at_ns INTEGER NOT NULL,
        PRIMARY KEY (org_id, version)
    )",
    "CREATE TABLE ingest_drops (
        org_id uuid_text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        day_ns INTEGER NOT NULL,
        reason TEXT NOT NULL,
        spans INTEGER NOT NULL,
        PRIMARY KEY (org_id, day_ns, reason)
    )",
];

const POSTGRES: &[&str] = &[
    "CREATE TABLE policy_versions (
        org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        version BIGINT NOT NULL,
        document TEXT NOT NULL,
        comment TEXT NOT NULL,
        author_user_id UUID,
        author TEXT NOT NULL,
        restored_from BIGINT,
        created_at_ns BIGINT NOT NULL,
        PRIMARY KEY (org_id, version)
    )",
    "CREATE TABLE ingest_drops (
        org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        day_ns BIGINT NOT NULL,
        reason TEXT NOT NULL,
        spans BIGINT NOT NULL,
        PRIMARY KEY (org_id, day_ns, reason)
    )",
];

const DOWN: &[&str] = &["DROP TABLE ingest_drops", "DROP TABLE policy_versions"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, SQLITE, POSTGRES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, DOWN, DOWN).await
    }
}
