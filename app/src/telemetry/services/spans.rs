//! The spans explorer's reads: filtered, newest first, paged by cursor.
//!
//! Paging is keyset paging on (start time, row id), never OFFSET: a page
//! costs the same however deep it is, and spans ingested meanwhile neither
//! repeat rows nor hide any (a late span older than the cursor shows up on a
//! later page, where its time puts it).

use entity::{span, trace};
use sea_orm::{
    ColumnTrait, Condition, DatabaseBackend, DatabaseConnection, DerivePartialModel, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Query, SimpleExpr},
};
use uuid::Uuid;

use crate::{
    error::{AppError, Result},
    telemetry::{
        services::{ingest::payload, search, traces::is_trace_id},
        types::{SpanPage, SpanQuery, SpanSummary, SpanTokens, TraceQuery},
    },
};

const DEFAULT_PAGE: u64 = 50;
const MAX_PAGE: u64 = 500;

const LLM_KINDS: &[&str] = &[
    "request",
    "response",
    "tool_call",
    "tool_result",
    "agent",
    "embedding",
    "retrieval",
    "other",
];
const STATUSES: &[&str] = &["ok", "error", "unset"];

fn bad(message: impl Into<String>) -> AppError {
    AppError::BadRequest(message.into())
}

/// A time as RFC 3339, Unix nanoseconds, or a date and time without a zone
/// (`2026-01-31T09:30[:15]`, what a browser's date-time field sends), read as UTC.
pub(crate) fn parse_time(name: &str, value: &str) -> Result<i64> {
    if let Ok(nanos) = value.parse::<i64>() {
        return Ok(nanos);
    }
    let zoned = chrono::DateTime::parse_from_rfc3339(value).map(|time| time.to_utc());
    let utc = zoned.ok().or_else(|| {
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|format| chrono::NaiveDateTime::parse_from_str(value, format).ok())
            .map(|naive| naive.and_utc())
    });
    utc.and_then(|time| time.timestamp_nanos_opt()).ok_or_else(|| {
        bad(format!(
            "`{name}` must be an RFC 3339 time, a UTC date and time (2026-01-31T09:30) or Unix nanoseconds, got {value:?}"
        ))
    })
}

fn parse_limit(limit: Option<&str>) -> Result<u64> {
    parse_limit_up_to(limit, MAX_PAGE)
}

fn parse_limit_up_to(limit: Option<&str>, max: u64) -> Result<u64> {
    match limit {
        None => Ok(std::cmp::min(DEFAULT_PAGE, max)),
        Some(text) => match text.parse::<u64>() {
            Ok(limit) if (1..=max).contains(&limit) => Ok(limit),
            _ => Err(bad(format!("`limit` must be 1 to {max}, got {text:?}"))),
        },
    }
}

fn one_of(name: &str, value: &str, allowed: &[&str]) -> Result<String> {
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
struct Cursor<T> {
    start_time_ns: i64,
    after: T,
}

fn parse_cursor<T: std::str::FromStr>(cursor: Option<&str>) -> Result<Option<Cursor<T>>> {
    let Some(text) = cursor else { return Ok(None) };
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
fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|value| !value.is_empty())
}

/// The explorer's filters, checked.
#[derive(Debug)]
struct SpanFilter {
    condition: Condition,
}

impl SpanFilter {
    fn parse(backend: DatabaseBackend, org_id: Uuid, query: &SpanQuery) -> Result<Self> {
        let mut condition = Condition::all().add(span::Column::OrgId.eq(org_id));
        if let Some(kind) = text(&query.kind) {
            condition = condition.add(span::Column::LlmKind.eq(one_of("kind", kind, LLM_KINDS)?));
        }
        if let Some(status) = text(&query.status) {
            condition = condition.add(span::Column::StatusCode.eq(one_of("status", status, STATUSES)?));
        }
        for (column, value) in [
            (span::Column::Model, &query.model),
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
            if !is_trace_id(trace_id) {
                return Err(bad("`trace_id` is 32 hex digits"));
            }
            condition = condition.add(span::Column::TraceId.eq(trace_id.to_ascii_lowercase()));
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
        Ok(Self { condition })
    }
}

fn text_search(backend: DatabaseBackend, words: &str) -> Result<SimpleExpr> {
    search::spans_matching(backend, words).ok_or_else(|| bad("`q` needs at least one word"))
}

/// A non-negative number of units from `text`, for the parameter `name`.
fn parse_amount(name: &str, unit: &str, text: &str) -> Result<f64> {
    text.parse::<f64>()
        .ok()
        .filter(|amount| amount.is_finite() && *amount >= 0.0)
        .ok_or_else(|| bad(format!("`{name}` must be a number of {unit}, got {text:?}")))
}

fn parse_millis_as_nanos(text: &str) -> Result<i64> {
    Ok((parse_amount("min_duration_ms", "milliseconds", text)? * 1e6) as i64)
}

fn parse_usd_as_nanos(text: &str) -> Result<i64> {
    Ok((parse_amount("min_cost_usd", "dollars", text)? * 1e9).round() as i64)
}

/// The trace list's filters and page size, checked.
pub(crate) struct TraceFilter {
    pub condition: Condition,
    pub limit: u64,
}

/// The organization's traces that have at least one span matching `span_condition`.
fn traces_with_a_span(org_id: Uuid, span_condition: SimpleExpr) -> SimpleExpr {
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
            condition = condition.add(traces_with_a_span(org_id, span::Column::Model.eq(model)));
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

/// A span row without its payload, which is the bulk of a row and which a
/// list never shows.
#[derive(DerivePartialModel)]
#[sea_orm(entity = "span::Entity")]
struct SpanListRow {
    id: i64,
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    name: String,
    span_kind: String,
    llm_kind: String,
    service_name: String,
    start_time_ns: i64,
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
        }
    }
}

fn after_cursor(cursor: &Cursor<i64>) -> Condition {
    Condition::any()
        .add(span::Column::StartTimeNs.lt(cursor.start_time_ns))
        .add(
            Condition::all()
                .add(span::Column::StartTimeNs.eq(cursor.start_time_ns))
                .add(span::Column::Id.lt(cursor.after)),
        )
}

/// One page of `org_id`'s spans matching `query`, newest first.
pub async fn list_spans(db: &DatabaseConnection, org_id: Uuid, query: &SpanQuery) -> Result<SpanPage> {
    list_spans_where(db, org_id, query, Condition::all(), MAX_PAGE).await
}

/// The same, for spans that also meet `extra`, with pages of up to `max_limit`.
pub(crate) async fn list_spans_where(
    db: &DatabaseConnection,
    org_id: Uuid,
    query: &SpanQuery,
    extra: Condition,
    max_limit: u64,
) -> Result<SpanPage> {
    let filter = SpanFilter::parse(db.get_database_backend(), org_id, query)?;
    let limit = parse_limit_up_to(query.limit.as_deref(), max_limit)?;
    let cursor = parse_cursor::<i64>(query.cursor.as_deref())?;
    let mut condition = filter.condition.add(extra);
    if !query.attributes.is_empty() {
        return scan_for_attributes(db, condition, cursor, &query.attributes, limit).await;
    }
    if let Some(cursor) = &cursor {
        condition = condition.add(after_cursor(cursor));
    }
    let rows = span::Entity::find()
        .filter(condition)
        .order_by_desc(span::Column::StartTimeNs)
        .order_by_desc(span::Column::Id)
        .limit(limit + 1)
        .into_partial_model::<SpanListRow>()
        .all(db)
        .await?;
    let (spans, next_cursor) = page(rows, limit, |row| format!("{}_{}", row.start_time_ns, row.id));
    Ok(SpanPage { spans, next_cursor })
}

/// Rows read per step of an attribute scan.
const SCAN_BATCH: u64 = 500;
/// Rows an attribute scan reads for one page at most; the page may then be
/// short, and `next_cursor` continues the scan.
const SCAN_BUDGET: usize = 5_000;

/// True when the stored attribute `key` equals `expected` (numbers and
/// booleans compare by their text).
fn attribute_equals(
    attributes: &crate::telemetry::services::ingest::record::Attributes,
    key: &str,
    expected: &str,
) -> bool {
    match attributes.get(key) {
        Some(serde_json::Value::String(text)) => text == expected,
        Some(serde_json::Value::Null) | None => false,
        Some(other) => {
            // Numbers, booleans, arrays: compared by their JSON text.
            let text = other.to_string();
            text == expected
        }
    }
}

/// Attributes live in the compressed payload, so attribute filters are
/// checked here, on rows the indexed filters already narrowed, reading at
/// most [`SCAN_BUDGET`] rows per page.
async fn scan_for_attributes(
    db: &DatabaseConnection,
    condition: Condition,
    mut cursor: Option<Cursor<i64>>,
    wanted: &[(String, String)],
    limit: u64,
) -> Result<SpanPage> {
    let mut spans = Vec::new();
    let mut scanned = 0;
    loop {
        let mut step = condition.clone();
        if let Some(cursor) = &cursor {
            step = step.add(after_cursor(cursor));
        }
        let rows = span::Entity::find()
            .filter(step)
            .order_by_desc(span::Column::StartTimeNs)
            .order_by_desc(span::Column::Id)
            .limit(SCAN_BATCH)
            .all(db)
            .await?;
        let exhausted = (rows.len() as u64) < SCAN_BATCH;
        for row in rows {
            scanned += 1;
            cursor = Some(Cursor {
                start_time_ns: row.start_time_ns,
                after: row.id,
            });
            let stored = payload::decode(&row.payload).map_err(|err| AppError::Internal(err.to_string()))?;
            if wanted
                .iter()
                .all(|(key, value)| attribute_equals(&stored.attributes, key, value))
            {
                spans.push(SpanSummary::from(row));
                if spans.len() as u64 == limit {
                    return Ok(SpanPage {
                        spans,
                        next_cursor: cursor
                            .map(|cursor| format!("{}_{}", cursor.start_time_ns, cursor.after)),
                    });
                }
            }
        }
        if exhausted {
            return Ok(SpanPage {
                spans,
                next_cursor: None,
            });
        }
        if scanned >= SCAN_BUDGET {
            return Ok(SpanPage {
                spans,
                next_cursor: cursor.map(|cursor| format!("{}_{}", cursor.start_time_ns, cursor.after)),
            });
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

/// The first `limit` rows, and a cursor after the last one when there are more.
pub(crate) fn page<Row, Item: From<Row>>(
    mut rows: Vec<Row>,
    limit: u64,
    cursor: impl Fn(&Row) -> String,
) -> (Vec<Item>, Option<String>) {
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = if more { rows.last().map(cursor) } else { None };
    (rows.into_iter().map(Item::from).collect(), next)
}

/// The newest span row id of `org_id` (0 without spans): where a live tail starts.
pub async fn latest_row_id(db: &DatabaseConnection, org_id: Uuid) -> Result<i64> {
    let latest = span::Entity::find()
        .select_only()
        .column(span::Column::Id)
        .filter(span::Column::OrgId.eq(org_id))
        .order_by_desc(span::Column::Id)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(latest.unwrap_or(0))
}

/// Spans of `org_id` stored after row `after_id` that match `query`, oldest
/// first, with their row ids: what a live tail sends next.
pub async fn spans_after(
    db: &DatabaseConnection,
    org_id: Uuid,
    query: &SpanQuery,
    after_id: i64,
    limit: u64,
) -> Result<Vec<(i64, SpanSummary)>> {
    let filter = SpanFilter::parse(db.get_database_backend(), org_id, query)?;
    let rows = span::Entity::find()
        .filter(filter.condition.add(span::Column::Id.gt(after_id)))
        .order_by_asc(span::Column::Id)
        .limit(limit)
        .into_partial_model::<SpanListRow>()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.id, SpanSummary::from(row)))
        .collect())
}

/// Checks a live tail's filters without reading anything.
pub fn check_query(backend: DatabaseBackend, query: &SpanQuery) -> Result<()> {
    SpanFilter::parse(backend, Uuid::nil(), query).map(|_| ())
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
