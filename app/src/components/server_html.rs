//! HTML rendered on the server (`similarity::fragments`): the Similarity
//! page's body and the trace view's similar-prompts panel.

use leptos::prelude::*;

use crate::error::ApiError;

/// The HTML once loaded; nothing without it (no organization, or a span
/// with no panel).
#[component]
pub fn ServerHtml(html: Resource<Option<Result<String, ApiError>>>, class: &'static str) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <p class="skeleton" aria-busy="true">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match html.await {
                    None => ().into_any(),
                    Some(Err(err)) => view! { <p class="inline-error" role="alert">{err.message}</p> }.into_any(),
                    Some(Ok(html)) => view! { <div class=class inner_html=html></div> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The body of a page about the active organization: `load` renders it on
/// the server from the organization and the URL's query, again whenever the
/// query or the session changes; nothing without an organization.
pub fn org_page_html<Load, Fut>(load: Load) -> Resource<Option<Result<String, ApiError>>>
where
    Load: Fn(uuid::Uuid, leptos_router::params::ParamsMap) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<String, ApiError>> + Send + 'static,
{
    let session = crate::components::session::use_session();
    let params = leptos_router::hooks::use_query_map();
    Resource::new(
        move || (params.get(), session.version()),
        move |(params, _)| {
            let load = load.clone();
            async move {
                let org = match session.info.await {
                    Ok(Some(info)) => info.active_org,
                    _ => None,
                }?;
                Some(load(org.id, params).await)
            }
        },
    )
}
