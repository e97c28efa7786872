//! Writing spans: one transaction per batch, multi-row inserts, duplicates
//! skipped by the unique (organization, trace, span) key, and the per-trace
//! rollups upserted from the new spans in one statement.
//!
//! Rows are prepared ([`SpanRow`]) on the request's thread, payload
//! compression included, so the single writer only binds values and commits.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{DatabaseBackend, DatabaseConnection, DbErr, Statement, TransactionTrait, Value};
use uuid::Uuid;

use crate::telemetry::services::{
    ingest::{
        genai::TokenUsage,
        metrics::{self, PointBatch},
        payload,
        pricing::SpanCost,
        record::{SpanRecord, StatusCode},
        sqlite_connection::SqliteWriterConnection,
        transaction::WriteTransaction,
        usage::{self, UsageDeltas},
    },
    live, search,
};

/// A span ready for the database: its column values and its compressed payload.
#[derive(Clone, Debug)]
pub struct SpanRow {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub span_kind: &'static str,
    pub llm_kind: &'static str,
    pub service_name: String,
    pub start_time_ns: i64,
    pub end_time_ns: i64,
    pub status_code: StatusCode,
    pub status_message: Option<String>,
    pub operation: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub tokens: TokenUsage,
    pub tool_name: Option<String>,
    pub tool_call_id: Option<String>,
    pub session_id: Option<String>,
    pub end_user_id: Option<String>,
    /// `None` when not priced.
    pub cost_nanos: Option<i64>,
    pub unpriced: bool,
    pub payload: Vec<u8>,
    /// The words full-text search finds the span by
    /// ([`search::searchable_text`]); `None` for spans without text.
    pub search_text: Option<String>,
    /// The agent its usage is attributed to (see [`usage::attribute_agents`]).
    pub agent: Option<String>,
}

impl From<SpanRecord> for SpanRow {
    fn from(record: SpanRecord) -> Self {
        let payload = payload::encode(&record);
        let search_text = search::searchable_text(&record.llm);
        let llm = record.llm;
        SpanRow {
            span_kind: record.kind.as_str(),
            llm_kind: llm.kind.as_str(),
            start_time_ns: record.start_time_ns,
            end_time_ns: record.end_time_ns,
            status_code: record.status_code,
            cost_nanos: record.cost.nanos(),
            unpriced: record.cost == SpanCost::Unpriced,
            trace_id: record.trace_id,
            span_id: record.span_id,
            parent_span_id: record.parent_span_id,
            name: record.name,
            service_name: record.service_name,
            status_message: record.status_message,
            operation: llm.operation,
            provider: llm.provider,
            model: llm.model,
            tokens: llm.tokens,
            tool_name: llm.tool_name,
            tool_call_id: llm.tool_call_id,
            session_id: llm.session_id,
            end_user_id: llm.end_user_id,
            payload,
            search_text,
            agent: None,
        }
    }
}

/// The spans of one export request, for one organization.
pub struct SpanBatch {
    pub org_id: Uuid,
    /// The API token that sent them, if any (usage is rolled up per token).
    pub token_id: Option<Uuid>,
    pub rows: Vec<SpanRow>,
}

const SPAN_COLUMNS: &[&str] = &[
    "org_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "span_kind",
    "llm_kind",
    "service_name",
    "start_time_ns",
    "end_time_ns",
    "duration_ns",
    "status_code",
    "status_message",
    "operation",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "tool_name",
    "tool_call_id",
    "session_id",
    "end_user_id",
    "cost_nanos",
    "unpriced",
    "payload",
    "ingested_at_ns",
    "agent",
    "token_id",
];

/// A span of the commit being written, with what its request says of it.
#[derive(Clone, Copy)]
struct PendingRow<'a> {
    /// Which request (batch) it came in.
    batch: usize,
    org_id: Uuid,
    token_id: Option<Uuid>,
    row: &'a SpanRow,
}

impl SpanRow {
    fn push_values(
        &self,
        org_id: Uuid,
        token_id: Option<Uuid>,
        ingested_at_ns: i64,
        values: &mut Vec<Value>,
    ) {
        let tokens = self.tokens;
        // Usage spans record the rollup row they were added to, so that a
        // recompute can correct that row; other spans need not.
        let usage = usage::is_usage(self);
        values.extend([
            org_id.into(),
            self.trace_id.clone().into(),
            self.span_id.clone().into(),
            self.parent_span_id.clone().into(),
            self.name.clone().into(),
            self.span_kind.into(),
            self.llm_kind.into(),
            self.service_name.clone().into(),
            self.start_time_ns.into(),
            self.end_time_ns.into(),
            self.end_time_ns.saturating_sub(self.start_time_ns).into(),
            self.status_code.as_str().into(),
            self.status_message.clone().into(),
            self.operation.clone().into(),
            self.provider.clone().into(),
            self.model.clone().into(),
            tokens.input.into(),
            tokens.output.into(),
            tokens.cache_read.into(),
            tokens.cache_write.into(),
            tokens.reasoning.into(),
            self.tool_name.clone().into(),
            self.tool_call_id.clone().into(),
            self.session_id.clone().into(),
            self.end_user_id.clone().into(),
            self.cost_nanos.into(),
            self.unpriced.into(),
            self.payload.clone().into(),
            ingested_at_ns.into(),
            usage.then(|| self.agent.clone()).flatten().into(),
            usage.then_some(token_id).flatten().into(),
        ]);
    }
}

/// `(…), (…)` with `rows` groups of `columns` parameters in the backend's style.
pub(crate) fn value_groups(backend: DatabaseBackend, rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    let mut number = 0;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            number += 1;
            match backend {
                DatabaseBackend::Postgres => {
                    sql.push('$');
                    sql.push_str(&number.to_string());
                }
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

/// What the new spans of one trace add to its rollup.
#[derive(Default)]
struct TraceDelta {
    root_span_name: Option<String>,
    service_name: Option<String>,
    start_time_ns: i64,
    end_time_ns: i64,
    span_count: i64,
    error_count: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost_nanos: i64,
    unpriced_spans: i64,
}

impl TraceDelta {
    fn add(&mut self, row: &SpanRow) {
        if self.span_count == 0 {
            self.start_time_ns = row.start_time_ns;
            self.end_time_ns = row.end_time_ns;
        }
        self.start_time_ns = self.start_time_ns.min(row.start_time_ns);
        self.end_time_ns = self.end_time_ns.max(row.end_time_ns);
        self.span_count += 1;
        self.error_count += i64::from(row.status_code == StatusCode::Error);
        self.input_tokens += row.tokens.input.unwrap_or(0);
        self.output_tokens += row.tokens.output.unwrap_or(0);
        self.cost_nanos = self.cost_nanos.saturating_add(row.cost_nanos.unwrap_or(0));
        self.unpriced_spans += i64::from(row.unpriced);
        if row.parent_span_id.is_none() {
            self.root_span_name = Some(row.name.clone());
            self.service_name = Some(row.service_name.clone());
        } else if self.service_name.is_none() {
            self.service_name = Some(row.service_name.clone());
        }
    }

    fn push_values(&self, org_id: Uuid, trace_id: &str, values: &mut Vec<Value>) {
        values.extend([
            org_id.into(),
            trace_id.into(),
            self.root_span_name.clone().into(),
            self.service_name.clone().unwrap_or_default().into(),
            self.start_time_ns.into(),
            self.end_time_ns.into(),
            self.span_count.into(),
            self.error_count.into(),
            self.input_tokens.into(),
            self.output_tokens.into(),
            self.cost_nanos.into(),
            self.unpriced_spans.into(),
        ]);
    }
}

const TRACE_COLUMNS: usize = 12;

/// Merges the proposed rollups into existing ones. Portable SQL: SQLite and
/// PostgreSQL both name the proposed row `excluded`. Each trace appears once
/// per statement (PostgreSQL refuses to update a row twice in one).
const TRACE_UPSERT: &str = "ON CONFLICT (org_id, trace_id) DO UPDATE SET \
     root_span_name = COALESCE(traces.root_span_name, excluded.root_span_name), \
     service_name = CASE WHEN traces.root_span_name IS NULL AND excluded.root_span_name IS NOT NULL \
       THEN excluded.service_name ELSE traces.service_name END, \
     start_time_ns = CASE WHEN excluded.start_time_ns < traces.start_time_ns \
       THEN excluded.start_time_ns ELSE traces.start_time_ns END, \
     end_time_ns = CASE WHEN excluded.end_time_ns > traces.end_time_ns \
       THEN excluded.end_time_ns ELSE traces.end_time_ns END, \
     span_count = traces.span_count + excluded.span_count, \
     error_count = traces.error_count + excluded.error_count, \
     input_tokens = traces.input_tokens + excluded.input_tokens, \
     output_tokens = traces.output_tokens + excluded.output_tokens, \
     cost_nanos = traces.cost_nanos + excluded.cost_nanos, \
     unpriced_spans = traces.unpriced_spans + excluded.unpriced_spans";

/// Spans per multi-row INSERT. Statements of 500 rows were no faster within
/// the bench's noise but cost 40 MB more memory (each prepared statement
/// and its arguments are that much larger); 100 × 31 parameters stays far
/// below either database's limit on bound parameters.
const SPAN_CHUNK: usize = 100;
const TRACE_CHUNK: usize = 1000;

/// Inserts one chunk of spans; returns the indexes (into `rows`) and row
/// ids of the new ones (the others were stored before: a retried export).
async fn insert_spans(
    txn: &impl WriteTransaction,
    rows: &[PendingRow<'_>],
    ingested_at_ns: i64,
) -> Result<Vec<(usize, i64)>, DbErr> {
    let backend = txn.backend();
    let mut values = Vec::with_capacity(rows.len() * SPAN_COLUMNS.len());
    for pending in rows {
        pending
            .row
            .push_values(pending.org_id, pending.token_id, ingested_at_ns, &mut values);
    }
    let insert = format!(
        "INSERT INTO spans ({}) VALUES {} ON CONFLICT (org_id, trace_id, span_id) DO NOTHING",
        SPAN_COLUMNS.join(", "),
        value_groups(backend, rows.len(), SPAN_COLUMNS.len()),
    );
    let returned: Vec<(i64, String, String)> = match backend {
        // PostgreSQL says which rows were new in the same round trip.
        DatabaseBackend::Postgres => {
            txn.query_rows(Statement::from_sql_and_values(
                backend,
                format!("{insert} RETURNING id, trace_id, span_id"),
                values,
            ))
            .await?
        }
        // Reading RETURNING rows back cost a fifth of the insert on SQLite
        // (measured through sqlx). The new rows' ids are
        // consecutive instead (one writer, rows inserted in order), ending
        // at the last insert id: when every row is new (nearly always) that
        // says everything; otherwise the new rows are read back by id.
        _ => {
            let result = txn
                .execute_statement(Statement::from_sql_and_values(backend, insert, values))
                .await?;
            let inserted = result.rows_affected as usize;
            let last_id = result.last_insert_id;
            if inserted == rows.len() {
                let first_id = last_id - inserted as i64 + 1;
                return Ok((0..inserted)
                    .map(|index| (index, first_id + index as i64))
                    .collect());
            }
            if inserted == 0 {
                return Ok(Vec::new());
            }
            txn.query_rows(Statement::from_sql_and_values(
                backend,
                "SELECT id, trace_id, span_id FROM spans WHERE id > ? AND id <= ?",
                [(last_id - inserted as i64).into(), last_id.into()],
            ))
            .await?
        }
    };
    // Span ids alone nearly always tell the rows of one chunk apart.
    let mut by_span_id: HashMap<&str, Vec<usize>> = HashMap::with_capacity(rows.len());
    for (index, pending) in rows.iter().enumerate() {
        by_span_id
            .entry(pending.row.span_id.as_str())
            .or_default()
            .push(index);
    }
    let mut new_rows = Vec::with_capacity(returned.len());
    for (row_id, trace_id, span_id) in returned {
        if let Some(candidates) = by_span_id.get_mut(span_id.as_str())
            && let Some(position) = candidates
                .iter()
                .position(|&index| rows[index].row.trace_id == trace_id)
        {
            new_rows.push((candidates.swap_remove(position), row_id));
        }
    }
    Ok(new_rows)
}

async fn upsert_traces(
    txn: &impl WriteTransaction,
    deltas: Vec<((Uuid, &str), TraceDelta)>,
) -> Result<(), DbErr> {
    let backend = txn.backend();
    for chunk in deltas.chunks(TRACE_CHUNK) {
        let mut values = Vec::with_capacity(chunk.len() * TRACE_COLUMNS);
        for ((org_id, trace_id), delta) in chunk {
            delta.push_values(*org_id, trace_id, &mut values);
        }
        let count = chunk.len();
        let sql = format!(
            "INSERT INTO traces (org_id, trace_id, root_span_name, service_name, start_time_ns, \
             end_time_ns, span_count, error_count, input_tokens, output_tokens, cost_nanos, \
             unpriced_spans) VALUES {} {TRACE_UPSERT}",
            value_groups(backend, count, TRACE_COLUMNS),
        );
        txn.execute_statement(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// Rows per full-text index insert.
const SEARCH_CHUNK: usize = 1000;

/// Adds the new spans' text to the full-text index, in the same transaction.
pub(crate) async fn index_for_search(txn: &impl WriteTransaction, rows: &[(i64, &str)]) -> Result<(), DbErr> {
    let backend = txn.backend();
    for chunk in rows.chunks(SEARCH_CHUNK) {
        let mut values = Vec::with_capacity(chunk.len() * 2);
        for (row_id, text) in chunk {
            values.push(Value::from(*row_id));
            values.push(Value::from(*text));
        }
        let sql = match backend {
            DatabaseBackend::Postgres => {
                let groups: Vec<String> = (0..chunk.len())
                    .map(|row| format!("(${}, ${}::tsvector)", row * 2 + 1, row * 2 + 2))
                    .collect();
                // A span indexed twice (the backfill racing on another
                // replica) keeps its first entry.
                format!(
                    "INSERT INTO span_search (span_row_id, body) VALUES {} ON CONFLICT (span_row_id) DO NOTHING",
                    groups.join(", ")
                )
            }
            _ => format!(
                "INSERT INTO span_search (rowid, body) VALUES {}",
                value_groups(backend, chunk.len(), 2)
            ),
        };
        txn.execute_statement(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// What a commit maintains besides the spans themselves.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// Keep the usage rollups up to date (off only to measure their cost).
    pub usage_rollups: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { usage_rollups: true }
    }
}

/// The connection the ingest writer commits on.
#[derive(Debug)]
pub enum WriterConnection {
    /// A sea-orm pool (PostgreSQL: the server's pool, shared).
    Pooled(DatabaseConnection),
    /// SQLite: one connection of the writer's own, driven on its thread.
    Sqlite(SqliteWriterConnection),
}

/// Stores the span and metric-point batches in one transaction; returns,
/// per span batch, how many of its spans were new (the rest were already
/// stored: a retried export).
pub async fn store_batches(
    db: &WriterConnection,
    batches: &[SpanBatch],
    point_batches: &[PointBatch],
    options: StoreOptions,
) -> Result<Vec<u64>, DbErr> {
    match db {
        WriterConnection::Pooled(db) => {
            let txn = db.begin().await?;
            let stored = write_batches(&txn, batches, point_batches, options).await?;
            txn.commit().await?;
            Ok(stored)
        }
        WriterConnection::Sqlite(db) => {
            let txn = db.begin()?;
            let stored = write_batches(&txn, batches, point_batches, options).await?;
            txn.commit()?;
            Ok(stored)
        }
    }
}

/// The statements of [`store_batches`], inside its transaction.
async fn write_batches(
    txn: &impl WriteTransaction,
    batches: &[SpanBatch],
    point_batches: &[PointBatch],
    options: StoreOptions,
) -> Result<Vec<u64>, DbErr> {
    let ingested_at_ns = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let mut stored = vec![0; batches.len()];
    let mut traces: HashMap<(Uuid, &str), TraceDelta> = HashMap::new();
    let mut search_rows: Vec<(i64, &str)> = Vec::new();
    let mut usage = UsageDeltas::default();
    // Every request's spans in one list, so statements carry full chunks
    // whatever the requests' sizes.
    let all_rows: Vec<PendingRow> = batches
        .iter()
        .enumerate()
        .flat_map(|(batch_index, batch)| {
            batch.rows.iter().map(move |row| PendingRow {
                batch: batch_index,
                org_id: batch.org_id,
                token_id: batch.token_id,
                row,
            })
        })
        .collect();
    for chunk in all_rows.chunks(SPAN_CHUNK) {
        for (index, row_id) in insert_spans(txn, chunk, ingested_at_ns).await? {
            let PendingRow {
                batch: batch_index,
                org_id,
                token_id,
                row,
            } = chunk[index];
            if options.usage_rollups {
                usage.add(org_id, token_id, row);
            }
            search_rows.extend(row.search_text.as_deref().map(|text| (row_id, text)));
            traces
                .entry((org_id, row.trace_id.as_str()))
                .or_default()
                .add(row);
            stored[batch_index] += 1;
        }
    }
    let mut orgs_with_new_spans: Vec<Uuid> = traces.keys().map(|(org_id, _)| *org_id).collect();
    orgs_with_new_spans.sort_unstable();
    orgs_with_new_spans.dedup();
    upsert_traces(txn, traces.into_iter().collect()).await?;
    if !usage.is_empty() {
        usage::upsert(txn, usage.into_rows()).await?;
    }
    index_for_search(txn, &search_rows).await?;
    metrics::insert_points(txn, point_batches).await?;
    if txn.backend() == DatabaseBackend::Postgres {
        // Delivered to every replica's listener when (and only if) this commits.
        for org_id in &orgs_with_new_spans {
            txn.execute_statement(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [live::NOTIFY_CHANNEL.into(), org_id.to_string().into()],
            ))
            .await?;
        }
    }
    Ok(stored)
}
