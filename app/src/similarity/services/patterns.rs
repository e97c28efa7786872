//! Abuse patterns and similarity settings, as admins manage them: each
//! change is audited and tells every replica's check to reload.

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait, Value};
use serde_json::json;
use uuid::Uuid;

use super::{
    abuse::{self, Settings},
    search::span_input,
    text::{normalize, prompt_hash},
};
use crate::{
    accounts::{services::orgs, types::Action},
    error::{AppError, Result},
    platform::services::{
        audit::{self, Actor},
        now_ns,
        transaction::{begin_write, placeholder},
    },
    similarity::types::{AbusePattern, AbusePatternInput, AbusePatternList, SimilaritySettings},
};

/// The most patterns an organization keeps: the check compares every new
/// prompt with all of them.
pub const MAX_PATTERNS: i64 = 1_000;
const MAX_LABEL_CHARS: usize = 100;

/// The organization's patterns, with how many prompts each caught, and its settings.
pub async fn list(db: &DatabaseConnection, org_id: Uuid) -> Result<AbusePatternList> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT p.id, p.label, p.text, p.prompt_hash, p.created_at_ns, u.email, \
                 (SELECT COUNT(*) FROM prompt_sim_logs l WHERE l.org_id = p.org_id AND l.pattern_id = p.id) AS caught \
                 FROM abuse_patterns p LEFT JOIN users u ON u.id = p.created_by \
                 WHERE p.org_id = {} ORDER BY p.id DESC",
                placeholder(backend, 1)
            ),
            [org_id.into()],
        ))
        .await?;
    let patterns = rows
        .iter()
        .map(|row| {
            Ok(AbusePattern {
                id: row.try_get("", "id")?,
                label: row.try_get("", "label")?,
                text: row.try_get("", "text")?,
                prompt_hash: row.try_get("", "prompt_hash")?,
                created_at_ns: row.try_get("", "created_at_ns")?,
                created_by: row.try_get("", "email")?,
                caught: row.try_get("", "caught")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(AbusePatternList {
        patterns,
        settings: view(settings(db, org_id).await?),
    })
}

/// The label of `org_id`'s pattern for the normalized input hashed
/// `prompt_hash`, if it has one.
pub async fn label_of(db: &impl ConnectionTrait, org_id: Uuid, prompt_hash: &str) -> Result<Option<String>> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT label FROM abuse_patterns WHERE org_id = {} AND prompt_hash = {}",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            [org_id.into(), prompt_hash.into()],
        ))
        .await?;
    Ok(row.map(|row| row.try_get("", "label")).transpose()?)
}

/// Marks a prompt as abusive (admins and owners).
pub async fn add(
    db: &DatabaseConnection,
    org_id: Uuid,
    actor: &Actor,
    input: &AbusePatternInput,
) -> Result<AbusePattern> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let label = input.label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS {
        return Err(AppError::BadRequest(format!(
            "`label` must be 1 to {MAX_LABEL_CHARS} characters"
        )));
    }
    let text = match (&input.text, &input.trace_id, &input.span_id) {
        (Some(text), None, None) => text.trim().to_owned(),
        (None, Some(trace_id), Some(span_id)) => span_input(db, org_id, trace_id, span_id, "mark").await?,
        _ => {
            return Err(AppError::BadRequest(
                "give either `text`, or both `trace_id` and `span_id`".into(),
            ));
        }
    };
    let normalized = normalize(&text);
    if normalized.is_empty() {
        return Err(AppError::BadRequest("`text` is empty".into()));
    }
    let hash = prompt_hash(&normalized);
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    claim_write(&txn).await?;
    let existing = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN prompt_hash = {} THEN 1 ELSE 0 END), 0) AS same \
                 FROM abuse_patterns WHERE org_id = {}",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            [hash.clone().into(), org_id.into()],
        ))
        .await?;
    if let Some(row) = existing {
        let count: i64 = row.try_get("", "n")?;
        let same: i64 = row.try_get::<Option<i64>>("", "same")?.unwrap_or(0);
        if same > 0 {
            return Err(AppError::Conflict(
                "this prompt is already an abuse pattern".into(),
            ));
        }
        if count >= MAX_PATTERNS {
            return Err(AppError::BadRequest(format!(
                "an organization keeps at most {MAX_PATTERNS} abuse patterns"
            )));
        }
    }
    let created_at_ns = now_ns();
    let values: [Value; 6] = [
        org_id.into(),
        label.into(),
        text.clone().into(),
        hash.clone().into(),
        actor.user_id.into(),
        created_at_ns.into(),
    ];
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO abuse_patterns (org_id, label, text, prompt_hash, created_by, created_at_ns) \
                 VALUES ({}, {}, {}, {}, {}, {}) RETURNING id",
                placeholder(backend, 1),
                placeholder(backend, 2),
                placeholder(backend, 3),
                placeholder(backend, 4),
                placeholder(backend, 5),
                placeholder(backend, 6)
            ),
            values,
        ))
        .await?
        .ok_or_else(|| AppError::Internal("the pattern insert returned no id".into()))?;
    let id: i64 = row.try_get("", "id")?;
    audit::record(
        &txn,
        org_id,
        actor,
        "similarity.pattern.add",
        format!("marked a prompt as abusive ({label})"),
        json!({"pattern_id": id, "label": label, "prompt_hash": hash}),
    )
    .await?;
    txn.commit().await?;
    Ok(AbusePattern {
        id,
        label: label.to_owned(),
        text,
        prompt_hash: hash,
        created_at_ns,
        created_by: Some(actor.name.clone()),
        caught: 0,
    })
}

/// Removes a pattern (admins and owners); what it flagged stays logged.
pub async fn remove(db: &DatabaseConnection, org_id: Uuid, actor: &Actor, pattern_id: i64) -> Result<()> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let backend = db.get_database_backend();
    // It reads the pattern, then deletes it: take the write first (see `begin_write`).
    let txn = begin_write(db).await?;
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "DELETE FROM abuse_patterns WHERE org_id = {} AND id = {} RETURNING label, prompt_hash",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            [org_id.into(), pattern_id.into()],
        ))
        .await?
        .ok_or(AppError::NotFound("abuse pattern"))?;
    let label: String = row.try_get("", "label")?;
    let hash: String = row.try_get("", "prompt_hash")?;
    abuse::bump_config_version(&txn).await?;
    audit::record(
        &txn,
        org_id,
        actor,
        "similarity.pattern.remove",
        format!("removed the abuse pattern {label}"),
        json!({"pattern_id": pattern_id, "label": label, "prompt_hash": hash}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The organization's settings (the defaults until it sets its own).
pub async fn settings(db: &impl ConnectionTrait, org_id: Uuid) -> Result<Settings> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT threshold, burst_count, burst_window_ns FROM similarity_settings WHERE org_id = {}",
                placeholder(backend, 1)
            ),
            [org_id.into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(Settings::default());
    };
    Ok(Settings {
        threshold: row.try_get::<f64>("", "threshold")? as f32,
        burst_count: row.try_get("", "burst_count")?,
        burst_window_ns: row.try_get("", "burst_window_ns")?,
    })
}

fn view(settings: Settings) -> SimilaritySettings {
    SimilaritySettings {
        threshold: settings.threshold,
        burst_count: settings.burst_count,
        burst_window_seconds: settings.burst_window_ns / 1_000_000_000,
    }
}

/// Starts a change that reads before it writes with its write: the
/// patterns' version, which every change moves anyway (and a failed one
/// rolls back). On SQLite a transaction that read first cannot take the
/// write lock once another connection wrote since (`SQLITE_BUSY_SNAPSHOT`,
/// which no busy timeout waits out): under concurrent saves, or beside the
/// worker's lease renewals, such a save failed with a 500.
async fn claim_write(txn: &impl ConnectionTrait) -> Result<()> {
    abuse::bump_config_version(txn).await
}

/// Changes the organization's settings (admins and owners).
pub async fn update_settings(
    db: &DatabaseConnection,
    org_id: Uuid,
    actor: &Actor,
    update: &SimilaritySettings,
) -> Result<SimilaritySettings> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    if !(0.05..=1.0).contains(&update.threshold) {
        return Err(AppError::BadRequest("`threshold` must be 0.05 to 1".into()));
    }
    if !(2..=10_000).contains(&update.burst_count) {
        return Err(AppError::BadRequest("`burst_count` must be 2 to 10000".into()));
    }
    if !(10..=86_400).contains(&update.burst_window_seconds) {
        return Err(AppError::BadRequest(
            "`burst_window_seconds` must be 10 to 86400".into(),
        ));
    }
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    claim_write(&txn).await?;
    let before = view(settings(&txn, org_id).await?);
    let values: [Value; 4] = [
        org_id.into(),
        f64::from(update.threshold).into(),
        update.burst_count.into(),
        (update.burst_window_seconds * 1_000_000_000).into(),
    ];
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO similarity_settings (org_id, threshold, burst_count, burst_window_ns) \
             VALUES ({}, {}, {}, {}) ON CONFLICT (org_id) DO UPDATE SET threshold = excluded.threshold, \
             burst_count = excluded.burst_count, burst_window_ns = excluded.burst_window_ns",
            placeholder(backend, 1),
            placeholder(backend, 2),
            placeholder(backend, 3),
            placeholder(backend, 4)
        ),
        values,
    ))
    .await?;
    audit::record(
        &txn,
        org_id,
        actor,
        "similarity.settings.update",
        format!(
            "similarity threshold {} -> {}, burst {} in {} s -> {} in {} s",
            before.threshold,
            update.threshold,
            before.burst_count,
            before.burst_window_seconds,
            update.burst_count,
            update.burst_window_seconds
        ),
        json!({"before": before, "after": update}),
    )
    .await?;
    txn.commit().await?;
    Ok(update.clone())
}
