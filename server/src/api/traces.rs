//! `/api/v1/traces` and `/api/v1/spans`: reading telemetry back.

use app::{
    accounts::services::orgs,
    error::{AppError, Result},
    state::AppState,
    telemetry::{
        services::span_store,
        types::{SpanPage, SpanQuery, SpanView, TraceDetail, TracePage, TraceQuery},
    },
};
use axum::{
    Json,
    extract::{RawQuery, State},
    http::header,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{
    extract::{ApiPath, ApiQuery, Caller, attribute_filters, search_words},
    openapi::ApiErrors,
};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgQuery {
    /// For signed-in users in several organizations; tokens always read their own.
    pub org: Option<Uuid>,
}

/// The organization a read is about: a token's own, or for a user the one
/// asked for (if a member) or else their first.
pub(super) async fn org_for(state: &AppState, caller: &Caller, requested: Option<Uuid>) -> Result<Uuid> {
    let org_id = match (caller, requested) {
        (Caller::Token(token, _), _) => token.org_id,
        (Caller::User(_), Some(org_id)) => org_id,
        (Caller::User(signed_in), None) => orgs::list_for_user(&state.db, signed_in.user.id)
            .await?
            .first()
            .map(|org| org.id)
            .ok_or(AppError::NotFound("organization"))?,
    };
    caller.authorize_read(state, org_id).await?;
    Ok(org_id)
}

/// One trace: its rollup and every span with its content, in start-time order.
#[utoipa::path(
    get, path = "/traces/{trace_id}", operation_id = "get_trace", tag = "traces",
    params(("trace_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-fA-F]{32}$"), OrgQuery),
    responses((status = 200, body = TraceDetail), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(trace_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<OrgQuery>,
) -> Result<Json<TraceDetail>> {
    let org_id = org_for(&state, &caller, query.org).await?;
    Ok(Json(span_store::get_trace(&state.db, org_id, &trace_id).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    org: Option<Uuid>,
    /// `specula` (the default), `otlp`, `zipkin` or `jaeger`.
    #[param(schema_with = export_format)]
    format: Option<String>,
}

fn export_format() -> utoipa::openapi::Object {
    app::telemetry::types::query_schemas::one_of(
        &["specula", "otlp", "zipkin", "jaeger"],
        "Specula's JSON, OTLP/JSON, Zipkin v2 JSON or Jaeger JSON",
    )
}

/// The whole trace as a JSON download: Specula's own shape (a `TraceDetail`);
/// with `format=otlp`, OTLP/JSON that any OTLP backend accepts; with
/// `format=zipkin`, Zipkin v2 spans (Zipkin's "Upload JSON", `POST
/// /api/v2/spans`); with `format=jaeger`, the `{"data": [trace]}` Jaeger's UI
/// opens from a file.
#[utoipa::path(
    get, path = "/traces/{trace_id}/export", operation_id = "export_trace", tag = "traces",
    params(("trace_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-fA-F]{32}$"), ExportQuery),
    responses(
        (status = 200, description = "`Content-Disposition: attachment`", content(
            (TraceDetail = "application/json"),
        )),
        ApiErrors,
    ),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(trace_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response> {
    let format = query.format.as_deref().unwrap_or_default();
    let encode: fn(&TraceDetail) -> Vec<u8> = match format {
        "" | "specula" => |trace| serde_json::to_vec_pretty(trace).expect("a trace serializes"),
        "otlp" => crate::otlp::trace_to_otlp_json,
        "zipkin" => crate::otlp::trace_to_zipkin_json,
        "jaeger" => crate::otlp::trace_to_jaeger_json,
        other => {
            return Err(AppError::BadRequest(format!(
                "`format` must be specula, otlp, zipkin or jaeger, got {other:?}"
            )));
        }
    };
    let org_id = org_for(&state, &caller, query.org).await?;
    let trace = span_store::get_trace(&state.db, org_id, &trace_id).await?;
    let body = encode(&trace);
    let file_name = match format {
        "" | "specula" => format!("trace-{}.json", trace.trace.trace_id),
        other => format!("trace-{}.{other}.json", trace.trace.trace_id),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// Trace rollups, newest first, a page at a time.
#[utoipa::path(
    get, path = "/traces", operation_id = "list_traces", tag = "traces",
    params(OrgQuery, TraceQuery),
    responses((status = 200, body = TracePage), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(org): ApiQuery<OrgQuery>,
    ApiQuery(mut query): ApiQuery<TraceQuery>,
) -> Result<Json<TracePage>> {
    let org_id = org_for(&state, &caller, org.org).await?;
    query.q = search_words(query.q);
    Ok(Json(span_store::list_traces(&state.db, org_id, &query).await?))
}

/// One span with its content.
#[utoipa::path(
    get, path = "/traces/{trace_id}/spans/{span_id}", operation_id = "get_span", tag = "traces",
    params(
        ("trace_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-fA-F]{32}$"),
        ("span_id" = String, Path, description = "16 hex digits", pattern = "^[0-9a-fA-F]{16}$"),
        OrgQuery,
    ),
    responses((status = 200, body = SpanView), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn span(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((trace_id, span_id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<OrgQuery>,
) -> Result<Json<SpanView>> {
    let org_id = org_for(&state, &caller, query.org).await?;
    Ok(Json(
        span_store::get_span(&state.db, org_id, &trace_id, &span_id).await?,
    ))
}

/// Spans newest first, filtered, a page at a time (keyset paging: stable
/// while spans arrive). Besides the listed parameters, any number of
/// `attr.<key>=<value>` parameters keep spans whose attribute `<key>`
/// equals `<value>`; such a page reads at most 5,000 spans and may come
/// back short, with a cursor to go on.
#[utoipa::path(
    get, path = "/spans", operation_id = "list_spans", tag = "spans",
    params(OrgQuery, SpanQuery),
    responses((status = 200, body = SpanPage), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn list_spans(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(org): ApiQuery<OrgQuery>,
    ApiQuery(mut query): ApiQuery<SpanQuery>,
    RawQuery(raw): RawQuery,
) -> Result<Json<SpanPage>> {
    let org_id = org_for(&state, &caller, org.org).await?;
    query.attributes = attribute_filters(raw.as_deref());
    query.q = search_words(query.q);
    Ok(Json(span_store::list_spans(&state.db, org_id, &query).await?))
}
