//! `/api/v1/orgs/{org}/audit`: the organization's audit log, read a page at
//! a time or as CSV, and the check that its hash chain is unbroken. Owners
//! and admins, or a token with the `read` scope (only admins mint those).
//! Nothing here or anywhere changes or deletes an entry.

use app::{
    accounts::{
        services::orgs,
        types::{Action, TokenScope},
    },
    error::{AppError, Result},
    platform::{
        services::audit,
        types::{AuditChainReport, AuditLogPage, AuditLogQuery},
    },
    state::AppState,
};
use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use uuid::Uuid;

use super::{
    bearer::require_scope,
    csv,
    extract::{ApiPath, ApiQuery, Caller},
    openapi::ApiErrors,
};

async fn authorize(state: &AppState, caller: &Caller, org_id: Uuid) -> Result<()> {
    match caller {
        Caller::User(signed_in) => {
            orgs::authorize(&state.db, org_id, signed_in.user.id, Action::ReadAudit).await?;
            Ok(())
        }
        Caller::Token(token, _) if token.org_id != org_id => Err(AppError::NotFound("organization")),
        Caller::Token(token, _) => require_scope(token, TokenScope::Read),
    }
}

/// Who changed what, when and from where, newest first: tokens, members,
/// invitations, roles, prices, recomputes, abuse patterns, similarity
/// settings and demo data. A page at a time, or with `format=csv` as a CSV
/// download (follow `Link: <…>; rel="next"` for more).
#[utoipa::path(
    get, path = "/orgs/{org}/audit", operation_id = "list_audit_log", tag = "organizations",
    params(("org" = Uuid, Path, description = "Organization id"), AuditLogQuery),
    responses(
        (status = 200, content(
            (AuditLogPage = "application/json"),
            (String = "text/csv"),
        )),
        ApiErrors,
    ),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<AuditLogQuery>,
) -> Result<Response> {
    authorize(&state, &caller, org_id).await?;
    let page = audit::page(&state.db, org_id, &query).await?;
    if !app::platform::services::paging::wants_csv(query.format.as_deref())? {
        return Ok(Json(page).into_response());
    }
    let next = page.next_cursor.as_ref().map(|cursor| {
        format!(
            "/api/v1/orgs/{org_id}/audit?{}",
            csv::query_string(&[
                ("action", query.action.clone()),
                ("actor", query.actor.clone()),
                ("since", query.since.clone()),
                ("until", query.until.clone()),
                ("limit", query.limit.map(|limit| limit.to_string())),
                ("cursor", Some(cursor.clone())),
                ("format", query.format.clone()),
            ])
        )
    });
    Ok(csv::download("audit-log.csv", audit::to_csv(&page), next))
}

/// Checks the audit log's hash chain from the oldest entry to the newest:
/// numbered without gaps, each entry linked to the one before, each hash
/// matching its entry. Keep `head_hash` somewhere else to prove later that
/// nothing up to it was rewritten.
#[utoipa::path(
    get, path = "/orgs/{org}/audit/verify", operation_id = "verify_audit_log", tag = "organizations",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = AuditChainReport), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<Json<AuditChainReport>> {
    authorize(&state, &caller, org_id).await?;
    Ok(Json(audit::verify(&state.db, org_id).await?))
}
