//! "Run demo": a week of a realistic agent workload in an empty
//! organization, so that every page has something true to show, and
//! "Remove demo data", which deletes exactly what it added.
//!
//! The workload itself is built and sent by the server's OTLP module (the
//! only place that knows OTLP), through the same ingest path as any
//! exporter's request, behind [`crate::state::DemoIngest`]. What it adds is found again by
//! its marker: every demo trace id starts with it, every demo resource
//! carries it as `specula.demo`, and its usage rollups are keyed by a token
//! of its own (revoked from the start, its secret never kept).

use entity::{demo_workload, user};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait};
use serde_json::json;
use uuid::Uuid;

use crate::{
    accounts::{
        services::{orgs, tokens, tokens::TokenPrincipal},
        types::{Action, TokenScope},
    },
    error::{AppError, Result},
    platform::services::{
        audit::{self, Actor},
        now_ns,
        transaction::begin_write,
    },
    state::{AppState, DemoCounts},
    telemetry::{
        services::{
            ingest::{metrics::delete_points_of_resource, usage::delete_rollups_of_token},
            span_store,
        },
        types::{DemoData, DemoRemoval},
    },
};

/// The resource attribute every demo span and metric point carries, valued
/// with the workload's marker.
pub const MARKER_ATTRIBUTE: &str = "specula.demo";

/// The name of the token the demo is credited to (on the Costs page's
/// "Cost by API token" and in the token list).
pub const TOKEN_NAME: &str = "Demo data";

/// The organization's demo data, if it has some.
pub async fn get(db: &DatabaseConnection, org_id: Uuid) -> Result<Option<DemoData>> {
    let Some(row) = demo_workload::Entity::find_by_id(org_id).one(db).await? else {
        return Ok(None);
    };
    let creator = match row.created_by {
        Some(user_id) => user::Entity::find_by_id(user_id).one(db).await?,
        None => None,
    };
    Ok(Some(demo_data(&row, creator.map(|user| user.email))))
}

fn demo_data(row: &demo_workload::Model, added_by: Option<String>) -> DemoData {
    DemoData {
        added_at_ns: row.created_at_ns,
        added_by,
        marker: row.marker.clone(),
        traces: row.traces,
        spans: row.spans,
        metric_points: row.metric_points,
    }
}

/// Adds the demo workload to the organization (admins). An organization has
/// at most one: a second is refused until the first is removed.
pub async fn add(state: &AppState, org_id: Uuid, actor: &Actor) -> Result<DemoData> {
    orgs::authorize(&state.db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let marker = hex::encode(rand::random::<[u8; 8]>());
    let created_at_ns = now_ns();
    let txn = begin_write(&state.db).await?;
    if demo_workload::Entity::find_by_id(org_id)
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(ALREADY_THERE.to_owned()));
    }
    let token_id = tokens::create_internal(&txn, org_id, TOKEN_NAME, actor.user_id).await?;
    let inserted = demo_workload::ActiveModel {
        org_id: Set(org_id),
        marker: Set(marker.clone()),
        token_id: Set(token_id),
        created_by: Set(actor.user_id),
        created_at_ns: Set(created_at_ns),
        traces: Set(0),
        spans: Set(0),
        metric_points: Set(0),
    }
    .insert(&txn)
    .await;
    // Two clicks at once: the second insert meets the first's row.
    let row = inserted.map_err(|err| AppError::conflict_on_unique(err, ALREADY_THERE))?;
    txn.commit().await?;

    let principal = TokenPrincipal {
        token_id,
        name: TOKEN_NAME.to_owned(),
        org_id,
        scopes: vec![TokenScope::Ingest],
    };
    let counts = match state.demo.ingest(state, &principal, &marker, created_at_ns).await {
        Ok(counts) => counts,
        Err(err) => {
            // Take back what part of it went in, so that "Run demo" can be tried again.
            if let Err(cleanup) = delete_workload(&state.db, &row).await {
                tracing::error!(%org_id, error = %cleanup, "a failed demo workload could not be removed");
            }
            return Err(err);
        }
    };
    let mut active: demo_workload::ActiveModel = row.into();
    active.traces = Set(as_count(counts.traces));
    active.spans = Set(as_count(counts.spans));
    active.metric_points = Set(as_count(counts.metric_points));
    let txn = begin_write(&state.db).await?;
    let row = active.update(&txn).await?;
    record(&txn, actor, &row, "demo.add", "added", counts).await?;
    txn.commit().await?;
    tracing::info!(%org_id, actor = %actor.name, traces = counts.traces, spans = counts.spans, "demo data added");
    Ok(demo_data(&row, Some(actor.name.clone())))
}

/// Deletes the organization's demo data, exactly what [`add`] added (admins).
pub async fn remove(state: &AppState, org_id: Uuid, actor: &Actor) -> Result<DemoRemoval> {
    orgs::authorize(&state.db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let row = demo_workload::Entity::find_by_id(org_id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("demo data"))?;
    let txn = begin_write(&state.db).await?;
    let removed = delete_in(&txn, &row).await?;
    let counts = DemoCounts {
        traces: removed.traces,
        spans: removed.spans,
        metric_points: removed.metric_points,
    };
    record(&txn, actor, &row, "demo.remove", "removed", counts).await?;
    txn.commit().await?;
    state.tokens.forget(row.token_id);
    tracing::info!(%org_id, actor = %actor.name, traces = removed.traces, spans = removed.spans, "demo data removed");
    Ok(removed)
}

async fn delete_workload(db: &DatabaseConnection, row: &demo_workload::Model) -> Result<DemoRemoval> {
    let txn = begin_write(db).await?;
    let removed = delete_in(&txn, row).await?;
    txn.commit().await?;
    Ok(removed)
}

async fn delete_in(txn: &sea_orm::DatabaseTransaction, row: &demo_workload::Model) -> Result<DemoRemoval> {
    let traces = span_store::delete_traces_with_prefix(txn, row.org_id, &row.marker).await?;
    let usage_rollups = delete_rollups_of_token(txn, row.org_id, row.token_id).await?;
    let metric_points = delete_points_of_resource(txn, row.org_id, MARKER_ATTRIBUTE, &row.marker).await?;
    tokens::delete_internal(txn, row.org_id, row.token_id).await?;
    demo_workload::Entity::delete_by_id(row.org_id).exec(txn).await?;
    Ok(DemoRemoval {
        traces: traces.traces,
        spans: traces.spans,
        metric_points,
        usage_rollups,
    })
}

/// The audit entry of adding or removing the demo, with what it counted.
async fn record(
    txn: &sea_orm::DatabaseTransaction,
    actor: &Actor,
    row: &demo_workload::Model,
    action: &str,
    verb: &str,
    counts: DemoCounts,
) -> Result<()> {
    audit::record(
        txn,
        row.org_id,
        actor,
        action,
        format!(
            "{verb} demo data: {} traces, {} spans, {} metric points",
            counts.traces, counts.spans, counts.metric_points
        ),
        json!({ "marker": row.marker, "traces": counts.traces, "spans": counts.spans, "metric_points": counts.metric_points }),
    )
    .await
}

const ALREADY_THERE: &str = "this organization already has demo data; remove it first";

fn as_count(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
