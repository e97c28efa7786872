//! Telemetry storage: spans (the hot, indexed row), their large text
//! payloads kept apart (prompt, completion, tool arguments and result, diff),
//! and a rollup per trace maintained at ingest.
//!
//! Times are Unix nanoseconds in 64-bit integers; ids are lower-case hex.
//! A span is unique per organization, trace and span id, which makes a
//! retried export a no-op instead of a duplicate.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Spans::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Spans::Id))
                    .col(uuid(Spans::OrgId))
                    .col(string_len(Spans::TraceId, 32))
                    .col(string_len(Spans::SpanId, 16))
                    .col(string_len_null(Spans::ParentSpanId, 16))
                    .col(string(Spans::Name))
                    .col(string_len(Spans::SpanKind, 16))
                    .col(string_len(Spans::LlmKind, 16))
                    .col(string(Spans::ServiceName))
                    .col(big_integer(Spans::StartTimeNs))
                    .col(big_integer(Spans::EndTimeNs))
                    .col(big_integer(Spans::DurationNs))
                    .col(string_len(Spans::StatusCode, 8))
                    .col(text_null(Spans::StatusMessage))
                    .col(string_null(Spans::Operation))
                    .col(string_null(Spans::Provider))
                    .col(string_null(Spans::Model))
                    .col(big_integer_null(Spans::InputTokens))
                    .col(big_integer_null(Spans::OutputTokens))
                    .col(big_integer_null(Spans::CacheReadTokens))
                    .col(big_integer_null(Spans::CacheWriteTokens))
                    .col(big_integer_null(Spans::ReasoningTokens))
                    .col(string_null(Spans::ToolName))
                    .col(string_null(Spans::ToolCallId))
                    .col(string_null(Spans::SessionId))
                    .col(string_null(Spans::EndUserId))
                    .col(big_integer_null(Spans::CostNanos))
                    .col(boolean(Spans::Unpriced).default(false))
                    .col(text(Spans::Details))
                    .col(big_integer(Spans::IngestedAtNs))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "idx_spans_identity",
                &[Spans::OrgId, Spans::TraceId, Spans::SpanId][..],
            ),
            ("idx_spans_org_time", &[Spans::OrgId, Spans::StartTimeNs][..]),
            (
                "idx_spans_org_model_time",
                &[Spans::OrgId, Spans::Model, Spans::StartTimeNs][..],
            ),
            (
                "idx_spans_org_kind_time",
                &[Spans::OrgId, Spans::LlmKind, Spans::StartTimeNs][..],
            ),
        ] {
            let mut index = Index::create();
            index.if_not_exists().name(name).table(Spans::Table);
            if name == "idx_spans_identity" {
                index.unique();
            }
            for column in columns {
                index.col(column.clone());
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(SpanContents::Table)
                    .if_not_exists()
                    .col(big_integer(SpanContents::SpanRowId).primary_key())
                    .col(text_null(SpanContents::Prompt))
                    .col(text_null(SpanContents::Completion))
                    .col(text_null(SpanContents::ToolArguments))
                    .col(text_null(SpanContents::ToolResult))
                    .col(text_null(SpanContents::Diff))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SpanContents::Table, SpanContents::SpanRowId)
                            .to(Spans::Table, Spans::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Traces::Table)
                    .if_not_exists()
                    .col(uuid(Traces::OrgId))
                    .col(string_len(Traces::TraceId, 32))
                    .col(string_null(Traces::RootSpanName))
                    .col(string(Traces::ServiceName))
                    .col(big_integer(Traces::StartTimeNs))
                    .col(big_integer(Traces::EndTimeNs))
                    .col(big_integer(Traces::SpanCount))
                    .col(big_integer(Traces::ErrorCount))
                    .col(big_integer(Traces::InputTokens))
                    .col(big_integer(Traces::OutputTokens))
                    .col(big_integer(Traces::CostNanos).default(0))
                    .col(big_integer(Traces::UnpricedSpans).default(0))
                    .primary_key(Index::create().col(Traces::OrgId).col(Traces::TraceId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_traces_org_time")
                    .table(Traces::Table)
                    .col(Traces::OrgId)
                    .col(Traces::StartTimeNs)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SpanContents::Table.into_iden(),
            Spans::Table.into_iden(),
            Traces::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone)]
enum Spans {
    Table,
    Id,
    OrgId,
    TraceId,
    SpanId,
    ParentSpanId,
    Name,
    SpanKind,
    LlmKind,
    ServiceName,
    StartTimeNs,
    EndTimeNs,
    DurationNs,
    StatusCode,
    StatusMessage,
    Operation,
    Provider,
    Model,
    InputTokens,
    OutputTokens,
    CacheReadTokens,
    CacheWriteTokens,
    ReasoningTokens,
    ToolName,
    ToolCallId,
    SessionId,
    EndUserId,
    /// Cost in nano-dollars (1e-9 USD); NULL when not priced.
    CostNanos,
    /// Tokens were used by a model without a price.
    Unpriced,
    /// JSON: resource and span attributes, scope, events, links, request parameters.
    Details,
    IngestedAtNs,
}

#[derive(DeriveIden)]
enum SpanContents {
    Table,
    SpanRowId,
    Prompt,
    Completion,
    ToolArguments,
    ToolResult,
    Diff,
}

// Variants are SQL identifiers: `traces.trace_id` is the column's real name.
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum Traces {
    Table,
    OrgId,
    TraceId,
    RootSpanName,
    ServiceName,
    StartTimeNs,
    EndTimeNs,
    SpanCount,
    ErrorCount,
    InputTokens,
    OutputTokens,
    CostNanos,
    UnpricedSpans,
}
