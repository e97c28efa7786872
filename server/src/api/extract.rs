//! Extractors for the REST API: JSON bodies and paths that fail with the
//! product's error shape, the signed-in user, and the caller (user or token).

use std::net::SocketAddr;

use app::{
    accounts::{
        services::{
            orgs,
            sessions::USER_ID_KEY,
            tokens::{self, TokenPrincipal},
            users,
        },
        types::{Action, TokenScope},
    },
    error::AppError,
    platform::services::audit::{Actor, RequestOrigin},
    state::AppState,
};
use axum::{
    Json,
    extract::{
        ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request,
        rejection::{JsonRejection, PathRejection},
    },
    http::{header, request::Parts},
};
use entity::user;
use serde::de::DeserializeOwned;
use tower_sessions::Session;
use uuid::Uuid;

use super::bearer::{bearer_secret, require_scope};

/// A JSON body; malformed bodies get a 400 and a wrong content type a 415,
/// both in the API's error shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(AppError::UnsupportedMediaType(
                "send the body as application/json".to_owned(),
            )),
            Err(rejection) => Err(AppError::BadRequest(rejection.body_text())),
        }
    }
}

/// Query parameters; a malformed query string is a 400 in the API's error shape.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection| AppError::BadRequest(rejection.body_text()))
    }
}

/// Path parameters; an unparsable id is a 400 in the API's error shape.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection @ PathRejection::FailedToDeserializePathParams(_)) => {
                Err(AppError::BadRequest(rejection.body_text()))
            }
            Err(rejection) => Err(AppError::Internal(rejection.body_text())),
        }
    }
}

/// Where the request came from: the client's address (through trusted
/// proxies' `X-Forwarded-For`) and its user agent, for the audit log and the
/// sign-in throttle.
pub struct Origin(pub RequestOrigin);

impl Origin {
    fn from_parts(parts: &Parts, state: &AppState) -> RequestOrigin {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        RequestOrigin::from_request(&parts.headers, peer, &state.instance.trusted_proxies)
    }
}

impl FromRequestParts<AppState> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(Self::from_parts(parts, state)))
    }
}

fn session_error(err: tower_sessions::session::Error) -> AppError {
    AppError::Internal(format!("session store: {err}"))
}

async fn session_from(parts: &mut Parts, state: &AppState) -> Result<Session, AppError> {
    Session::from_request_parts(parts, state)
        .await
        .map_err(|(_, message)| AppError::Internal(format!("session layer: {message}")))
}

/// The user signed in through the session cookie (401 otherwise).
pub struct SignedIn {
    pub user: user::Model,
    pub session: Session,
    pub origin: RequestOrigin,
}

impl SignedIn {
    /// The user as the audit log names them.
    pub fn actor(&self) -> Actor {
        Actor::user(&self.user, self.origin.clone())
    }

    async fn from_session(
        session: Session,
        state: &AppState,
        origin: RequestOrigin,
    ) -> Result<Self, AppError> {
        let user_id: Option<Uuid> = session.get(USER_ID_KEY).await.map_err(session_error)?;
        let user = match user_id {
            Some(id) => users::find_user(&state.db, id).await?,
            None => None,
        };
        match user {
            Some(user) => Ok(Self {
                user,
                session,
                origin,
            }),
            None => Err(AppError::Unauthenticated("sign in first")),
        }
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            return Err(AppError::Forbidden(
                "this endpoint needs a signed-in user, not an API token",
            ));
        }
        let session = session_from(parts, state).await?;
        Self::from_session(session, state, Origin::from_parts(parts, state)).await
    }
}

/// Whoever calls: a signed-in user, or an API token from `Authorization: Bearer`.
pub enum Caller {
    User(SignedIn),
    Token(TokenPrincipal, RequestOrigin),
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let origin = Origin::from_parts(parts, state);
        if let Some(secret) = bearer_secret(parts)? {
            return Ok(Self::Token(
                tokens::authenticate(&state.db, &state.tokens, secret).await?,
                origin,
            ));
        }
        let session = session_from(parts, state).await?;
        Ok(Self::User(SignedIn::from_session(session, state, origin).await?))
    }
}

impl Caller {
    /// Checks that the caller may read `org_id`: members through their role,
    /// tokens through the `read` scope on their own organization.
    pub async fn authorize_read(&self, state: &AppState, org_id: Uuid) -> Result<(), AppError> {
        match self {
            Self::User(signed_in) => {
                orgs::authorize(&state.db, org_id, signed_in.user.id, Action::Read).await?;
                Ok(())
            }
            Self::Token(token, _) if token.org_id != org_id => Err(AppError::NotFound("organization")),
            Self::Token(token, _) => require_scope(token, TokenScope::Read),
        }
    }

    /// The caller as the audit log names it.
    pub fn actor(&self) -> Actor {
        match self {
            Self::User(signed_in) => signed_in.actor(),
            Self::Token(token, origin) => Actor::token(token.token_id, &token.name, origin.clone()),
        }
    }
}

/// The `attr.<key>=<value>` pairs of a query string: attribute filters,
/// whose keys are not known in advance.
pub fn attribute_filters(raw_query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw_query.unwrap_or_default().as_bytes())
        .filter_map(|(name, value)| {
            name.strip_prefix("attr.")
                .filter(|key| !key.is_empty())
                .map(|key| (key.to_owned(), value.into_owned()))
        })
        .collect()
}

/// A full-text search without a single letter or digit names no word to
/// look for, so it filters nothing, like an empty one.
pub fn search_words(q: Option<String>) -> Option<String> {
    q.filter(|q| q.chars().any(char::is_alphanumeric))
}
