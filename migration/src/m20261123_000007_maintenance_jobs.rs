//! Progress of one-off maintenance jobs that walk stored rows in batches
//! (so a restart resumes where the last run stopped), and the first such
//! job: indexing for full-text search the spans stored before the
//! `span_search` index existed.

use sea_orm_migration::{prelude::*, schema::*};

/// The job that fills `span_search` for older spans.
const SEARCH_BACKFILL: &str = "search_backfill";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MaintenanceJobs::Table)
                    .if_not_exists()
                    .col(string_len(MaintenanceJobs::Name, 64).primary_key())
                    // The last row id done; the job goes on above it.
                    .col(big_integer(MaintenanceJobs::Position).default(0))
                    .col(boolean(MaintenanceJobs::Finished).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(MaintenanceJobs::Table)
                    .columns([MaintenanceJobs::Name])
                    .values_panic([SEARCH_BACKFILL.into()])
                    .on_conflict(OnConflict::column(MaintenanceJobs::Name).do_nothing().to_owned())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MaintenanceJobs::Table).if_exists().to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum MaintenanceJobs {
    Table,
    Name,
    Position,
    Finished,
}
