//! Leases for the background jobs that had none, so that with several
//! replicas each runs on one at a time: the expired-session cleanup, the
//! planner statistics upkeep and the one-off backfills. (The forwarder,
//! retention, alerts, cost recomputes and the similarity workers keep
//! their leases in their own tables.)

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE: &[&str] = &[
    "CREATE TABLE job_leases (
        name TEXT PRIMARY KEY,
        lease_owner TEXT,
        lease_until_ns INTEGER NOT NULL DEFAULT 0
    )",
    "INSERT INTO job_leases (name) VALUES ('session_cleanup'), ('statistics_upkeep'), ('search_backfill'), \
     ('request_model_backfill'), ('metric_rollup_backfill')",
];

const POSTGRES: &[&str] = &[
    "CREATE TABLE job_leases (
        name TEXT PRIMARY KEY,
        lease_owner TEXT,
        lease_until_ns BIGINT NOT NULL DEFAULT 0
    )",
    "INSERT INTO job_leases (name) VALUES ('session_cleanup'), ('statistics_upkeep'), ('search_backfill'), \
     ('request_model_backfill'), ('metric_rollup_backfill')",
];

const DOWN: &[&str] = &["DROP TABLE job_leases"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, SQLITE, POSTGRES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, DOWN, DOWN).await
    }
}
