//! Reading traces back, always within one organization.

use std::collections::HashMap;

use entity::{governance_event, span, trace};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    error::{AppError, Result},
    platform::services::rfc3339,
    telemetry::{
        services::{
            span::ids::{SpanId, TraceId},
            span_store::{prompts::mark_flagged, query, views::span_view},
        },
        types::{SpanView, TraceDetail, TracePage, TraceQuery, TraceSummary},
    },
};

/// The trace `trace_id` of `org_id` with all its spans; 404 when the
/// organization has no such trace (whether or not another one does).
pub async fn get_trace(db: &DatabaseConnection, org_id: Uuid, trace_id: &str) -> Result<TraceDetail> {
    let trace_id = TraceId::try_from(trace_id)
        .map_err(|_| AppError::BadRequest("a trace id is 32 hex digits".to_owned()))?
        .into_string();
    let rollup = trace::Entity::find_by_id((org_id, trace_id.clone()))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("trace"))?;
    // Sorted here, not in SQL: an ORDER BY start time tempts SQLite to walk
    // the organization's time index instead of the (org, trace) key, which
    // on a million spans took 300 ms instead of a few (BENCHMARKS.md).
    let mut rows = span::Entity::find()
        .filter(span::Column::OrgId.eq(org_id))
        .filter(span::Column::TraceId.eq(&trace_id))
        .all(db)
        .await?;
    rows.sort_by_key(|row| (row.start_time_ns, row.id));
    let mut models: Vec<String> = rows.iter().filter_map(|row| row.model.clone()).collect();
    models.sort();
    models.dedup();
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let mut spans: Vec<SpanView> = rows.into_iter().map(span_view).collect::<Result<_>>()?;
    mark_flagged(db, &ids, spans.iter_mut().map(|span| &mut span.summary)).await?;
    attach_decisions(db, org_id, &mut spans).await?;
    Ok(TraceDetail {
        trace: trace_summary(rollup, models),
        spans,
    })
}

/// The attribute a gateway puts on a model call's span to link it to the
/// evaluate API's decision.
pub const DECISION_ATTRIBUTE: &str = "specula.decision_id";

/// Puts the governance decision each span names with [`DECISION_ATTRIBUTE`]
/// into its details as `decision` (the answer, every reason, the policy
/// version). Decisions of other organizations are never found.
async fn attach_decisions(db: &DatabaseConnection, org_id: Uuid, spans: &mut [SpanView]) -> Result<()> {
    let named = |span: &SpanView| {
        span.details["attributes"][DECISION_ATTRIBUTE]
            .as_str()
            .and_then(|id| Uuid::parse_str(id.trim()).ok())
    };
    let ids: Vec<Uuid> = spans.iter().filter_map(named).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let decisions: HashMap<Uuid, governance_event::Model> = governance_event::Entity::find()
        .filter(governance_event::Column::OrgId.eq(org_id))
        .filter(governance_event::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|event| (event.id, event))
        .collect();
    for span in spans.iter_mut() {
        let Some(event) = named(span).and_then(|id| decisions.get(&id)) else {
            continue;
        };
        span.details["decision"] = json!({
            "id": event.id.to_string(),
            "action": event.action,
            "model": event.model,
            "routed_model": event.routed_model,
            "policy_version": event.policy_version,
            "reasons": serde_json::from_str::<Value>(&event.reasons).unwrap_or(Value::Null),
            "created_at": rfc3339(event.created_at_ns),
        });
    }
    Ok(())
}

fn trace_summary(rollup: trace::Model, models: Vec<String>) -> TraceSummary {
    TraceSummary {
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
    }
}

/// One span of one of `org_id`'s traces, with everything it carried.
pub async fn get_span(
    db: &DatabaseConnection,
    org_id: Uuid,
    trace_id: &str,
    span_id: &str,
) -> Result<SpanView> {
    let trace_id = TraceId::try_from(trace_id)
        .map_err(|_| AppError::BadRequest("a trace id is 32 hex digits".to_owned()))?;
    let span_id = SpanId::try_from(span_id)
        .map_err(|_| AppError::BadRequest("a span id is 16 hex digits".to_owned()))?;
    let row = span::Entity::find()
        .filter(span::Column::OrgId.eq(org_id))
        .filter(span::Column::TraceId.eq(trace_id.into_string()))
        .filter(span::Column::SpanId.eq(span_id.into_string()))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("span"))?;
    let id = row.id;
    let mut span = span_view(row)?;
    mark_flagged(db, &[id], [&mut span.summary]).await?;
    Ok(span)
}

/// One page of `org_id`'s trace rollups matching `query`, newest first.
pub async fn list_traces(db: &DatabaseConnection, org_id: Uuid, query: &TraceQuery) -> Result<TracePage> {
    let filter = query::TraceFilter::parse(db.get_database_backend(), org_id, query)?;
    let rows = trace::Entity::find()
        .filter(filter.condition)
        .order_by_desc(trace::Column::StartTimeNs)
        .order_by_desc(trace::Column::TraceId)
        .limit(filter.limit + 1)
        .all(db)
        .await?;
    let (rollups, next_cursor): (Vec<trace::Model>, _) = query::page(rows, filter.limit, |row| {
        format!("{}_{}", row.start_time_ns, row.trace_id)
    });
    let traces = with_models(db, org_id, rollups).await?;
    Ok(TracePage { traces, next_cursor })
}

/// The rollups as summaries, each with the models its spans used.
async fn with_models(
    db: &DatabaseConnection,
    org_id: Uuid,
    rollups: Vec<trace::Model>,
) -> Result<Vec<TraceSummary>> {
    let mut models: HashMap<String, Vec<String>> = HashMap::new();
    if !rollups.is_empty() {
        let used = span::Entity::find()
            .select_only()
            .column(span::Column::TraceId)
            .column(span::Column::Model)
            .distinct()
            .filter(span::Column::OrgId.eq(org_id))
            .filter(span::Column::TraceId.is_in(rollups.iter().map(|rollup| rollup.trace_id.clone())))
            .filter(span::Column::Model.is_not_null())
            .into_tuple::<(String, String)>()
            .all(db)
            .await?;
        for (trace_id, model) in used {
            models.entry(trace_id).or_default().push(model);
        }
    }
    Ok(rollups
        .into_iter()
        .map(|rollup| {
            let mut used = models.remove(&rollup.trace_id).unwrap_or_default();
            used.sort();
            trace_summary(rollup, used)
        })
        .collect())
}

/// `org_id`'s `limit` most expensive traces that started in `[since_ns, until_ns)`.
pub async fn most_expensive(
    db: &DatabaseConnection,
    org_id: Uuid,
    (since_ns, until_ns): (i64, i64),
    limit: u64,
) -> Result<Vec<TraceSummary>> {
    let rollups = trace::Entity::find()
        .filter(trace::Column::OrgId.eq(org_id))
        .filter(trace::Column::StartTimeNs.gte(since_ns))
        .filter(trace::Column::StartTimeNs.lt(until_ns))
        .filter(trace::Column::CostNanos.gt(0))
        .order_by_desc(trace::Column::CostNanos)
        .order_by_desc(trace::Column::StartTimeNs)
        .limit(limit)
        .all(db)
        .await?;
    with_models(db, org_id, rollups).await
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
