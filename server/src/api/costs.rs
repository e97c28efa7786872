//! `/api/v1/usage` and `/api/v1/cost-logs`: where money and tokens go.

use app::{
    costs::{
        services::{cost_logs, usage},
        types::{CostLogPage, CostLogQuery, UsageQuery, UsageReport},
    },
    error::Result,
    governance::{services::limits_report, types::LimitsReport},
    state::AppState,
};
use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};

use super::{
    csv,
    extract::{ApiQuery, Caller},
    openapi::ApiErrors,
    traces::{OrgQuery, org_for},
};

/// Usage and cost over a time range from the rollups kept at ingest, by
/// time bucket and by the dimensions in `group_by`. Cost is exact
/// (integer nano-dollars); latency percentiles come from a log-scale
/// histogram (buckets a factor of √2 wide). `limits` is the calendar month
/// so far (UTC) against the organization's quota, rate limits and budgets,
/// whatever the range.
#[utoipa::path(
    get, path = "/usage", operation_id = "usage", tag = "costs",
    params(OrgQuery, UsageQuery),
    responses((status = 200, body = UsageAnswer), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(org): ApiQuery<OrgQuery>,
    ApiQuery(mut query): ApiQuery<UsageQuery>,
) -> Result<Json<UsageAnswer>> {
    let org_id = org_for(&state, &caller, org.org).await?;
    // An empty filter is an absent one, as everywhere in the API.
    for filter in [
        &mut query.model,
        &mut query.provider,
        &mut query.service,
        &mut query.agent,
        &mut query.token,
    ] {
        if filter.as_deref() == Some("") {
            *filter = None;
        }
    }
    let now_ns = app::platform::services::now_ns();
    Ok(Json(UsageAnswer {
        report: usage::report(&state.db, org_id, &query, now_ns).await?,
        limits: limits_report::report_for(&state, org_id).await?,
    }))
}

/// A usage report and the month against the organization's limits.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct UsageAnswer {
    #[serde(flatten)]
    report: UsageReport,
    limits: LimitsReport,
}

/// Every span that used a model, newest first: tokens and exact cost, a
/// page at a time, or with `format=csv` as a CSV download (up to 10,000
/// rows; follow `Link: <…>; rel="next"` for more).
#[utoipa::path(
    get, path = "/cost-logs", operation_id = "list_cost_logs", tag = "costs",
    params(OrgQuery, CostLogQuery),
    responses(
        (status = 200, content(
            (CostLogPage = "application/json"),
            (String = "text/csv"),
        )),
        ApiErrors,
    ),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn cost_logs(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(org): ApiQuery<OrgQuery>,
    ApiQuery(query): ApiQuery<CostLogQuery>,
) -> Result<Response> {
    let org_id = org_for(&state, &caller, org.org).await?;
    let format = cost_logs::CostLogFormat::parse(query.format.as_deref())?;
    let page = cost_logs::list(&state.db, org_id, &query).await?;
    Ok(match format {
        cost_logs::CostLogFormat::Json => Json(page).into_response(),
        cost_logs::CostLogFormat::Csv => {
            let next = page.next_cursor.as_ref().map(|cursor| {
                let next = CostLogQuery {
                    cursor: Some(cursor.clone()),
                    ..query.clone()
                };
                let mut link = format!("/api/v1/cost-logs?{}", query_string(&next));
                if let Some(org) = org.org {
                    link.push_str(&format!("&org={org}"));
                }
                link
            });
            csv::download("cost-log.csv", cost_logs::to_csv(&page), next)
        }
    })
}

/// The query's set fields as `name=value&…`, percent-encoded.
fn query_string(query: &CostLogQuery) -> String {
    csv::query_string(&[
        ("since", query.since.clone()),
        ("until", query.until.clone()),
        ("model", query.model.clone()),
        ("provider", query.provider.clone()),
        ("service", query.service.clone()),
        ("trace_id", query.trace_id.clone()),
        ("unpriced", query.unpriced.clone()),
        ("limit", query.limit.clone()),
        ("cursor", query.cursor.clone()),
        ("format", query.format.clone()),
    ])
}
