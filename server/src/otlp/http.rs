//! OTLP/HTTP: `POST /v1/traces` and `POST /v1/metrics` behind the bearer middleware.

use app::{services::tokens::TokenPrincipal, state::AppState};
use axum::{
    Extension, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    middleware,
    response::Response,
    routing::post,
};
use opentelemetry_proto::tonic::collector::{
    metrics::v1::ExportMetricsServiceRequest, trace::v1::ExportTraceServiceRequest,
};

use super::{
    decode::{DecodeLimits, Encoding, decode, decompress, prepare_metrics_json, prepare_trace_json},
    export::{export_metrics, export_traces},
};
use crate::api::bearer::require_token;

pub fn routes(state: &AppState, limits: DecodeLimits) -> Router<AppState> {
    Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(Extension(limits))
}

async fn traces(
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
    let decode_body = move || {
        let body = decompress(&headers, body, limits)?;
        decode::<ExportTraceServiceRequest>(encoding, &body, prepare_trace_json)
    };
    match export_traces(&state, &principal, decode_body).await {
        Ok(answer) => encoding.encode_response(&answer, StatusCode::OK),
        Err(err) => err.into_response_as(encoding),
    }
}

async fn metrics(
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
    let decode_body = move || {
        let body = decompress(&headers, body, limits)?;
        decode::<ExportMetricsServiceRequest>(encoding, &body, prepare_metrics_json)
    };
    match export_metrics(&state, &principal, decode_body).await {
        Ok(answer) => encoding.encode_response(&answer, StatusCode::OK),
        Err(err) => err.into_response_as(encoding),
    }
}
