//! What a server function needs from the request it serves: the state, the
//! session, the signed-in user and the organization the UI shows. Server
//! functions are adapters: they take these, call a service, map the error.

use std::net::SocketAddr;

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
    platform::services::audit::{Actor, RequestOrigin},
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

/// The zone `user` reads times in: UTC if they chose it, else their
/// browser's (from the cookie it sets), else UTC.
pub async fn display_zone(user: &user::Model) -> crate::time_zone::DisplayZone {
    let headers = leptos_axum::extract::<axum::http::HeaderMap>()
        .await
        .unwrap_or_default();
    let browser = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().split_once('='))
        .find(|(name, _)| *name == crate::time_zone::BROWSER_ZONE_COOKIE)
        .map(|(_, value)| percent_decoded(value));
    crate::time_zone::DisplayZone::resolve(user.times_in_utc, browser.as_deref())
}

/// `%XX` escapes (what `encodeURIComponent` writes) back to text; anything
/// malformed is kept as it is, and fails the zone lookup later.
fn percent_decoded(value: &str) -> String {
    percent_encoding::percent_decode_str(value)
        .decode_utf8_lossy()
        .into_owned()
}

/// Where the request came from (the client's address through trusted
/// proxies, and its user agent), for the audit log and the sign-in throttle.
pub async fn request_origin(state: &AppState) -> RequestOrigin {
    let peer = leptos_axum::extract::<ConnectInfo<SocketAddr>>()
        .await
        .ok()
        .map(|info| info.0.ip());
    let headers = leptos_axum::extract::<axum::http::HeaderMap>()
        .await
        .unwrap_or_default();
    RequestOrigin::from_request(&headers, peer, &state.instance.trusted_proxies)
}

/// `user`, as the audit log names them, acting from this request.
pub async fn actor(state: &AppState, user: &user::Model) -> Actor {
    Actor::user(user, request_origin(state).await)
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

#[cfg(test)]
mod tests {
    #[test]
    fn cookie_values_are_percent_decoded() {
        assert_eq!(
            super::percent_decoded("America%2FArgentina%2FBuenos_Aires"),
            "America/Argentina/Buenos_Aires"
        );
        assert_eq!(super::percent_decoded("Etc%2FGMT%2B5"), "Etc/GMT+5");
        assert_eq!(super::percent_decoded("odd%2"), "odd%2");
        assert_eq!(super::percent_decoded("%zz"), "%zz");
    }
}
