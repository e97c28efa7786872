//! The ingest functions every transport calls (one for traces, one for metrics): check the scope, decode
//! and convert off the async workers, hand the spans to the writer, and
//! build the OTLP answer once they are committed.

use app::{
    accounts::{services::tokens::TokenPrincipal, types::TokenScope},
    state::AppState,
    telemetry::services::ingest,
};
use opentelemetry_proto::tonic::collector::{
    metrics::v1::{ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse},
    trace::v1::{ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse},
};

use super::{
    convert::convert,
    convert_metrics::convert_metrics,
    error::{IngestError, StorageFailure},
};
use crate::api::bearer::require_scope;

/// Ingests one export request. `decode` produces the request; it runs on the
/// blocking pool, one request per core at a time, together with the
/// conversion and the ingest pipeline (policy, derivation, pricing,
/// compression), because all of it is CPU work.
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
    let policy = state
        .policies
        .for_org(&state.db, principal.org_id)
        .await
        .map_err(|err| IngestError::Unavailable(StorageFailure::Policy(err)))?;
    let pricing = state
        .prices
        .for_org(&state.db, principal.org_id)
        .await
        .map_err(|err| IngestError::Unavailable(StorageFailure::Prices(err)))?;
    let (rows, converted) = state
        .ingest
        .run_cpu_bound(move || {
            decode().map(|request| {
                let mut converted = convert(request);
                let rows = ingest::prepare(std::mem::take(&mut converted.spans), &policy, &pricing);
                (rows, converted)
            })
        })
        .await??;
    let accepted = rows.rows.len();
    match state
        .ingest
        .write(principal.org_id, Some(principal.token_id), rows)
        .await
    {
        Ok(stored) => {
            tracing::debug!(org_id = %principal.org_id, accepted, stored, rejected = converted.rejected, "spans committed");
        }
        Err(err) => return Err(err.into()),
    }
    let partial_success = (converted.rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: i64::try_from(converted.rejected).unwrap_or(i64::MAX),
        error_message: converted.first_error.unwrap_or_default(),
    });
    Ok(ExportTraceServiceResponse { partial_success })
}

/// Ingests one metrics export request; the points go through the batching
/// writer like spans and are committed before the answer.
pub async fn export_metrics<D>(
    state: &AppState,
    principal: &TokenPrincipal,
    decode: D,
) -> Result<ExportMetricsServiceResponse, IngestError>
where
    D: FnOnce() -> Result<ExportMetricsServiceRequest, IngestError> + Send + 'static,
{
    require_scope(principal, TokenScope::Ingest)
        .map_err(|_| IngestError::Forbidden("this API token lacks the `ingest` scope"))?;
    let converted = state
        .ingest
        .run_cpu_bound(move || decode().map(convert_metrics))
        .await??;
    state
        .ingest
        .write_points(principal.org_id, converted.points)
        .await?;
    let partial_success = (converted.rejected > 0).then(|| ExportMetricsPartialSuccess {
        rejected_data_points: i64::try_from(converted.rejected).unwrap_or(i64::MAX),
        error_message: converted.first_error.unwrap_or_default(),
    });
    Ok(ExportMetricsServiceResponse { partial_success })
}
