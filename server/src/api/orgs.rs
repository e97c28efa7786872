//! `/api/v1/orgs/*` and `/api/v1/invitations/*`: organizations, members, invitations.

use app::{
    accounts::{CreatedInvitation, InvitationInfo, MemberInfo, OrgSummary, Role},
    error::{AppError, Result},
    services::orgs,
    state::AppState,
};
use axum::{Json, extract::State, http::StatusCode};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{ApiJson, ApiPath, Caller, SignedIn};

#[derive(Deserialize)]
pub struct CreateOrgRequest {
    name: String,
}

#[derive(Deserialize)]
pub struct InviteRequest {
    email: String,
    role: Role,
}

#[derive(Deserialize)]
pub struct ChangeRoleRequest {
    role: Role,
}

/// What an invitation link shows before it is accepted.
#[derive(Serialize)]
pub struct InvitationPreview {
    organization: String,
    email: String,
    role: String,
    expires_at: String,
}

/// `POST /api/v1/orgs`
pub async fn create(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiJson(request): ApiJson<CreateOrgRequest>,
) -> Result<(StatusCode, Json<OrgSummary>)> {
    let org = orgs::create(&state.db, signed_in.user.id, &request.name).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

/// `GET /api/v1/orgs`: the caller's organizations.
pub async fn list(State(state): State<AppState>, signed_in: SignedIn) -> Result<Json<Vec<OrgSummary>>> {
    Ok(Json(orgs::list_for_user(&state.db, signed_in.user.id).await?))
}

/// `DELETE /api/v1/orgs/{org}` (owners)
pub async fn delete(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<StatusCode> {
    orgs::delete(&state.db, org_id, signed_in.user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/orgs/{org}/members`
pub async fn members(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<Json<Vec<MemberInfo>>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(orgs::list_members(&state.db, org_id).await?))
}

/// `POST /api/v1/orgs/{org}/members`: invites someone; answers with the link to send them.
pub async fn invite(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(org_id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<CreatedInvitation>)> {
    let created = orgs::invite(
        &state.db,
        org_id,
        signed_in.user.id,
        &request.email,
        request.role,
        &state.instance.public_url,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `PATCH /api/v1/orgs/{org}/members/{user}`
pub async fn change_role(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, user_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(request): ApiJson<ChangeRoleRequest>,
) -> Result<Json<MemberInfo>> {
    let member = orgs::change_role(&state.db, org_id, signed_in.user.id, user_id, request.role).await?;
    Ok(Json(member))
}

/// `DELETE /api/v1/orgs/{org}/members/{user}`: removes a member, or leaves.
pub async fn remove_member(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, user_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode> {
    orgs::remove_member(&state.db, org_id, signed_in.user.id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/orgs/{org}/invitations`: pending invitations.
pub async fn invitations(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<Json<Vec<InvitationInfo>>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(orgs::list_pending_invitations(&state.db, org_id).await?))
}

/// `DELETE /api/v1/orgs/{org}/invitations/{id}`
pub async fn revoke_invitation(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, invitation_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode> {
    orgs::revoke_invitation(&state.db, org_id, signed_in.user.id, invitation_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/invitations/{token}`: what the link offers, for the accept page.
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

/// `POST /api/v1/invitations/{token}/accept`
pub async fn accept_invitation(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(token): ApiPath<String>,
) -> Result<Json<OrgSummary>> {
    Ok(Json(
        orgs::accept_invitation(&state.db, &token, &signed_in.user).await?,
    ))
}
