//! Forms that call a server function. Without JavaScript the browser posts
//! the form to the function's URL, which answers with a redirect back (as
//! Leptos' `ActionForm` does); once hydrated, the submit is dispatched to the
//! action instead. Unlike `ActionForm`, the caller builds the arguments from
//! the fields: `ActionForm` deserializes them with a query-string
//! deserializer compiled once per server function, which weighed some 15 KB
//! of the browser bundle as served (BENCHMARKS.md).

use leptos::{
    prelude::*,
    server_fn::ServerFn,
    wasm_bindgen::JsCast,
    web_sys::{FormData, HtmlFormElement, SubmitEvent},
};

/// The fields of a submitted form, by name.
pub struct FormFields(Option<FormData>);

impl FormFields {
    fn of(event: &SubmitEvent) -> Self {
        let form = event
            .target()
            .and_then(|target| target.dyn_into::<HtmlFormElement>().ok());
        Self(form.and_then(|form| FormData::new_with_form(&form).ok()))
    }

    /// The field's value, if the form has the field (a checked box, a
    /// filled or empty text input).
    pub fn optional(&self, name: &str) -> Option<String> {
        self.0.as_ref().and_then(|data| data.get(name).as_string())
    }

    /// The field's value; empty when the form has no such field.
    pub fn text(&self, name: &str) -> String {
        self.optional(name).unwrap_or_default()
    }
}

/// A `<form>` posting to `S`'s URL; `args` turns its fields into the call.
#[component]
pub fn ServerForm<S, A>(
    action: ServerAction<S>,
    args: A,
    #[prop(optional, into)] class: Option<&'static str>,
    #[prop(optional, into)] testid: Option<&'static str>,
    children: Children,
) -> impl IntoView
where
    S: ServerFn + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
    A: Fn(&FormFields) -> S + Send + Sync + 'static,
{
    let on_submit = move |event: SubmitEvent| {
        if event.default_prevented() {
            return;
        }
        event.prevent_default();
        action.dispatch(args(&FormFields::of(&event)));
    };
    view! {
        <form method="post" action=S::url() class=class data-testid=testid on:submit=on_submit>
            {children()}
        </form>
    }
}
