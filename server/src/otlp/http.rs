//! `POST /v1/traces`: authenticate (bearer token with the `ingest` scope),
//! decode off the async threads, hand the spans to the writer, answer once
//! they are committed.

use app::{
    accounts::TokenScope,
    services::{ingest::writer::WriteError, tokens::TokenPrincipal},
    state::AppState,
};
use axum::{
    Extension, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    middleware,
    response::Response,
    routing::post,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use super::{
    convert::{Converted, convert},
    decode::{DecodeLimits, Encoding, decode, decompress, prepare_trace_json},
    error::IngestError,
};
use crate::api::bearer::{require_scope, require_token};

pub fn routes(state: &AppState, limits: DecodeLimits) -> Router<AppState> {
    Router::new()
        .route("/v1/traces", post(export_traces))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(Extension(limits))
}

async fn export_traces(
    State(state): State<AppState>,
    Extension(principal): Extension<TokenPrincipal>,
    Extension(limits): Extension<DecodeLimits>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let encoding = match Encoding::from_headers(&headers) {
        Ok(encoding) => encoding,
        Err(err) => return err.into_response_as(Encoding::Protobuf),
    };
    match ingest(&state, &principal, limits, encoding, headers, body).await {
        Ok(converted) => {
            let partial_success = (converted.rejected > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: i64::try_from(converted.rejected).unwrap_or(i64::MAX),
                error_message: converted.first_error.unwrap_or_default(),
            });
            encoding.encode_response(&ExportTraceServiceResponse { partial_success }, StatusCode::OK)
        }
        Err(err) => err.into_response_as(encoding),
    }
}

async fn ingest(
    state: &AppState,
    principal: &TokenPrincipal,
    limits: DecodeLimits,
    encoding: Encoding,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Converted, IngestError> {
    require_scope(principal, TokenScope::Ingest)
        .map_err(|_| IngestError::Forbidden("this API token lacks the `ingest` scope"))?;
    // Decompressing and decoding are CPU work: keep them off the async workers.
    let mut converted = tokio::task::spawn_blocking(move || {
        let body = decompress(&headers, body, limits)?;
        let request: ExportTraceServiceRequest = decode(encoding, &body, prepare_trace_json)?;
        Ok::<_, IngestError>(convert(request))
    })
    .await
    .map_err(|err| IngestError::Unavailable(format!("decoding failed: {err}")))??;
    let spans = std::mem::take(&mut converted.spans);
    let accepted = spans.len();
    match state.ingest.write(principal.org_id, spans).await {
        Ok(stored) => {
            tracing::debug!(org_id = %principal.org_id, accepted, stored, rejected = converted.rejected, "spans committed");
            Ok(converted)
        }
        Err(WriteError::Overloaded) => Err(IngestError::Overloaded),
        Err(err) => Err(IngestError::Unavailable(err.to_string())),
    }
}
