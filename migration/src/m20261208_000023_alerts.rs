//! Alerts: each organization's rules (with the state the evaluator keeps on
//! them), silences, the history of firings and resolves, notification
//! channels (their secrets encrypted by the server), the outbox of
//! deliveries, and the evaluator's job row (its lease and last pass).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE: &[&str] = &[
    "CREATE TABLE alert_rules (
        id uuid_text PRIMARY KEY,
        org_id uuid_text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        condition TEXT NOT NULL,
        channel_ids TEXT NOT NULL,
        quiet_minutes INTEGER NOT NULL,
        enabled BOOLEAN NOT NULL,
        created_at_ns INTEGER NOT NULL,
        updated_at_ns INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'ok',
        state_since_ns INTEGER NOT NULL DEFAULT 0,
        last_value REAL,
        firing_level REAL,
        firing_notified BOOLEAN NOT NULL DEFAULT FALSE,
        last_evaluated_ns INTEGER NOT NULL DEFAULT 0,
        last_notified_ns INTEGER NOT NULL DEFAULT 0,
        cursor INTEGER NOT NULL DEFAULT 0
    )",
    "CREATE INDEX idx_alert_rules_org ON alert_rules (org_id, created_at_ns)",
    "CREATE TABLE alert_silences (
        id uuid_text PRIMARY KEY,
        org_id uuid_text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        rule_id uuid_text REFERENCES alert_rules (id) ON DELETE CASCADE,
        starts_at_ns INTEGER NOT NULL,
        ends_at_ns INTEGER NOT NULL,
        comment TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at_ns INTEGER NOT NULL
    )",
    "CREATE INDEX idx_alert_silences_org_end ON alert_silences (org_id, ends_at_ns)",
    "CREATE TABLE alert_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id uuid_text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        rule_id uuid_text NOT NULL,
        rule_name TEXT NOT NULL,
        condition_kind TEXT NOT NULL,
        kind TEXT NOT NULL,
        at_ns INTEGER NOT NULL,
        value REAL,
        threshold REAL NOT NULL,
        summary TEXT NOT NULL,
        link TEXT NOT NULL,
        notice TEXT NOT NULL
    )",
    "CREATE INDEX idx_alert_events_org_time ON alert_events (org_id, at_ns, id)",
    "CREATE TABLE alert_channels (
        id uuid_text PRIMARY KEY,
        org_id uuid_text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        settings TEXT NOT NULL,
        sealed_secrets TEXT NOT NULL,
        created_at_ns INTEGER NOT NULL,
        updated_at_ns INTEGER NOT NULL,
        last_status TEXT,
        last_status_at_ns INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        failures_in_a_row INTEGER NOT NULL DEFAULT 0
    )",
    "CREATE INDEX idx_alert_channels_org ON alert_channels (org_id, created_at_ns)",
    "CREATE TABLE alert_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id uuid_text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        channel_id uuid_text NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
        notification TEXT NOT NULL,
        test BOOLEAN NOT NULL DEFAULT FALSE,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ns INTEGER NOT NULL,
        response_code INTEGER,
        last_error TEXT,
        created_at_ns INTEGER NOT NULL,
        finished_at_ns INTEGER NOT NULL DEFAULT 0
    )",
    "CREATE INDEX idx_alert_deliveries_due ON alert_deliveries (status, next_attempt_ns)",
    "CREATE INDEX idx_alert_deliveries_channel ON alert_deliveries (channel_id, id)",
    "CREATE TABLE alert_job (
        name TEXT PRIMARY KEY,
        lease_owner TEXT,
        lease_until_ns INTEGER NOT NULL DEFAULT 0,
        pass_started_at_ns INTEGER NOT NULL DEFAULT 0,
        pass_finished_at_ns INTEGER NOT NULL DEFAULT 0,
        pass_rules INTEGER NOT NULL DEFAULT 0,
        pass_firing INTEGER NOT NULL DEFAULT 0,
        pass_duration_ns INTEGER NOT NULL DEFAULT 0
    )",
    "INSERT INTO alert_job (name) VALUES ('evaluator'), ('deliveries')",
];

const POSTGRES: &[&str] = &[
    "CREATE TABLE alert_rules (
        id UUID PRIMARY KEY,
        org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        condition TEXT NOT NULL,
        channel_ids TEXT NOT NULL,
        quiet_minutes BIGINT NOT NULL,
        enabled BOOLEAN NOT NULL,
        created_at_ns BIGINT NOT NULL,
        updated_at_ns BIGINT NOT NULL,
        state TEXT NOT NULL DEFAULT 'ok',
        state_since_ns BIGINT NOT NULL DEFAULT 0,
        last_value DOUBLE PRECISION,
        firing_level DOUBLE PRECISION,
        firing_notified BOOLEAN NOT NULL DEFAULT FALSE,
        last_evaluated_ns BIGINT NOT NULL DEFAULT 0,
        last_notified_ns BIGINT NOT NULL DEFAULT 0,
        cursor BIGINT NOT NULL DEFAULT 0
    )",
    "CREATE INDEX idx_alert_rules_org ON alert_rules (org_id, created_at_ns)",
    "CREATE TABLE alert_silences (
        id UUID PRIMARY KEY,
        org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        rule_id UUID REFERENCES alert_rules (id) ON DELETE CASCADE,
        starts_at_ns BIGINT NOT NULL,
        ends_at_ns BIGINT NOT NULL,
        comment TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at_ns BIGINT NOT NULL
    )",
    "CREATE INDEX idx_alert_silences_org_end ON alert_silences (org_id, ends_at_ns)",
    "CREATE TABLE alert_events (
        id BIGSERIAL PRIMARY KEY,
        org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        rule_id UUID NOT NULL,
        rule_name TEXT NOT NULL,
        condition_kind TEXT NOT NULL,
        kind TEXT NOT NULL,
        at_ns BIGINT NOT NULL,
        value DOUBLE PRECISION,
        threshold DOUBLE PRECISION NOT NULL,
        summary TEXT NOT NULL,
        link TEXT NOT NULL,
        notice TEXT NOT NULL
    )",
    "CREATE INDEX idx_alert_events_org_time ON alert_events (org_id, at_ns, id)",
    "CREATE TABLE alert_channels (
        id UUID PRIMARY KEY,
        org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        settings TEXT NOT NULL,
        sealed_secrets TEXT NOT NULL,
        created_at_ns BIGINT NOT NULL,
        updated_at_ns BIGINT NOT NULL,
        last_status TEXT,
        last_status_at_ns BIGINT NOT NULL DEFAULT 0,
        last_error TEXT,
        failures_in_a_row BIGINT NOT NULL DEFAULT 0
    )",
    "CREATE INDEX idx_alert_channels_org ON alert_channels (org_id, created_at_ns)",
    "CREATE TABLE alert_deliveries (
        id BIGSERIAL PRIMARY KEY,
        org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        channel_id UUID NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
        notification TEXT NOT NULL,
        test BOOLEAN NOT NULL DEFAULT FALSE,
        status TEXT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt_ns BIGINT NOT NULL,
        response_code BIGINT,
        last_error TEXT,
        created_at_ns BIGINT NOT NULL,
        finished_at_ns BIGINT NOT NULL DEFAULT 0
    )",
    "CREATE INDEX idx_alert_deliveries_due ON alert_deliveries (status, next_attempt_ns)",
    "CREATE INDEX idx_alert_deliveries_channel ON alert_deliveries (channel_id, id)",
    "CREATE TABLE alert_job (
        name TEXT PRIMARY KEY,
        lease_owner TEXT,
        lease_until_ns BIGINT NOT NULL DEFAULT 0,
        pass_started_at_ns BIGINT NOT NULL DEFAULT 0,
        pass_finished_at_ns BIGINT NOT NULL DEFAULT 0,
        pass_rules BIGINT NOT NULL DEFAULT 0,
        pass_firing BIGINT NOT NULL DEFAULT 0,
        pass_duration_ns BIGINT NOT NULL DEFAULT 0
    )",
    "INSERT INTO alert_job (name) VALUES ('evaluator'), ('deliveries')",
];

const DOWN: &[&str] = &[
    "DROP TABLE alert_job",
    "DROP TABLE alert_deliveries",
    "DROP TABLE alert_channels",
    "DROP TABLE alert_events",
    "DROP TABLE alert_silences",
    "DROP TABLE alert_rules",
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
