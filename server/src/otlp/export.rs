//! The one ingest function every transport calls: check the scope, decode
//! and convert off the async workers, hand the spans to the writer, and
//! build the OTLP answer once they are committed.

use app::{
    accounts::TokenScope,
    services::{ingest::writer::WriteError, tokens::TokenPrincipal},
    state::AppState,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use super::{convert::convert, error::IngestError};
use crate::api::bearer::require_scope;

/// Ingests one export request. `decode` produces the request; it runs on the
/// blocking pool together with the conversion, because both are CPU work.
pub async fn export_traces<D>(
    state: &AppState,
    principal: &TokenPrincipal,
    decode: D,
) -> Result<ExportTraceServiceResponse, IngestError>
where
    D: FnOnce() -> Result<ExportTraceServiceRequest, IngestError> + Send + 'static,
{
    require_scope(principal, TokenScope::Ingest)
        .map_err(|_| IngestError::Forbidden("this API token lacks the `ingest` scope"))?;
    let converted = tokio::task::spawn_blocking(move || decode().map(convert))
        .await
        .map_err(|err| IngestError::Unavailable(format!("decoding failed: {err}")))??;
    let accepted = converted.spans.len();
    match state.ingest.write(principal.org_id, converted.spans).await {
        Ok(stored) => {
            tracing::debug!(org_id = %principal.org_id, accepted, stored, rejected = converted.rejected, "spans committed");
        }
        Err(WriteError::Overloaded) => return Err(IngestError::Overloaded),
        Err(err) => return Err(IngestError::Unavailable(err.to_string())),
    }
    let partial_success = (converted.rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: i64::try_from(converted.rejected).unwrap_or(i64::MAX),
        error_message: converted.first_error.unwrap_or_default(),
    });
    Ok(ExportTraceServiceResponse { partial_success })
}
