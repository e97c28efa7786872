//! OTLP forwarding: each organization's destinations (where its spans are
//! also sent, after the policy step), each with its cursor over the span
//! table and its counts, and the forwarder's job row (its lease).
//!
//! The span table is the forwarder's outbox: what ingest acknowledged is
//! already stored there, so a destination keeps only how far it has come
//! (`position`, a span row id), moved after the receiver acknowledged a
//! batch or the batch was given up after the destination's retry budget.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE: &[&str] = &[
    "CREATE TABLE forward_destinations (
        id uuid_text PRIMARY KEY,
        org_id uuid_text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        protocol TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        sealed_headers TEXT NOT NULL,
        header_names TEXT NOT NULL,
        services TEXT NOT NULL,
        retry_budget_secs INTEGER NOT NULL,
        enabled BOOLEAN NOT NULL,
        position INTEGER NOT NULL,
        forwarded_spans INTEGER NOT NULL DEFAULT 0,
        dropped_spans INTEGER NOT NULL DEFAULT 0,
        rejected_spans INTEGER NOT NULL DEFAULT 0,
        last_success_at_ns INTEGER NOT NULL DEFAULT 0,
        last_attempt_at_ns INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        failing_since_ns INTEGER NOT NULL DEFAULT 0,
        created_at_ns INTEGER NOT NULL,
        updated_at_ns INTEGER NOT NULL
    )",
    "CREATE INDEX idx_forward_destinations_org ON forward_destinations (org_id, created_at_ns)",
    "CREATE TABLE forward_job (
        name TEXT PRIMARY KEY,
        lease_owner TEXT,
        lease_until_ns INTEGER NOT NULL DEFAULT 0
    )",
    "INSERT INTO forward_job (name) VALUES ('forwarder')",
];

const POSTGRES: &[&str] = &[
    "CREATE TABLE forward_destinations (
        id UUID PRIMARY KEY,
        org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        protocol TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        sealed_headers TEXT NOT NULL,
        header_names TEXT NOT NULL,
        services TEXT NOT NULL,
        retry_budget_secs BIGINT NOT NULL,
        enabled BOOLEAN NOT NULL,
        position BIGINT NOT NULL,
        forwarded_spans BIGINT NOT NULL DEFAULT 0,
        dropped_spans BIGINT NOT NULL DEFAULT 0,
        rejected_spans BIGINT NOT NULL DEFAULT 0,
        last_success_at_ns BIGINT NOT NULL DEFAULT 0,
        last_attempt_at_ns BIGINT NOT NULL DEFAULT 0,
        last_error TEXT,
        failing_since_ns BIGINT NOT NULL DEFAULT 0,
        created_at_ns BIGINT NOT NULL,
        updated_at_ns BIGINT NOT NULL
    )",
    "CREATE INDEX idx_forward_destinations_org ON forward_destinations (org_id, created_at_ns)",
    "CREATE TABLE forward_job (
        name TEXT PRIMARY KEY,
        lease_owner TEXT,
        lease_until_ns BIGINT NOT NULL DEFAULT 0
    )",
    "INSERT INTO forward_job (name) VALUES ('forwarder')",
];

const DOWN: &[&str] = &["DROP TABLE forward_job", "DROP TABLE forward_destinations"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, SQLITE, POSTGRES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, DOWN, DOWN).await
    }
}
