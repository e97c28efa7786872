//! The retention job: its lease (one replica at a time) and pass times,
//! and per organization what its passes deleted, for the Policies page.
//! Prompts' spans get a (prompt, time) index, so that a prompt's first and
//! last sight after a deletion are read without walking all its spans.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE: &[&str] = &[
    "CREATE TABLE retention_job (
        name TEXT PRIMARY KEY,
        lease_owner TEXT,
        lease_until_ns INTEGER NOT NULL DEFAULT 0,
        pass_started_at_ns INTEGER NOT NULL DEFAULT 0,
        pass_finished_at_ns INTEGER NOT NULL DEFAULT 0
    )",
    "INSERT INTO retention_job (name) VALUES ('retention')",
    "CREATE TABLE retention_progress (
        org_id uuid_text NOT NULL PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
        pass_started_at_ns INTEGER NOT NULL,
        pass_finished_at_ns INTEGER NOT NULL DEFAULT 0,
        pass_spans INTEGER NOT NULL DEFAULT 0,
        pass_traces INTEGER NOT NULL DEFAULT 0,
        pass_similarity_logs INTEGER NOT NULL DEFAULT 0,
        pass_governance_events INTEGER NOT NULL DEFAULT 0,
        pass_audit_entries INTEGER NOT NULL DEFAULT 0,
        total_spans INTEGER NOT NULL DEFAULT 0
    )",
    "CREATE INDEX idx_prompt_spans_prompt_time ON prompt_spans (prompt_id, start_time_ns)",
    "DROP INDEX idx_prompt_spans_prompt",
];

const POSTGRES: &[&str] = &[
    "CREATE TABLE retention_job (
        name TEXT PRIMARY KEY,
        lease_owner TEXT,
        lease_until_ns BIGINT NOT NULL DEFAULT 0,
        pass_started_at_ns BIGINT NOT NULL DEFAULT 0,
        pass_finished_at_ns BIGINT NOT NULL DEFAULT 0
    )",
    "INSERT INTO retention_job (name) VALUES ('retention')",
    "CREATE TABLE retention_progress (
        org_id UUID NOT NULL PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
        pass_started_at_ns BIGINT NOT NULL,
        pass_finished_at_ns BIGINT NOT NULL DEFAULT 0,
        pass_spans BIGINT NOT NULL DEFAULT 0,
        pass_traces BIGINT NOT NULL DEFAULT 0,
        pass_similarity_logs BIGINT NOT NULL DEFAULT 0,
        pass_governance_events BIGINT NOT NULL DEFAULT 0,
        pass_audit_entries BIGINT NOT NULL DEFAULT 0,
        total_spans BIGINT NOT NULL DEFAULT 0
    )",
    "CREATE INDEX idx_prompt_spans_prompt_time ON prompt_spans (prompt_id, start_time_ns)",
    "DROP INDEX idx_prompt_spans_prompt",
];

const DOWN: &[&str] = &[
    "CREATE INDEX idx_prompt_spans_prompt ON prompt_spans (prompt_id)",
    "DROP INDEX idx_prompt_spans_prompt_time",
    "DROP TABLE retention_progress",
    "DROP TABLE retention_job",
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
