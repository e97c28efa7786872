//! `/api/v1/similarity/…`: prompts compared with prompts.

use app::{
    error::Result,
    similarity::{
        services::search,
        types::{SimilarityResults, SimilaritySearch},
    },
    state::AppState,
};
use axum::{Json, extract::State};

use super::{
    extract::{ApiJson, ApiQuery, Caller},
    openapi::ApiErrors,
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
    responses((status = 200, body = SimilarityResults), ApiErrors),
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
        search::search(&state.db, &state.prompts, org_id, &request).await?,
    ))
}
