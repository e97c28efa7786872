//! What a server function needs from the request it serves: the state, the
//! session, the signed-in user and the organization the UI shows. Server
//! functions are adapters: they take these, call a service, map the error.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use entity::user;
use leptos::prelude::use_context;
use tower_sessions::Session;
use uuid::Uuid;

use crate::{
    accounts::{
        services::{orgs, sessions, users},
        types::Action,
    },
    error::{ApiError, AppError},
    state::AppState,
};

pub type ServerResult<T> = Result<T, ApiError>;

pub fn state() -> ServerResult<AppState> {
    use_context::<AppState>().ok_or_else(|| AppError::Internal("application state missing".to_owned()).into())
}

pub async fn session() -> ServerResult<Session> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|err| AppError::Internal(format!("session layer: {err}")).into())
}

pub async fn client_address() -> Option<IpAddr> {
    leptos_axum::extract::<ConnectInfo<SocketAddr>>()
        .await
        .ok()
        .map(|info| info.0.ip())
}

/// The signed-in user, or 401.
pub async fn signed_in() -> ServerResult<(AppState, Session, user::Model)> {
    let state = state()?;
    let session = session().await?;
    let user = match sessions::signed_in_user_id(&session).await? {
        Some(id) => users::find_user(&state.db, id).await?,
        None => None,
    };
    match user {
        Some(user) => Ok((state, session, user)),
        None => Err(AppError::Unauthenticated("sign in first").into()),
    }
}

/// The signed-in user, allowed to do `action` in the organization: 401
/// when signed out, 404 when not a member, 403 when the role does not allow it.
pub async fn member(org_id: Uuid, action: Action) -> ServerResult<(AppState, user::Model)> {
    let (state, _, user) = signed_in().await?;
    orgs::authorize(&state.db, org_id, user.id, action).await?;
    Ok((state, user))
}

/// The organization the UI works in: the one chosen in the session if the
/// user still belongs to it, else their first.
pub async fn active_org_id(state: &AppState, session: &Session, user_id: Uuid) -> ServerResult<Option<Uuid>> {
    let organizations = orgs::list_for_user(&state.db, user_id).await?;
    let chosen = sessions::active_org(session).await?;
    Ok(chosen
        .filter(|id| organizations.iter().any(|org| org.id == *id))
        .or_else(|| organizations.first().map(|org| org.id)))
}
