//! Deleting whole traces picked by the start of their id: how the demo
//! workload's traces (ids starting with its marker) leave again, with their
//! spans, payloads and search entries, and the similarity figures of the
//! prompts their spans sent.

use sea_orm::{DatabaseBackend, DbErr, Statement};
use uuid::Uuid;

use super::prompts::recount_prompts;
use crate::platform::services::transaction::{WriteTransaction, placeholder};

/// What a removal deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemovedTraces {
    pub traces: u64,
    pub spans: u64,
}

/// Deletes the organization's traces whose id starts with `prefix` (lower-case
/// hex, as stored), and all their spans. The id range keeps it on the
/// (organization, trace, span) index: every id with the prefix sorts below
/// the prefix followed by `g`.
pub async fn delete_traces_with_prefix(
    txn: &impl WriteTransaction,
    org_id: Uuid,
    prefix: &str,
) -> Result<RemovedTraces, DbErr> {
    if prefix.is_empty()
        || !prefix
            .bytes()
            .all(|byte| byte.is_ascii_hexdigit() && !byte.is_ascii_uppercase())
    {
        return Err(DbErr::Custom(format!(
            "not a lower-case hex trace id prefix: {prefix:?}"
        )));
    }
    let backend = txn.backend();
    let in_range = format!(
        "org_id = {} AND trace_id >= {} AND trace_id < {}",
        placeholder(backend, 1),
        placeholder(backend, 2),
        placeholder(backend, 3)
    );
    let statement = |sql: String| {
        let values: [sea_orm::Value; 3] = [org_id.into(), prefix.into(), format!("{prefix}g").into()];
        Statement::from_sql_and_values(backend, sql, values)
    };
    // PostgreSQL's index rows go with their span (ON DELETE CASCADE);
    // SQLite's contentless FTS table is told which rows to forget.
    if backend != DatabaseBackend::Postgres {
        txn.execute_statement(statement(format!(
            "DELETE FROM span_search WHERE rowid IN (SELECT id FROM spans WHERE {in_range})"
        )))
        .await?;
    }
    let prompt_ids: Vec<i64> = txn
        .query_rows::<(i64,)>(statement(format!(
            "SELECT DISTINCT prompt_id FROM prompt_spans WHERE span_row_id IN (SELECT id FROM spans WHERE {in_range})"
        )))
        .await?
        .into_iter()
        .map(|(id,)| id)
        .collect();
    let spans = txn
        .execute_statement(statement(format!("DELETE FROM spans WHERE {in_range}")))
        .await?
        .rows_affected;
    let traces = txn
        .execute_statement(statement(format!("DELETE FROM traces WHERE {in_range}")))
        .await?
        .rows_affected;
    // The distinct prompts those spans sent are counted again from the rest.
    recount_prompts(txn, org_id, &prompt_ids).await?;
    Ok(RemovedTraces { traces, spans })
}
