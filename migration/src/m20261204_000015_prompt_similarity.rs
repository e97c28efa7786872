//! Prompt similarity: the distinct prompts of each organization (one row
//! per normalized user input, with how often and when it was seen and what
//! it cost), their vectors (one per embedder, so that vectors of two models
//! are never compared), which request span said which prompt, and the
//! embedding worker's cursor over the spans.
//!
//! The worker follows the span table in id order from `position`; a lease
//! (`lease_owner`, `lease_until_ns`) keeps it to one replica at a time;
//! `config_version` goes up whenever an organization's abuse patterns or
//! similarity settings change, so that every replica reloads them.
//!
//! Abuse patterns are prompts an admin marked as abusive; a new prompt
//! close enough to one (the organization's threshold), or one of a burst
//! of near-duplicates from one end user, is flagged: its span in
//! `prompt_spans.flagged`, and a row in `prompt_sim_logs`.

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
        end_user TEXT,
        flagged BOOLEAN NOT NULL DEFAULT FALSE
    )",
    "CREATE INDEX idx_prompt_spans_prompt ON prompt_spans (prompt_id)",
    "CREATE INDEX idx_prompt_spans_org_user_time ON prompt_spans (org_id, end_user, start_time_ns)",
    "CREATE TABLE similarity_worker (
        name TEXT PRIMARY KEY,
        position INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_until_ns INTEGER NOT NULL DEFAULT 0,
        spans_done INTEGER NOT NULL DEFAULT 0,
        updated_at_ns INTEGER NOT NULL DEFAULT 0,
        config_version INTEGER NOT NULL DEFAULT 0
    )",
    "INSERT INTO similarity_worker (name) VALUES ('prompts')",
    "CREATE TABLE abuse_patterns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id uuid_text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        text TEXT NOT NULL,
        prompt_hash TEXT NOT NULL,
        created_by uuid_text,
        created_at_ns INTEGER NOT NULL
    )",
    "CREATE INDEX idx_abuse_patterns_org ON abuse_patterns (org_id, id)",
    "CREATE TABLE similarity_settings (
        org_id uuid_text PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
        threshold REAL NOT NULL,
        burst_count INTEGER NOT NULL,
        burst_window_ns INTEGER NOT NULL
    )",
    "CREATE TABLE prompt_sim_logs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id uuid_text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        prompt_hash TEXT NOT NULL,
        matched_prompt_hash TEXT NOT NULL,
        score REAL NOT NULL,
        flagged BOOLEAN NOT NULL,
        reason TEXT NOT NULL,
        pattern_id INTEGER,
        end_user TEXT,
        trace_id TEXT NOT NULL,
        span_id TEXT NOT NULL,
        time_ns INTEGER NOT NULL
    )",
    "CREATE INDEX idx_prompt_sim_logs_org_time ON prompt_sim_logs (org_id, time_ns, id)",
    "CREATE INDEX idx_prompt_spans_flagged ON prompt_spans (org_id, span_row_id) WHERE flagged",
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
        end_user TEXT,
        flagged BOOLEAN NOT NULL DEFAULT FALSE
    )",
    "CREATE INDEX idx_prompt_spans_prompt ON prompt_spans (prompt_id)",
    "CREATE INDEX idx_prompt_spans_org_user_time ON prompt_spans (org_id, end_user, start_time_ns)",
    "CREATE TABLE similarity_worker (
        name VARCHAR(32) PRIMARY KEY,
        position BIGINT NOT NULL DEFAULT 0,
        lease_owner VARCHAR(64),
        lease_until_ns BIGINT NOT NULL DEFAULT 0,
        spans_done BIGINT NOT NULL DEFAULT 0,
        updated_at_ns BIGINT NOT NULL DEFAULT 0,
        config_version BIGINT NOT NULL DEFAULT 0
    )",
    "INSERT INTO similarity_worker (name) VALUES ('prompts')",
    "CREATE TABLE abuse_patterns (
        id BIGSERIAL PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        text TEXT NOT NULL,
        prompt_hash TEXT NOT NULL,
        created_by uuid,
        created_at_ns BIGINT NOT NULL
    )",
    "CREATE INDEX idx_abuse_patterns_org ON abuse_patterns (org_id, id)",
    "CREATE TABLE similarity_settings (
        org_id uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
        threshold DOUBLE PRECISION NOT NULL,
        burst_count BIGINT NOT NULL,
        burst_window_ns BIGINT NOT NULL
    )",
    "CREATE TABLE prompt_sim_logs (
        id BIGSERIAL PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        prompt_hash TEXT NOT NULL,
        matched_prompt_hash TEXT NOT NULL,
        score DOUBLE PRECISION NOT NULL,
        flagged BOOLEAN NOT NULL,
        reason TEXT NOT NULL,
        pattern_id BIGINT,
        end_user TEXT,
        trace_id TEXT NOT NULL,
        span_id TEXT NOT NULL,
        time_ns BIGINT NOT NULL
    )",
    "CREATE INDEX idx_prompt_sim_logs_org_time ON prompt_sim_logs (org_id, time_ns, id)",
    "CREATE INDEX idx_prompt_spans_flagged ON prompt_spans (org_id, span_row_id) WHERE flagged",
];

const DOWN: &[&str] = &[
    "DROP TABLE prompt_sim_logs",
    "DROP TABLE similarity_settings",
    "DROP TABLE abuse_patterns",
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
