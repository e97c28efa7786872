//! The spans' side of prompt similarity: what the similarity worker reads
//! (every span after a row id, so that it can tell a gap from a span it
//! skips, with the prompt of the request spans whose content was captured
//! in full), and keeping the distinct prompts' figures true when spans are
//! deleted.

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement, Value};
use uuid::Uuid;

use crate::{
    error::Result,
    platform::services::transaction::{WriteTransaction, placeholder, placeholder_list},
    telemetry::services::span::{genai, marks::ContentCapture, payload},
};

/// A span as the similarity worker sees it.
#[derive(Debug)]
pub struct PromptSource {
    pub row_id: i64,
    pub org_id: Uuid,
    pub trace_id: String,
    pub span_id: String,
    pub start_time_ns: i64,
    pub service_name: String,
    /// The end user, or else the session, the span names.
    pub end_user: Option<String>,
    pub cost_nanos: i64,
    /// The name and payload of a request span (other kinds carry none).
    request: Option<(String, Vec<u8>)>,
}

impl PromptSource {
    /// The prompt as stored, when the span is a request whose content was
    /// kept in full (hashed or dropped content is nothing to compare).
    /// Decompresses and parses the payload: call it off the async threads.
    pub fn prompt(&self) -> Option<String> {
        let (name, bytes) = self.request.as_ref()?;
        let stored = match payload::decode(bytes) {
            Ok(stored) => stored,
            Err(err) => {
                tracing::warn!(row_id = self.row_id, %err, "span payload unreadable; prompt not compared");
                return None;
            }
        };
        if stored.policy.capture != ContentCapture::Full {
            return None;
        }
        if let Some(content) = stored.content {
            return content.prompt;
        }
        genai::derive(name, &stored.attributes, &stored.events).prompt
    }
}

/// Up to `limit` spans with a row id above `after`, in id order.
pub async fn prompt_sources_after(
    db: &DatabaseConnection,
    after: i64,
    limit: u64,
) -> Result<Vec<PromptSource>> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT id, org_id, trace_id, span_id, start_time_ns, service_name, \
         COALESCE(end_user_id, session_id) AS end_user, COALESCE(cost_nanos, 0) AS cost_nanos, name, \
         CASE WHEN llm_kind = 'request' THEN payload END AS payload \
         FROM spans WHERE id > {} ORDER BY id LIMIT {}",
        placeholder(backend, 1),
        placeholder(backend, 2),
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [after.into(), (limit as i64).into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let payload: Option<Vec<u8>> = row.try_get("", "payload")?;
            let name: String = row.try_get("", "name")?;
            Ok(PromptSource {
                row_id: row.try_get("", "id")?,
                org_id: row.try_get("", "org_id")?,
                trace_id: row.try_get("", "trace_id")?,
                span_id: row.try_get("", "span_id")?,
                start_time_ns: row.try_get("", "start_time_ns")?,
                service_name: row.try_get("", "service_name")?,
                end_user: row.try_get("", "end_user")?,
                cost_nanos: row.try_get("", "cost_nanos")?,
                request: payload.map(|payload| (name, payload)),
            })
        })
        .collect()
}

/// How long a deleted prompt stays in `deleted_prompts` for the replicas'
/// indexes to forget it (a replica down longer reloads its index).
const DELETIONS_KEPT_NS: i64 = 3_600 * 1_000_000_000;

/// The summed cost of the spans `s`, as a 64-bit integer on both engines.
fn cost_sum(backend: DatabaseBackend) -> &'static str {
    match backend {
        DatabaseBackend::Postgres => "CAST(COALESCE(SUM(COALESCE(s.cost_nanos, 0)), 0) AS BIGINT)",
        _ => "COALESCE(SUM(COALESCE(s.cost_nanos, 0)), 0)",
    }
}

/// Of `row_ids`, the spans still stored. The similarity worker reads its
/// batch before its write transaction; a removal committed in between took
/// some of those spans away, and recording them would count prompts twice
/// and point `prompt_spans` at nothing.
pub async fn spans_still_stored(
    db: &impl ConnectionTrait,
    row_ids: &[i64],
) -> Result<std::collections::HashSet<i64>> {
    let backend = db.get_database_backend();
    let mut stored = std::collections::HashSet::with_capacity(row_ids.len());
    for chunk in row_ids.chunks(500) {
        let values: Vec<Value> = chunk.iter().map(|id| Value::from(*id)).collect();
        let sql = format!(
            "SELECT id FROM spans WHERE id IN ({})",
            placeholder_list(backend, 1, chunk.len())
        );
        for row in db
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?
        {
            stored.insert(row.try_get::<i64>("", "id")?);
        }
    }
    Ok(stored)
}

/// Makes a removal wait for the similarity worker's batch in flight, and
/// the worker's next batch wait for the removal: both lock the worker's
/// cursor row first (the worker by moving it), so on PostgreSQL they take
/// their locks in one order and cannot deadlock (a removal locks spans and
/// then prompts; a batch prompts and then, through its foreign keys, spans).
/// SQLite runs one write transaction at a time and needs nothing.
pub(super) async fn hold_prompt_recording(txn: &impl WriteTransaction) -> Result<(), DbErr> {
    if txn.backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    txn.query_rows::<(i64,)>(Statement::from_string(
        DatabaseBackend::Postgres,
        "SELECT position FROM similarity_worker WHERE name = 'prompts' FOR UPDATE",
    ))
    .await?;
    Ok(())
}

/// Counts `prompt_ids` of `org_id` again from their remaining spans (count,
/// cost, first and last seen, example) and deletes those left without any,
/// recording them in `deleted_prompts` for every replica's index. Returns
/// how many were deleted.
pub(super) async fn recount_prompts(
    txn: &impl WriteTransaction,
    org_id: Uuid,
    prompt_ids: &[i64],
) -> Result<u64, DbErr> {
    let backend = txn.backend();
    let mut deleted = 0;
    for chunk in prompt_ids.chunks(500) {
        let mut values: Vec<Value> = vec![org_id.into()];
        values.extend(chunk.iter().map(|id| Value::from(*id)));
        let chosen = format!(
            "org_id = {} AND id IN ({})",
            placeholder(backend, 1),
            placeholder_list(backend, 2, chunk.len())
        );
        let sum = cost_sum(backend);
        let spans_of = "FROM prompt_spans ps WHERE ps.prompt_id = prompts.id";
        let earliest = "FROM prompt_spans ps JOIN spans s ON s.id = ps.span_row_id \
                        WHERE ps.prompt_id = prompts.id ORDER BY ps.start_time_ns, ps.span_row_id LIMIT 1";
        let update = format!(
            "UPDATE prompts SET \
             span_count = (SELECT COUNT(*) {spans_of}), \
             cost_nanos = (SELECT {sum} FROM prompt_spans ps JOIN spans s ON s.id = ps.span_row_id \
                           WHERE ps.prompt_id = prompts.id), \
             first_seen_ns = COALESCE((SELECT MIN(ps.start_time_ns) {spans_of}), first_seen_ns), \
             last_seen_ns = COALESCE((SELECT MAX(ps.start_time_ns) {spans_of}), last_seen_ns), \
             example_trace_id = COALESCE((SELECT s.trace_id {earliest}), example_trace_id), \
             example_span_id = COALESCE((SELECT s.span_id {earliest}), example_span_id) \
             WHERE {chosen}"
        );
        txn.execute_statement(Statement::from_sql_and_values(backend, update, values))
            .await?;
        deleted += forget_empty_prompts(txn, org_id, chunk).await?;
    }
    Ok(deleted)
}

/// What the spans about to be deleted gave each prompt: `(prompt id, spans, cost)`.
pub(super) async fn prompt_shares(
    txn: &impl WriteTransaction,
    span_ids: &[i64],
) -> Result<Vec<(i64, i64, i64)>, DbErr> {
    let backend = txn.backend();
    let sum = cost_sum(backend);
    let mut shares = Vec::new();
    for chunk in span_ids.chunks(2_000) {
        let values: Vec<Value> = chunk.iter().map(|id| Value::from(*id)).collect();
        shares.extend(
            txn.query_rows::<(i64, i64, i64)>(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT ps.prompt_id, COUNT(*), {sum} FROM prompt_spans ps JOIN spans s ON s.id = ps.span_row_id \
                     WHERE ps.span_row_id IN ({}) GROUP BY ps.prompt_id",
                    placeholder_list(backend, 1, chunk.len())
                ),
                values,
            ))
            .await?,
        );
    }
    Ok(shares)
}

/// Takes `shares` (from [`prompt_shares`], read before their spans were
/// deleted) off their prompts' figures and reads first and last sight and
/// the example from the spans left, on the (prompt, time) index: a cost
/// that does not grow with a prompt's span count, where [`recount_prompts`]
/// counts every span again. Deletes prompts left without spans.
pub(super) async fn subtract_from_prompts(
    txn: &impl WriteTransaction,
    org_id: Uuid,
    shares: &[(i64, i64, i64)],
) -> Result<u64, DbErr> {
    let backend = txn.backend();
    let spans_of = "FROM prompt_spans ps WHERE ps.prompt_id = prompts.id";
    let earliest = "FROM prompt_spans ps JOIN spans s ON s.id = ps.span_row_id \
                    WHERE ps.prompt_id = prompts.id ORDER BY ps.start_time_ns, ps.span_row_id LIMIT 1";
    let update = format!(
        "UPDATE prompts SET \
         span_count = span_count - {count}, \
         cost_nanos = cost_nanos - {cost}, \
         first_seen_ns = COALESCE((SELECT MIN(ps.start_time_ns) {spans_of}), first_seen_ns), \
         last_seen_ns = COALESCE((SELECT MAX(ps.start_time_ns) {spans_of}), last_seen_ns), \
         example_trace_id = COALESCE((SELECT s.trace_id {earliest}), example_trace_id), \
         example_span_id = COALESCE((SELECT s.span_id {earliest}), example_span_id) \
         WHERE org_id = {org} AND id = {id}",
        count = placeholder(backend, 1),
        cost = placeholder(backend, 2),
        org = placeholder(backend, 3),
        id = placeholder(backend, 4),
    );
    for (prompt_id, count, cost) in shares {
        let values: [Value; 4] = [
            (*count).into(),
            (*cost).into(),
            org_id.into(),
            (*prompt_id).into(),
        ];
        txn.execute_statement(Statement::from_sql_and_values(backend, update.clone(), values))
            .await?;
    }
    let ids: Vec<i64> = shares.iter().map(|(id, _, _)| *id).collect();
    let mut deleted = 0;
    for chunk in ids.chunks(500) {
        deleted += forget_empty_prompts(txn, org_id, chunk).await?;
    }
    Ok(deleted)
}

/// Deletes the prompts of `prompt_ids` left without spans, recording them
/// in `deleted_prompts` for every replica's index; how many went.
async fn forget_empty_prompts(
    txn: &impl WriteTransaction,
    org_id: Uuid,
    prompt_ids: &[i64],
) -> Result<u64, DbErr> {
    let backend = txn.backend();
    let mut values: Vec<Value> = vec![org_id.into()];
    values.extend(prompt_ids.iter().map(|id| Value::from(*id)));
    let chosen = format!(
        "org_id = {} AND id IN ({}) AND span_count <= 0",
        placeholder(backend, 1),
        placeholder_list(backend, 2, prompt_ids.len())
    );
    let now = crate::platform::services::now_ns();
    txn.execute_statement(Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO deleted_prompts (org_id, prompt_id, deleted_at_ns) \
             SELECT org_id, id, {now} FROM prompts WHERE {chosen}"
        ),
        values.clone(),
    ))
    .await?;
    txn.execute_statement(Statement::from_string(
        backend,
        format!(
            "DELETE FROM deleted_prompts WHERE deleted_at_ns < {}",
            now - DELETIONS_KEPT_NS
        ),
    ))
    .await?;
    Ok(txn
        .execute_statement(Statement::from_sql_and_values(
            backend,
            format!("DELETE FROM prompts WHERE {chosen}"),
            values,
        ))
        .await?
        .rows_affected)
}

/// Sets `flagged` on the spans whose row ids the similarity checks flagged
/// (`ids[i]` is `spans[i]`'s row): one indexed lookup per 500 spans.
pub(super) async fn mark_flagged<'a>(
    db: &impl ConnectionTrait,
    ids: &[i64],
    spans: impl IntoIterator<Item = &'a mut crate::telemetry::types::SpanSummary>,
) -> Result<()> {
    let backend = db.get_database_backend();
    let mut flagged = std::collections::HashSet::new();
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT span_row_id FROM prompt_spans WHERE flagged AND span_row_id IN ({})",
            placeholder_list(backend, 1, chunk.len())
        );
        let values: Vec<Value> = chunk.iter().map(|id| Value::from(*id)).collect();
        for row in db
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?
        {
            flagged.insert(row.try_get::<i64>("", "span_row_id")?);
        }
    }
    if flagged.is_empty() {
        return Ok(());
    }
    for (id, span) in ids.iter().zip(spans) {
        span.flagged = flagged.contains(id);
    }
    Ok(())
}
