//! The history of firings and resolves, newest first.

use sea_orm::{ConnectionTrait, QueryResult, Statement, Value};
use uuid::Uuid;

use crate::{
    alerts::types::{AlertEvent, AlertEventPage},
    error::Result,
    platform::services::{rfc3339, transaction::placeholder},
};

pub const DEFAULT_PAGE: u64 = 50;
pub const MAX_PAGE: u64 = 500;

/// A page of the organization's events, optionally of one rule, older than
/// the event `before`.
pub async fn page(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    rule_id: Option<Uuid>,
    before: Option<i64>,
    limit: Option<u64>,
) -> Result<AlertEventPage> {
    let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let backend = db.get_database_backend();
    let mut conditions = vec![format!("org_id = {}", placeholder(backend, 1))];
    let mut values: Vec<Value> = vec![org_id.into()];
    if let Some(rule_id) = rule_id {
        values.push(rule_id.into());
        conditions.push(format!("rule_id = {}", placeholder(backend, values.len())));
    }
    if let Some(before) = before {
        values.push(before.into());
        conditions.push(format!("id < {}", placeholder(backend, values.len())));
    }
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT id, rule_id, rule_name, condition_kind, kind, at_ns, value, threshold, summary, link, notice \
                 FROM alert_events WHERE {} ORDER BY id DESC LIMIT {}",
                conditions.join(" AND "),
                limit + 1
            ),
            values,
        ))
        .await?;
    let mut events = rows.iter().map(event_of).collect::<Result<Vec<_>>>()?;
    let next_before = if events.len() as u64 > limit {
        events.truncate(limit as usize);
        events.last().map(|event| event.id)
    } else {
        None
    };
    Ok(AlertEventPage { events, next_before })
}

fn event_of(row: &QueryResult) -> Result<AlertEvent> {
    Ok(AlertEvent {
        id: row.try_get("", "id")?,
        rule_id: row.try_get("", "rule_id")?,
        rule_name: row.try_get("", "rule_name")?,
        condition_kind: row.try_get("", "condition_kind")?,
        kind: row.try_get("", "kind")?,
        at: rfc3339(row.try_get("", "at_ns")?),
        value: row.try_get("", "value")?,
        threshold: row.try_get("", "threshold")?,
        summary: row.try_get("", "summary")?,
        link: row.try_get("", "link")?,
        notice: row.try_get("", "notice")?,
    })
}
