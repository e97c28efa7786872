//! The ingest functions every transport calls (one for traces, one for
//! metrics): check the scope and the rate limits, decode and convert off
//! the async workers, hand the spans to the writer, and build the OTLP
//! answer once they are committed.

use app::{
    accounts::{services::tokens::TokenPrincipal, types::TokenScope},
    governance::services::{
        book::OrgPolicy,
        limits::{Counted, IngestPass, LimitHeaders, RefusedFor},
    },
    platform::services::now_ns,
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
    observe::{self, Transport},
};
use crate::api::bearer::require_scope;

/// An export's answer, and the rate limits that applied to it (for the
/// `RateLimit-Policy` and `RateLimit` headers).
pub struct Exported<R> {
    pub result: Result<R, IngestError>,
    pub limits: LimitHeaders,
}

/// What every export does before decoding: the scope, the organization's
/// policy and the check of its limits.
async fn admit(
    state: &AppState,
    principal: &TokenPrincipal,
    spans: bool,
    limits: &mut LimitHeaders,
) -> Result<(std::sync::Arc<OrgPolicy>, IngestPass), IngestError> {
    require_scope(principal, TokenScope::Ingest)
        .map_err(|_| IngestError::Forbidden("this API token lacks the `ingest` scope"))?;
    let policy = state
        .policies
        .policy_for(&state.db, principal.org_id)
        .await
        .map_err(|err| IngestError::Unavailable(StorageFailure::Policy(err)))?;
    let admitted = state
        .limits
        .before_ingest(
            &state.db,
            &policy.limits,
            principal.org_id,
            Some(principal.token_id),
            spans,
            now_ns(),
        )
        .await
        .map_err(|err| IngestError::Unavailable(StorageFailure::Limits(err)))?;
    match admitted {
        Ok(pass) => Ok((policy, pass)),
        Err(refusal) => {
            *limits = refusal.headers.clone();
            Err(IngestError::Refused(refusal))
        }
    }
}

/// Takes an export's `items` from its buckets once they are known.
async fn charge(
    state: &AppState,
    pass: &IngestPass,
    items: u64,
    limits: &mut LimitHeaders,
) -> Result<(), IngestError> {
    let charged = state.limits.charge_ingest(pass, items, now_ns()).await;
    match charged {
        Ok(headers) => {
            *limits = headers;
            Ok(())
        }
        Err(refusal) => {
            *limits = refusal.headers.clone();
            Err(IngestError::Refused(refusal))
        }
    }
}

/// What a failed export counts as in the organization's usage and alerts.
fn counted(err: &IngestError) -> Option<Counted> {
    match err {
        IngestError::Refused(refusal) => Some(match refusal.reason {
            RefusedFor::Rate => Counted::RateLimitedExport,
            RefusedFor::Quota => Counted::OverQuotaExport,
        }),
        IngestError::Malformed(_)
        | IngestError::TooLarge(_)
        | IngestError::UnsupportedMediaType(_)
        | IngestError::Forbidden(_) => Some(Counted::InvalidExport),
        IngestError::Overloaded | IngestError::ShuttingDown | IngestError::Unavailable(_) => None,
    }
}

/// Counts a failed export (also one refused before it reached [`export_traces`]
/// or [`export_metrics`], such as one of an unknown content type).
pub fn count_failure(state: &AppState, principal: &TokenPrincipal, err: &IngestError) {
    if let Some(counted) = counted(err) {
        state.limits.counts.add(principal.org_id, counted, 1, now_ns());
    }
}

/// The answer, with a failure counted.
fn exported<R>(
    state: &AppState,
    principal: &TokenPrincipal,
    result: Result<R, IngestError>,
    limits: LimitHeaders,
) -> Exported<R> {
    if let Err(err) = &result {
        count_failure(state, principal, err);
    }
    Exported { result, limits }
}

/// Ingests one export request. `decode` produces the request; it runs on the
/// blocking pool, one request per core at a time, together with the
/// conversion and the ingest pipeline (policy, derivation, pricing,
/// compression), because all of it is CPU work.
pub async fn export_traces<D>(
    state: &AppState,
    principal: &TokenPrincipal,
    transport: Transport,
    decode: D,
) -> Exported<ExportTraceServiceResponse>
where
    D: FnOnce() -> Result<ExportTraceServiceRequest, IngestError> + Send + 'static,
{
    let mut limits = LimitHeaders::default();
    let result = ingest_traces(state, principal, transport, decode, &mut limits).await;
    exported(state, principal, result, limits)
}

async fn ingest_traces<D>(
    state: &AppState,
    principal: &TokenPrincipal,
    transport: Transport,
    decode: D,
    limits: &mut LimitHeaders,
) -> Result<ExportTraceServiceResponse, IngestError>
where
    D: FnOnce() -> Result<ExportTraceServiceRequest, IngestError> + Send + 'static,
{
    let (policy, pass) = admit(state, principal, true, limits).await?;
    let pricing = state
        .prices
        .for_org(&state.db, principal.org_id)
        .await
        .map_err(|err| IngestError::Unavailable(StorageFailure::Prices(err)))?;
    let ingest_policy = policy.ingest.clone();
    let (rows, converted, received) = state
        .ingest
        .run_cpu_bound(move || {
            decode().map(|request| {
                let mut converted = convert(request);
                let received = converted.spans.len() as u64;
                let rows = ingest::prepare(std::mem::take(&mut converted.spans), &ingest_policy, &pricing);
                (rows, converted, received)
            })
        })
        .await??;
    observe::spans_received(transport, received + converted.rejected);
    observe::spans_rejected(transport, "invalid", converted.rejected);
    let accepted = rows.rows.len();
    let stored = async {
        charge(state, &pass, received, limits).await?;
        Ok::<_, IngestError>(
            state
                .ingest
                .write(principal.org_id, Some(principal.token_id), rows)
                .await?,
        )
    }
    .await
    .inspect_err(|err| observe::spans_rejected(transport, observe::rejection_reason(err), received))?;
    observe::spans_accepted(transport, received);
    state
        .limits
        .counts
        .add(principal.org_id, Counted::AcceptedSpans, received, now_ns());
    tracing::debug!(org_id = %principal.org_id, accepted, stored, rejected = converted.rejected, "spans committed");
    let partial_success = (converted.rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: i64::try_from(converted.rejected).unwrap_or(i64::MAX),
        error_message: converted.first_error.unwrap_or_default(),
    });
    Ok(ExportTraceServiceResponse { partial_success })
}

/// Ingests one metrics export request; the points go through the batching
/// writer like spans and are committed before the answer. They count
/// against the ingest rate, not the monthly span quota.
pub async fn export_metrics<D>(
    state: &AppState,
    principal: &TokenPrincipal,
    decode: D,
) -> Exported<ExportMetricsServiceResponse>
where
    D: FnOnce() -> Result<ExportMetricsServiceRequest, IngestError> + Send + 'static,
{
    let mut limits = LimitHeaders::default();
    let result = ingest_metrics(state, principal, decode, &mut limits).await;
    exported(state, principal, result, limits)
}

async fn ingest_metrics<D>(
    state: &AppState,
    principal: &TokenPrincipal,
    decode: D,
    limits: &mut LimitHeaders,
) -> Result<ExportMetricsServiceResponse, IngestError>
where
    D: FnOnce() -> Result<ExportMetricsServiceRequest, IngestError> + Send + 'static,
{
    let (_, pass) = admit(state, principal, false, limits).await?;
    let converted = state
        .ingest
        .run_cpu_bound(move || decode().map(convert_metrics))
        .await??;
    charge(state, &pass, converted.points.len() as u64, limits).await?;
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
