//! What a cost recompute reads and changes of the span tables: spans of a
//! time range in (start time, id) order, a span's cost set only if it is
//! still what was read, and the differences added to the traces' sums.

use entity::{span, trace};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait as _},
};
use uuid::Uuid;

use crate::telemetry::services::span::genai::TokenUsage;

/// The columns a recompute reads of a span.
#[derive(Debug, FromQueryResult)]
pub struct PricedSpan {
    pub id: i64,
    pub trace_id: String,
    pub start_time_ns: i64,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub service_name: String,
    pub agent: Option<String>,
    pub token_id: Option<Uuid>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    pub cost_nanos: Option<i64>,
    pub unpriced: bool,
}

impl PricedSpan {
    pub fn tokens(&self) -> TokenUsage {
        TokenUsage {
            input: self.input_tokens,
            output: self.output_tokens,
            cache_read: self.cache_read_tokens,
            cache_write: self.cache_write_tokens,
            reasoning: self.reasoning_tokens,
        }
    }
}

/// Spans of an organization that started in `[since_ns, until_ns)`, read in
/// (start time, id) order from just after `after`.
#[derive(Clone, Copy, Debug)]
pub struct PricedRange {
    pub org_id: Uuid,
    pub since_ns: i64,
    pub until_ns: i64,
    /// The (start time, id) of the last span already read.
    pub after: Option<(i64, i64)>,
}

/// The next `limit` spans with a model in `range`.
pub async fn priced_spans(
    db: &impl ConnectionTrait,
    range: PricedRange,
    limit: u64,
) -> Result<Vec<PricedSpan>, DbErr> {
    let mut query = span::Entity::find()
        .select_only()
        .columns([
            span::Column::Id,
            span::Column::TraceId,
            span::Column::StartTimeNs,
            span::Column::Model,
            span::Column::Provider,
            span::Column::ServiceName,
            span::Column::Agent,
            span::Column::TokenId,
            span::Column::InputTokens,
            span::Column::OutputTokens,
            span::Column::CacheReadTokens,
            span::Column::CacheWriteTokens,
            span::Column::ReasoningTokens,
            span::Column::CostNanos,
            span::Column::Unpriced,
        ])
        .filter(span::Column::OrgId.eq(range.org_id))
        .filter(span::Column::StartTimeNs.gte(range.since_ns))
        .filter(span::Column::StartTimeNs.lt(range.until_ns))
        .filter(span::Column::Model.is_not_null());
    if let Some((at, id)) = range.after {
        query = query.filter(
            Condition::any().add(span::Column::StartTimeNs.gt(at)).add(
                Condition::all()
                    .add(span::Column::StartTimeNs.eq(at))
                    .add(span::Column::Id.gt(id)),
            ),
        );
    }
    query
        .order_by_asc(span::Column::StartTimeNs)
        .order_by_asc(span::Column::Id)
        .limit(limit)
        .into_model::<PricedSpan>()
        .all(db)
        .await
}

/// Sets the span's cost, if its cost is still what was read: a span that
/// another job re-priced meanwhile is left to that job, so a difference is
/// never added twice. True when the span was changed.
pub async fn set_span_cost(
    db: &impl ConnectionTrait,
    span: &PricedSpan,
    cost_nanos: Option<i64>,
    unpriced: bool,
) -> Result<bool, DbErr> {
    let mut unchanged_since_read = Condition::all()
        .add(span::Column::Id.eq(span.id))
        .add(span::Column::Unpriced.eq(span.unpriced));
    unchanged_since_read = match span.cost_nanos {
        Some(nanos) => unchanged_since_read.add(span::Column::CostNanos.eq(nanos)),
        None => unchanged_since_read.add(span::Column::CostNanos.is_null()),
    };
    let updated = span::Entity::update_many()
        .col_expr(span::Column::CostNanos, Expr::value(cost_nanos))
        .col_expr(span::Column::Unpriced, Expr::value(unpriced))
        .filter(unchanged_since_read)
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Adds a re-pricing's differences to a trace's cost and unpriced count.
pub async fn add_to_trace_cost(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    trace_id: &str,
    cost_delta: i64,
    unpriced_delta: i64,
) -> Result<(), DbErr> {
    trace::Entity::update_many()
        .col_expr(
            trace::Column::CostNanos,
            Expr::col(trace::Column::CostNanos).add(cost_delta),
        )
        .col_expr(
            trace::Column::UnpricedSpans,
            Expr::col(trace::Column::UnpricedSpans).add(unpriced_delta),
        )
        .filter(trace::Column::OrgId.eq(org_id))
        .filter(trace::Column::TraceId.eq(trace_id))
        .exec(db)
        .await?;
    Ok(())
}
