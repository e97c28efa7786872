//! OTLP/gRPC: `TraceService/Export` and `MetricsService/Export` on their own listener, gzip accepted, the
//! token in the `authorization` metadata. Same ingest path as HTTP.

use app::{
    accounts::services::tokens::{self, TokenPrincipal},
    error::AppError,
    state::AppState,
};
use opentelemetry_proto::tonic::collector::{
    metrics::v1::{
        ExportMetricsServiceRequest, ExportMetricsServiceResponse,
        metrics_service_server::{MetricsService, MetricsServiceServer},
    },
    trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
};
use tonic::{Code, Request, Response, Status, codec::CompressionEncoding, metadata::MetadataValue};
use tonic_types::{ErrorDetails, StatusExt};

use super::{
    error::IngestError,
    export::{Exported, export_metrics, export_traces},
    observe::{Transport, track_grpc},
};

/// Serves both OTLP gRPC services.
#[derive(Clone)]
pub struct OtlpExport {
    state: AppState,
}

/// The gRPC router for `state`; messages larger than `max_message_bytes`
/// (decompressed) are refused by tonic with `RESOURCE_EXHAUSTED`.
pub fn router(state: AppState, max_message_bytes: usize) -> axum::Router {
    let export = OtlpExport { state };
    let traces = TraceServiceServer::new(export.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_message_bytes);
    let metrics = MetricsServiceServer::new(export)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_message_bytes);
    tonic::service::Routes::new(traces)
        .add_service(metrics)
        .into_axum_router()
        .layer(axum::middleware::from_fn(track_grpc))
}

fn status_of(err: IngestError) -> Status {
    err.log_cause();
    // OTLP clients retry RESOURCE_EXHAUSTED only when it carries RetryInfo.
    let retry = |code: Code, err: IngestError| {
        let delay = err.retry_after_secs().map(std::time::Duration::from_secs);
        Status::with_error_details(code, err.to_string(), ErrorDetails::with_retry_info(delay))
    };
    match err {
        IngestError::Malformed(message) | IngestError::UnsupportedMediaType(message) => {
            Status::invalid_argument(message)
        }
        IngestError::TooLarge(message) => Status::resource_exhausted(message),
        IngestError::Forbidden(message) => Status::permission_denied(message),
        IngestError::Refused(_) | IngestError::Overloaded => retry(Code::ResourceExhausted, err),
        IngestError::ShuttingDown | IngestError::Unavailable(_) => retry(Code::Unavailable, err),
    }
}

/// The answer with `ratelimit-policy` and `ratelimit` metadata for the limits that applied.
fn answer<R>(exported: Exported<R>) -> Result<Response<R>, Status> {
    let mut result = exported.result.map(Response::new).map_err(status_of);
    let metadata = match &mut result {
        Ok(response) => response.metadata_mut(),
        Err(status) => status.metadata_mut(),
    };
    if !exported.limits.is_empty() {
        for (name, value) in [
            ("ratelimit-policy", exported.limits.policy()),
            ("ratelimit", exported.limits.current()),
        ] {
            if let Ok(value) = MetadataValue::try_from(value) {
                metadata.insert(name, value);
            }
        }
    }
    result
}

impl OtlpExport {
    /// The caller of a gRPC request, from its `authorization` metadata.
    async fn principal(&self, metadata: &tonic::metadata::MetadataMap) -> Result<TokenPrincipal, Status> {
        let secret = metadata
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, secret)| secret.trim().to_owned())
            .ok_or_else(|| Status::unauthenticated("missing `authorization: Bearer <token>` metadata"))?;
        tokens::authenticate(&self.state.db, &self.state.tokens, &secret)
            .await
            .map_err(|err| match err {
                AppError::InvalidToken(message) => Status::unauthenticated(message),
                // The database's message stays in the log.
                other => Status::unavailable(app::error::ApiError::from(other).message),
            })
    }
}

#[tonic::async_trait]
impl TraceService for OtlpExport {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let principal = self.principal(request.metadata()).await?;
        let export = request.into_inner();
        answer(export_traces(&self.state, &principal, Transport::Grpc, move || Ok(export)).await)
    }
}

#[tonic::async_trait]
impl MetricsService for OtlpExport {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let principal = self.principal(request.metadata()).await?;
        let export = request.into_inner();
        answer(export_metrics(&self.state, &principal, move || Ok(export)).await)
    }
}
