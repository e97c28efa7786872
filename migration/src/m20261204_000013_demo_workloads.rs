//! The demo workload an organization was given ("Run demo"): how to find
//! exactly what it added, so that "Remove demo data" deletes that and
//! nothing else. At most one per organization.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DemoWorkloads::Table)
                    .if_not_exists()
                    .col(uuid(DemoWorkloads::OrgId).primary_key())
                    // Every demo trace id starts with these 16 hex digits,
                    // and every demo resource carries them as `specula.demo`.
                    .col(string(DemoWorkloads::Marker))
                    // The (never shown, revoked) token the demo was ingested
                    // with: its usage rollups are keyed by it.
                    .col(uuid(DemoWorkloads::TokenId))
                    .col(uuid_null(DemoWorkloads::CreatedBy))
                    .col(big_integer(DemoWorkloads::CreatedAtNs))
                    .col(big_integer(DemoWorkloads::Traces).default(0))
                    .col(big_integer(DemoWorkloads::Spans).default(0))
                    .col(big_integer(DemoWorkloads::MetricPoints).default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DemoWorkloads::Table, DemoWorkloads::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DemoWorkloads::Table).if_exists().to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DemoWorkloads {
    Table,
    OrgId,
    Marker,
    TokenId,
    CreatedBy,
    CreatedAtNs,
    Traces,
    Spans,
    MetricPoints,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}
