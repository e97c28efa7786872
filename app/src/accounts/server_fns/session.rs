//! Signing up, in and out from the UI, and what the UI knows about the
//! signed-in user. Server functions here are adapters over the accounts and
//! sessions services; the REST API calls the same services.

use leptos::prelude::*;
use uuid::Uuid;

use crate::{accounts::types::SessionInfo, error::ApiError};

#[server]
pub async fn get_session_info() -> Result<Option<SessionInfo>, ApiError> {
    use crate::{
        accounts::services::{orgs, users},
        server_context,
    };

    let state = server_context::state()?;
    let session = server_context::session().await?;
    let Some(user_id) = crate::accounts::services::sessions::signed_in_user_id(&session).await? else {
        return Ok(None);
    };
    let Some(user) = users::find_user(&state.db, user_id).await? else {
        return Ok(None);
    };
    let organizations = orgs::list_for_user(&state.db, user.id).await?;
    let active_id = server_context::active_org_id(&state, &session, user.id).await?;
    let active_org = organizations
        .iter()
        .find(|org| Some(org.id) == active_id)
        .cloned();
    Ok(Some(SessionInfo {
        user: users::user_info(&user),
        organizations,
        active_org,
        open_signup: state.accounts.open_signup,
        time_zone: server_context::display_zone(&user).await,
    }))
}

/// Shows the signed-in user times in UTC (`true`) or in their browser's
/// zone (`false`), from now on and on every device.
#[server(endpoint = "set_times_in_utc")]
pub async fn set_times_in_utc(utc: bool) -> Result<(), ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    crate::accounts::services::users::set_times_in_utc(&state.db, user.id, utc).await?;
    Ok(())
}

#[server]
pub async fn sign_up(
    email: String,
    password: String,
    organization_name: Option<String>,
    invitation: Option<String>,
) -> Result<(), ApiError> {
    use crate::accounts::services::{accounts, sessions};

    let state = crate::server_context::state()?;
    let session = crate::server_context::session().await?;
    let request = accounts::SignUpRequest {
        email,
        password,
        organization_name,
        invitation,
    };
    let origin = crate::server_context::request_origin(&state).await;
    let user = accounts::register(&state.db, state.accounts.open_signup, request, origin).await?;
    sessions::sign_in(&session, user.id).await?;
    // New accounts land where they send their first spans.
    leptos_axum::redirect("/spans");
    Ok(())
}

#[server]
pub async fn log_in(email: String, password: String, next: Option<String>) -> Result<(), ApiError> {
    use crate::accounts::services::{accounts, sessions};

    let state = crate::server_context::state()?;
    let session = crate::server_context::session().await?;
    let origin = crate::server_context::request_origin(&state).await;
    let user = accounts::log_in(
        &state.db,
        &state.login_throttle,
        &email,
        password,
        origin.client_address,
    )
    .await?;
    sessions::sign_in(&session, user.id).await?;
    leptos_axum::redirect(&crate::accounts::types::safe_next(next.as_deref()));
    Ok(())
}

#[server]
pub async fn log_out() -> Result<(), ApiError> {
    let session = crate::server_context::session().await?;
    crate::accounts::services::sessions::sign_out(&session).await?;
    leptos_axum::redirect("/login");
    Ok(())
}

#[server]
pub async fn log_out_everywhere() -> Result<(), ApiError> {
    use crate::accounts::services::sessions;

    let (state, session, user) = crate::server_context::signed_in().await?;
    sessions::end_user_sessions(&state.db, user.id).await?;
    sessions::sign_out(&session).await?;
    leptos_axum::redirect("/login");
    Ok(())
}

#[server]
pub async fn change_password(current_password: String, new_password: String) -> Result<(), ApiError> {
    use crate::accounts::services::{accounts, sessions};

    let (state, session, user) = crate::server_context::signed_in().await?;
    accounts::change_password(&state.db, user.id, current_password, new_password).await?;
    sessions::end_other_sessions(&state.db, &session, user.id).await?;
    Ok(())
}

#[server]
pub async fn switch_organization(org_id: Uuid) -> Result<(), ApiError> {
    use crate::accounts::{services::orgs, types::Action};

    let (state, session, user) = crate::server_context::signed_in().await?;
    orgs::authorize(&state.db, org_id, user.id, Action::Read).await?;
    crate::accounts::services::sessions::set_active_org(&session, org_id).await?;
    Ok(())
}
