//! What the Similarity page and the trace view call: adapters from the
//! signed-in user's session to the same similarity services the REST API
//! calls, scoped the same way. The two reads answer with server-rendered
//! HTML (see [`super::fragments`]); the forms in it post to the others.

use leptos::prelude::*;
use uuid::Uuid;

use crate::error::ApiError;

/// Where the similarity views' forms post.
#[cfg(feature = "ssr")]
fn form_actions() -> super::fragments::FormActions {
    use leptos::server_fn::ServerFn;

    super::fragments::FormActions {
        add_pattern: AddAbusePattern::url(),
        remove_pattern: RemoveAbusePattern::url(),
    }
}

/// Flags the Similarity page lists.
#[cfg(feature = "ssr")]
const FLAGS_SHOWN: u64 = 20;

/// Whether the signed-in user may change the organization's patterns.
#[cfg(feature = "ssr")]
async fn can_manage(state: &crate::state::AppState, org_id: Uuid, user: &entity::user::Model) -> bool {
    use crate::accounts::{services::orgs, types::Action};

    orgs::authorize(&state.db, org_id, user.id, Action::ManagePolicies)
        .await
        .is_ok()
}

/// The message of a failed form submission, from the `__err` its redirect
/// back put in the page's URL.
#[cfg(feature = "ssr")]
fn submission_error(encoded: Option<String>) -> Option<String> {
    use leptos::server_fn::error::ServerFnUrlError;

    encoded
        .filter(|encoded| !encoded.is_empty())
        .map(|encoded| ServerFnUrlError::<ApiError>::decode_err(&encoded).message)
}

/// A similarity view as HTML: with `trace_id` and `span_id`, the trace
/// view's "Similar prompts" panel for that request span; otherwise the
/// Similarity page's body. (One server function for both: each costs the
/// browser bundle its own client code.)
#[server]
pub async fn similarity_html(
    org_id: Uuid,
    trace_id: Option<String>,
    span_id: Option<String>,
    query: Option<String>,
    days: Option<i64>,
    sort: Option<String>,
    error: Option<String>,
) -> Result<String, ApiError> {
    match (trace_id, span_id) {
        (Some(trace_id), Some(span_id)) => span_panel(org_id, trace_id, span_id, error).await,
        _ => page_body(org_id, query, days, sort, error).await,
    }
}

/// The Similarity page's body: `query`'s nearest prompts (when given), the
/// clusters of the last `days` days ranked by `sort`, the abuse patterns
/// and the latest flags.
#[cfg(feature = "ssr")]
async fn page_body(
    org_id: Uuid,
    query: Option<String>,
    days: Option<i64>,
    sort: Option<String>,
    error: Option<String>,
) -> Result<String, ApiError> {
    use crate::{
        accounts::types::Action,
        error::AppError,
        platform::services::now_ns,
        server_context::{display_zone, member},
        similarity::{
            fragments::{self, PageData},
            services::{clusters, logs, patterns, search},
            types::{ClusterQuery, SimilarityLogQuery, SimilaritySearch},
        },
    };

    let (state, user) = member(org_id, Action::Read).await?;
    let days = days.unwrap_or(7);
    if !(1..=400).contains(&days) {
        return Err(AppError::BadRequest("the range must be 1 to 400 days".into()).into());
    }
    let search = match query.filter(|text| !text.trim().is_empty()) {
        Some(text) => {
            let request = SimilaritySearch {
                text: Some(text),
                ..Default::default()
            };
            Some(
                search::search(
                    &state.db,
                    &state.prompts,
                    state.semantic.as_ref(),
                    org_id,
                    &request,
                )
                .await?,
            )
        }
        None => None,
    };
    let since = (now_ns() - days * 86_400 * 1_000_000_000).to_string();
    let cluster_query = ClusterQuery {
        since: Some(since.clone()),
        sort,
        ..Default::default()
    };
    let clusters = clusters::clusters(
        &state.db,
        &state.prompts,
        state.semantic.as_ref(),
        org_id,
        &cluster_query,
    )
    .await?;
    let patterns = patterns::list(&state.db, org_id).await?;
    let flag_query = SimilarityLogQuery {
        since: Some(since),
        flagged: Some(true),
        limit: Some(FLAGS_SHOWN),
        ..Default::default()
    };
    let flags = logs::list(&state.db, org_id, &flag_query).await?;
    let data = PageData {
        search,
        clusters,
        patterns: patterns.patterns,
        threshold: patterns.settings.threshold,
        flags: flags.logs,
    };
    let can_manage = can_manage(&state, org_id, &user).await;
    let zone = display_zone(&user).await;
    Ok(fragments::page(
        data,
        form_actions(),
        &zone,
        org_id,
        can_manage,
        submission_error(error),
    ))
}

/// A request span's "Similar prompts" panel.
#[cfg(feature = "ssr")]
async fn span_panel(
    org_id: Uuid,
    trace_id: String,
    span_id: String,
    error: Option<String>,
) -> Result<String, ApiError> {
    use crate::{
        accounts::types::Action,
        server_context::{display_zone, member},
        similarity::{
            fragments::{self, SpanPanel},
            services::{patterns, search, text},
            types::SimilaritySearch,
        },
    };

    let (state, user) = member(org_id, Action::Read).await?;
    // The span is read once: its input is both what is compared and what
    // a pattern would be. A span without one says why, in the panel.
    let (results, pattern_label) =
        match search::span_input(&state.db, org_id, &trace_id, &span_id, "compare").await {
            Err(crate::error::AppError::BadRequest(message)) => (Err(message), None),
            Err(err) => return Err(err.into()),
            Ok(input) => {
                let request = SimilaritySearch {
                    text: Some(input.clone()),
                    k: Some(6),
                    ..Default::default()
                };
                let results = search::search(
                    &state.db,
                    &state.prompts,
                    state.semantic.as_ref(),
                    org_id,
                    &request,
                )
                .await?;
                let hash = text::prompt_hash(&text::normalize(&input));
                (Ok(results), patterns::label_of(&state.db, org_id, &hash).await?)
            }
        };
    let panel = SpanPanel {
        results,
        pattern_label,
        org_id,
        trace_id: &trace_id,
        span_id: &span_id,
        mark_action: can_manage(&state, org_id, &user)
            .await
            .then(|| form_actions().add_pattern),
        error: submission_error(error),
    };
    Ok(fragments::span_panel(panel, &display_zone(&user).await))
}

/// Marks a prompt as abusive (admins and owners): `text`, or the user
/// input of the request span `trace_id`/`span_id`.
#[server]
pub async fn add_abuse_pattern(
    org_id: Uuid,
    label: String,
    text: Option<String>,
    trace_id: Option<String>,
    span_id: Option<String>,
) -> Result<(), ApiError> {
    use crate::similarity::{services::patterns, types::AbusePatternInput};

    let (state, _, user) = crate::server_context::signed_in().await?;
    let input = AbusePatternInput {
        label,
        text,
        trace_id,
        span_id,
    };
    patterns::add(
        &state.db,
        org_id,
        &crate::server_context::actor(&state, &user).await,
        &input,
    )
    .await?;
    Ok(())
}

#[server]
pub async fn remove_abuse_pattern(org_id: Uuid, id: i64) -> Result<(), ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    Ok(crate::similarity::services::patterns::remove(
        &state.db,
        org_id,
        &crate::server_context::actor(&state, &user).await,
        id,
    )
    .await?)
}
