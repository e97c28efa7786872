//! `/api/v1/traces/*`: reading traces back.

use app::{
    error::{AppError, Result},
    services::{orgs, traces},
    state::AppState,
    telemetry::TraceDetail,
};
use axum::{
    Json,
    extract::{Query, State},
};
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{ApiPath, Caller};

#[derive(Deserialize)]
pub struct OrgQuery {
    /// For signed-in users in several organizations; tokens always read their own.
    org: Option<Uuid>,
}

/// The organization a read is about: a token's own, or for a user the one
/// asked for (if a member) or else their first.
async fn org_for(state: &AppState, caller: &Caller, requested: Option<Uuid>) -> Result<Uuid> {
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
    Query(query): Query<OrgQuery>,
) -> Result<Json<TraceDetail>> {
    let org_id = org_for(&state, &caller, query.org).await?;
    Ok(Json(traces::get_trace(&state.db, org_id, &trace_id).await?))
}
