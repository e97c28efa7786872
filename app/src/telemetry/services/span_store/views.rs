//! The one mapping from a stored span to what the API shows: its summary
//! (columns only, for lists) and its full view (the payload decoded and its
//! LLM text derived again).

use entity::span;
use sea_orm::DerivePartialModel;
use serde_json::json;

use crate::{
    error::{AppError, Result},
    telemetry::{
        services::span::{cost::SpanCost, genai, payload},
        types::{SpanSummary, SpanTokens, SpanView},
    },
};

/// A span row without its payload, which is the bulk of a row and which a
/// list never shows.
#[derive(DerivePartialModel)]
#[sea_orm(entity = "span::Entity")]
pub(super) struct SpanListRow {
    pub(super) id: i64,
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    name: String,
    span_kind: String,
    llm_kind: String,
    service_name: String,
    pub(super) start_time_ns: i64,
    duration_ns: i64,
    status_code: String,
    operation: Option<String>,
    provider: Option<String>,
    model: Option<String>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cache_read_tokens: Option<i64>,
    cache_write_tokens: Option<i64>,
    reasoning_tokens: Option<i64>,
    tool_name: Option<String>,
    session_id: Option<String>,
    end_user_id: Option<String>,
    cost_nanos: Option<i64>,
    unpriced: bool,
}

impl From<SpanListRow> for SpanSummary {
    fn from(row: SpanListRow) -> Self {
        SpanSummary {
            trace_id: row.trace_id,
            span_id: row.span_id,
            parent_span_id: row.parent_span_id,
            name: row.name,
            llm_kind: row.llm_kind,
            span_kind: row.span_kind,
            service_name: row.service_name,
            start_time_ns: row.start_time_ns,
            duration_ns: row.duration_ns,
            status_code: row.status_code,
            operation: row.operation,
            provider: row.provider,
            model: row.model,
            tool_name: row.tool_name,
            tokens: SpanTokens {
                input: row.input_tokens,
                output: row.output_tokens,
                cache_read: row.cache_read_tokens,
                cache_write: row.cache_write_tokens,
                reasoning: row.reasoning_tokens,
            },
            cost_nanos: row.cost_nanos,
            unpriced: row.unpriced,
            session_id: row.session_id,
            end_user_id: row.end_user_id,
            flagged: false,
        }
    }
}

impl From<span::Model> for SpanSummary {
    fn from(row: span::Model) -> Self {
        SpanListRow {
            id: row.id,
            trace_id: row.trace_id,
            span_id: row.span_id,
            parent_span_id: row.parent_span_id,
            name: row.name,
            span_kind: row.span_kind,
            llm_kind: row.llm_kind,
            service_name: row.service_name,
            start_time_ns: row.start_time_ns,
            duration_ns: row.duration_ns,
            status_code: row.status_code,
            operation: row.operation,
            provider: row.provider,
            model: row.model,
            input_tokens: row.input_tokens,
            output_tokens: row.output_tokens,
            cache_read_tokens: row.cache_read_tokens,
            cache_write_tokens: row.cache_write_tokens,
            reasoning_tokens: row.reasoning_tokens,
            tool_name: row.tool_name,
            session_id: row.session_id,
            end_user_id: row.end_user_id,
            cost_nanos: row.cost_nanos,
            unpriced: row.unpriced,
        }
        .into()
    }
}

/// What a span costs now. The columns are the truth: a recompute may have
/// re-priced the span since ingest wrote its payload, which still says which
/// price matched then.
fn current_cost(
    at_ingest: SpanCost,
    cost_nanos: Option<i64>,
    unpriced: bool,
    model: Option<&str>,
) -> SpanCost {
    match (cost_nanos, at_ingest) {
        (Some(nanos), SpanCost::Priced { model, .. }) => SpanCost::Priced { nanos, model },
        (Some(nanos), _) => SpanCost::Priced {
            nanos,
            model: model.unwrap_or_default().to_owned(),
        },
        (None, _) if unpriced => SpanCost::Unpriced,
        (None, _) => SpanCost::NotApplicable,
    }
}

/// A stored span as the API shows it: its columns, the text derived again
/// from its attributes and events, and everything else it carried.
pub(super) fn span_view(mut row: span::Model) -> Result<SpanView> {
    let stored = payload::decode(&row.payload).map_err(|err| AppError::Internal(err.to_string()))?;
    let llm = genai::derive(&row.name, &stored.attributes, &stored.events);
    let content = stored.content.unwrap_or(payload::StoredContent {
        prompt: llm.prompt,
        completion: llm.completion,
        tool_arguments: llm.tool_arguments,
        tool_result: llm.tool_result,
        diff: llm.diff,
    });
    let details = json!({
        "resource": stored.resource,
        "scope": stored.scope,
        "attributes": stored.attributes,
        "events": stored.events,
        "links": stored.links,
        "parameters": llm.parameters,
        "finish_reasons": llm.finish_reasons,
        "response_id": llm.response_id,
        "request_model": llm.request_model,
        "client_cost_usd": llm.client_cost_usd,
        "cost": current_cost(stored.cost, row.cost_nanos, row.unpriced, row.model.as_deref()),
        "policy": stored.policy,
    });
    Ok(SpanView {
        details,
        end_time_ns: row.end_time_ns,
        status_message: row.status_message.take(),
        tool_call_id: row.tool_call_id.take(),
        prompt: content.prompt,
        completion: content.completion,
        tool_arguments: content.tool_arguments,
        tool_result: content.tool_result,
        diff: content.diff,
        summary: SpanSummary::from(row),
    })
}
