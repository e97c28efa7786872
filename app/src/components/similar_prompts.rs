//! Similarity views rendered on the server (`similarity::fragments`): the
//! trace view's "Similar prompts" panel for a request span, with its "Mark
//! as abusive" form for admins, and the Similarity page's body.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use uuid::Uuid;

use crate::{components::list_filters::param, error::ApiError, similarity::server_fns::similarity_html};

/// HTML the server rendered, once loaded; nothing without an organization.
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

#[component]
pub fn SimilarPrompts(org_id: Uuid, trace_id: String, span_id: String) -> impl IntoView {
    let params = use_query_map();
    let html = Resource::new(
        move || params.with(|params| param(params, "__err")),
        move |error| {
            let (trace_id, span_id) = (trace_id.clone(), span_id.clone());
            async move {
                Some(similarity_html(org_id, Some(trace_id), Some(span_id), None, None, None, error).await)
            }
        },
    );
    view! { <ServerHtml html class="similar-prompts" /> }
}
