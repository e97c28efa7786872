//! What the span and trace reads accept: their filters parsed from a
//! query (times, limits, kinds, amounts, full-text words), and keyset paging
//! on (start time, row id), never OFFSET: a page costs the same however
//! deep it is, and spans ingested meanwhile neither repeat rows nor hide any
//! (a late span older than the cursor shows up on a later page, where its
//! time puts it).

use entity::{span, trace};
use sea_orm::{
    ColumnTrait, Condition, DatabaseBackend,
    sea_query::{Expr, ExprTrait, Query, SimpleExpr},
};
use uuid::Uuid;

use super::search;
use crate::telemetry::services::span::ids::TraceId;
use crate::{
    error::{AppError, Result},
    telemetry::types::{LLM_KINDS, SPAN_STATUSES, SpanQuery, TraceQuery},
};

pub(super) const DEFAULT_PAGE: u64 = 50;
pub(super) const MAX_PAGE: u64 = 500;

pub(super) fn bad(message: impl Into<String>) -> AppError {
    AppError::BadRequest(message.into())
}

pub use crate::platform::services::parse_time;

pub(super) fn parse_limit(limit: Option<&str>) -> Result<u64> {
    parse_limit_up_to(limit, MAX_PAGE)
}

/// The page size asked for; an empty `limit=` (what forms and generated
/// clients send for a blank field) is the default, as no `limit` is.
pub(super) fn parse_limit_up_to(limit: Option<&str>, max: u64) -> Result<u64> {
    match limit.filter(|text| !text.is_empty()) {
        None => Ok(std::cmp::min(DEFAULT_PAGE, max)),
        Some(text) => match text.parse::<u64>() {
            Ok(limit) if (1..=max).contains(&limit) => Ok(limit),
            _ => Err(bad(format!("`limit` must be 1 to {max}, got {text:?}"))),
        },
    }
}

pub(super) fn one_of(name: &str, value: &str, allowed: &[&str]) -> Result<String> {
    if allowed.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(bad(format!(
            "`{name}` must be one of {}, got {value:?}",
            allowed.join(", ")
        )))
    }
}

/// Where the next page starts: the last row's start time and tie-breaker.
pub(super) struct Cursor<T> {
    pub(super) start_time_ns: i64,
    pub(super) after: T,
}

pub(super) fn parse_cursor<T: std::str::FromStr>(cursor: Option<&str>) -> Result<Option<Cursor<T>>> {
    // An empty `cursor=` is the first page.
    let Some(text) = cursor.filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    text.split_once('_')
        .and_then(|(start, after)| {
            Some(Cursor {
                start_time_ns: start.parse().ok()?,
                after: after.parse().ok()?,
            })
        })
        .map(Some)
        .ok_or_else(|| bad("`cursor` is not one this API returned"))
}

/// A parameter's text; empty counts as absent (an emptied filter box).
pub(super) fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|value| !value.is_empty())
}

/// The explorer's filters, checked.
#[derive(Debug)]
pub(super) struct SpanFilter {
    pub(super) condition: Condition,
}

impl SpanFilter {
    pub(super) fn parse(backend: DatabaseBackend, org_id: Uuid, query: &SpanQuery) -> Result<Self> {
        let mut condition = Condition::all().add(span::Column::OrgId.eq(org_id));
        if let Some(kind) = text(&query.kind) {
            condition = condition.add(span::Column::LlmKind.eq(one_of("kind", kind, LLM_KINDS)?));
        }
        if let Some(status) = text(&query.status) {
            condition = condition.add(span::Column::StatusCode.eq(one_of("status", status, SPAN_STATUSES)?));
        }
        if let Some(model) = text(&query.model) {
            condition = condition.add(asked_or_answered_by(model));
        }
        for (column, value) in [
            (span::Column::Provider, &query.provider),
            (span::Column::ServiceName, &query.service),
            (span::Column::ToolName, &query.tool),
            (span::Column::SessionId, &query.session),
            (span::Column::EndUserId, &query.user),
        ] {
            if let Some(value) = text(value) {
                condition = condition.add(column.eq(value));
            }
        }
        if let Some(trace_id) = text(&query.trace_id) {
            let trace_id = TraceId::try_from(trace_id).map_err(|_| bad("`trace_id` is 32 hex digits"))?;
            condition = condition.add(span::Column::TraceId.eq(trace_id.into_string()));
        }
        if let Some(since) = text(&query.since) {
            condition = condition.add(span::Column::StartTimeNs.gte(parse_time("since", since)?));
        }
        if let Some(until) = text(&query.until) {
            condition = condition.add(span::Column::StartTimeNs.lt(parse_time("until", until)?));
        }
        if let Some(ms) = text(&query.min_duration_ms) {
            condition = condition.add(span::Column::DurationNs.gte(parse_millis_as_nanos(ms)?));
        }
        if let Some(usd) = text(&query.min_cost_usd) {
            condition = condition.add(span::Column::CostNanos.gte(parse_usd_as_nanos(usd)?));
        }
        if let Some(words) = text(&query.q) {
            condition = condition.add(text_search(backend, words)?);
        }
        if let Some(flagged) = text(&query.flagged) {
            let flagged = match flagged {
                "true" => true,
                "false" => false,
                other => return Err(bad(format!("`flagged` must be true or false, got {other:?}"))),
            };
            condition = condition.add(flagged_spans(org_id, flagged));
        }
        Ok(Self { condition })
    }
}

/// The spans the similarity checks flagged (or, for `false`, all others).
fn flagged_spans(org_id: Uuid, flagged: bool) -> SimpleExpr {
    let flagged_rows = sea_orm::sea_query::Query::select()
        .column(sea_orm::sea_query::Alias::new("span_row_id"))
        .from(sea_orm::sea_query::Alias::new("prompt_spans"))
        .and_where(sea_orm::sea_query::Expr::col(sea_orm::sea_query::Alias::new("org_id")).eq(org_id))
        .and_where(sea_orm::sea_query::Expr::col(sea_orm::sea_query::Alias::new("flagged")).eq(true))
        .to_owned();
    if flagged {
        span::Column::Id.in_subquery(flagged_rows)
    } else {
        span::Column::Id.not_in_subquery(flagged_rows)
    }
}

/// Spans whose request asked for `model` or whose answer came from it: a
/// filter by `gpt-4o` finds the spans answered by `gpt-4o-2024-08-06`.
fn asked_or_answered_by(model: &str) -> SimpleExpr {
    span::Column::Model
        .eq(model)
        .or(span::Column::RequestModel.eq(model))
}

pub(super) fn text_search(backend: DatabaseBackend, words: &str) -> Result<SimpleExpr> {
    search::spans_matching(backend, words).ok_or_else(|| bad("`q` needs at least one word"))
}

/// A non-negative number of units from `text`, for the parameter `name`.
pub(super) fn parse_amount(name: &str, unit: &str, text: &str) -> Result<f64> {
    text.parse::<f64>()
        .ok()
        .filter(|amount| amount.is_finite() && *amount >= 0.0)
        .ok_or_else(|| bad(format!("`{name}` must be a number of {unit}, got {text:?}")))
}

pub(super) fn parse_millis_as_nanos(text: &str) -> Result<i64> {
    Ok((parse_amount("min_duration_ms", "milliseconds", text)? * 1e6) as i64)
}

pub(super) fn parse_usd_as_nanos(text: &str) -> Result<i64> {
    Ok((parse_amount("min_cost_usd", "dollars", text)? * 1e9).round() as i64)
}

/// The trace list's filters and page size, checked.
pub(super) struct TraceFilter {
    pub condition: Condition,
    pub limit: u64,
}

/// The organization's traces that have at least one span matching `span_condition`.
pub(super) fn traces_with_a_span(org_id: Uuid, span_condition: SimpleExpr) -> SimpleExpr {
    trace::Column::TraceId.in_subquery(
        Query::select()
            .column(span::Column::TraceId)
            .from(span::Entity)
            .and_where(span::Column::OrgId.eq(org_id))
            .and_where(span_condition)
            .to_owned(),
    )
}

impl TraceFilter {
    pub fn parse(backend: DatabaseBackend, org_id: Uuid, query: &TraceQuery) -> Result<Self> {
        let mut condition = Condition::all().add(trace::Column::OrgId.eq(org_id));
        if let Some(service) = text(&query.service) {
            condition = condition.add(trace::Column::ServiceName.eq(service));
        }
        if let Some(model) = text(&query.model) {
            condition = condition.add(traces_with_a_span(org_id, asked_or_answered_by(model)));
        }
        match text(&query.status) {
            Some("error") => condition = condition.add(trace::Column::ErrorCount.gt(0)),
            Some("ok") => condition = condition.add(trace::Column::ErrorCount.eq(0)),
            Some(other) => return Err(bad(format!("`status` must be ok or error, got {other:?}"))),
            None => {}
        }
        if let Some(since) = text(&query.since) {
            condition = condition.add(trace::Column::StartTimeNs.gte(parse_time("since", since)?));
        }
        if let Some(until) = text(&query.until) {
            condition = condition.add(trace::Column::StartTimeNs.lt(parse_time("until", until)?));
        }
        if let Some(ms) = text(&query.min_duration_ms) {
            condition = condition.add(
                Expr::col(trace::Column::EndTimeNs)
                    .sub(Expr::col(trace::Column::StartTimeNs))
                    .gte(parse_millis_as_nanos(ms)?),
            );
        }
        if let Some(usd) = text(&query.min_cost_usd) {
            condition = condition.add(trace::Column::CostNanos.gte(parse_usd_as_nanos(usd)?));
        }
        if let Some(words) = text(&query.q) {
            condition = condition.add(traces_with_a_span(org_id, text_search(backend, words)?));
        }
        if let Some(cursor) = parse_cursor::<String>(query.cursor.as_deref())? {
            condition = condition.add(
                Condition::any()
                    .add(trace::Column::StartTimeNs.lt(cursor.start_time_ns))
                    .add(
                        Condition::all()
                            .add(trace::Column::StartTimeNs.eq(cursor.start_time_ns))
                            .add(trace::Column::TraceId.lt(cursor.after)),
                    ),
            );
        }
        Ok(Self {
            condition,
            limit: parse_limit(query.limit.as_deref())?,
        })
    }
}

pub(super) fn after_cursor(cursor: &Cursor<i64>) -> Condition {
    Condition::any()
        .add(span::Column::StartTimeNs.lt(cursor.start_time_ns))
        .add(
            Condition::all()
                .add(span::Column::StartTimeNs.eq(cursor.start_time_ns))
                .add(span::Column::Id.lt(cursor.after)),
        )
}

/// The first `limit` rows, and a cursor after the last one when there are more.
pub(super) fn page<Row, Item: From<Row>>(
    mut rows: Vec<Row>,
    limit: u64,
    cursor: impl Fn(&Row) -> String,
) -> (Vec<Item>, Option<String>) {
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = if more { rows.last().map(cursor) } else { None };
    (rows.into_iter().map(Item::from).collect(), next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_accepted_form() {
        let nanos = 1_767_261_600_000_000_000; // 2026-01-01T10:00:00Z
        assert_eq!(parse_time("since", "1767261600000000000").unwrap(), nanos);
        assert_eq!(parse_time("since", "2026-01-01T10:00:00Z").unwrap(), nanos);
        assert_eq!(parse_time("since", "2026-01-01T11:00:00+01:00").unwrap(), nanos);
        assert_eq!(parse_time("since", "2026-01-01T10:00").unwrap(), nanos);
        assert_eq!(
            parse_time("since", "2026-01-01T10:00:05").unwrap(),
            nanos + 5_000_000_000
        );
        let err = parse_time("until", "yesterday").unwrap_err();
        assert!(err.to_string().contains("`until`"), "{err}");
    }
}
