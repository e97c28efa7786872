//! What the governance evaluate API decided, one row per decision: the
//! gateway's question (model, end user, region, service, the prompt's size
//! and digest, not its text), the answer and every reason, and the policy
//! version that gave it. Spans that carry `specula.decision_id` are linked
//! to their decision by its id.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE: &[&str] = &[
    "CREATE TABLE governance_events (
        id uuid_text NOT NULL PRIMARY KEY,
        org_id uuid_text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        created_at_ns INTEGER NOT NULL,
        event_type TEXT NOT NULL,
        policy_version INTEGER NOT NULL,
        action TEXT NOT NULL,
        reasons TEXT NOT NULL,
        model TEXT,
        routed_model TEXT,
        end_user TEXT,
        region TEXT,
        service TEXT,
        token_id uuid_text,
        user_id uuid_text,
        prompt_chars INTEGER NOT NULL,
        prompt_sha256 TEXT NOT NULL,
        estimated_cost_nanos INTEGER
    )",
    "CREATE INDEX governance_events_by_time ON governance_events (org_id, created_at_ns DESC, id DESC)",
];

const POSTGRES: &[&str] = &[
    "CREATE TABLE governance_events (
        id UUID NOT NULL PRIMARY KEY,
        org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        created_at_ns BIGINT NOT NULL,
        event_type TEXT NOT NULL,
        policy_version BIGINT NOT NULL,
        action TEXT NOT NULL,
        reasons TEXT NOT NULL,
        model TEXT,
        routed_model TEXT,
        end_user TEXT,
        region TEXT,
        service TEXT,
        token_id UUID,
        user_id UUID,
        prompt_chars BIGINT NOT NULL,
        prompt_sha256 TEXT NOT NULL,
        estimated_cost_nanos BIGINT
    )",
    "CREATE INDEX governance_events_by_time ON governance_events (org_id, created_at_ns DESC, id DESC)",
];

const DOWN: &[&str] = &["DROP TABLE governance_events"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, SQLITE, POSTGRES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, DOWN, DOWN).await
    }
}
