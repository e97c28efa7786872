//! `/api/v1/governance/*`: the organization's policy, its versions and
//! restores, what ingest left out on its account, the evaluate API and the
//! decisions it gave. Everyone in the organization (and its `read` tokens)
//! reads; owners and admins save and restore, with the session. Every save
//! and restore is audited. Gateways evaluate with an `evaluate` token.

use app::{
    accounts::types::TokenScope,
    error::Result,
    governance::{
        services::{
            dry_run,
            evaluate::{self, Asker},
            events, policies, retention,
        },
        types::{
            Decision, DroppedSpans, DryRun, DryRunRequest, EvaluateRequest, GovernanceEventPage,
            GovernanceEventQuery, NewPolicyVersion, PolicyVersion, PolicyVersionSummary, RetentionStatus,
        },
    },
    state::AppState,
};
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{
    bearer::require_scope,
    csv,
    extract::{ApiJson, ApiPath, ApiQuery, Caller, SignedIn},
    openapi::{ApiErrors, BodyErrors, Conflict},
    traces::{OrgQuery, org_for},
};

/// The policy in force: the newest version (version 0, the defaults, when none was saved).
#[utoipa::path(
    get, path = "/governance/policies", operation_id = "get_policy", tag = "governance",
    params(OrgQuery),
    responses((status = 200, body = PolicyVersion), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn current(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(org): ApiQuery<OrgQuery>,
) -> Result<Json<PolicyVersion>> {
    let org_id = org_for(&state, &caller, org.org).await?;
    Ok(Json(policies::current(&state.db, org_id).await?))
}

/// Saves a new version of the policy (owners and admins). Ingest applies it
/// to the next span on every replica; the answer lists what changed.
#[utoipa::path(
    post, path = "/governance/policies", operation_id = "save_policy", tag = "governance",
    params(OrgQuery),
    request_body = NewPolicyVersion,
    responses((status = 201, body = PolicyVersion), ApiErrors, BodyErrors, Conflict),
    security(("session" = [])),
)]
pub async fn save(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiQuery(org): ApiQuery<OrgQuery>,
    ApiJson(request): ApiJson<NewPolicyVersion>,
) -> Result<(StatusCode, Json<PolicyVersion>)> {
    let caller = Caller::User(signed_in);
    let org_id = org_for(&state, &caller, org.org).await?;
    let saved = policies::save(&state.db, &state.policies, org_id, &caller.actor(), request).await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// Every version, newest first, with its author, time, comment and what it changed.
#[utoipa::path(
    get, path = "/governance/policies/versions", operation_id = "list_policy_versions", tag = "governance",
    params(OrgQuery),
    responses((status = 200, body = Vec<PolicyVersionSummary>), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(org): ApiQuery<OrgQuery>,
) -> Result<Json<Vec<PolicyVersionSummary>>> {
    let org_id = org_for(&state, &caller, org.org).await?;
    Ok(Json(policies::versions(&state.db, org_id).await?))
}

/// One version with its document and what it changed from the one before.
#[utoipa::path(
    get, path = "/governance/policies/versions/{version}", operation_id = "get_policy_version", tag = "governance",
    params(("version" = i64, Path, description = "Version number (0: the defaults)", minimum = 0), OrgQuery),
    responses((status = 200, body = PolicyVersion), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn version(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(number): ApiPath<i64>,
    ApiQuery(org): ApiQuery<OrgQuery>,
) -> Result<Json<PolicyVersion>> {
    let org_id = org_for(&state, &caller, org.org).await?;
    Ok(Json(policies::version(&state.db, org_id, number).await?))
}

/// Saves an earlier version's document again, as the newest version (owners and admins).
#[utoipa::path(
    post, path = "/governance/policies/versions/{version}/restore", operation_id = "restore_policy_version", tag = "governance",
    params(("version" = i64, Path, description = "The version to restore (0: the defaults)", minimum = 0), OrgQuery),
    responses((status = 201, body = PolicyVersion), ApiErrors, Conflict),
    security(("session" = [])),
)]
pub async fn restore(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(number): ApiPath<i64>,
    ApiQuery(org): ApiQuery<OrgQuery>,
) -> Result<(StatusCode, Json<PolicyVersion>)> {
    let caller = Caller::User(signed_in);
    let org_id = org_for(&state, &caller, org.org).await?;
    let restored = policies::restore(&state.db, &state.policies, org_id, &caller.actor(), number).await?;
    Ok((StatusCode::CREATED, Json(restored)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DropsQuery {
    /// Days back from today (1 to 400; default 30).
    #[param(minimum = 1, maximum = 400)]
    days: Option<i64>,
}

/// Spans ingest left out on the policy's account (sampling), per day and reason, newest first.
#[utoipa::path(
    get, path = "/governance/dropped-spans", operation_id = "list_dropped_spans", tag = "governance",
    params(OrgQuery, DropsQuery),
    responses((status = 200, body = Vec<DroppedSpans>), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn dropped_spans(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(org): ApiQuery<OrgQuery>,
    ApiQuery(query): ApiQuery<DropsQuery>,
) -> Result<Json<Vec<DroppedSpans>>> {
    let org_id = org_for(&state, &caller, org.org).await?;
    let days = query.days.unwrap_or(30);
    if !(1..=400).contains(&days) {
        return Err(app::error::AppError::BadRequest(
            "`days` must be 1 to 400".to_owned(),
        ));
    }
    Ok(Json(policies::dropped_spans(&state.db, org_id, days).await?))
}

/// Tries a draft on the organization's newest stored spans (up to 1,000)
/// without saving it: span by span, what it would redact, cut, sample out
/// or flag beyond what the version in force did when they arrived. Changes nothing.
#[utoipa::path(
    post, path = "/governance/policies/dry-run", operation_id = "dry_run_policy", tag = "governance",
    params(OrgQuery),
    request_body = DryRunRequest,
    responses((status = 200, body = DryRun), ApiErrors, BodyErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn dry_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(org): ApiQuery<OrgQuery>,
    ApiJson(request): ApiJson<DryRunRequest>,
) -> Result<Json<DryRun>> {
    let org_id = org_for(&state, &caller, org.org).await?;
    Ok(Json(
        dry_run::dry_run(&state.db, &state.policies, &state.prices, org_id, &request).await?,
    ))
}

/// Asks before a model call whether the prompt may go out, and to which
/// model: `allow`, `deny`, `redact` (send the redacted prompt or messages)
/// or `route` (call `model` instead), with every rule that applied. Checks
/// the policy's guardrails (blocked patterns, prompt length, model allow
/// and deny lists with the fallback, region rules, the cost ceiling, the
/// abuse threshold) and its redaction. Every decision is kept as a
/// governance event; put `decision_id` on the model call's span as
/// `specula.decision_id` to link them. A token needs the `evaluate` scope.
#[utoipa::path(
    post, path = "/governance/evaluate", operation_id = "evaluate_prompt", tag = "governance",
    params(OrgQuery),
    request_body = EvaluateRequest,
    responses((status = 200, body = Decision), ApiErrors, BodyErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn evaluate(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(org): ApiQuery<OrgQuery>,
    ApiJson(request): ApiJson<EvaluateRequest>,
) -> Result<Json<Decision>> {
    let (org_id, asker) = match &caller {
        Caller::Token(token, _) => {
            require_scope(token, TokenScope::Evaluate)?;
            (
                token.org_id,
                Asker {
                    token_id: Some(token.token_id),
                    user_id: None,
                },
            )
        }
        Caller::User(signed_in) => (
            org_for(&state, &caller, org.org).await?,
            Asker {
                token_id: None,
                user_id: Some(signed_in.user.id),
            },
        ),
    };
    Ok(Json(evaluate::decide(&state, org_id, asker, &request).await?))
}

/// The evaluate API's decisions, newest first, with filters; a page at a
/// time, or with `format=csv` as a CSV download (follow
/// `Link: <…>; rel="next"` for more). A decision is listed a moment after
/// it was given (they are written in batches).
#[utoipa::path(
    get, path = "/governance/events", operation_id = "list_governance_events", tag = "governance",
    params(GovernanceEventQuery),
    responses(
        (status = 200, content(
            (GovernanceEventPage = "application/json"),
            (String = "text/csv"),
        )),
        ApiErrors,
    ),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<GovernanceEventQuery>,
) -> Result<Response> {
    let org_id = org_for(&state, &caller, query.org).await?;
    let page = events::page(&state.db, org_id, &query).await?;
    if !app::platform::services::paging::wants_csv(query.format.as_deref())? {
        return Ok(Json(page).into_response());
    }
    let next = page.next_cursor.as_ref().map(|cursor| {
        let text = |value: &Option<String>| value.clone();
        format!(
            "/api/v1/governance/events?{}",
            csv::query_string(&[
                ("org", Some(org_id.to_string())),
                ("action", text(&query.action)),
                ("reason", text(&query.reason)),
                ("model", text(&query.model)),
                ("end_user", text(&query.end_user)),
                ("token_id", query.token_id.map(|id| id.to_string())),
                ("since", text(&query.since)),
                ("until", text(&query.until)),
                ("limit", query.limit.map(|limit| limit.to_string())),
                ("cursor", Some(cursor.clone())),
                ("format", text(&query.format)),
            ])
        )
    });
    Ok(csv::download(
        "governance-events.csv",
        events::to_csv(&page),
        next,
    ))
}

/// How long the organization's data is kept (its policy's retention, the
/// audit log's 400-day default) and what the retention job's latest pass
/// deleted, or has deleted so far while it runs.
#[utoipa::path(
    get, path = "/governance/retention", operation_id = "get_retention_status", tag = "governance",
    params(OrgQuery),
    responses((status = 200, body = RetentionStatus), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn retention_status(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(org): ApiQuery<OrgQuery>,
) -> Result<Json<RetentionStatus>> {
    let org_id = org_for(&state, &caller, org.org).await?;
    Ok(Json(retention::status(&state.db, org_id).await?))
}
