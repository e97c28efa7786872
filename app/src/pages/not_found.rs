//! The page for unknown paths; answers with HTTP 404 when rendered on the server.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }
    let path = leptos_router::hooks::use_location().pathname;

    view! {
        <Title text="Not found" />
        <div class="empty-state not-found" data-testid="not-found">
            <p class="status-code">"404"</p>
            <h1>"Page not found"</h1>
            <p class="muted">"Nothing lives at " <code>{move || path.get()}</code> "."</p>
            <A href="/" attr:class="button">"Back to the overview"</A>
        </div>
    }
}
