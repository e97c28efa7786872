//! Deleting spans with their payloads, search entries and the similarity
//! figures of the prompts they sent: whole traces picked by the start of
//! their id (how the demo workload's traces leave again), and spans older
//! than a retention cutoff, a bounded batch at a time.

use sea_orm::{DatabaseBackend, DbErr, Statement, Value};
use uuid::Uuid;

use super::prompts::{hold_prompt_recording, prompt_shares, recount_prompts, subtract_from_prompts};
use crate::platform::services::transaction::{WriteTransaction, placeholder, placeholder_list};

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
    hold_prompt_recording(txn).await?;
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

/// Deletes up to `limit` of the organization's spans that started before
/// `cutoff_ns`, with their search entries, and counts their prompts again;
/// returns how many went (fewer than `limit`: none older are left). The
/// ids are read first, so every statement deletes the same spans even
/// while ingest adds more.
pub async fn delete_spans_before(
    txn: &impl WriteTransaction,
    org_id: Uuid,
    cutoff_ns: i64,
    limit: u64,
) -> Result<u64, DbErr> {
    hold_prompt_recording(txn).await?;
    let backend = txn.backend();
    let ids: Vec<i64> = txn
        .query_rows::<(i64,)>(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT id FROM spans WHERE org_id = {} AND start_time_ns < {} LIMIT {limit}",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            [org_id.into(), cutoff_ns.into()],
        ))
        .await?
        .into_iter()
        .map(|(id,)| id)
        .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    let chosen = placeholder_list(backend, 1, ids.len());
    let values: Vec<Value> = ids.iter().map(|id| Value::from(*id)).collect();
    let statement = |sql: String| Statement::from_sql_and_values(backend, sql, values.clone());
    if backend != DatabaseBackend::Postgres {
        txn.execute_statement(statement(format!(
            "DELETE FROM span_search WHERE rowid IN ({chosen})"
        )))
        .await?;
    }
    let shares = prompt_shares(txn, &ids).await?;
    let spans = txn
        .execute_statement(statement(format!("DELETE FROM spans WHERE id IN ({chosen})")))
        .await?
        .rows_affected;
    subtract_from_prompts(txn, org_id, &shares).await?;
    Ok(spans)
}

/// Deletes up to `limit` of the organization's traces that ended before
/// `cutoff_ns` (their spans all started before it); returns how many went.
pub async fn delete_traces_before(
    txn: &impl WriteTransaction,
    org_id: Uuid,
    cutoff_ns: i64,
    limit: u64,
) -> Result<u64, DbErr> {
    let backend = txn.backend();
    let (org, org_again, cutoff, cutoff_again) = (
        placeholder(backend, 1),
        placeholder(backend, 2),
        placeholder(backend, 3),
        placeholder(backend, 4),
    );
    let values: [Value; 4] = [org_id.into(), org_id.into(), cutoff_ns.into(), cutoff_ns.into()];
    Ok(txn
        .execute_statement(Statement::from_sql_and_values(
            backend,
            format!(
                "DELETE FROM traces WHERE org_id = {org} AND trace_id IN (SELECT trace_id FROM traces \
                 WHERE org_id = {org_again} AND start_time_ns < {cutoff} AND end_time_ns < {cutoff_again} LIMIT {limit})"
            ),
            values,
        ))
        .await?
        .rows_affected)
}
