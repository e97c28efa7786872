//! The spans explorer's reads: filtered, newest first, paged by cursor
//! (see [`super::query`]), and what a live tail reads next.

use entity::span;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::{
    prompts::mark_flagged,
    query::{Cursor, MAX_PAGE, SpanFilter, after_cursor, page, parse_cursor, parse_limit_up_to},
    views::SpanListRow,
};
use crate::{
    error::{AppError, Result},
    telemetry::services::span::payload,
    telemetry::types::{SpanPage, SpanQuery, SpanSummary},
};

/// One page of `org_id`'s spans matching `query`, newest first.
pub async fn list_spans(db: &DatabaseConnection, org_id: Uuid, query: &SpanQuery) -> Result<SpanPage> {
    list_spans_where(db, org_id, query, Condition::all(), MAX_PAGE).await
}

/// Which spans with usage a cost log lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageSpans {
    All,
    /// Only spans whose model has no price.
    Unpriced,
}

/// One page of `org_id`'s spans that count in the usage rollups (see
/// `ingest::usage::is_usage`) and match `query`, newest first, with pages
/// of up to `max_limit`: the cost log.
pub async fn list_usage_spans(
    db: &DatabaseConnection,
    org_id: Uuid,
    query: &SpanQuery,
    which: UsageSpans,
    max_limit: u64,
) -> Result<SpanPage> {
    let has_usage = Condition::any()
        .add(span::Column::LlmKind.is_in(["request", "embedding"]))
        .add(span::Column::CostNanos.is_not_null())
        .add(span::Column::Unpriced.eq(true))
        .add(span::Column::InputTokens.is_not_null())
        .add(span::Column::OutputTokens.is_not_null());
    let mut extra = Condition::all().add(has_usage);
    if which == UsageSpans::Unpriced {
        extra = extra.add(span::Column::Unpriced.eq(true));
    }
    list_spans_where(db, org_id, query, extra, max_limit).await
}

async fn list_spans_where(
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
    let ids: Vec<i64> = rows.iter().take(limit as usize).map(|row| row.id).collect();
    let (mut spans, next_cursor) = page(rows, limit, |row: &SpanListRow| {
        format!("{}_{}", row.start_time_ns, row.id)
    });
    mark_flagged(db, &ids, &mut spans).await?;
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
    attributes: &crate::telemetry::services::span::record::Attributes,
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
    let mut ids = Vec::new();
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
                ids.push(row.id);
                spans.push(SpanSummary::from(row));
                if spans.len() as u64 == limit {
                    mark_flagged(db, &ids, &mut spans).await?;
                    return Ok(SpanPage {
                        spans,
                        next_cursor: cursor
                            .map(|cursor| format!("{}_{}", cursor.start_time_ns, cursor.after)),
                    });
                }
            }
        }
        if exhausted || scanned >= SCAN_BUDGET {
            mark_flagged(db, &ids, &mut spans).await?;
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
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let mut spans: Vec<(i64, SpanSummary)> = rows
        .into_iter()
        .map(|row| (row.id, SpanSummary::from(row)))
        .collect();
    mark_flagged(db, &ids, spans.iter_mut().map(|(_, span)| span)).await?;
    Ok(spans)
}

/// Checks a live tail's filters without reading anything.
pub fn check_query(backend: DatabaseBackend, query: &SpanQuery) -> Result<()> {
    SpanFilter::parse(backend, Uuid::nil(), query)?;
    // A live tail pages nothing, but takes the same parameters, refused alike.
    parse_limit_up_to(query.limit.as_deref(), MAX_PAGE)?;
    parse_cursor::<i64>(query.cursor.as_deref())?;
    Ok(())
}

/// Most models offered as suggestions.
const KNOWN_MODELS: usize = 200;

/// The models `org_id`'s spans were answered by or asked for, sorted: the
/// Model filter's suggestions. Each column is walked as a loose index scan
/// (one index seek per distinct model, through the partial indexes on
/// `(org_id, model)` and `(org_id, request_model)`), so the cost follows the
/// number of models, not of spans.
pub async fn known_models(db: &DatabaseConnection, org_id: Uuid) -> Result<Vec<String>> {
    let backend = db.get_database_backend();
    let org = match backend {
        DatabaseBackend::Postgres => "$1",
        _ => "?1",
    };
    let mut models = std::collections::BTreeSet::new();
    for column in ["model", "request_model"] {
        let sql = format!(
            "WITH RECURSIVE known(name) AS ( \
               SELECT MIN({column}) FROM spans WHERE org_id = {org} AND {column} IS NOT NULL \
               UNION ALL \
               SELECT (SELECT MIN({column}) FROM spans WHERE org_id = {org} AND {column} > known.name) \
               FROM known WHERE known.name IS NOT NULL \
             ) SELECT name FROM known WHERE name IS NOT NULL LIMIT {KNOWN_MODELS}"
        );
        let rows = db
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                sql,
                [org_id.into()],
            ))
            .await?;
        for row in rows {
            models.insert(row.try_get_by_index::<String>(0)?);
        }
    }
    Ok(models
        .into_iter()
        .filter(|model| !model.is_empty())
        .take(KNOWN_MODELS)
        .collect())
}
