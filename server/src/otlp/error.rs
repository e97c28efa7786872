//! Ingest failures and their OTLP answers: an HTTP status, `Retry-After`
//! where the client should retry, and a `google.rpc.Status` body in the
//! request's encoding.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use app::{
    error::AppError,
    governance::services::limits::Refusal,
    telemetry::services::{ingest::writer::WriteError, span::ids::IdError},
};

use super::encoding::Encoding;

/// `google.rpc.Status`, the body of an OTLP error answer.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// gRPC status codes used in `RpcStatus.code`.
mod grpc_code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const UNAVAILABLE: i32 = 14;
}

/// Seconds a client should wait before retrying an overloaded server.
const RETRY_AFTER_SECS: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// 400: the body cannot be decoded.
    #[error("{0}")]
    Malformed(String),
    /// 413: the body, or what it decompresses to, is larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    /// 415: a content type or encoding OTLP/HTTP does not define.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 403: the token lacks the `ingest` scope.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 429 with Retry-After: a rate limit or the monthly quota.
    #[error("{}; retry after {} s", .0.message, .0.retry_after_secs)]
    Refused(Refusal),
    /// 503 with Retry-After: the write queue is full.
    #[error("the server is busy; retry later")]
    Overloaded,
    /// 503 with Retry-After: the server is shutting down.
    #[error("the server is shutting down; retry later")]
    ShuttingDown,
    /// 503 with Retry-After: the data could not be stored. The cause is
    /// logged with the request's id; the client only learns to retry.
    #[error("the server could not store the data; retry later")]
    Unavailable(#[source] StorageFailure),
}

/// Why one span or data point of an export was rejected; counted and
/// reported in the answer's partial success, while the rest is kept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OtlpError {
    #[error("{field} {source}")]
    Id { field: &'static str, source: IdError },
    #[error("{field} {value} is out of range")]
    TimeOutOfRange { field: &'static str, value: u64 },
    #[error("span {span_id} has no start time")]
    NoStartTime { span_id: String },
    #[error("span {span_id} ends before it starts")]
    EndsBeforeStart { span_id: String },
}

/// What kept an export from being stored: internal detail for the log.
#[derive(Debug, thiserror::Error)]
pub enum StorageFailure {
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("reading the organization's prices: {0}")]
    Prices(#[source] AppError),
    #[error("reading the organization's policy: {0}")]
    Policy(#[source] AppError),
    #[error("reading the organization's ingest counts: {0}")]
    Limits(#[source] AppError),
}

impl From<WriteError> for IngestError {
    fn from(err: WriteError) -> Self {
        match err {
            WriteError::Overloaded => Self::Overloaded,
            WriteError::ShuttingDown => Self::ShuttingDown,
            other => Self::Unavailable(other.into()),
        }
    }
}

impl IngestError {
    fn status(&self) -> (StatusCode, i32) {
        match self {
            Self::Malformed(_) => (StatusCode::BAD_REQUEST, grpc_code::INVALID_ARGUMENT),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, grpc_code::INVALID_ARGUMENT),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, grpc_code::INVALID_ARGUMENT)
            }
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, grpc_code::PERMISSION_DENIED),
            Self::Refused(_) => (StatusCode::TOO_MANY_REQUESTS, grpc_code::RESOURCE_EXHAUSTED),
            Self::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, grpc_code::RESOURCE_EXHAUSTED),
            Self::ShuttingDown | Self::Unavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, grpc_code::UNAVAILABLE)
            }
        }
    }

    /// When the client should try again, if it should.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Refused(refusal) => Some(refusal.retry_after_secs),
            Self::Overloaded | Self::ShuttingDown | Self::Unavailable(_) => Some(RETRY_AFTER_SECS),
            Self::Malformed(_) | Self::TooLarge(_) | Self::UnsupportedMediaType(_) | Self::Forbidden(_) => {
                None
            }
        }
    }

    /// Logs what the client is not told: the cause of a failure to store.
    /// Inside the request's span, so the line carries its request id.
    pub fn log_cause(&self) {
        if let Self::Unavailable(cause) = self {
            tracing::warn!(error = %cause, "export not stored");
        }
    }

    /// The answer in `encoding` (protobuf when the request's could not be told).
    pub fn into_response_as(self, encoding: Encoding) -> Response {
        let (status, code) = self.status();
        self.log_cause();
        let body = RpcStatus {
            code,
            message: self.to_string(),
        };
        let mut response = encoding.encode_response(&body, status);
        if let Some(seconds) = self.retry_after_secs() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        self.into_response_as(Encoding::Protobuf)
    }
}
