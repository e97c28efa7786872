//! Full-text search over what spans say: prompts, completions, tool
//! arguments and results, diffs. Each database's own index, filled at ingest
//! for new spans: a contentless FTS5 table on SQLite (the text itself stays
//! in the compressed span payload; the index keeps no copy), a `tsvector`
//! with a GIN index on PostgreSQL. Both are keyed by the span's row id.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `detail=none` keeps no token positions (no phrase queries), which keeps
/// the index a fraction of the text's size; `contentless_delete` lets
/// retention remove rows.
const SQLITE: &[&str] = &["CREATE VIRTUAL TABLE IF NOT EXISTS span_search USING fts5(\
     body, content='', contentless_delete=1, detail=none, tokenize='unicode61 remove_diacritics 2')"];

const POSTGRES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS span_search (\
       span_row_id BIGINT PRIMARY KEY REFERENCES spans (id) ON DELETE CASCADE, \
       body TSVECTOR NOT NULL)",
    "CREATE INDEX IF NOT EXISTS idx_span_search_body ON span_search USING GIN (body)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, SQLITE, POSTGRES).await
    }
}
