//! `/api/v1/orgs/*` and `/api/v1/invitations/*`: organizations, members, invitations.

use app::{
    accounts::{
        services::orgs,
        types::{CreatedInvitation, InvitationInfo, MemberInfo, OrgSummary, Role},
    },
    error::{AppError, Result},
    state::AppState,
};
use axum::{Json, extract::State, http::StatusCode};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    extract::{ApiJson, ApiPath, Caller, SignedIn},
    openapi::{ApiErrors, BodyErrors, Conflict},
};

#[derive(Deserialize, ToSchema)]
pub struct CreateOrgRequest {
    /// 1 to 100 characters once trimmed.
    #[schema(max_length = 100, pattern = r"\S")]
    name: String,
}

#[derive(Deserialize, ToSchema)]
pub struct InviteRequest {
    /// An email address (`local@domain.tld`, no blanks), compared in lower case.
    #[schema(format = "email", max_length = 254)]
    email: String,
    role: Role,
}

#[derive(Deserialize, ToSchema)]
pub struct ChangeRoleRequest {
    role: Role,
}

/// What an invitation link shows before it is accepted.
#[derive(Serialize, ToSchema)]
pub struct InvitationPreview {
    organization: String,
    email: String,
    role: String,
    expires_at: String,
}

/// Creates an organization; the caller becomes its owner.
#[utoipa::path(
    post, path = "/orgs", operation_id = "create_organization", tag = "organizations",
    request_body = CreateOrgRequest,
    responses((status = 201, body = OrgSummary), ApiErrors, Conflict, BodyErrors),
    security(("session" = [])),
)]
pub async fn create(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiJson(request): ApiJson<CreateOrgRequest>,
) -> Result<(StatusCode, Json<OrgSummary>)> {
    let org = orgs::create(&state.db, &signed_in.actor(), &request.name).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

/// The caller's organizations, with the caller's role in each.
#[utoipa::path(
    get, path = "/orgs", operation_id = "list_organizations", tag = "organizations",
    responses((status = 200, body = Vec<OrgSummary>), ApiErrors),
    security(("session" = [])),
)]
pub async fn list(State(state): State<AppState>, signed_in: SignedIn) -> Result<Json<Vec<OrgSummary>>> {
    Ok(Json(orgs::list_for_user(&state.db, signed_in.user.id).await?))
}

/// Deletes an organization and everything in it (owners).
#[utoipa::path(
    delete, path = "/orgs/{org}", operation_id = "delete_organization", tag = "organizations",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses((status = 204, description = "Deleted"), ApiErrors, Conflict),
    security(("session" = [])),
)]
pub async fn delete(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<StatusCode> {
    orgs::delete(&state.db, org_id, &signed_in.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The organization's members and their roles.
#[utoipa::path(
    get, path = "/orgs/{org}/members", operation_id = "list_members", tag = "organizations",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = Vec<MemberInfo>), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn members(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<Json<Vec<MemberInfo>>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(orgs::list_members(&state.db, org_id).await?))
}

/// Invites someone (admins); answers with the link to send them, shown this once.
#[utoipa::path(
    post, path = "/orgs/{org}/members", operation_id = "invite_member", tag = "organizations",
    params(("org" = Uuid, Path, description = "Organization id")),
    request_body = InviteRequest,
    responses((status = 201, body = CreatedInvitation), ApiErrors, Conflict, BodyErrors),
    security(("session" = [])),
)]
pub async fn invite(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(org_id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<CreatedInvitation>)> {
    let created = orgs::invite(
        &state.db,
        org_id,
        &signed_in.actor(),
        &request.email,
        request.role,
        &state.instance.public_url,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Changes a member's role (admins; only owners make or unmake owners).
#[utoipa::path(
    patch, path = "/orgs/{org}/members/{user}", operation_id = "change_member_role", tag = "organizations",
    params(("org" = Uuid, Path, description = "Organization id"), ("user" = Uuid, Path, description = "User id")),
    request_body = ChangeRoleRequest,
    responses((status = 200, body = MemberInfo), ApiErrors, Conflict, BodyErrors),
    security(("session" = [])),
)]
pub async fn change_role(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, user_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(request): ApiJson<ChangeRoleRequest>,
) -> Result<Json<MemberInfo>> {
    let member = orgs::change_role(&state.db, org_id, &signed_in.actor(), user_id, request.role).await?;
    Ok(Json(member))
}

/// Removes a member (admins), or leaves (anyone, for themselves).
#[utoipa::path(
    delete, path = "/orgs/{org}/members/{user}", operation_id = "remove_member", tag = "organizations",
    params(("org" = Uuid, Path, description = "Organization id"), ("user" = Uuid, Path, description = "User id")),
    responses((status = 204, description = "Removed"), ApiErrors, Conflict),
    security(("session" = [])),
)]
pub async fn remove_member(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, user_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode> {
    orgs::remove_member(&state.db, org_id, &signed_in.actor(), user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Invitations not yet accepted, revoked or expired.
#[utoipa::path(
    get, path = "/orgs/{org}/invitations", operation_id = "list_invitations", tag = "organizations",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = Vec<InvitationInfo>), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn invitations(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<Json<Vec<InvitationInfo>>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(orgs::list_pending_invitations(&state.db, org_id).await?))
}

/// Revokes an invitation (admins).
#[utoipa::path(
    delete, path = "/orgs/{org}/invitations/{id}", operation_id = "revoke_invitation", tag = "organizations",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = Uuid, Path, description = "Invitation id")),
    responses((status = 204, description = "Revoked"), ApiErrors, Conflict),
    security(("session" = [])),
)]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, invitation_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode> {
    orgs::revoke_invitation(&state.db, org_id, &signed_in.actor(), invitation_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an invitation link offers, for the accept page. No sign-in needed:
/// the secret token is the credential.
#[utoipa::path(
    get, path = "/invitations/{token}", operation_id = "preview_invitation", tag = "organizations",
    params(("token" = String, Path, description = "The invitation's secret token")),
    responses((status = 200, body = InvitationPreview), ApiErrors, Conflict),
)]
pub async fn preview_invitation(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> Result<Json<InvitationPreview>> {
    let invitation = orgs::find_open_invitation(&state.db, &token).await?;
    let org = entity::organization::Entity::find_by_id(invitation.org_id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("invitation"))?;
    Ok(Json(InvitationPreview {
        organization: org.name,
        email: invitation.email,
        role: invitation.role,
        expires_at: invitation.expires_at.to_rfc3339(),
    }))
}

/// Accepts an invitation as the signed-in user.
#[utoipa::path(
    post, path = "/invitations/{token}/accept", operation_id = "accept_invitation", tag = "organizations",
    params(("token" = String, Path, description = "The invitation's secret token")),
    responses((status = 200, body = OrgSummary), ApiErrors, Conflict),
    security(("session" = [])),
)]
pub async fn accept_invitation(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(token): ApiPath<String>,
) -> Result<Json<OrgSummary>> {
    Ok(Json(
        orgs::accept_invitation(&state.db, &token, &signed_in.user, signed_in.origin.clone()).await?,
    ))
}
