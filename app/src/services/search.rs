//! Full-text search over what spans say. The text is gathered at ingest
//! from the derived fields and indexed by the database itself (FTS5 on
//! SQLite, `tsvector` on PostgreSQL; see the `span_search` migration).

use sea_orm::{DatabaseBackend, sea_query::SimpleExpr};
use serde_json::Value;

use super::ingest::genai::LlmFields;

/// Message fields that are structure, not words anyone searches for.
const STRUCTURAL_KEYS: &[&str] = &["role", "type", "id", "finish_reason", "tool_call_id"];

fn collect_words(value: &Value, out: &mut String) {
    match value {
        Value::String(text) => {
            out.push_str(text);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|item| collect_words(item, out)),
        Value::Object(map) => map
            .iter()
            .filter(|(key, _)| !STRUCTURAL_KEYS.contains(&key.as_str()))
            .for_each(|(_, item)| collect_words(item, out)),
        _ => {}
    }
}

/// The text a span is found by: the words of its prompt and completion
/// (message structure left out), tool arguments and result, and diff.
pub fn searchable_text(llm: &LlmFields) -> Option<String> {
    let mut out = String::new();
    for messages in [&llm.prompt, &llm.completion].into_iter().flatten() {
        match serde_json::from_str::<Value>(messages) {
            Ok(parsed @ (Value::Array(_) | Value::Object(_))) => collect_words(&parsed, &mut out),
            _ => {
                out.push_str(messages);
                out.push('\n');
            }
        }
    }
    for text in [&llm.tool_arguments, &llm.tool_result, &llm.diff]
        .into_iter()
        .flatten()
    {
        out.push_str(text);
        out.push('\n');
    }
    (!out.trim().is_empty()).then_some(out)
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

/// A PostgreSQL `tsvector` literal of the text's distinct lower-case words,
/// without positions. Building it here is much cheaper for the database than
/// `to_tsvector` on the raw text, and the words are plain letters and digits,
/// so none needs quoting.
pub fn tsvector_literal(text: &str) -> String {
    let mut lexemes: Vec<String> = words(text)
        .filter(|word| word.len() <= MAX_WORD_BYTES)
        .map(str::to_lowercase)
        .collect();
    lexemes.sort_unstable();
    lexemes.dedup();
    lexemes.join(" ")
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_words_without_structure() {
        let llm = LlmFields {
            prompt: Some(r#"[{"role":"user","parts":[{"type":"text","content":"fix the parser"}]}]"#.into()),
            completion: Some("plain answer".into()),
            diff: Some("+let x = 1;".into()),
            ..Default::default()
        };
        let text = searchable_text(&llm).unwrap();
        assert!(
            text.contains("fix the parser") && text.contains("plain answer") && text.contains("+let x = 1;")
        );
        assert!(!text.contains("user") && !text.contains("text\n"), "{text}");
        assert_eq!(searchable_text(&LlmFields::default()), None);
    }

    #[test]
    fn user_text_cannot_inject_fts_syntax() {
        assert_eq!(
            fts5_query("parse_range OR \"x\" NEAR(a)").as_deref(),
            Some(r#""parse" "range" "OR" "x" "NEAR" "a""#)
        );
        assert_eq!(fts5_query(" -*- "), None);
        assert_eq!(tsvector_literal("Fix fix the-FIX a.rs"), "a fix rs the");
        assert_eq!(
            words_only("--- a/src/a.rs\n+fn parse_range()"),
            "a src a rs fn parse range"
        );
    }
}
