//! OTLP/HTTP: `POST /v1/traces` and `POST /v1/metrics` behind the bearer middleware.

use app::{accounts::services::tokens::TokenPrincipal, state::AppState};
use axum::{
    Extension,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    middleware,
    response::Response,
};
use opentelemetry_proto::tonic::collector::{
    metrics::v1::ExportMetricsServiceRequest, trace::v1::ExportTraceServiceRequest,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    decode::{DecodeLimits, decode, decompress, prepare_metrics_json, prepare_trace_json},
    encoding::Encoding,
    error::IngestError,
    export::{Exported, count_failure, export_metrics, export_traces},
    observe::{Transport, track_http_export},
};
use crate::api::{bearer::require_token, rate_limit::insert_limit_headers};

/// The OTLP/HTTP routes, with their OpenAPI description.
pub fn routes(state: &AppState, limits: DecodeLimits) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(traces))
        .routes(routes!(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .route_layer(middleware::from_fn(track_http_export))
        .layer(Extension(limits))
}

/// A request's decoder, run later on the blocking pool.
type Decoder<R> = Box<dyn FnOnce() -> Result<R, IngestError> + Send>;

/// Shared by both signals: pick the encoding from the content type, hand the
/// export a decoder for the body, answer in the request's encoding with the
/// rate limits that applied.
async fn answer<Req, Res, Export, Fut>(
    state: &AppState,
    principal: &TokenPrincipal,
    headers: HeaderMap,
    body: Bytes,
    limits: DecodeLimits,
    prepare_json: fn(&mut Value),
    export: Export,
) -> Response
where
    Req: prost::Message + Default + DeserializeOwned + 'static,
    Res: prost::Message + Serialize,
    Export: FnOnce(Decoder<Req>) -> Fut,
    Fut: Future<Output = Exported<Res>>,
{
    let encoding = match Encoding::from_headers(&headers) {
        Ok(encoding) => encoding,
        Err(err) => {
            count_failure(state, principal, &err);
            return err.into_response_as(Encoding::Protobuf);
        }
    };
    let decoder: Decoder<Req> = Box::new(move || {
        let body = decompress(&headers, body, limits)?;
        decode::<Req>(encoding, &body, prepare_json)
    });
    let exported = export(decoder).await;
    let mut response = match exported.result {
        Ok(answer) => encoding.encode_response(&answer, StatusCode::OK),
        Err(err) => err.into_response_as(encoding),
    };
    insert_limit_headers(response.headers_mut(), &exported.limits);
    response
}

/// What an export answers, in the request's encoding: the export response
/// or a `google.rpc.Status` (OTLP/HTTP).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Only its documentation is used.
enum ExportAnswers {
    /// Committed; `partial_success` counts the items rejected one by one, with the first reason.
    #[response(status = 200)]
    Committed,
    /// The body could not be decoded.
    #[response(status = 400)]
    Undecodable,
    /// Missing or invalid token (`WWW-Authenticate: Bearer`).
    #[response(status = 401)]
    Unauthenticated,
    /// The token lacks the `ingest` scope.
    #[response(status = 403)]
    Forbidden,
    /// The body, or its decompressed size, is over the limit.
    #[response(status = 413)]
    TooLarge,
    /// Not `application/x-protobuf` or `application/json`.
    #[response(status = 415)]
    UnsupportedMediaType,
    /// An ingest rate limit or the monthly span quota is used up; retry after `Retry-After`.
    /// `RateLimit-Policy` and `RateLimit` (IETF httpapi draft) state the limits, as on every answer they apply to.
    #[response(status = 429)]
    RateLimited,
    /// The write queue is full or the server is stopping; retry after `Retry-After`.
    #[response(status = 503)]
    Unavailable,
}

/// The OTLP/JSON shape of `ExportTraceServiceRequest`, down to the spans
/// (whose fields are the OTLP specification's; a span the server cannot
/// read is counted in `partial_success`, not refused). Documentation only.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct TraceExportJson {
    #[schema(rename = "resourceSpans", required = false)]
    resource_spans: Vec<ResourceSpansJson>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ResourceSpansJson {
    #[schema(required = false)]
    resource: Option<Map<String, Value>>,
    #[schema(rename = "scopeSpans", required = false)]
    scope_spans: Vec<ScopeSpansJson>,
    #[schema(rename = "schemaUrl", required = false)]
    schema_url: String,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ScopeSpansJson {
    #[schema(required = false)]
    scope: Option<Map<String, Value>>,
    #[schema(required = false)]
    spans: Vec<Map<String, Value>>,
    #[schema(rename = "schemaUrl", required = false)]
    schema_url: String,
}

/// The OTLP/JSON shape of `ExportMetricsServiceRequest`, down to the
/// metrics (whose fields are the OTLP specification's). Documentation only.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct MetricsExportJson {
    #[schema(rename = "resourceMetrics", required = false)]
    resource_metrics: Vec<ResourceMetricsJson>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ResourceMetricsJson {
    #[schema(required = false)]
    resource: Option<Map<String, Value>>,
    #[schema(rename = "scopeMetrics", required = false)]
    scope_metrics: Vec<ScopeMetricsJson>,
    #[schema(rename = "schemaUrl", required = false)]
    schema_url: String,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ScopeMetricsJson {
    #[schema(required = false)]
    scope: Option<Map<String, Value>>,
    #[schema(required = false)]
    metrics: Vec<Map<String, Value>>,
    #[schema(rename = "schemaUrl", required = false)]
    schema_url: String,
}

/// OTLP trace export. The answer is an `ExportTraceServiceResponse` in the
/// request's encoding, sent once the spans are committed.
#[utoipa::path(
    post, path = "/v1/traces", operation_id = "export_traces", tag = "ingest",
    request_body(
        description = "An `ExportTraceServiceRequest`, protobuf or OTLP/JSON; `Content-Encoding: gzip` or `deflate` accepted",
        content((Vec<u8> = "application/x-protobuf"), (TraceExportJson = "application/json")),
    ),
    responses(ExportAnswers),
    security(("bearer" = [])),
)]
async fn traces(
    State(state): State<AppState>,
    Extension(principal): Extension<TokenPrincipal>,
    Extension(limits): Extension<DecodeLimits>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer::<ExportTraceServiceRequest, _, _, _>(
        &state,
        &principal,
        headers,
        body,
        limits,
        prepare_trace_json,
        |decoder| export_traces(&state, &principal, Transport::Http, decoder),
    )
    .await
}

/// OTLP metrics export. The answer is an `ExportMetricsServiceResponse` in
/// the request's encoding, sent once the points are committed.
#[utoipa::path(
    post, path = "/v1/metrics", operation_id = "export_metrics", tag = "ingest",
    request_body(
        description = "An `ExportMetricsServiceRequest`, protobuf or OTLP/JSON; `Content-Encoding: gzip` or `deflate` accepted",
        content((Vec<u8> = "application/x-protobuf"), (MetricsExportJson = "application/json")),
    ),
    responses(ExportAnswers),
    security(("bearer" = [])),
)]
async fn metrics(
    State(state): State<AppState>,
    Extension(principal): Extension<TokenPrincipal>,
    Extension(limits): Extension<DecodeLimits>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer::<ExportMetricsServiceRequest, _, _, _>(
        &state,
        &principal,
        headers,
        body,
        limits,
        prepare_metrics_json,
        |decoder| export_metrics(&state, &principal, decoder),
    )
    .await
}
