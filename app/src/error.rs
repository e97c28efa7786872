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
        http::StatusCode,
        response::{IntoResponse, Response},
    };
    use sea_orm::DbErr;

    use super::{ApiError, ErrorBody};

    pub type Result<T, E = AppError> = std::result::Result<T, E>;

    /// Everything a request can fail with on the server. Each variant notes
    /// its HTTP status; [`AppError::status`] is the only place that decides it.
    #[derive(Debug, thiserror::Error)]
    pub enum AppError {
        /// 400: the request is malformed; the message says how.
        #[error("{0}")]
        BadRequest(String),
        /// 404: the named thing does not exist (or is not the caller's).
        #[error("{0} not found")]
        NotFound(&'static str),
        /// 503: a dependency (the database) cannot serve the request now.
        #[error("{0}")]
        Unavailable(&'static str),
        /// 500: the database failed; details go to the log only.
        #[error("database error: {0}")]
        Database(#[from] DbErr),
    }

    impl AppError {
        pub fn status(&self) -> StatusCode {
            match self {
                Self::BadRequest(_) => StatusCode::BAD_REQUEST,
                Self::NotFound(_) => StatusCode::NOT_FOUND,
                Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                Self::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
            }
        }

        fn code(&self) -> &'static str {
            match self {
                Self::BadRequest(_) => "bad_request",
                Self::NotFound(_) => "not_found",
                Self::Unavailable(_) => "unavailable",
                Self::Database(_) => "internal",
            }
        }
    }

    impl From<AppError> for ApiError {
        fn from(err: AppError) -> Self {
            if err.status().is_server_error() {
                tracing::error!(error = %err, "request failed");
            }
            let message = match &err {
                // Never leak database details to clients.
                AppError::Database(_) => "internal server error".to_owned(),
                other => other.to_string(),
            };
            ApiError::new(err.code(), message)
        }
    }

    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            let status = self.status();
            let body = ErrorBody {
                error: ApiError::from(self),
            };
            (status, Json(body)).into_response()
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
    fn server_fn_transport_errors_get_codes() {
        let api = ApiError::from_server_fn_error(ServerFnErrorErr::Args("missing x".into()));
        assert_eq!(api.code, "bad_request");
        let api = ApiError::from_server_fn_error(ServerFnErrorErr::Request("offline".into()));
        assert_eq!(api.code, "unreachable");
    }
}
