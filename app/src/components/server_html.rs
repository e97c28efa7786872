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
