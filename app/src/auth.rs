//! Signing up, in and out from the UI, and what the UI knows about the
//! signed-in user. Server functions here are adapters over the accounts and
//! sessions services; the REST API calls the same services.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    accounts::{OrgSummary, UserInfo},
    error::ApiError,
};

/// The signed-in user and the organizations they can switch between.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user: UserInfo,
    pub organizations: Vec<OrgSummary>,
    /// The organization the UI shows; `None` only for a user in no organization.
    pub active_org: Option<OrgSummary>,
    pub open_signup: bool,
}

/// A local path to go to after signing in: only paths on this site, so a
/// crafted link cannot send the user elsewhere (`//evil.example`, `https://…`).
pub fn safe_next(next: Option<&str>) -> String {
    match next.map(str::trim) {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[server]
pub async fn get_session_info() -> Result<Option<SessionInfo>, ApiError> {
    use crate::server_context;
    use crate::services::{accounts, orgs};

    let state = server_context::state()?;
    let session = server_context::session().await?;
    let Some(user_id) = crate::services::sessions::signed_in_user_id(&session).await? else {
        return Ok(None);
    };
    let Some(user) = accounts::find_user(&state.db, user_id).await? else {
        return Ok(None);
    };
    let organizations = orgs::list_for_user(&state.db, user.id).await?;
    let active_id = server_context::active_org_id(&state, &session, user.id).await?;
    let active_org = organizations
        .iter()
        .find(|org| Some(org.id) == active_id)
        .cloned();
    Ok(Some(SessionInfo {
        user: accounts::user_info(&user),
        organizations,
        active_org,
        open_signup: state.accounts.open_signup,
    }))
}

#[server]
pub async fn sign_up(
    email: String,
    password: String,
    organization_name: Option<String>,
    invitation: Option<String>,
) -> Result<(), ApiError> {
    use crate::services::{accounts, sessions};

    let state = crate::server_context::state()?;
    let session = crate::server_context::session().await?;
    let request = accounts::SignUpRequest {
        email,
        password,
        organization_name,
        invitation,
    };
    let user = accounts::register(&state.db, state.accounts.open_signup, request).await?;
    sessions::sign_in(&session, user.id).await?;
    // New accounts land where they send their first spans.
    leptos_axum::redirect("/spans");
    Ok(())
}

#[server]
pub async fn log_in(email: String, password: String, next: Option<String>) -> Result<(), ApiError> {
    use crate::services::{accounts, sessions};

    let state = crate::server_context::state()?;
    let session = crate::server_context::session().await?;
    let address = crate::server_context::client_address().await;
    let user = accounts::log_in(&state.db, &state.login_throttle, &email, password, address).await?;
    sessions::sign_in(&session, user.id).await?;
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

#[server]
pub async fn log_out() -> Result<(), ApiError> {
    let session = crate::server_context::session().await?;
    crate::services::sessions::sign_out(&session).await?;
    leptos_axum::redirect("/login");
    Ok(())
}

#[server]
pub async fn log_out_everywhere() -> Result<(), ApiError> {
    use crate::services::sessions;

    let (state, session, user) = crate::server_context::signed_in().await?;
    sessions::end_user_sessions(&state.db, user.id).await?;
    sessions::sign_out(&session).await?;
    leptos_axum::redirect("/login");
    Ok(())
}

#[server]
pub async fn change_password(current_password: String, new_password: String) -> Result<(), ApiError> {
    use crate::services::{accounts, sessions};

    let (state, session, user) = crate::server_context::signed_in().await?;
    accounts::change_password(&state.db, user.id, current_password, new_password).await?;
    sessions::end_other_sessions(&state.db, &session, user.id).await?;
    Ok(())
}

#[server]
pub async fn switch_organization(org_id: Uuid) -> Result<(), ApiError> {
    use crate::{accounts::Action, services::orgs};

    let (state, session, user) = crate::server_context::signed_in().await?;
    orgs::authorize(&state.db, org_id, user.id, Action::Read).await?;
    crate::services::sessions::set_active_org(&session, org_id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/traces/abc?span=1")), "/traces/abc?span=1");
        for hostile in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "evil",
            "/a\nb",
            "",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
