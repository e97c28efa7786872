//! Spans keep their full OTLP content once, compressed: the `details` JSON
//! becomes a `payload` blob (zstd-compressed JSON for new rows), and the
//! separate `span_contents` table goes, because prompts, completions, tool
//! arguments and results and diffs are read back from the span's own
//! attributes and events instead of being stored a second time.
//!
//! Existing rows keep everything: their JSON moves into `payload` as is
//! (readers tell plain JSON from a zstd frame by its first byte), and the
//! text of `span_contents` is folded into it under `content`, which readers
//! prefer when present (it held the only copy of hashed content).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE: &[&str] = &[
    "UPDATE spans SET details = json_set(details, '$.content', json_object(\
       'prompt', c.prompt, 'completion', c.completion, 'tool_arguments', c.tool_arguments, \
       'tool_result', c.tool_result, 'diff', c.diff)) \
     FROM span_contents AS c WHERE c.span_row_id = spans.id",
    "ALTER TABLE spans ADD COLUMN payload BLOB",
    "UPDATE spans SET payload = CAST(details AS BLOB)",
    "ALTER TABLE spans DROP COLUMN details",
    "DROP TABLE span_contents",
];

const POSTGRES: &[&str] = &[
    "UPDATE spans SET details = jsonb_set(details::jsonb, '{content}', jsonb_build_object(\
       'prompt', c.prompt, 'completion', c.completion, 'tool_arguments', c.tool_arguments, \
       'tool_result', c.tool_result, 'diff', c.diff))::text \
     FROM span_contents AS c WHERE c.span_row_id = spans.id",
    "ALTER TABLE spans ADD COLUMN payload BYTEA",
    "UPDATE spans SET payload = convert_to(details, 'UTF8')",
    "ALTER TABLE spans ALTER COLUMN payload SET NOT NULL",
    "ALTER TABLE spans DROP COLUMN details",
    "DROP TABLE span_contents",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, SQLITE, POSTGRES).await
    }
}
