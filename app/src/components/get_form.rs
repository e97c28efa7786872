//! The filter bars' forms. Without JavaScript the browser loads
//! `action?fields`; once hydrated, a submit navigates there within the app
//! instead (no page load). Leptos' router `Form` does the same, but brings
//! Unicode case tables and its own URL handling into the browser bundle
//! (some 4 KB as served; BENCHMARKS.md).

use leptos::{
    prelude::*,
    wasm_bindgen::JsCast,
    web_sys::{FormData, HtmlFormElement, SubmitEvent, js_sys::Array},
};
use leptos_router::hooks::use_navigate;

use crate::components::session::urlencode;

/// `name=value&…` of a form's fields, in the form's order (empty ones
/// too, as a browser sends them).
fn query_of(form: &HtmlFormElement) -> Option<String> {
    let data = FormData::new_with_form(form).ok()?;
    let mut pairs = Vec::new();
    for entry in data.entries().into_iter().flatten() {
        let entry: Array = entry.unchecked_into();
        let name = entry.get(0).as_string()?;
        // A file field has no text value.
        let value = entry.get(1).as_string().unwrap_or_default();
        pairs.push(format!("{}={}", urlencode(&name), urlencode(&value)));
    }
    Some(pairs.join("&"))
}

/// A GET `<form>` to `action` (a path of this app).
#[component]
pub fn GetForm(action: &'static str, class: &'static str, children: Children) -> impl IntoView {
    let navigate = use_navigate();
    let on_submit = move |event: SubmitEvent| {
        let form = event
            .target()
            .and_then(|target| target.dyn_into::<HtmlFormElement>().ok());
        if let Some(query) = form.as_ref().and_then(query_of) {
            event.prevent_default();
            navigate(&format!("{action}?{query}"), Default::default());
        }
    };
    view! {
        <form method="get" action=action class=class role="search" on:submit=on_submit>
            {children()}
        </form>
    }
}
