//! `/api/v1/traces` and `/api/v1/spans`: reading telemetry back.

use app::{
    error::{AppError, Result},
    services::{orgs, spans, traces},
    state::AppState,
    telemetry::{SpanPage, SpanQuery, SpanView, TraceDetail, TracePage, TraceQuery},
};
use axum::{
    Json,
    extract::{RawQuery, State},
    http::header,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{ApiPath, ApiQuery, Caller, attribute_filters};

#[derive(Deserialize)]
pub struct OrgQuery {
    /// For signed-in users in several organizations; tokens always read their own.
    pub org: Option<Uuid>,
}

/// The organization a read is about: a token's own, or for a user the one
/// asked for (if a member) or else their first.
pub(super) async fn org_for(state: &AppState, caller: &Caller, requested: Option<Uuid>) -> Result<Uuid> {
    let org_id = match (caller, requested) {
        (Caller::Token(token), _) => token.org_id,
        (Caller::User(_), Some(org_id)) => org_id,
        (Caller::User(signed_in), None) => orgs::list_for_user(&state.db, signed_in.user.id)
            .await?
            .first()
            .map(|org| org.id)
            .ok_or(AppError::NotFound("organization"))?,
    };
    caller.authorize_read(state, org_id).await?;
    Ok(org_id)
}

/// `GET /api/v1/traces/{trace_id}`
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(trace_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<OrgQuery>,
) -> Result<Json<TraceDetail>> {
    let org_id = org_for(&state, &caller, query.org).await?;
    Ok(Json(traces::get_trace(&state.db, org_id, &trace_id).await?))
}

#[derive(Deserialize)]
pub struct ExportQuery {
    org: Option<Uuid>,
    /// `specula` (the default) or `otlp`.
    format: Option<String>,
}

/// `GET /api/v1/traces/{trace_id}/export`: the whole trace as a JSON
/// download, Specula's own shape or, with `?format=otlp`, OTLP/JSON.
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(trace_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response> {
    let otlp = match query.format.as_deref() {
        None | Some("specula") => false,
        Some("otlp") => true,
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "`format` must be specula or otlp, got {other:?}"
            )));
        }
    };
    let org_id = org_for(&state, &caller, query.org).await?;
    let trace = traces::get_trace(&state.db, org_id, &trace_id).await?;
    let (body, file_name) = if otlp {
        (
            crate::otlp::trace_to_otlp_json(&trace),
            format!("trace-{}.otlp.json", trace.trace.trace_id),
        )
    } else {
        (
            serde_json::to_vec_pretty(&trace).map_err(|err| AppError::Internal(err.to_string()))?,
            format!("trace-{}.json", trace.trace.trace_id),
        )
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// `GET /api/v1/traces`
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(org): ApiQuery<OrgQuery>,
    ApiQuery(query): ApiQuery<TraceQuery>,
) -> Result<Json<TracePage>> {
    let org_id = org_for(&state, &caller, org.org).await?;
    Ok(Json(traces::list_traces(&state.db, org_id, &query).await?))
}

/// `GET /api/v1/traces/{trace_id}/spans/{span_id}`
pub async fn span(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((trace_id, span_id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<OrgQuery>,
) -> Result<Json<SpanView>> {
    let org_id = org_for(&state, &caller, query.org).await?;
    Ok(Json(
        traces::get_span(&state.db, org_id, &trace_id, &span_id).await?,
    ))
}

/// `GET /api/v1/spans`
pub async fn list_spans(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(org): ApiQuery<OrgQuery>,
    ApiQuery(mut query): ApiQuery<SpanQuery>,
    RawQuery(raw): RawQuery,
) -> Result<Json<SpanPage>> {
    let org_id = org_for(&state, &caller, org.org).await?;
    query.attributes = attribute_filters(raw.as_deref());
    Ok(Json(spans::list_spans(&state.db, org_id, &query).await?))
}
