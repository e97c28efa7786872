//! Reading traces back, always within one organization.

use entity::{span, span_content, trace};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::{
    error::{AppError, Result},
    telemetry::{SpanTokens, SpanView, TraceDetail, TraceSummary},
};

/// True for 32 lower- or upper-case hex digits.
pub fn is_trace_id(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|byte| byte.is_ascii_hexdigit())
}

fn span_view(row: span::Model, content: Option<span_content::Model>) -> SpanView {
    let content = content.unwrap_or(span_content::Model {
        span_row_id: row.id,
        prompt: None,
        completion: None,
        tool_arguments: None,
        tool_result: None,
        diff: None,
    });
    SpanView {
        details: serde_json::from_str(&row.details).unwrap_or_default(),
        trace_id: row.trace_id,
        span_id: row.span_id,
        parent_span_id: row.parent_span_id,
        name: row.name,
        span_kind: row.span_kind,
        llm_kind: row.llm_kind,
        service_name: row.service_name,
        start_time_ns: row.start_time_ns,
        end_time_ns: row.end_time_ns,
        duration_ns: row.duration_ns,
        status_code: row.status_code,
        status_message: row.status_message,
        operation: row.operation,
        provider: row.provider,
        model: row.model,
        tokens: SpanTokens {
            input: row.input_tokens,
            output: row.output_tokens,
            cache_read: row.cache_read_tokens,
            cache_write: row.cache_write_tokens,
            reasoning: row.reasoning_tokens,
        },
        tool_name: row.tool_name,
        tool_call_id: row.tool_call_id,
        session_id: row.session_id,
        end_user_id: row.end_user_id,
        cost_nanos: row.cost_nanos,
        unpriced: row.unpriced,
        prompt: content.prompt,
        completion: content.completion,
        tool_arguments: content.tool_arguments,
        tool_result: content.tool_result,
        diff: content.diff,
    }
}

/// The trace `trace_id` of `org_id` with all its spans; 404 when the
/// organization has no such trace (whether or not another one does).
pub async fn get_trace(db: &DatabaseConnection, org_id: Uuid, trace_id: &str) -> Result<TraceDetail> {
    if !is_trace_id(trace_id) {
        return Err(AppError::BadRequest("a trace id is 32 hex digits".to_owned()));
    }
    let trace_id = trace_id.to_ascii_lowercase();
    let rollup = trace::Entity::find_by_id((org_id, trace_id.clone()))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("trace"))?;
    let rows = span::Entity::find()
        .filter(span::Column::OrgId.eq(org_id))
        .filter(span::Column::TraceId.eq(&trace_id))
        .order_by_asc(span::Column::StartTimeNs)
        .order_by_asc(span::Column::Id)
        .all(db)
        .await?;
    let mut contents = span_content::Entity::find()
        .filter(span_content::Column::SpanRowId.is_in(rows.iter().map(|row| row.id)))
        .all(db)
        .await?;
    let mut models: Vec<String> = rows.iter().filter_map(|row| row.model.clone()).collect();
    models.sort();
    models.dedup();
    let spans = rows
        .into_iter()
        .map(|row| {
            let content = contents
                .iter()
                .position(|content| content.span_row_id == row.id)
                .map(|index| contents.swap_remove(index));
            span_view(row, content)
        })
        .collect();
    Ok(TraceDetail {
        trace: TraceSummary {
            duration_ns: rollup.end_time_ns.saturating_sub(rollup.start_time_ns),
            trace_id: rollup.trace_id,
            root_span_name: rollup.root_span_name,
            service_name: rollup.service_name,
            start_time_ns: rollup.start_time_ns,
            end_time_ns: rollup.end_time_ns,
            span_count: rollup.span_count,
            error_count: rollup.error_count,
            input_tokens: rollup.input_tokens,
            output_tokens: rollup.output_tokens,
            cost_nanos: rollup.cost_nanos,
            unpriced_spans: rollup.unpriced_spans,
            models,
        },
        spans,
    })
}

/// When the organization's most recent span was stored, in Unix nanoseconds.
pub async fn last_ingested_at(db: &DatabaseConnection, org_id: Uuid) -> Result<Option<i64>> {
    let latest = span::Entity::find()
        .filter(span::Column::OrgId.eq(org_id))
        .order_by_desc(span::Column::IngestedAtNs)
        .one(db)
        .await?;
    Ok(latest.map(|row| row.ingested_at_ns))
}
