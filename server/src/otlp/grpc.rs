//! OTLP/gRPC: `TraceService/Export` on its own listener, gzip accepted, the
//! token in the `authorization` metadata. Same ingest path as HTTP.

use app::{error::AppError, services::tokens, state::AppState};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
use tonic::{Request, Response, Status, codec::CompressionEncoding};

use super::{error::IngestError, export::export_traces};

pub struct TraceExport {
    state: AppState,
}

/// The gRPC router for `state`; messages larger than `max_message_bytes`
/// (decompressed) are refused by tonic with `RESOURCE_EXHAUSTED`.
pub fn router(state: AppState, max_message_bytes: usize) -> axum::Router {
    let service = TraceServiceServer::new(TraceExport { state })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_message_bytes);
    tonic::service::Routes::new(service).into_axum_router()
}

fn status_of(err: IngestError) -> Status {
    match err {
        IngestError::Malformed(message) | IngestError::UnsupportedMediaType(message) => {
            Status::invalid_argument(message)
        }
        IngestError::TooLarge(message) => Status::resource_exhausted(message),
        IngestError::Forbidden(message) => Status::permission_denied(message),
        IngestError::Overloaded => Status::resource_exhausted(IngestError::Overloaded.to_string()),
        IngestError::Unavailable(message) => Status::unavailable(message),
    }
}

#[tonic::async_trait]
impl TraceService for TraceExport {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let secret = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, secret)| secret.trim().to_owned())
            .ok_or_else(|| Status::unauthenticated("missing `authorization: Bearer <token>` metadata"))?;
        let principal = tokens::authenticate(&self.state.db, &secret)
            .await
            .map_err(|err| match err {
                AppError::InvalidToken(message) => Status::unauthenticated(message),
                other => Status::unavailable(other.to_string()),
            })?;
        let export = request.into_inner();
        export_traces(&self.state, &principal, move || Ok(export))
            .await
            .map(Response::new)
            .map_err(status_of)
    }
}
