//! What the Spans and Traces pages and the configuration card call:
//! adapters from the signed-in user's session to the same services the
//! REST API calls, scoped the same way.

use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use crate::telemetry::types::{CUSTOM_RANGE, TIME_RANGES};
use crate::{
    error::ApiError,
    telemetry::types::{
        DemoData, DemoRemoval, IngestStatus, SpanPage, SpanQuery, TraceDetail, TracePage, TraceQuery,
    },
};

/// A page of the organization's spans; `range` (a [`TIME_RANGES`] value)
/// sets `since` relative to now unless `since` is given. JSON input: the
/// URL encoding drops a query whose filters are all empty.
#[server(input = leptos::server_fn::codec::Json)]
pub async fn explore_spans(
    org_id: Uuid,
    query: SpanQuery,
    range: Option<String>,
) -> Result<SpanPage, ApiError> {
    use crate::{accounts::types::Action, telemetry::services::span_store};

    let mut query = query;
    let (state, user) = crate::server_context::member(org_id, Action::Read).await?;
    // The custom window's fields are the user's local times.
    crate::server_context::display_zone(&user)
        .await
        .read_local(&mut [&mut query.since, &mut query.until]);
    apply_range(&mut query.since, range.as_deref())?;
    Ok(span_store::list_spans(&state.db, org_id, &query).await?)
}

/// Sets `since` from a [`TIME_RANGES`] value, unless `since` is given or
/// the range is the custom window (`since` and `until` as sent).
#[cfg(feature = "ssr")]
fn apply_range(since: &mut Option<String>, range: Option<&str>) -> Result<(), crate::error::AppError> {
    if since.as_deref().is_none_or(str::is_empty)
        && let Some(range) = range.filter(|range| !range.is_empty() && *range != CUSTOM_RANGE)
    {
        *since = since_for_range(range)?;
    }
    Ok(())
}

/// Since when a [`TIME_RANGES`] value reaches back, in Unix nanoseconds; `None` for all time.
#[cfg(feature = "ssr")]
fn since_for_range(range: &str) -> Result<Option<String>, crate::error::AppError> {
    let seconds = TIME_RANGES
        .iter()
        .find(|(value, _, _)| *value == range)
        .map(|(_, _, seconds)| *seconds)
        .ok_or_else(|| crate::error::AppError::BadRequest(format!("unknown time range {range:?}")))?;
    let now = crate::platform::services::now_ns();
    Ok((seconds > 0).then(|| (now - seconds * 1_000_000_000).to_string()))
}

/// A page of the organization's trace rollups, with the same `range` as spans.
#[server(input = leptos::server_fn::codec::Json)]
pub async fn explore_traces(
    org_id: Uuid,
    query: TraceQuery,
    range: Option<String>,
) -> Result<TracePage, ApiError> {
    use crate::{accounts::types::Action, telemetry::services::span_store};

    let mut query = query;
    let (state, user) = crate::server_context::member(org_id, Action::Read).await?;
    // The custom window's fields are the user's local times.
    crate::server_context::display_zone(&user)
        .await
        .read_local(&mut [&mut query.since, &mut query.until]);
    apply_range(&mut query.since, range.as_deref())?;
    Ok(span_store::list_traces(&state.db, org_id, &query).await?)
}

/// The models the organization's spans asked for or were answered by:
/// the Model filter's suggestions.
#[server]
pub async fn known_models(org_id: Uuid) -> Result<Vec<String>, ApiError> {
    use crate::{accounts::types::Action, telemetry::services::span_store};

    let (state, _) = crate::server_context::member(org_id, Action::Read).await?;
    Ok(span_store::known_models(&state.db, org_id).await?)
}

/// One trace with all its spans.
#[server]
pub async fn load_trace(org_id: Uuid, trace_id: String) -> Result<TraceDetail, ApiError> {
    use crate::{accounts::types::Action, telemetry::services::span_store};

    let (state, _) = crate::server_context::member(org_id, Action::Read).await?;
    Ok(span_store::get_trace(&state.db, org_id, &trace_id).await?)
}

#[server]
pub async fn get_ingest_status(org_id: Uuid) -> Result<IngestStatus, ApiError> {
    use crate::accounts::types::Action;

    let (state, _) = crate::server_context::member(org_id, Action::Read).await?;
    let last_span_at_ns = crate::telemetry::services::span_store::last_ingested_at(&state.db, org_id).await?;
    let now_ns = crate::platform::services::now_ns();
    Ok(IngestStatus {
        last_span_at_ns,
        now_ns,
    })
}

/// Ingests the demo agent trace into the organization; returns its trace id.
#[server]
pub async fn send_test_trace(org_id: Uuid) -> Result<String, ApiError> {
    use crate::{accounts::types::Action, error::AppError, telemetry::services::ingest::demo};

    let (state, _) = crate::server_context::member(org_id, Action::MintOwnIngestToken).await?;
    let now_ns = crate::platform::services::now_ns();
    let pricing = state.prices.for_org(&state.db, org_id).await?;
    let policy = state.policies.for_org(&state.db, org_id).await?;
    let (trace_id, rows) = demo::demo_trace(now_ns, &policy, &pricing);
    let spans = crate::telemetry::services::ingest::PreparedSpans { rows, sampled_out: 0 };
    state.ingest.write(org_id, None, spans).await.map_err(|err| {
        AppError::Unavailable(
            if matches!(
                err,
                crate::telemetry::services::ingest::writer::WriteError::Overloaded
            ) {
                "the server is busy; try again"
            } else {
                "the test trace could not be stored"
            },
        )
    })?;
    Ok(trace_id)
}

/// The organization's demo data, if "Run demo" added some.
#[server]
pub async fn get_demo_data(org_id: Uuid) -> Result<Option<DemoData>, ApiError> {
    use crate::accounts::types::Action;

    let (state, _) = crate::server_context::member(org_id, Action::Read).await?;
    Ok(crate::telemetry::services::demo_workload::get(&state.db, org_id).await?)
}

/// Adds a week of demo telemetry to the organization (admins).
#[server]
pub async fn run_demo(org_id: Uuid) -> Result<DemoData, ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    Ok(crate::telemetry::services::demo_workload::add(
        &state,
        org_id,
        &crate::server_context::actor(&state, &user).await,
    )
    .await?)
}

/// Deletes what "Run demo" added (admins).
#[server]
pub async fn remove_demo_data(org_id: Uuid) -> Result<DemoRemoval, ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    Ok(crate::telemetry::services::demo_workload::remove(
        &state,
        org_id,
        &crate::server_context::actor(&state, &user).await,
    )
    .await?)
}
