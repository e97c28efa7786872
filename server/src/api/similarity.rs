//! `/api/v1/similarity/…`, `/api/v1/similarity-logs` and an organization's
//! abuse patterns and similarity settings: prompts compared with prompts.

use app::{
    error::Result,
    similarity::{
        services::{clusters, logs, patterns, search},
        types::{
            AbusePattern, AbusePatternInput, AbusePatternList, ClusterQuery, PromptClusters,
            SimilarityLogPage, SimilarityLogQuery, SimilarityResults, SimilaritySearch, SimilaritySettings,
        },
    },
    state::AppState,
};
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use uuid::Uuid;

use super::{
    csv,
    extract::{ApiJson, ApiPath, ApiQuery, Caller, SignedIn},
    openapi::{ApiErrors, BodyErrors, Conflict},
    traces::{OrgQuery, org_for},
};

/// The distinct prompts nearest to a text, or to a request span's prompt:
/// each with its cosine similarity, how many request spans sent it, when it
/// was first and last seen, what it cost, and a span that sent it. A prompt
/// is a request span's user input (its last user turn), normalized for
/// case, spacing and Unicode form; spans whose content was hashed or not
/// kept are not compared.
#[utoipa::path(
    post, path = "/similarity/search", operation_id = "search_similar_prompts", tag = "similarity",
    params(OrgQuery),
    request_body = SimilaritySearch,
    responses((status = 200, body = SimilarityResults), ApiErrors, BodyErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(org): ApiQuery<OrgQuery>,
    ApiJson(request): ApiJson<SimilaritySearch>,
) -> Result<Json<SimilarityResults>> {
    let org_id = org_for(&state, &caller, org.org).await?;
    Ok(Json(
        search::search(
            &state.db,
            &state.prompts,
            state.semantic.as_ref(),
            org_id,
            &request,
        )
        .await?,
    ))
}

/// The near-duplicate prompts of a time range, grouped: prompts that are
/// the same request reworded (similarity at least `threshold` to the
/// cluster's representative, its costliest or most sent prompt), each
/// cluster with its distinct prompts, request spans, cost, services and
/// end users in the range, costliest (`sort=cost`) or most sent
/// (`sort=count`) first. Only clusters of two prompts or more.
#[utoipa::path(
    get, path = "/similarity/clusters", operation_id = "list_prompt_clusters", tag = "similarity",
    params(OrgQuery, ClusterQuery),
    responses((status = 200, body = PromptClusters), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn list_clusters(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(org): ApiQuery<OrgQuery>,
    ApiQuery(query): ApiQuery<ClusterQuery>,
) -> Result<Json<PromptClusters>> {
    let org_id = org_for(&state, &caller, org.org).await?;
    Ok(Json(
        clusters::clusters(&state.db, &state.prompts, state.semantic.as_ref(), org_id, &query).await?,
    ))
}

/// The organization's abuse patterns, each with how many prompts it has
/// flagged, and the similarity settings they flag with.
#[utoipa::path(
    get, path = "/orgs/{org}/abuse-patterns", operation_id = "list_abuse_patterns", tag = "similarity",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = AbusePatternList), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn list_patterns(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<Json<AbusePatternList>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(patterns::list(&state.db, org_id).await?))
}

/// Marks a prompt as abusive (admins and owners), given as text or as a
/// request span (its user input). From then on, every new prompt whose
/// similarity to it reaches the organization's threshold is flagged:
/// within seconds of its span's ingest, in the similarity log and on the
/// span (`GET /api/v1/spans?flagged=true`).
#[utoipa::path(
    post, path = "/orgs/{org}/abuse-patterns", operation_id = "add_abuse_pattern", tag = "similarity",
    params(("org" = Uuid, Path, description = "Organization id")),
    request_body = AbusePatternInput,
    responses((status = 201, body = AbusePattern), ApiErrors, BodyErrors, Conflict),
    security(("session" = [])),
)]
pub async fn add_pattern(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(org_id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<AbusePatternInput>,
) -> Result<(StatusCode, Json<AbusePattern>)> {
    let pattern = patterns::add(&state.db, org_id, &signed_in.actor(), &input).await?;
    Ok((StatusCode::CREATED, Json(pattern)))
}

/// Removes an abuse pattern (admins and owners); what it flagged stays in the log.
#[utoipa::path(
    delete, path = "/orgs/{org}/abuse-patterns/{id}", operation_id = "remove_abuse_pattern", tag = "similarity",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = i64, Path, description = "Pattern id")),
    responses((status = 204), ApiErrors),
    security(("session" = [])),
)]
pub async fn remove_pattern(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, pattern_id)): ApiPath<(Uuid, i64)>,
) -> Result<StatusCode> {
    patterns::remove(&state.db, org_id, &signed_in.actor(), pattern_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes the organization's similarity settings (admins and owners):
/// the threshold from which a prompt matches a pattern, and how many
/// near-duplicates from one end user in how long make a burst.
#[utoipa::path(
    put, path = "/orgs/{org}/similarity-settings", operation_id = "update_similarity_settings", tag = "similarity",
    params(("org" = Uuid, Path, description = "Organization id")),
    request_body = SimilaritySettings,
    responses((status = 200, body = SimilaritySettings), ApiErrors, BodyErrors),
    security(("session" = [])),
)]
pub async fn update_settings(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(org_id): ApiPath<Uuid>,
    ApiJson(update): ApiJson<SimilaritySettings>,
) -> Result<Json<SimilaritySettings>> {
    Ok(Json(
        patterns::update_settings(&state.db, org_id, &signed_in.actor(), &update).await?,
    ))
}

/// What the similarity checks found, newest first: new prompts that
/// matched an abuse pattern or joined a burst, a page at a time, or with
/// `format=csv` as a CSV download (follow `Link: <…>; rel="next"` for more).
#[utoipa::path(
    get, path = "/similarity-logs", operation_id = "list_similarity_logs", tag = "similarity",
    params(OrgQuery, SimilarityLogQuery),
    responses(
        (status = 200, content(
            (SimilarityLogPage = "application/json"),
            (String = "text/csv"),
        )),
        ApiErrors,
    ),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn list_logs(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(org): ApiQuery<OrgQuery>,
    ApiQuery(query): ApiQuery<SimilarityLogQuery>,
) -> Result<Response> {
    let org_id = org_for(&state, &caller, org.org).await?;
    let page = logs::list(&state.db, org_id, &query).await?;
    if !app::platform::services::paging::wants_csv(query.format.as_deref())? {
        return Ok(Json(page).into_response());
    }
    let next = page.next_cursor.as_ref().map(|cursor| {
        let mut link = format!(
            "/api/v1/similarity-logs?{}",
            csv::query_string(&[
                ("since", query.since.clone()),
                ("until", query.until.clone()),
                ("flagged", query.flagged.map(|flagged| flagged.to_string())),
                ("min_score", query.min_score.map(|score| score.to_string())),
                ("end_user", query.end_user.clone()),
                ("limit", query.limit.map(|limit| limit.to_string())),
                ("cursor", Some(cursor.clone())),
                ("format", query.format.clone()),
            ])
        );
        if let Some(org) = org.org {
            link.push_str(&format!("&org={org}"));
        }
        link
    });
    Ok(csv::download("similarity-log.csv", logs::to_csv(&page), next))
}
