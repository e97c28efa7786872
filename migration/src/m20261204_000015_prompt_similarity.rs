//! Prompt similarity: the distinct prompts of each organization (one row
//! per normalized user input, with how often and when it was seen and what
//! it cost), their vectors (one per embedder, so that vectors of two models
//! are never compared), which request span said which prompt, and the
//! embedding worker's cursor over the spans.
//!
//! The worker follows the span table in id order from `position`; a lease
//! (`lease_owner`, `lease_until_ns`) keeps it to one replica at a time.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE: &[&str] = &[
    "CREATE TABLE prompts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id uuid_text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        prompt_hash TEXT NOT NULL,
        text TEXT NOT NULL,
        span_count INTEGER NOT NULL DEFAULT 0,
        cost_nanos INTEGER NOT NULL DEFAULT 0,
        first_seen_ns INTEGER NOT NULL,
        last_seen_ns INTEGER NOT NULL,
        example_trace_id TEXT NOT NULL,
        example_span_id TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX idx_prompts_identity ON prompts (org_id, prompt_hash)",
    "CREATE TABLE prompt_vectors (
        prompt_id INTEGER NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
        embedder TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (prompt_id, embedder)
    )",
    "CREATE TABLE prompt_spans (
        span_row_id INTEGER PRIMARY KEY REFERENCES spans (id) ON DELETE CASCADE,
        org_id uuid_text NOT NULL,
        prompt_id INTEGER NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
        start_time_ns INTEGER NOT NULL,
        service_name TEXT NOT NULL,
        end_user TEXT
    )",
    "CREATE INDEX idx_prompt_spans_prompt ON prompt_spans (prompt_id)",
    "CREATE INDEX idx_prompt_spans_org_user_time ON prompt_spans (org_id, end_user, start_time_ns)",
    "CREATE TABLE similarity_worker (
        name TEXT PRIMARY KEY,
        position INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_until_ns INTEGER NOT NULL DEFAULT 0,
        spans_done INTEGER NOT NULL DEFAULT 0,
        updated_at_ns INTEGER NOT NULL DEFAULT 0
    )",
    "INSERT INTO similarity_worker (name) VALUES ('prompts')",
];

const POSTGRES: &[&str] = &[
    "CREATE TABLE prompts (
        id BIGSERIAL PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        prompt_hash VARCHAR(32) NOT NULL,
        text TEXT NOT NULL,
        span_count BIGINT NOT NULL DEFAULT 0,
        cost_nanos BIGINT NOT NULL DEFAULT 0,
        first_seen_ns BIGINT NOT NULL,
        last_seen_ns BIGINT NOT NULL,
        example_trace_id VARCHAR(32) NOT NULL,
        example_span_id VARCHAR(16) NOT NULL
    )",
    "CREATE UNIQUE INDEX idx_prompts_identity ON prompts (org_id, prompt_hash)",
    "CREATE TABLE prompt_vectors (
        prompt_id BIGINT NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
        embedder VARCHAR(64) NOT NULL,
        vector BYTEA NOT NULL,
        PRIMARY KEY (prompt_id, embedder)
    )",
    "CREATE TABLE prompt_spans (
        span_row_id BIGINT PRIMARY KEY REFERENCES spans (id) ON DELETE CASCADE,
        org_id uuid NOT NULL,
        prompt_id BIGINT NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
        start_time_ns BIGINT NOT NULL,
        service_name TEXT NOT NULL,
        end_user TEXT
    )",
    "CREATE INDEX idx_prompt_spans_prompt ON prompt_spans (prompt_id)",
    "CREATE INDEX idx_prompt_spans_org_user_time ON prompt_spans (org_id, end_user, start_time_ns)",
    "CREATE TABLE similarity_worker (
        name VARCHAR(32) PRIMARY KEY,
        position BIGINT NOT NULL DEFAULT 0,
        lease_owner VARCHAR(64),
        lease_until_ns BIGINT NOT NULL DEFAULT 0,
        spans_done BIGINT NOT NULL DEFAULT 0,
        updated_at_ns BIGINT NOT NULL DEFAULT 0
    )",
    "INSERT INTO similarity_worker (name) VALUES ('prompts')",
];

const DOWN: &[&str] = &[
    "DROP TABLE similarity_worker",
    "DROP TABLE prompt_spans",
    "DROP TABLE prompt_vectors",
    "DROP TABLE prompts",
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
