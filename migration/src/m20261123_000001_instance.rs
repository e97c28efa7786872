//! The `instance` table: one row naming this installation.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Instance::Table)
                    .if_not_exists()
                    .col(integer(Instance::Singleton).primary_key())
                    .col(uuid_uniq(Instance::InstanceId))
                    .col(timestamp_with_time_zone(Instance::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Instance::Table).to_owned())
            .await
    }
}

// Variants are SQL identifiers: `instance.instance_id` is the column's real name.
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum Instance {
    Table,
    Singleton,
    InstanceId,
    CreatedAt,
}
