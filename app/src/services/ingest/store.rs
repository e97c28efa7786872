//! Writing spans: one transaction per batch, multi-row inserts, duplicates
//! skipped by the unique (organization, trace, span) key, large text into
//! `span_contents`, and the per-trace rollup upserted from the new spans.

use std::collections::HashMap;

use chrono::Utc;
use entity::{span, span_content, trace};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryTrait, TransactionTrait,
    sea_query::{Expr, OnConflict, Query},
};
use serde_json::json;
use uuid::Uuid;

use super::{
    pricing::SpanCost,
    record::{SpanRecord, StatusCode},
};

/// The spans of one export request, for one organization.
pub struct SpanBatch {
    pub org_id: Uuid,
    pub spans: Vec<SpanRecord>,
}

fn details_json(record: &SpanRecord) -> String {
    json!({
        "resource": record.resource_attributes,
        "scope": record.scope,
        "attributes": record.attributes,
        "events": record.events,
        "links": record.links,
        "parameters": record.llm.parameters,
        "finish_reasons": record.llm.finish_reasons,
        "response_id": record.llm.response_id,
        "request_model": record.llm.request_model,
        "client_cost_usd": record.llm.client_cost_usd,
        "cost": record.cost,
        "policy": record.policy,
    })
    .to_string()
}

fn span_row(org_id: Uuid, record: &SpanRecord, ingested_at_ns: i64) -> span::ActiveModel {
    let llm = &record.llm;
    span::ActiveModel {
        id: NotSet,
        org_id: Set(org_id),
        trace_id: Set(record.trace_id.clone()),
        span_id: Set(record.span_id.clone()),
        parent_span_id: Set(record.parent_span_id.clone()),
        name: Set(record.name.clone()),
        span_kind: Set(record.kind.as_str().to_owned()),
        llm_kind: Set(llm.kind.as_str().to_owned()),
        service_name: Set(record.service_name.clone()),
        start_time_ns: Set(record.start_time_ns),
        end_time_ns: Set(record.end_time_ns),
        duration_ns: Set(record.duration_ns()),
        status_code: Set(record.status_code.as_str().to_owned()),
        status_message: Set(record.status_message.clone()),
        operation: Set(llm.operation.clone()),
        provider: Set(llm.provider.clone()),
        model: Set(llm.model.clone()),
        input_tokens: Set(llm.tokens.input),
        output_tokens: Set(llm.tokens.output),
        cache_read_tokens: Set(llm.tokens.cache_read),
        cache_write_tokens: Set(llm.tokens.cache_write),
        reasoning_tokens: Set(llm.tokens.reasoning),
        tool_name: Set(llm.tool_name.clone()),
        tool_call_id: Set(llm.tool_call_id.clone()),
        session_id: Set(llm.session_id.clone()),
        end_user_id: Set(llm.end_user_id.clone()),
        cost_nanos: Set(record.cost.nanos()),
        unpriced: Set(record.cost == SpanCost::Unpriced),
        details: Set(details_json(record)),
        ingested_at_ns: Set(ingested_at_ns),
    }
}

fn content_row(span_row_id: i64, record: &SpanRecord) -> Option<span_content::ActiveModel> {
    let llm = &record.llm;
    let any = llm.prompt.is_some()
        || llm.completion.is_some()
        || llm.tool_arguments.is_some()
        || llm.tool_result.is_some()
        || llm.diff.is_some();
    any.then(|| span_content::ActiveModel {
        span_row_id: Set(span_row_id),
        prompt: Set(llm.prompt.clone()),
        completion: Set(llm.completion.clone()),
        tool_arguments: Set(llm.tool_arguments.clone()),
        tool_result: Set(llm.tool_result.clone()),
        diff: Set(llm.diff.clone()),
    })
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
    fn add(&mut self, record: &SpanRecord) {
        if self.span_count == 0 {
            self.start_time_ns = record.start_time_ns;
            self.end_time_ns = record.end_time_ns;
        }
        self.start_time_ns = self.start_time_ns.min(record.start_time_ns);
        self.end_time_ns = self.end_time_ns.max(record.end_time_ns);
        self.span_count += 1;
        self.error_count += i64::from(record.status_code == StatusCode::Error);
        self.input_tokens += record.llm.tokens.input.unwrap_or(0);
        self.output_tokens += record.llm.tokens.output.unwrap_or(0);
        self.cost_nanos = self.cost_nanos.saturating_add(record.cost.nanos().unwrap_or(0));
        self.unpriced_spans += i64::from(record.cost == SpanCost::Unpriced);
        if record.parent_span_id.is_none() {
            self.root_span_name = Some(record.name.clone());
            self.service_name = Some(record.service_name.clone());
        } else if self.service_name.is_none() {
            self.service_name = Some(record.service_name.clone());
        }
    }
}

async fn upsert_trace(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    trace_id: &str,
    delta: TraceDelta,
) -> Result<(), DbErr> {
    let row = trace::ActiveModel {
        org_id: Set(org_id),
        trace_id: Set(trace_id.to_owned()),
        root_span_name: Set(delta.root_span_name),
        service_name: Set(delta.service_name.unwrap_or_default()),
        start_time_ns: Set(delta.start_time_ns),
        end_time_ns: Set(delta.end_time_ns),
        span_count: Set(delta.span_count),
        error_count: Set(delta.error_count),
        input_tokens: Set(delta.input_tokens),
        output_tokens: Set(delta.output_tokens),
        cost_nanos: Set(delta.cost_nanos),
        unpriced_spans: Set(delta.unpriced_spans),
    };
    // Portable SQL (SQLite and PostgreSQL both name the proposed row `excluded`).
    let merge = OnConflict::columns([trace::Column::OrgId, trace::Column::TraceId])
        .values([
            (
                trace::Column::RootSpanName,
                Expr::cust("COALESCE(traces.root_span_name, excluded.root_span_name)"),
            ),
            (
                trace::Column::ServiceName,
                Expr::cust(
                    "CASE WHEN traces.root_span_name IS NULL AND excluded.root_span_name IS NOT NULL \
                     THEN excluded.service_name ELSE traces.service_name END",
                ),
            ),
            (
                trace::Column::StartTimeNs,
                Expr::cust(
                    "CASE WHEN excluded.start_time_ns < traces.start_time_ns \
                     THEN excluded.start_time_ns ELSE traces.start_time_ns END",
                ),
            ),
            (
                trace::Column::EndTimeNs,
                Expr::cust(
                    "CASE WHEN excluded.end_time_ns > traces.end_time_ns \
                     THEN excluded.end_time_ns ELSE traces.end_time_ns END",
                ),
            ),
            (
                trace::Column::SpanCount,
                Expr::cust("traces.span_count + excluded.span_count"),
            ),
            (
                trace::Column::ErrorCount,
                Expr::cust("traces.error_count + excluded.error_count"),
            ),
            (
                trace::Column::InputTokens,
                Expr::cust("traces.input_tokens + excluded.input_tokens"),
            ),
            (
                trace::Column::OutputTokens,
                Expr::cust("traces.output_tokens + excluded.output_tokens"),
            ),
        ])
        .to_owned();
    trace::Entity::insert(row)
        .on_conflict(merge)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Spans per multi-row INSERT: 200 × 31 columns stays far below either
/// database's limit on bound parameters.
const SPAN_CHUNK: usize = 200;
const CONTENT_CHUNK: usize = 500;

/// Stores the batches in one transaction; returns, per batch, how many of its
/// spans were new (the rest were already stored: a retried export).
///
/// Spans go in as multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING`, so
/// the database says which rows were new (SQLite ≥ 3.35 and PostgreSQL both
/// support RETURNING); only those get their text rows and count in rollups.
pub async fn store_batches(db: &DatabaseConnection, batches: &[SpanBatch]) -> Result<Vec<u64>, DbErr> {
    let ingested_at_ns = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    let mut stored = Vec::with_capacity(batches.len());
    let mut traces: HashMap<(Uuid, &str), TraceDelta> = HashMap::new();
    let mut contents = Vec::new();
    for batch in batches {
        let mut new_spans = 0;
        for chunk in batch.spans.chunks(SPAN_CHUNK) {
            let identity =
                OnConflict::columns([span::Column::OrgId, span::Column::TraceId, span::Column::SpanId])
                    .do_nothing()
                    .to_owned();
            let mut insert = span::Entity::insert_many(
                chunk
                    .iter()
                    .map(|record| span_row(batch.org_id, record, ingested_at_ns)),
            )
            .on_conflict(identity)
            .into_query();
            insert.returning(Query::returning().columns([
                span::Column::Id,
                span::Column::TraceId,
                span::Column::SpanId,
            ]));
            let inserted = txn.query_all_raw(backend.build(&insert)).await?;
            let mut by_identity: HashMap<(String, String), &SpanRecord> = chunk
                .iter()
                .map(|record| ((record.trace_id.clone(), record.span_id.clone()), record))
                .collect();
            for row in inserted {
                let row_id: i64 = row.try_get("", "id")?;
                let trace_id: String = row.try_get("", "trace_id")?;
                let span_id: String = row.try_get("", "span_id")?;
                let Some(record) = by_identity.remove(&(trace_id, span_id)) else {
                    continue;
                };
                contents.extend(content_row(row_id, record));
                traces
                    .entry((batch.org_id, record.trace_id.as_str()))
                    .or_default()
                    .add(record);
                new_spans += 1;
            }
        }
        stored.push(new_spans);
    }
    let mut contents = contents.into_iter().peekable();
    while contents.peek().is_some() {
        let chunk: Vec<_> = contents.by_ref().take(CONTENT_CHUNK).collect();
        span_content::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    for ((org_id, trace_id), delta) in traces {
        upsert_trace(&txn, org_id, trace_id, delta).await?;
    }
    txn.commit().await?;
    Ok(stored)
}
