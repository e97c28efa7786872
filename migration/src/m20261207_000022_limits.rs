//! Rate limits and quotas: the token buckets replicas share on PostgreSQL
//! (on SQLite the one process keeps them in memory, so the table stays
//! empty), and per organization and hour what ingest accepted and refused,
//! which the monthly quota, the usage report and alert rules read.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE: &[&str] = &[
    "CREATE TABLE rate_buckets (
        bucket TEXT PRIMARY KEY,
        level REAL NOT NULL,
        updated_at REAL NOT NULL,
        granted REAL NOT NULL DEFAULT 0
    )",
    "CREATE TABLE ingest_counts (
        org_id uuid_text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        hour_ns INTEGER NOT NULL,
        accepted_spans INTEGER NOT NULL DEFAULT 0,
        rate_limited_exports INTEGER NOT NULL DEFAULT 0,
        over_quota_exports INTEGER NOT NULL DEFAULT 0,
        invalid_exports INTEGER NOT NULL DEFAULT 0,
        rate_limited_requests INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (org_id, hour_ns)
    )",
];

const POSTGRES: &[&str] = &[
    "CREATE TABLE rate_buckets (
        bucket TEXT PRIMARY KEY,
        level DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        granted DOUBLE PRECISION NOT NULL DEFAULT 0
    )",
    "CREATE TABLE ingest_counts (
        org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        hour_ns BIGINT NOT NULL,
        accepted_spans BIGINT NOT NULL DEFAULT 0,
        rate_limited_exports BIGINT NOT NULL DEFAULT 0,
        over_quota_exports BIGINT NOT NULL DEFAULT 0,
        invalid_exports BIGINT NOT NULL DEFAULT 0,
        rate_limited_requests BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (org_id, hour_ns)
    )",
];

const DOWN: &[&str] = &["DROP TABLE ingest_counts", "DROP TABLE rate_buckets"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, SQLITE, POSTGRES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, DOWN, DOWN).await
    }
}
