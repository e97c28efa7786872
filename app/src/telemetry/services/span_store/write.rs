//! Writing spans: multi-row inserts inside the commit's transaction,
//! duplicates skipped by the unique (organization, trace, span) key, the
//! per-trace rollups upserted from the new spans in one statement, and the
//! new spans' words added to the search index.

use std::collections::HashMap;

use sea_orm::{DatabaseBackend, DbErr, Statement, Value};
use uuid::Uuid;

use crate::{
    platform::services::transaction::{WriteTransaction, value_groups},
    telemetry::services::{
        span::record::StatusCode,
        span_store::{
            row::{SPAN_COLUMNS, SpanBatch, SpanRow},
            search,
        },
    },
};

/// A span the commit stored: its request (batch), organization, token and row.
#[derive(Clone, Copy)]
pub struct StoredSpan<'a> {
    /// Which request (batch) it came in.
    pub batch: usize,
    pub org_id: Uuid,
    pub token_id: Option<Uuid>,
    pub row: &'a SpanRow,
}

/// Writes the spans of `batches` that are not stored yet, their traces'
/// rollups and their search words; returns the new ones (the others were
/// stored before: a retried export). `is_usage` says which rows record the
/// usage rollup they are added to, so that a recompute can correct it.
pub async fn write_spans<'a>(
    txn: &impl WriteTransaction,
    batches: &'a [SpanBatch],
    ingested_at_ns: i64,
    is_usage: impl Fn(&SpanRow) -> bool,
) -> Result<Vec<StoredSpan<'a>>, DbErr> {
    let mut traces: HashMap<(Uuid, &str), TraceDelta> = HashMap::new();
    let mut search_rows: Vec<(i64, &str)> = Vec::new();
    let mut stored = Vec::new();
    // Every request's spans in one list, so statements carry full chunks
    // whatever the requests' sizes.
    let all_rows: Vec<StoredSpan> = batches
        .iter()
        .enumerate()
        .flat_map(|(batch_index, batch)| {
            batch.rows.iter().map(move |row| StoredSpan {
                batch: batch_index,
                org_id: batch.org_id,
                token_id: batch.token_id,
                row,
            })
        })
        .collect();
    for chunk in all_rows.chunks(SPAN_CHUNK) {
        for (index, row_id) in insert_spans(txn, chunk, ingested_at_ns, &is_usage).await? {
            let span = chunk[index];
            search_rows.extend(span.row.search_text.as_deref().map(|text| (row_id, text)));
            traces
                .entry((span.org_id, span.row.trace_id.as_str()))
                .or_default()
                .add(span.row);
            stored.push(span);
        }
    }
    // In key order: two replicas' commits then lock shared rollups in the
    // same order and cannot deadlock on PostgreSQL.
    let mut traces: Vec<((Uuid, &str), TraceDelta)> = traces.into_iter().collect();
    traces.sort_unstable_by_key(|(key, _)| *key);
    upsert_traces(txn, traces).await?;
    search::index_for_search(txn, &search_rows).await?;
    Ok(stored)
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
    rows: &[StoredSpan<'_>],
    ingested_at_ns: i64,
    is_usage: impl Fn(&SpanRow) -> bool,
) -> Result<Vec<(usize, i64)>, DbErr> {
    let backend = txn.backend();
    let mut values = Vec::with_capacity(rows.len() * SPAN_COLUMNS.len());
    for pending in rows {
        pending.row.push_values(
            is_usage(pending.row),
            pending.org_id,
            pending.token_id,
            ingested_at_ns,
            &mut values,
        );
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
