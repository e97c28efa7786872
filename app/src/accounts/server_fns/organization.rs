//! The organization settings the UI edits: members, invitations and API
//! tokens. Every function checks the caller's role through the services'
//! single permission check; the organization id comes from the page but the
//! membership that authorizes it comes from the session.

use leptos::prelude::*;
use uuid::Uuid;

use crate::{
    accounts::types::{
        CreatedInvitation, InvitationInfo, InvitationPreview, MemberInfo, MintedToken, OrgSummary, Role,
        TokenInfo,
    },
    error::ApiError,
};

#[server]
pub async fn create_organization(name: String) -> Result<OrgSummary, ApiError> {
    use crate::accounts::services::{orgs, sessions};

    let (state, session, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    let org = orgs::create(&state.db, &actor, &name).await?;
    sessions::set_active_org(&session, org.id).await?;
    Ok(org)
}

#[server]
pub async fn delete_organization(org_id: Uuid) -> Result<(), ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    crate::accounts::services::orgs::delete(&state.db, org_id, &actor).await?;
    Ok(())
}

#[server]
pub async fn list_members(org_id: Uuid) -> Result<Vec<MemberInfo>, ApiError> {
    use crate::accounts::{services::orgs, types::Action};

    let (state, _) = crate::server_context::member(org_id, Action::Read).await?;
    Ok(orgs::list_members(&state.db, org_id).await?)
}

#[server]
pub async fn list_invitations(org_id: Uuid) -> Result<Vec<InvitationInfo>, ApiError> {
    use crate::accounts::{services::orgs, types::Action};

    let (state, _) = crate::server_context::member(org_id, Action::Read).await?;
    Ok(orgs::list_pending_invitations(&state.db, org_id).await?)
}

#[server]
pub async fn invite_member(org_id: Uuid, email: String, role: Role) -> Result<CreatedInvitation, ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    let public_url = state.instance.public_url.clone();
    Ok(crate::accounts::services::orgs::invite(&state.db, org_id, &actor, &email, role, &public_url).await?)
}

#[server]
pub async fn change_member_role(org_id: Uuid, user_id: Uuid, role: Role) -> Result<MemberInfo, ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    Ok(crate::accounts::services::orgs::change_role(&state.db, org_id, &actor, user_id, role).await?)
}

#[server]
pub async fn remove_member(org_id: Uuid, user_id: Uuid) -> Result<(), ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    Ok(crate::accounts::services::orgs::remove_member(&state.db, org_id, &actor, user_id).await?)
}

#[server]
pub async fn revoke_invitation(org_id: Uuid, invitation_id: Uuid) -> Result<(), ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    Ok(crate::accounts::services::orgs::revoke_invitation(&state.db, org_id, &actor, invitation_id).await?)
}

#[server]
pub async fn preview_invitation(token: String) -> Result<InvitationPreview, ApiError> {
    use crate::error::AppError;
    use sea_orm::EntityTrait;

    let state = crate::server_context::state()?;
    let invitation = crate::accounts::services::orgs::find_open_invitation(&state.db, &token).await?;
    let org = entity::organization::Entity::find_by_id(invitation.org_id)
        .one(&state.db)
        .await
        .map_err(AppError::from)?
        .ok_or(AppError::NotFound("invitation"))?;
    Ok(InvitationPreview {
        organization: org.name,
        email: invitation.email,
        role: Role::parse(&invitation.role).unwrap_or(Role::Viewer),
        expires_at: invitation.expires_at.to_rfc3339(),
    })
}

#[server]
pub async fn accept_invitation(token: String) -> Result<OrgSummary, ApiError> {
    use crate::accounts::services::{orgs, sessions};

    let (state, session, user) = crate::server_context::signed_in().await?;
    let origin = crate::server_context::request_origin(&state).await;
    let org = orgs::accept_invitation(&state.db, &token, &user, origin).await?;
    sessions::set_active_org(&session, org.id).await?;
    Ok(org)
}

#[server]
pub async fn list_tokens(org_id: Uuid) -> Result<Vec<TokenInfo>, ApiError> {
    use crate::accounts::types::Action;

    let (state, _) = crate::server_context::member(org_id, Action::Read).await?;
    Ok(crate::accounts::services::tokens::list(&state.db, org_id).await?)
}

/// Mints a token. Scopes arrive as checkboxes (`on` when ticked) so the form
/// also works without JavaScript.
#[server]
pub async fn mint_token(
    org_id: Uuid,
    name: String,
    scope_ingest: Option<String>,
    scope_read: Option<String>,
    scope_evaluate: Option<String>,
    scope_metrics: Option<String>,
    expires_in_days: Option<u32>,
) -> Result<MintedToken, ApiError> {
    use crate::accounts::{
        services::tokens::{self, NewToken},
        types::TokenScope,
    };

    let (state, _, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    let mut scopes = Vec::new();
    if scope_ingest.is_some() {
        scopes.push(TokenScope::Ingest);
    }
    if scope_read.is_some() {
        scopes.push(TokenScope::Read);
    }
    if scope_evaluate.is_some() {
        scopes.push(TokenScope::Evaluate);
    }
    if scope_metrics.is_some() {
        scopes.push(TokenScope::Metrics);
    }
    let expires_at = expires_in_days
        .filter(|days| *days > 0)
        .map(|days| chrono::Utc::now() + chrono::Duration::days(i64::from(days)));
    let request = NewToken {
        name,
        scopes,
        expires_at,
    };
    Ok(tokens::mint(&state.db, org_id, &actor, request).await?)
}

#[server]
pub async fn revoke_token(org_id: Uuid, token_id: Uuid) -> Result<(), ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    crate::accounts::services::tokens::revoke(&state.db, &state.tokens, org_id, &actor, token_id).await?;
    Ok(())
}
