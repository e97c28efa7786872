//! What the OTLP forwarder reads: row ids in order (to tell where the table
//! has no more gaps), and an organization's spans after a row id, whole.

use entity::span;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement, Value,
};
use uuid::Uuid;

use super::views::span_view;
use crate::{
    error::Result,
    platform::services::transaction::{placeholder, placeholder_list},
    telemetry::types::SpanView,
};

/// A stored span to forward.
#[derive(Debug)]
pub struct ForwardSpan {
    pub row_id: i64,
    /// When ingest stored it: how long it has waited.
    pub ingested_at_ns: i64,
    pub view: SpanView,
}

/// Up to `limit` span row ids above `after`, in order, of any organization.
pub async fn span_ids_after(db: &impl ConnectionTrait, after: i64, limit: u64) -> Result<Vec<i64>, DbErr> {
    span::Entity::find()
        .select_only()
        .column(span::Column::Id)
        .filter(span::Column::Id.gt(after))
        .order_by_asc(span::Column::Id)
        .limit(limit)
        .into_tuple::<i64>()
        .all(db)
        .await
}

/// Up to `limit` spans of `org_id` with a row id above `after` and at most
/// `up_to`, of `services` (all when empty), in row id order.
pub async fn spans_to_forward(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    range: (i64, i64),
    services: &[String],
    limit: u64,
) -> Result<Vec<ForwardSpan>> {
    let (after, up_to) = range;
    let rows = span::Entity::find()
        .filter(of_org_after(org_id, after, services).add(span::Column::Id.lte(up_to)))
        .order_by_asc(span::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok(ForwardSpan {
                row_id: row.id,
                ingested_at_ns: row.ingested_at_ns,
                view: span_view(row)?,
            })
        })
        .collect()
}

/// How many spans of `org_id` and `services` lie above row `after`, counted up to `cap`.
pub async fn count_spans_after(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    after: i64,
    services: &[String],
    cap: i64,
) -> Result<i64> {
    let backend = db.get_database_backend();
    let mut values: Vec<Value> = vec![org_id.into(), after.into()];
    let service_filter = if services.is_empty() {
        String::new()
    } else {
        values.extend(services.iter().map(|service| Value::from(service.as_str())));
        format!(
            " AND service_name IN ({})",
            placeholder_list(backend, 3, services.len())
        )
    };
    values.push(cap.into());
    let sql = format!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM spans WHERE org_id = {} AND id > {}{service_filter} LIMIT {}) AS pending",
        placeholder(backend, 1),
        placeholder(backend, 2),
        placeholder(backend, values.len()),
    );
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(row
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}

fn of_org_after(org_id: Uuid, after: i64, services: &[String]) -> Condition {
    let condition = Condition::all()
        .add(span::Column::OrgId.eq(org_id))
        .add(span::Column::Id.gt(after));
    if services.is_empty() {
        condition
    } else {
        condition.add(span::Column::ServiceName.is_in(services.iter().cloned()))
    }
}
