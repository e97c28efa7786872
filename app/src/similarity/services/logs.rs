//! The similarity log (`prompt_sim_logs`): every new prompt that matched an
//! abuse pattern or joined a burst, newest first, a page at a time or as
//! CSV.

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};
use uuid::Uuid;

use crate::{
    error::{AppError, Result},
    format::push_csv_row,
    platform::services::{
        now_ns,
        paging::{self, DEFAULT_PAGE, MAX_CSV_ROWS, MAX_PAGE},
        transaction::placeholder,
    },
    similarity::types::{SimilarityLog, SimilarityLogPage, SimilarityLogQuery},
    telemetry::services::span_store::parse_time,
};

const DEFAULT_RANGE_NS: i64 = 7 * 24 * 3_600 * 1_000_000_000;

/// The `[since, until)` of a read: `until` defaults to now, `since` to 7
/// days before `until`.
pub(super) fn time_window(since: &Option<String>, until: &Option<String>) -> Result<(i64, i64)> {
    let text = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
    let until = match text(until) {
        Some(until) => parse_time("until", &until)?,
        None => now_ns(),
    };
    let since = match text(since) {
        Some(since) => parse_time("since", &since)?,
        None => until.saturating_sub(DEFAULT_RANGE_NS),
    };
    Ok((since, until))
}

/// One page of `org_id`'s similarity log.
pub async fn list(
    db: &DatabaseConnection,
    org_id: Uuid,
    query: &SimilarityLogQuery,
) -> Result<SimilarityLogPage> {
    let csv = paging::wants_csv(query.format.as_deref())?;
    let text = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
    let (since, until) = time_window(&query.since, &query.until)?;
    let most = if csv { MAX_CSV_ROWS } else { MAX_PAGE };
    let limit = query
        .limit
        .unwrap_or(if csv { MAX_CSV_ROWS } else { DEFAULT_PAGE });
    if !(1..=most).contains(&limit) {
        return Err(AppError::BadRequest(format!("`limit` must be 1 to {most}")));
    }
    let backend = db.get_database_backend();
    let mut values: Vec<Value> = vec![org_id.into(), since.into(), until.into()];
    let mut conditions = vec![
        format!("org_id = {}", placeholder(backend, 1)),
        format!("time_ns >= {}", placeholder(backend, 2)),
        format!("time_ns < {}", placeholder(backend, 3)),
    ];
    let mut condition = |sql: &dyn Fn(&str) -> String, value: Value, values: &mut Vec<Value>| {
        values.push(value);
        conditions.push(sql(&placeholder(backend, values.len())));
    };
    if let Some(flagged) = query.flagged {
        condition(&|mark| format!("flagged = {mark}"), flagged.into(), &mut values);
    }
    if let Some(min_score) = query.min_score {
        condition(
            &|mark| format!("score >= {mark}"),
            f64::from(min_score).into(),
            &mut values,
        );
    }
    if let Some(end_user) = text(&query.end_user) {
        condition(&|mark| format!("end_user = {mark}"), end_user.into(), &mut values);
    }
    if let Some(cursor) = text(&query.cursor) {
        let (time, id) = cursor
            .split_once(':')
            .and_then(|(time, id)| Some((time.parse::<i64>().ok()?, id.parse::<i64>().ok()?)))
            .ok_or_else(|| AppError::BadRequest("`cursor` is not one this API gave".into()))?;
        values.extend([time.into(), time.into(), id.into()]);
        let count = values.len();
        conditions.push(format!(
            "(time_ns < {} OR (time_ns = {} AND id < {}))",
            placeholder(backend, count - 2),
            placeholder(backend, count - 1),
            placeholder(backend, count)
        ));
    }
    let sql = format!(
        "SELECT id, prompt_hash, matched_prompt_hash, score, flagged, reason, pattern_id, end_user, trace_id, \
         span_id, time_ns FROM prompt_sim_logs WHERE {} ORDER BY time_ns DESC, id DESC LIMIT {}",
        conditions.join(" AND "),
        limit + 1
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut logs = rows
        .iter()
        .map(|row| {
            Ok(SimilarityLog {
                id: row.try_get("", "id")?,
                prompt_hash: row.try_get("", "prompt_hash")?,
                matched_prompt_hash: row.try_get("", "matched_prompt_hash")?,
                score: row.try_get::<f64>("", "score")? as f32,
                flagged: row.try_get("", "flagged")?,
                reason: row.try_get("", "reason")?,
                pattern_id: row.try_get("", "pattern_id")?,
                end_user: row.try_get("", "end_user")?,
                trace_id: row.try_get("", "trace_id")?,
                span_id: row.try_get("", "span_id")?,
                time_ns: row.try_get("", "time_ns")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let next_cursor = if logs.len() as u64 > limit {
        logs.truncate(limit as usize);
        logs.last().map(|log| format!("{}:{}", log.time_ns, log.id))
    } else {
        None
    };
    Ok(SimilarityLogPage { logs, next_cursor })
}

/// The page as CSV, with a header row.
pub fn to_csv(page: &SimilarityLogPage) -> String {
    let mut out = String::from(
        "time,id,reason,flagged,score,prompt_hash,matched_prompt_hash,pattern_id,end_user,trace_id,span_id\n",
    );
    for log in &page.logs {
        let time = chrono::DateTime::from_timestamp_nanos(log.time_ns)
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let fields = [
            time,
            log.id.to_string(),
            log.reason.clone(),
            log.flagged.to_string(),
            format!("{:.4}", log.score),
            log.prompt_hash.clone(),
            log.matched_prompt_hash.clone(),
            log.pattern_id.map(|id| id.to_string()).unwrap_or_default(),
            log.end_user.clone().unwrap_or_default(),
            log.trace_id.clone(),
            log.span_id.clone(),
        ];
        push_csv_row(&mut out, &fields);
        out.push('\n');
    }
    out
}
