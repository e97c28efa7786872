//! Usage rollups (and an index for the most expensive traces): one row per organization, hour, model, provider,
//! service, agent and API token, with the sums the cost dashboards read
//! (requests, errors, tokens, cost, and a latency histogram of fixed
//! log-scale buckets, one column each so that the ingest writer can add to
//! them in SQL). Empty strings and the nil token id stand for "none", since
//! a key column that is NULL would defeat the upsert's conflict target.
//!
//! Spans stored before this migration are rolled up here once, with the
//! agent unattributed (the ingest path knows each export's agent spans,
//! SQL over old rows does not) and no token (older rows do not record it).

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

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = Table::create();
        table
            .table(UsageRollups::Table)
            .if_not_exists()
            .col(uuid(UsageRollups::OrgId))
            .col(big_integer(UsageRollups::HourNs))
            .col(string(UsageRollups::Model).default(""))
            .col(string(UsageRollups::Provider).default(""))
            .col(string(UsageRollups::ServiceName).default(""))
            .col(string(UsageRollups::Agent).default(""))
            .col(uuid(UsageRollups::TokenId));
        for counter in COUNTERS {
            table.col(big_integer(Alias::new(*counter)).default(0));
        }
        for bucket in 0..LATENCY_BUCKETS {
            table.col(big_integer(Alias::new(format!("latency_{bucket:02}"))).default(0));
        }
        // The key starts with (organization, hour): every dashboard read is a
        // range of hours of one organization.
        table.primary_key(
            Index::create()
                .col(UsageRollups::OrgId)
                .col(UsageRollups::HourNs)
                .col(UsageRollups::Model)
                .col(UsageRollups::Provider)
                .col(UsageRollups::ServiceName)
                .col(UsageRollups::Agent)
                .col(UsageRollups::TokenId),
        );
        manager.create_table(table.to_owned()).await?;
        // The Costs page's most expensive traces of a range.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_traces_org_cost")
                    .table(Traces::Table)
                    .col(Traces::OrgId)
                    .col(Traces::CostNanos)
                    .to_owned(),
            )
            .await?;
        roll_up_stored_spans(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .if_exists()
                    .name("idx_traces_org_cost")
                    .table(Traces::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(UsageRollups::Table).if_exists().to_owned())
            .await
    }
}

/// Rolls up the spans already stored (in one statement: the latency bucket
/// of each request is computed in SQL with the same bounds as at ingest).
async fn roll_up_stored_spans(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let postgres = manager.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres;
    let is_request = "s.llm_kind IN ('request', 'embedding')";
    let duration = "CASE WHEN s.duration_ns > 0 THEN s.duration_ns ELSE 0 END";
    // ceil(2·log2(ms)), clamped to the buckets; SQLite has no log function in
    // every build, so the bounds are compared instead: bucket i holds
    // durations up to 2^(i/2) ms.
    let mut bucket = String::from("CASE");
    for index in 0..LATENCY_BUCKETS - 1 {
        let upper_ns = (2f64.powf(index as f64 / 2.0) * 1e6).floor() as i64;
        bucket.push_str(&format!(" WHEN {duration} <= {upper_ns} THEN {index}"));
    }
    bucket.push_str(&format!(" ELSE {} END", LATENCY_BUCKETS - 1));
    let counters = [
        format!("SUM(CASE WHEN {is_request} THEN 1 ELSE 0 END)"),
        format!("SUM(CASE WHEN {is_request} AND s.status_code = 'error' THEN 1 ELSE 0 END)"),
        "SUM(COALESCE(s.input_tokens, 0))".to_owned(),
        "SUM(COALESCE(s.output_tokens, 0))".to_owned(),
        "SUM(COALESCE(s.cache_read_tokens, 0))".to_owned(),
        "SUM(COALESCE(s.cache_write_tokens, 0))".to_owned(),
        "SUM(COALESCE(s.reasoning_tokens, 0))".to_owned(),
        "SUM(COALESCE(s.cost_nanos, 0))".to_owned(),
        "SUM(CASE WHEN s.unpriced THEN 1 ELSE 0 END)".to_owned(),
        format!("SUM(CASE WHEN {is_request} THEN {duration} ELSE 0 END)"),
    ];
    let buckets = (0..LATENCY_BUCKETS)
        .map(|index| format!("SUM(CASE WHEN {is_request} AND ({bucket}) = {index} THEN 1 ELSE 0 END)"));
    let sums: Vec<String> = counters.into_iter().chain(buckets).collect();
    let columns: Vec<String> = COUNTERS
        .iter()
        .map(|counter| (*counter).to_owned())
        .chain((0..LATENCY_BUCKETS).map(|bucket| format!("latency_{bucket:02}")))
        .collect();
    let nil_token = if postgres {
        "'00000000-0000-0000-0000-000000000000'::uuid"
    } else {
        // sqlx stores a UUID in SQLite as its 16 bytes.
        "zeroblob(16)"
    };
    let hour = "(s.start_time_ns - ((s.start_time_ns % 3600000000000) + 3600000000000) % 3600000000000)";
    let sql = format!(
        "INSERT INTO usage_rollups (org_id, hour_ns, model, provider, service_name, agent, token_id, {}) \
         SELECT s.org_id, {hour}, COALESCE(s.model, ''), COALESCE(s.provider, ''), s.service_name, '', {nil_token}, {} \
         FROM spans s \
         WHERE {is_request} OR s.cost_nanos IS NOT NULL OR s.unpriced \
            OR s.input_tokens IS NOT NULL OR s.output_tokens IS NOT NULL \
         GROUP BY s.org_id, {hour}, COALESCE(s.model, ''), COALESCE(s.provider, ''), s.service_name",
        columns.join(", "),
        sums.iter()
            .map(|sum| format!("CAST({sum} AS BIGINT)"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    manager.get_connection().execute_unprepared(&sql).await?;
    Ok(())
}

#[derive(DeriveIden)]
enum Traces {
    Table,
    OrgId,
    CostNanos,
}

#[derive(DeriveIden)]
enum UsageRollups {
    Table,
    OrgId,
    HourNs,
    Model,
    Provider,
    ServiceName,
    Agent,
    TokenId,
}
