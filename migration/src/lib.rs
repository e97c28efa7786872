//! Specula's schema, as dated migrations applied in order at startup.
//!
//! Migrations are written once and never edited after they land: a change to
//! the schema is a new migration. Each one must run on SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_instance;
mod m20261123_000002_accounts;
mod m20261123_000003_spans;
mod m20261123_000004_metric_points;
mod m20261123_000005_span_payload;
mod m20261123_000006_span_search;
mod m20261123_000007_maintenance_jobs;
mod m20261201_000008_usage_rollups;
mod m20261202_000009_prices;
mod m20261202_000010_daily_and_metric_rollups;
mod m20261202_000011_partial_model_index;
mod m20261204_000012_request_model;
mod m20261204_000013_demo_workloads;
mod m20261204_000014_times_in_utc;
mod m20261204_000015_prompt_similarity;
mod m20261205_000016_prompt_clusters_and_deletions;
mod m20261205_000017_prompt_vectors_by_embedder;
mod m20261205_000018_audit_chain;
mod m20261205_000019_policies;
mod m20261206_000020_governance_events;
mod m20261206_000021_retention;
mod m20261207_000022_limits;
mod m20261208_000023_alerts;
mod m20261209_000024_forwarding;
mod m20261209_000025_job_leases;

pub struct Migrator;

/// Registers a one-off job in `maintenance_jobs` for the server to run in
/// the background (it walks older rows from position 0).
pub(crate) async fn register_maintenance_job(manager: &SchemaManager<'_>, name: &str) -> Result<(), DbErr> {
    manager
        .exec_stmt(
            Query::insert()
                .into_table(Alias::new("maintenance_jobs"))
                .columns([Alias::new("name")])
                .values_panic([name.into()])
                .on_conflict(OnConflict::column(Alias::new("name")).do_nothing().to_owned())
                .to_owned(),
        )
        .await
}

/// Removes a job that [`register_maintenance_job`] registered.
pub(crate) async fn unregister_maintenance_job(manager: &SchemaManager<'_>, name: &str) -> Result<(), DbErr> {
    manager
        .exec_stmt(
            Query::delete()
                .from_table(Alias::new("maintenance_jobs"))
                .and_where(Expr::col(Alias::new("name")).eq(name))
                .to_owned(),
        )
        .await
}

/// Runs the statements written for the connected backend, in order: for
/// schema that SQLite and PostgreSQL spell differently.
pub(crate) async fn run_per_backend(
    manager: &SchemaManager<'_>,
    sqlite: &[&str],
    postgres: &[&str],
) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        sea_orm_migration::sea_orm::DatabaseBackend::Postgres => postgres,
        _ => sqlite,
    };
    let connection = manager.get_connection();
    for statement in statements {
        connection.execute_unprepared(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_instance::Migration),
            Box::new(m20261123_000002_accounts::Migration),
            Box::new(m20261123_000003_spans::Migration),
            Box::new(m20261123_000004_metric_points::Migration),
            Box::new(m20261123_000005_span_payload::Migration),
            Box::new(m20261123_000006_span_search::Migration),
            Box::new(m20261123_000007_maintenance_jobs::Migration),
            Box::new(m20261201_000008_usage_rollups::Migration),
            Box::new(m20261202_000009_prices::Migration),
            Box::new(m20261202_000010_daily_and_metric_rollups::Migration),
            Box::new(m20261202_000011_partial_model_index::Migration),
            Box::new(m20261204_000012_request_model::Migration),
            Box::new(m20261204_000013_demo_workloads::Migration),
            Box::new(m20261204_000014_times_in_utc::Migration),
            Box::new(m20261204_000015_prompt_similarity::Migration),
            Box::new(m20261205_000016_prompt_clusters_and_deletions::Migration),
            Box::new(m20261205_000017_prompt_vectors_by_embedder::Migration),
            Box::new(m20261205_000018_audit_chain::Migration),
            Box::new(m20261205_000019_policies::Migration),
            Box::new(m20261206_000020_governance_events::Migration),
            Box::new(m20261206_000021_retention::Migration),
            Box::new(m20261207_000022_limits::Migration),
            Box::new(m20261208_000023_alerts::Migration),
            Box::new(m20261209_000024_forwarding::Migration),
            Box::new(m20261209_000025_job_leases::Migration),
        ]
    }
}
