//! Organization price overrides (per model or name pattern, effective from a
//! time), the audit log, the cost-recompute jobs that re-price stored spans,
//! and what a recompute needs to find a span's usage rollup again: the agent
//! and API token its usage was rolled up under.
//!
//! Spans stored before this migration have neither; their rollups were
//! written with no agent and no token (migration 8), which is what the
//! NULLs here stand for.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ModelPrices::Table)
                    .if_not_exists()
                    .col(big_integer(ModelPrices::Id).auto_increment().primary_key())
                    .col(uuid(ModelPrices::OrgId))
                    // An exact model name (lower case), or a pattern with `*`.
                    .col(string(ModelPrices::Model))
                    .col(string(ModelPrices::Provider).default(""))
                    // Micro-dollars per million tokens, like the built-in table.
                    .col(big_integer(ModelPrices::Input))
                    .col(big_integer(ModelPrices::Output))
                    .col(big_integer_null(ModelPrices::CacheRead))
                    .col(big_integer_null(ModelPrices::CacheWrite))
                    .col(big_integer_null(ModelPrices::Reasoning))
                    .col(big_integer(ModelPrices::EffectiveFromNs))
                    .col(string(ModelPrices::Note).default(""))
                    .col(uuid_null(ModelPrices::UpdatedBy))
                    .col(big_integer(ModelPrices::UpdatedAtNs))
                    .foreign_key(&mut owned_by_organization(ModelPrices::Table, ModelPrices::OrgId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_model_prices_version")
                    .table(ModelPrices::Table)
                    .col(ModelPrices::OrgId)
                    .col(ModelPrices::Model)
                    .col(ModelPrices::EffectiveFromNs)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(big_integer(AuditLog::Id).auto_increment().primary_key())
                    .col(uuid(AuditLog::OrgId))
                    .col(uuid_null(AuditLog::ActorUserId))
                    // What the actor was called then, kept if the user is deleted.
                    .col(string(AuditLog::Actor))
                    .col(string(AuditLog::Action))
                    .col(text(AuditLog::Summary))
                    .col(text(AuditLog::Detail))
                    .col(big_integer(AuditLog::AtNs))
                    .foreign_key(&mut owned_by_organization(AuditLog::Table, AuditLog::OrgId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_audit_log_org_time")
                    .table(AuditLog::Table)
                    .col(AuditLog::OrgId)
                    .col(AuditLog::AtNs)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CostRecomputes::Table)
                    .if_not_exists()
                    .col(big_integer(CostRecomputes::Id).auto_increment().primary_key())
                    .col(uuid(CostRecomputes::OrgId))
                    .col(uuid_null(CostRecomputes::RequestedBy))
                    .col(big_integer(CostRecomputes::SinceNs))
                    .col(big_integer(CostRecomputes::UntilNs))
                    // `queued`, `running`, `done` or `failed`.
                    .col(string(CostRecomputes::Status))
                    .col(big_integer(CostRecomputes::ScannedSpans).default(0))
                    .col(big_integer(CostRecomputes::RepricedSpans).default(0))
                    .col(big_integer(CostRecomputes::CostDeltaNanos).default(0))
                    // Where the walk goes on: after (start time, row id).
                    .col(big_integer_null(CostRecomputes::CursorStartNs))
                    .col(big_integer(CostRecomputes::CursorId).default(0))
                    // A replica owns a running job until its lease ends.
                    .col(big_integer(CostRecomputes::LeaseUntilNs).default(0))
                    .col(text_null(CostRecomputes::Error))
                    .col(big_integer(CostRecomputes::CreatedAtNs))
                    .col(big_integer_null(CostRecomputes::FinishedAtNs))
                    .foreign_key(&mut owned_by_organization(
                        CostRecomputes::Table,
                        CostRecomputes::OrgId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_cost_recomputes_status")
                    .table(CostRecomputes::Table)
                    .col(CostRecomputes::Status)
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Spans::Table)
                    .add_column(string_null(Spans::Agent))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Spans::Table)
                    .add_column(uuid_null(Spans::TokenId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Spans::Agent, Spans::TokenId] {
            manager
                .alter_table(Table::alter().table(Spans::Table).drop_column(column).to_owned())
                .await?;
        }
        for table in [
            CostRecomputes::Table.into_iden(),
            AuditLog::Table.into_iden(),
            ModelPrices::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Rows an organization owns go with it.
fn owned_by_organization(table: impl IntoIden, org_id: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, org_id)
        .to(Organizations::Table, Organizations::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[derive(DeriveIden)]
enum ModelPrices {
    Table,
    Id,
    OrgId,
    Model,
    Provider,
    Input,
    Output,
    CacheRead,
    CacheWrite,
    Reasoning,
    EffectiveFromNs,
    Note,
    UpdatedBy,
    UpdatedAtNs,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    OrgId,
    ActorUserId,
    Actor,
    Action,
    Summary,
    Detail,
    AtNs,
}

#[derive(DeriveIden)]
enum CostRecomputes {
    Table,
    Id,
    OrgId,
    RequestedBy,
    SinceNs,
    UntilNs,
    Status,
    ScannedSpans,
    RepricedSpans,
    CostDeltaNanos,
    CursorStartNs,
    CursorId,
    LeaseUntilNs,
    Error,
    CreatedAtNs,
    FinishedAtNs,
}

#[derive(DeriveIden)]
enum Spans {
    Table,
    Agent,
    TokenId,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}
