//! Filling `request_model` for spans stored before the column existed: their
//! payloads are read again in id order and in batches, each batch one
//! transaction that records the job's progress, so a restart goes on from
//! the last batch done. Setting a span's value twice writes the same value,
//! so a second replica running the job meanwhile changes nothing.

use entity::span;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
    sea_query::Expr,
};
use tokio_util::sync::CancellationToken;

use crate::{
    error::Result,
    platform::services::maintenance,
    telemetry::services::{
        span::{genai, payload},
        span_store::upkeep::newest_span_id,
    },
};

/// The `maintenance_jobs` row of the backfill (inserted by its migration).
const REQUEST_MODEL_BACKFILL: &str = "request_model_backfill";

/// Spans read per batch, each batch one transaction.
const BATCH: u64 = 500;

/// Sets `request_model` on the older spans whose request asked for another
/// model than the one that answered. Returns how many were set.
pub async fn backfill_request_models(db: &DatabaseConnection, stop: &CancellationToken) -> Result<u64> {
    let Some(mut position) = maintenance::unfinished(db, REQUEST_MODEL_BACKFILL).await? else {
        return Ok(0);
    };
    // Everything above the newest span at start got its value at ingest.
    let last = newest_span_id(db).await?;
    let mut set = 0;
    while position < last && !stop.is_cancelled() {
        let rows: Vec<(i64, String, Option<String>, Vec<u8>)> = span::Entity::find()
            .select_only()
            .columns([
                span::Column::Id,
                span::Column::Name,
                span::Column::Model,
                span::Column::Payload,
            ])
            .filter(span::Column::Id.gt(position))
            .filter(span::Column::Id.lte(last))
            .filter(span::Column::Model.is_not_null())
            .order_by_asc(span::Column::Id)
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        let Some(batch_end) = rows.last().map(|(id, ..)| *id) else {
            break;
        };
        let txn = db.begin().await?;
        for (row_id, name, model, stored) in rows {
            // An unreadable payload is skipped, not fatal: the rest still get theirs.
            let stored = match payload::decode(&stored) {
                Ok(stored) => stored,
                Err(err) => {
                    tracing::warn!(row_id, %err, "span payload unreadable; request model not set");
                    continue;
                }
            };
            let asked = genai::derive(&name, &stored.attributes, &stored.events).request_model;
            let Some(asked) = asked.filter(|asked| Some(asked) != model.as_ref()) else {
                continue;
            };
            span::Entity::update_many()
                .col_expr(span::Column::RequestModel, Expr::value(asked))
                .filter(span::Column::Id.eq(row_id))
                .exec(&txn)
                .await?;
            set += 1;
        }
        maintenance::set_progress(&txn, REQUEST_MODEL_BACKFILL, batch_end, false).await?;
        txn.commit().await?;
        position = batch_end;
    }
    if position >= last {
        maintenance::set_progress(db, REQUEST_MODEL_BACKFILL, position, true).await?;
    }
    Ok(set)
}
