//! Upkeep of the span tables that the server's background job schedules.

use entity::span;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QuerySelect};

/// Refreshes the planner statistics of the span tables and merges the
/// full-text index's pending entries (PostgreSQL only).
pub async fn refresh_statistics(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("ANALYZE spans, traces, span_search")
        .await?;
    db.execute_unprepared("SELECT gin_clean_pending_list('idx_span_search_body')")
        .await?;
    Ok(())
}

/// The newest span row id across organizations (0 without spans): how far
/// ingest has come since the last refresh.
pub async fn newest_span_id(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    Ok(span::Entity::find()
        .select_only()
        .column_as(span::Column::Id.max(), "newest")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten()
        .unwrap_or(0))
}
