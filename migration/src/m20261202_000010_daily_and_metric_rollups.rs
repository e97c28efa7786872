//! Two rollups for the Costs page, so that a month reads a few hundred rows:
//!
//! - `usage_daily_rollups`: the hourly usage rollups (migration 8) summed
//!   per UTC day, same key otherwise. Ingest and cost recomputes add the
//!   same deltas to both; the rows already stored are summed here once.
//! - `metric_rollups`: GenAI histogram points thinned per hour and per day.
//!   A cumulative point repeats everything its series counted since its
//!   start, so the last point of each run (series and start time) in a
//!   period says all the period's earlier points said; the dashboard turns
//!   these into deltas as it did the raw points. A delta point keeps a row
//!   of its own (keyed by its time). The key holds a hash of the
//!   series (service and attributes), computed in Rust, so points stored
//!   before this migration are rolled up by a maintenance job at startup.

use sea_orm_migration::{prelude::*, schema::*};

/// Must match `app::services::ingest::usage::LATENCY_BUCKETS`.
const LATENCY_BUCKETS: usize = 46;

const COUNTERS: &[&str] = &[
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_nanos",
    "unpriced",
    "duration_ns",
];

/// The `maintenance_jobs` row of the metric points' backfill.
const METRIC_ROLLUP_BACKFILL: &str = "metric_rollup_backfill";

const DAY_NS: i64 = 86_400_000_000_000;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = Table::create();
        table
            .table(UsageDailyRollups::Table)
            .if_not_exists()
            .col(uuid(UsageDailyRollups::OrgId))
            .col(big_integer(UsageDailyRollups::DayNs))
            .col(string(UsageDailyRollups::Model).default(""))
            .col(string(UsageDailyRollups::Provider).default(""))
            .col(string(UsageDailyRollups::ServiceName).default(""))
            .col(string(UsageDailyRollups::Agent).default(""))
            .col(uuid(UsageDailyRollups::TokenId));
        for column in counter_columns() {
            table.col(big_integer(Alias::new(column)).default(0));
        }
        table.primary_key(
            Index::create()
                .col(UsageDailyRollups::OrgId)
                .col(UsageDailyRollups::DayNs)
                .col(UsageDailyRollups::Model)
                .col(UsageDailyRollups::Provider)
                .col(UsageDailyRollups::ServiceName)
                .col(UsageDailyRollups::Agent)
                .col(UsageDailyRollups::TokenId),
        );
        manager.create_table(table.to_owned()).await?;
        sum_stored_hours_into_days(manager).await?;

        manager
            .create_table(
                Table::create()
                    .table(MetricRollups::Table)
                    .if_not_exists()
                    .col(uuid(MetricRollups::OrgId))
                    // One hour or one day, in nanoseconds.
                    .col(big_integer(MetricRollups::PeriodNs))
                    .col(big_integer(MetricRollups::PeriodStartNs))
                    .col(string(MetricRollups::Name))
                    .col(big_integer(MetricRollups::SeriesHash))
                    .col(big_integer(MetricRollups::RunNs))
                    .col(big_integer(MetricRollups::StartTimeNs))
                    .col(big_integer(MetricRollups::TimeNs))
                    .col(string(MetricRollups::Unit))
                    .col(string(MetricRollups::ServiceName))
                    .col(text(MetricRollups::Attributes))
                    .col(big_integer(MetricRollups::Count))
                    .col(double(MetricRollups::Sum))
                    .col(text_null(MetricRollups::Buckets))
                    .col(boolean(MetricRollups::Cumulative))
                    // (organization, period, start) first: every read is a
                    // range of one organization's hours or days.
                    .primary_key(
                        Index::create()
                            .col(MetricRollups::OrgId)
                            .col(MetricRollups::PeriodNs)
                            .col(MetricRollups::PeriodStartNs)
                            .col(MetricRollups::Name)
                            .col(MetricRollups::SeriesHash)
                            .col(MetricRollups::RunNs),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(MaintenanceJobs::Table)
                    .columns([MaintenanceJobs::Name])
                    .values_panic([METRIC_ROLLUP_BACKFILL.into()])
                    .on_conflict(OnConflict::column(MaintenanceJobs::Name).do_nothing().to_owned())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(MaintenanceJobs::Table)
                    .and_where(Expr::col(MaintenanceJobs::Name).eq(METRIC_ROLLUP_BACKFILL))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(MetricRollups::Table).if_exists().to_owned())
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(UsageDailyRollups::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

fn counter_columns() -> Vec<String> {
    COUNTERS
        .iter()
        .map(|counter| (*counter).to_owned())
        .chain((0..LATENCY_BUCKETS).map(|bucket| format!("latency_{bucket:02}")))
        .collect()
}

/// Sums the hourly rollups already stored into days (hours are never
/// negative, so integer division rounds down on both databases).
async fn sum_stored_hours_into_days(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let columns = counter_columns();
    let sums: Vec<String> = columns
        .iter()
        .map(|column| format!("CAST(SUM({column}) AS BIGINT)"))
        .collect();
    let day = format!("(hour_ns / {DAY_NS}) * {DAY_NS}");
    let key = "org_id, model, provider, service_name, agent, token_id";
    let sql = format!(
        "INSERT INTO usage_daily_rollups (org_id, day_ns, model, provider, service_name, agent, token_id, {}) \
         SELECT org_id, {day}, model, provider, service_name, agent, token_id, {} \
         FROM usage_rollups GROUP BY {key}, {day}",
        columns.join(", "),
        sums.join(", "),
    );
    manager.get_connection().execute_unprepared(&sql).await?;
    Ok(())
}

#[derive(DeriveIden)]
enum UsageDailyRollups {
    Table,
    OrgId,
    DayNs,
    Model,
    Provider,
    ServiceName,
    Agent,
    TokenId,
}

#[derive(DeriveIden)]
enum MetricRollups {
    Table,
    OrgId,
    PeriodNs,
    PeriodStartNs,
    Name,
    /// A hash of the service name and the attributes' JSON.
    SeriesHash,
    /// A cumulative point's start time (its run), a delta point's own time.
    RunNs,
    StartTimeNs,
    /// The time of the period's last point of this run.
    TimeNs,
    Unit,
    ServiceName,
    Attributes,
    Count,
    Sum,
    /// JSON explicit buckets, durations only.
    Buckets,
    Cumulative,
}

#[derive(DeriveIden)]
enum MaintenanceJobs {
    Table,
    Name,
}
