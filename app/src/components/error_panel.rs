//! What the error boundary shows when a page fails to render: the errors,
//! and a way back, instead of a blank page.

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn ErrorPanel(errors: ArcRwSignal<Errors>) -> impl IntoView {
    let messages = move || {
        errors
            .get()
            .into_iter()
            .map(|(_, error)| view! { <li>{error.to_string()}</li> })
            .collect_view()
    };

    view! {
        <div class="error-panel" role="alert" data-testid="error-panel">
            <h1>"Something went wrong"</h1>
            <p class="muted">"This page could not be shown. The server said:"</p>
            <ul class="error-list">{messages}</ul>
            <A href="/" attr:class="button">"Back to the overview"</A>
        </div>
    }
}
