//! Silences: while one is in force, the rules it covers (one rule, or all
//! the organization's) record their firings and resolves but notify no one.
//! A rule still firing when its silence ends notifies then.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Statement, Value};
use serde_json::json;
use uuid::Uuid;

use crate::{
    accounts::{services::orgs, types::Action},
    alerts::types::{Silence, SilenceInput},
    error::{AppError, Result},
    platform::services::{
        audit::{self, Actor},
        now_ns, parse_time, rfc3339,
        transaction::{begin_write, placeholder, placeholder_list},
    },
};

const MAX_AHEAD_NS: i64 = 90 * 86_400 * 1_000_000_000;
const MAX_COMMENT_CHARS: usize = 500;
/// How long ended silences stay listed.
const LISTED_AFTER_END_NS: i64 = 7 * 86_400 * 1_000_000_000;

/// The organization's silences in force or ended in the last week, newest first.
pub async fn list(db: &DatabaseConnection, org_id: Uuid) -> Result<Vec<Silence>> {
    let backend = db.get_database_backend();
    let now = now_ns();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT id, rule_id, starts_at_ns, ends_at_ns, comment, created_by FROM alert_silences \
                 WHERE org_id = {} AND ends_at_ns > {} ORDER BY created_at_ns DESC",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            [org_id.into(), (now - LISTED_AFTER_END_NS).into()],
        ))
        .await?;
    rows.iter().map(|row| silence_of(row, now)).collect()
}

/// Adds a silence (owners and admins).
pub async fn create(
    db: &DatabaseConnection,
    org_id: Uuid,
    actor: &Actor,
    input: &SilenceInput,
) -> Result<Silence> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let now = now_ns();
    let ends_at = parse_time("ends_at", &input.ends_at)?;
    if ends_at <= now || ends_at - now > MAX_AHEAD_NS {
        return Err(AppError::BadRequest(
            "`ends_at` must be in the future and at most 90 days ahead".into(),
        ));
    }
    let comment = input.comment.trim().to_owned();
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(AppError::BadRequest(format!(
            "`comment` holds at most {MAX_COMMENT_CHARS} characters"
        )));
    }
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    let rule_name = match input.rule_id {
        Some(rule_id) => Some(rule_name(&txn, org_id, rule_id).await?),
        None => None,
    };
    let id = Uuid::now_v7();
    let values: Vec<Value> = vec![
        id.into(),
        org_id.into(),
        input.rule_id.into(),
        now.into(),
        ends_at.into(),
        comment.clone().into(),
        actor.name.clone().into(),
        now.into(),
    ];
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO alert_silences (id, org_id, rule_id, starts_at_ns, ends_at_ns, comment, created_by, created_at_ns) \
             VALUES ({})",
            placeholder_list(backend, 1, values.len())
        ),
        values,
    ))
    .await?;
    let what = match &rule_name {
        Some(name) => format!("the alert rule {name}"),
        None => "all alert rules".to_owned(),
    };
    audit::record(
        &txn,
        org_id,
        actor,
        "alerts.silence.create",
        format!("silenced {what} until {}", rfc3339(ends_at)),
        json!({"silence_id": id, "rule_id": input.rule_id, "ends_at": rfc3339(ends_at), "comment": comment}),
    )
    .await?;
    txn.commit().await?;
    Ok(Silence {
        id,
        rule_id: input.rule_id,
        starts_at: rfc3339(now),
        ends_at: rfc3339(ends_at),
        comment,
        created_by: actor.name.clone(),
        active: true,
    })
}

/// Ends a silence now (owners and admins); an ended one is removed.
pub async fn delete(db: &DatabaseConnection, org_id: Uuid, actor: &Actor, silence_id: Uuid) -> Result<()> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    let removed = txn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "DELETE FROM alert_silences WHERE org_id = {} AND id = {}",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            [org_id.into(), silence_id.into()],
        ))
        .await?;
    if removed.rows_affected() == 0 {
        return Err(AppError::NotFound("silence"));
    }
    audit::record(
        &txn,
        org_id,
        actor,
        "alerts.silence.delete",
        "ended a silence".to_owned(),
        json!({"silence_id": silence_id}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The latest end of the silences in force at `now`, by rule (`None`: the
/// ones covering every rule).
pub async fn silenced_until(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    now: i64,
) -> Result<HashMap<Option<Uuid>, i64>> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT rule_id, MAX(ends_at_ns) AS until FROM alert_silences \
                 WHERE org_id = {} AND starts_at_ns <= {} AND ends_at_ns > {} GROUP BY rule_id",
                placeholder(backend, 1),
                placeholder(backend, 2),
                placeholder(backend, 3)
            ),
            [org_id.into(), now.into(), now.into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<Option<Uuid>>("", "rule_id")?,
                row.try_get::<i64>("", "until")?,
            ))
        })
        .collect()
}

async fn rule_name(db: &impl ConnectionTrait, org_id: Uuid, rule_id: Uuid) -> Result<String> {
    let backend = db.get_database_backend();
    db.query_one_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT name FROM alert_rules WHERE org_id = {} AND id = {}",
            placeholder(backend, 1),
            placeholder(backend, 2)
        ),
        [org_id.into(), rule_id.into()],
    ))
    .await?
    .ok_or(AppError::NotFound("alert rule"))?
    .try_get("", "name")
    .map_err(Into::into)
}

fn silence_of(row: &QueryResult, now: i64) -> Result<Silence> {
    let starts: i64 = row.try_get("", "starts_at_ns")?;
    let ends: i64 = row.try_get("", "ends_at_ns")?;
    Ok(Silence {
        id: row.try_get("", "id")?,
        rule_id: row.try_get("", "rule_id")?,
        starts_at: rfc3339(starts),
        ends_at: rfc3339(ends),
        comment: row.try_get("", "comment")?,
        created_by: row.try_get("", "created_by")?,
        active: starts <= now && now < ends,
    })
}
