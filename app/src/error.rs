//! Errors: [`ApiError`] is what clients see (REST bodies and server-function
//! results, on both sides of the wire); [`AppError`] is the server's typed
//! error, mapped to an HTTP status and an `ApiError` in exactly one place.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// The error a client receives, as `{"error": {"code": "...", "message": "..."}}`
/// over REST and as the error of a server function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiError {
    /// A stable, machine-readable code such as `not_found`.
    pub code: String,
    /// A human-readable explanation, safe to show to the user.
    pub message: String,
}

impl ApiError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// The JSON envelope of an error response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ApiError,
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let code = match &value {
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => "unreachable",
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => "bad_request",
            ServerFnErrorErr::UnsupportedRequestMethod(_) => "method_not_allowed",
            ServerFnErrorErr::Registration(_) => "not_found",
            _ => "internal",
        };
        Self::new(code, value.to_string())
    }
}

#[cfg(feature = "ssr")]
pub use server::{AppError, Result};

#[cfg(feature = "ssr")]
mod server {
    use axum::{
        Json,
        http::{HeaderMap, HeaderValue, StatusCode, header},
        response::{IntoResponse, Response},
    };
    use sea_orm::{DbErr, SqlErr};

    use super::{ApiError, ErrorBody};

    pub type Result<T, E = AppError> = std::result::Result<T, E>;

    /// Everything a request can fail with on the server. Each variant notes
    /// its HTTP status; [`AppError::status`] is the only place that decides it.
    #[derive(Debug, thiserror::Error)]
    pub enum AppError {
        /// 400: the request is malformed or a value is invalid; the message says how.
        #[error("{0}")]
        BadRequest(String),
        /// 401: no valid session or bearer token.
        #[error("{0}")]
        Unauthenticated(&'static str),
        /// 401: a bearer token was expected and is missing or invalid
        /// (answered with `WWW-Authenticate: Bearer`).
        #[error("{0}")]
        InvalidToken(&'static str),
        /// 403: authenticated, but the role or token scope does not allow this.
        #[error("{0}")]
        Forbidden(&'static str),
        /// 404: the named thing does not exist (or is not the caller's).
        #[error("{0} not found")]
        NotFound(&'static str),
        /// 415: the body's content type is not one this route accepts.
        #[error("{0}")]
        UnsupportedMediaType(String),
        /// 409: the request conflicts with the current state.
        #[error("{0}")]
        Conflict(String),
        /// 429: too many attempts; retry after the given number of seconds.
        #[error("too many attempts; try again in {retry_after_secs} s")]
        TooManyRequests { retry_after_secs: u64 },
        /// 429: a rate limit or quota is used up; the message says which.
        #[error("{message}; retry after {retry_after_secs} s")]
        RateLimited { message: String, retry_after_secs: u64 },
        /// 503: a dependency (the database) cannot serve the request now.
        #[error("{0}")]
        Unavailable(&'static str),
        /// 500: the database failed; details go to the log only.
        #[error("database error: {0}")]
        Database(#[from] DbErr),
        /// 500: an unexpected failure; details go to the log only.
        #[error("internal error: {0}")]
        Internal(String),
    }

    impl AppError {
        pub fn status(&self) -> StatusCode {
            match self {
                Self::BadRequest(_) => StatusCode::BAD_REQUEST,
                Self::Unauthenticated(_) | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
                Self::Forbidden(_) => StatusCode::FORBIDDEN,
                Self::NotFound(_) => StatusCode::NOT_FOUND,
                Self::Conflict(_) => StatusCode::CONFLICT,
                Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Self::TooManyRequests { .. } | Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                Self::Database(err) if database_unreachable(err) => StatusCode::SERVICE_UNAVAILABLE,
                Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            }
        }

        fn code(&self) -> &'static str {
            match self {
                Self::BadRequest(_) => "bad_request",
                Self::Unauthenticated(_) => "unauthenticated",
                Self::InvalidToken(_) => "invalid_token",
                Self::Forbidden(_) => "forbidden",
                Self::NotFound(_) => "not_found",
                Self::Conflict(_) => "conflict",
                Self::UnsupportedMediaType(_) => "unsupported_media_type",
                Self::TooManyRequests { .. } | Self::RateLimited { .. } => "rate_limited",
                Self::Unavailable(_) => "unavailable",
                Self::Database(err) if database_unreachable(err) => "unavailable",
                Self::Database(_) | Self::Internal(_) => "internal",
            }
        }

        /// Turns a unique-constraint violation into a 409 with `message`;
        /// any other database error stays a 500.
        pub fn conflict_on_unique(err: DbErr, message: impl Into<String>) -> Self {
            match err.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => Self::Conflict(message.into()),
                _ => Self::Database(err),
            }
        }
    }

    /// Whether `err` says the database cannot be reached now (a connection
    /// refused or lost, none free in time, the server shutting down) rather
    /// than that a statement failed.
    pub fn database_unreachable(err: &DbErr) -> bool {
        use sea_orm::{RuntimeErr, sqlx};
        match err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
            DbErr::Query(RuntimeErr::SqlxError(cause)) | DbErr::Exec(RuntimeErr::SqlxError(cause)) => {
                match cause.as_ref() {
                    sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed => true,
                    // Class 08: connection exceptions; 57P01-03: the server shutting down or starting.
                    sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                        code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
                    }),
                    _ => false,
                }
            }
            _ => false,
        }
    }

    impl From<AppError> for ApiError {
        fn from(err: AppError) -> Self {
            if err.status().is_server_error() {
                tracing::error!(error = %err, "request failed");
            }
            // Inside a server function, answer with the error's own status
            // rather than the framework's blanket 500 — except to a plain
            // form post (no JavaScript, or a server-rendered form), which the
            // framework answers with a redirect back carrying the error: a
            // status set here would replace that redirect's 302.
            let plain_form_post =
                leptos::prelude::use_context::<axum::http::request::Parts>().is_some_and(|parts| {
                    parts
                        .headers
                        .get(axum::http::header::ACCEPT)
                        .and_then(|accept| accept.to_str().ok())
                        .is_some_and(|accept| accept.contains("text/html"))
                });
            if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
                && !plain_form_post
            {
                response.set_status(err.status());
            }
            let message = match &err {
                AppError::Database(db) if database_unreachable(db) => {
                    "the database cannot be reached; retry shortly".to_owned()
                }
                // Never leak internal details to clients.
                AppError::Database(_) | AppError::Internal(_) => "internal server error".to_owned(),
                other => other.to_string(),
            };
            ApiError::new(err.code(), message)
        }
    }

    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            let status = self.status();
            let mut headers = HeaderMap::new();
            match &self {
                Self::InvalidToken(_) => {
                    headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                }
                Self::TooManyRequests { retry_after_secs } | Self::RateLimited { retry_after_secs, .. } => {
                    headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
                }
                // What the database or a queue cannot take now it may take in a moment.
                Self::Unavailable(_) | Self::Database(_) if status == StatusCode::SERVICE_UNAVAILABLE => {
                    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                }
                _ => {}
            }
            let body = ErrorBody {
                error: ApiError::from(self),
            };
            (status, headers, Json(body)).into_response()
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use axum::{http::StatusCode, response::IntoResponse};

    #[test]
    fn database_errors_are_500_without_details() {
        let err = AppError::Database(sea_orm::DbErr::Custom("secret table xyz".into()));
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let api = ApiError::from(err);
        assert_eq!(api.code, "internal");
        assert!(!api.message.contains("xyz"));
    }

    #[test]
    fn not_found_maps_to_404_with_code() {
        let response = AppError::NotFound("trace").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let api = ApiError::from(AppError::NotFound("trace"));
        assert_eq!(api, ApiError::new("not_found", "trace not found"));
    }

    #[test]
    fn invalid_tokens_ask_for_bearer_and_throttling_says_when() {
        let response = AppError::InvalidToken("unknown token").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let response = AppError::TooManyRequests { retry_after_secs: 42 }.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "42");
    }

    #[test]
    fn server_fn_transport_errors_get_codes() {
        let api = ApiError::from_server_fn_error(ServerFnErrorErr::Args("missing x".into()));
        assert_eq!(api.code, "bad_request");
        let api = ApiError::from_server_fn_error(ServerFnErrorErr::Request("offline".into()));
        assert_eq!(api.code, "unreachable");
    }
}
