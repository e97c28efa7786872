//! Full-text search over what spans say. The text is gathered at ingest
//! from the derived fields and indexed by the database itself (FTS5 on
//! SQLite, `tsvector` on PostgreSQL; see the `span_search` migration).

use std::{
    borrow::Cow,
    collections::{HashMap, HashSet, hash_map::Entry},
};

use entity::span;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement, TransactionTrait,
    sea_query::{Alias, Expr, ExprTrait, Query, SimpleExpr},
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::{
    error::Result,
    platform::services::{
        maintenance,
        transaction::{WriteTransaction, value_groups},
    },
    telemetry::{
        services::{
            span::genai::LlmFields,
            span_store::{upkeep::newest_span_id, views::span_view},
        },
        types::SpanView,
    },
};

/// Message fields that are structure, not words anyone searches for.
const STRUCTURAL_KEYS: &[&str] = &["role", "type", "id", "finish_reason", "tool_call_id"];

fn collect_strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(text) => out.push(text),
        Value::Array(items) => items.iter().for_each(|item| collect_strings(item, out)),
        Value::Object(map) => map
            .iter()
            .filter(|(key, _)| !STRUCTURAL_KEYS.contains(&key.as_str()))
            .for_each(|(_, item)| collect_strings(item, out)),
        _ => {}
    }
}

/// What a span is found by, borrowed from its derived fields at ingest or
/// from a stored span read back.
pub struct SearchableParts<'a> {
    pub prompt: Option<&'a str>,
    pub completion: Option<&'a str>,
    pub tool_arguments: Option<&'a str>,
    pub tool_result: Option<&'a str>,
    pub diff: Option<&'a str>,
}

impl<'a> From<&'a LlmFields> for SearchableParts<'a> {
    fn from(llm: &'a LlmFields) -> Self {
        Self {
            prompt: llm.prompt.as_deref(),
            completion: llm.completion.as_deref(),
            tool_arguments: llm.tool_arguments.as_deref(),
            tool_result: llm.tool_result.as_deref(),
            diff: llm.diff.as_deref(),
        }
    }
}

impl<'a> From<&'a SpanView> for SearchableParts<'a> {
    fn from(span: &'a SpanView) -> Self {
        Self {
            prompt: span.prompt.as_deref(),
            completion: span.completion.as_deref(),
            tool_arguments: span.tool_arguments.as_deref(),
            tool_result: span.tool_result.as_deref(),
            diff: span.diff.as_deref(),
        }
    }
}

/// What a span is found by: the distinct lower-case words of its prompt and
/// completion (message structure left out), tool arguments and result, and
/// diff, space-separated in order of first appearance; `None` when it has
/// none. Both indexes keep only which spans hold a word (no positions or
/// counts), so each word once is all they need, and gathering them here, on
/// the request's thread, spares the single writer tokenizing every repeat. On PostgreSQL the
/// string is a `tsvector` literal as it stands: the words are plain letters
/// and digits, so none needs quoting.
pub fn searchable_text<'a>(parts: impl Into<SearchableParts<'a>>) -> Option<String> {
    let parts = parts.into();
    let messages: Vec<Result<Value, &str>> = [parts.prompt, parts.completion]
        .into_iter()
        .flatten()
        .map(|messages| match serde_json::from_str::<Value>(messages) {
            Ok(parsed @ (Value::Array(_) | Value::Object(_))) => Ok(parsed),
            _ => Err(messages),
        })
        .collect();
    let mut texts: Vec<&str> = Vec::new();
    for messages in &messages {
        match messages {
            Ok(parsed) => collect_strings(parsed, &mut texts),
            Err(plain) => texts.push(plain),
        }
    }
    texts.extend(
        [parts.tool_arguments, parts.tool_result, parts.diff]
            .into_iter()
            .flatten(),
    );
    // A hash set rather than sorting: sorting every word of a span cost
    // preparation a quarter of its time. Sized for a word per 8 bytes of
    // text up front, since growing it was a fifth of this function.
    let text_bytes: usize = texts.iter().map(|text| text.len()).sum();
    let mut seen: HashMap<Cow<str>, (), foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(text_bytes / 8, Default::default());
    let mut lexemes = String::with_capacity(text_bytes / 2);
    for word in texts
        .into_iter()
        .flat_map(words)
        .filter(|word| word.len() <= MAX_WORD_BYTES)
    {
        // One lookup per word: the entry both tests and inserts.
        if let Entry::Vacant(entry) = seen.entry(lower_case(word)) {
            if !lexemes.is_empty() {
                lexemes.push(' ');
            }
            lexemes.push_str(entry.key());
            entry.insert(());
        }
    }
    (!lexemes.is_empty()).then_some(lexemes)
}

fn lower_case(word: &str) -> Cow<'_, str> {
    if !word.is_ascii() {
        Cow::Owned(word.to_lowercase())
    } else if word.bytes().any(|byte| byte.is_ascii_uppercase()) {
        Cow::Owned(word.to_ascii_lowercase())
    } else {
        Cow::Borrowed(word)
    }
}

/// Words as both indexes see them: runs of letters and digits. SQLite's
/// `unicode61` tokenizer splits this way itself; PostgreSQL's parser would
/// keep `a.rs` or `parse_range` whole, so its text is split here first.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
}

/// Words, space-separated: what PostgreSQL's `plainto_tsquery` is given.
pub fn words_only(text: &str) -> String {
    words(text).collect::<Vec<_>>().join(" ")
}

/// Longer "words" (base64 blobs, minified code) are not worth indexing, and
/// PostgreSQL refuses lexemes over 2 KB.
const MAX_WORD_BYTES: usize = 100;

/// The words of a search as an FTS5 query: every word must appear; quotes
/// make each a plain token, so FTS5 operators in user text mean nothing.
fn fts5_query(text: &str) -> Option<String> {
    let quoted: Vec<String> = words(text).map(|word| format!("\"{word}\"")).collect();
    (!quoted.is_empty()).then(|| quoted.join(" "))
}

/// A condition on `spans.id`: the spans whose text contains every word of
/// `text`; `None` when `text` has no words.
pub fn spans_matching(backend: DatabaseBackend, text: &str) -> Option<SimpleExpr> {
    let query = fts5_query(text)?;
    // Each backend's own placeholder: sea-query renumbers `$1` for PostgreSQL.
    Some(match backend {
        DatabaseBackend::Postgres => SimpleExpr::cust_with_values(
            "spans.id IN (SELECT span_row_id FROM span_search WHERE body @@ plainto_tsquery('simple', $1))",
            [words_only(text)],
        ),
        _ => SimpleExpr::cust_with_values(
            "spans.id IN (SELECT rowid FROM span_search WHERE span_search MATCH ?)",
            [query],
        ),
    })
}

/// The `maintenance_jobs` row of the backfill (inserted by its migration).
const SEARCH_BACKFILL: &str = "search_backfill";

/// Spans read per backfill batch, each batch one transaction.
const BACKFILL_BATCH: u64 = 500;

/// Indexes the spans stored before the full-text index existed, in id
/// order and in batches, recording its progress with each batch so a
/// restart goes on from there. Spans stored since are indexed at ingest;
/// spans already in the index are skipped. Returns how many were indexed.
pub async fn backfill_index(db: &DatabaseConnection, stop: &CancellationToken) -> Result<u64> {
    let Some(mut position) = maintenance::unfinished(db, SEARCH_BACKFILL).await? else {
        return Ok(0);
    };
    // Everything above the newest span at start was indexed at ingest.
    let last = newest_span_id(db).await?;
    let mut indexed = 0;
    while position < last && !stop.is_cancelled() {
        let rows = span::Entity::find()
            .filter(span::Column::Id.gt(position))
            .filter(span::Column::Id.lte(last))
            .order_by_asc(span::Column::Id)
            .limit(BACKFILL_BATCH)
            .all(db)
            .await?;
        let Some(batch_end) = rows.last().map(|row| row.id) else {
            break;
        };
        let txn = db.begin().await?;
        let present = already_indexed(&txn, rows.first().map_or(0, |row| row.id), batch_end).await?;
        let mut texts: Vec<(i64, String)> = Vec::new();
        for row in rows.into_iter().filter(|row| !present.contains(&row.id)) {
            let row_id = row.id;
            // An unreadable payload is skipped, not fatal: the rest still get indexed.
            match span_view(row) {
                Ok(view) => texts.extend(searchable_text(&view).map(|text| (row_id, text))),
                Err(err) => tracing::warn!(row_id, %err, "span payload unreadable; not indexed"),
            }
        }
        let borrowed: Vec<(i64, &str)> = texts.iter().map(|(id, text)| (*id, text.as_str())).collect();
        index_for_search(&txn, &borrowed).await?;
        maintenance::set_progress(&txn, SEARCH_BACKFILL, batch_end, false).await?;
        txn.commit().await?;
        indexed += texts.len() as u64;
        position = batch_end;
    }
    if position >= last {
        maintenance::set_progress(db, SEARCH_BACKFILL, position, true).await?;
    }
    Ok(indexed)
}

/// The row ids in `first..=last` that the index already has.
async fn already_indexed(db: &impl ConnectionTrait, first: i64, last: i64) -> Result<HashSet<i64>> {
    let column = Alias::new(match db.get_database_backend() {
        DatabaseBackend::Postgres => "span_row_id",
        _ => "rowid",
    });
    let rows = db
        .query_all(
            Query::select()
                .expr_as(Expr::col(column.clone()), Alias::new("id"))
                .from(Alias::new("span_search"))
                .and_where(Expr::col(column).between(first, last)),
        )
        .await?;
    rows.iter()
        .map(|row| row.try_get::<i64>("", "id").map_err(Into::into))
        .collect()
}

/// Rows per full-text index insert.
const SEARCH_CHUNK: usize = 1000;

/// Adds the new spans' text to the full-text index, in the same transaction.
pub async fn index_for_search(txn: &impl WriteTransaction, rows: &[(i64, &str)]) -> Result<(), DbErr> {
    let backend = txn.backend();
    for chunk in rows.chunks(SEARCH_CHUNK) {
        let mut values = Vec::with_capacity(chunk.len() * 2);
        for (row_id, text) in chunk {
            values.push(sea_orm::Value::from(*row_id));
            values.push(sea_orm::Value::from(*text));
        }
        let sql = match backend {
            DatabaseBackend::Postgres => {
                let groups: Vec<String> = (0..chunk.len())
                    .map(|row| format!("(${}, ${}::tsvector)", row * 2 + 1, row * 2 + 2))
                    .collect();
                // A span indexed twice (the backfill racing on another
                // replica) keeps its first entry.
                format!(
                    "INSERT INTO span_search (span_row_id, body) VALUES {} ON CONFLICT (span_row_id) DO NOTHING",
                    groups.join(", ")
                )
            }
            _ => format!(
                "INSERT INTO span_search (rowid, body) VALUES {}",
                value_groups(backend, chunk.len(), 2)
            ),
        };
        txn.execute_statement(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_words_without_structure() {
        let llm = LlmFields {
            prompt: Some(r#"[{"role":"user","parts":[{"type":"text","content":"Fix the parser"}]}]"#.into()),
            completion: Some("plain answer: fix it".into()),
            diff: Some("+let x = 1;".into()),
            ..Default::default()
        };
        assert_eq!(
            searchable_text(&llm).as_deref(),
            Some("fix the parser plain answer it let x 1")
        );
        assert_eq!(searchable_text(&LlmFields::default()), None);
    }

    #[test]
    fn each_word_once_lower_case_and_not_too_long() {
        let long = "x".repeat(MAX_WORD_BYTES + 1);
        let llm = LlmFields {
            tool_arguments: Some(format!("Ünïcode ÜNÏCODE fix FIX-fix {long}")),
            tool_result: Some("a.rs parse_range".into()),
            ..Default::default()
        };
        assert_eq!(
            searchable_text(&llm).as_deref(),
            Some("ünïcode fix a rs parse range")
        );
        let only_long = LlmFields {
            diff: Some(long),
            ..Default::default()
        };
        assert_eq!(searchable_text(&only_long), None);
    }

    #[test]
    fn user_text_cannot_inject_fts_syntax() {
        assert_eq!(
            fts5_query("parse_range OR \"x\" NEAR(a)").as_deref(),
            Some(r#""parse" "range" "OR" "x" "NEAR" "a""#)
        );
        assert_eq!(fts5_query(" -*- "), None);
        assert_eq!(
            words_only("--- a/src/a.rs\n+fn parse_range()"),
            "a src a rs fn parse range"
        );
    }
}
