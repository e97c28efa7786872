//! The Forwarding settings page: where the organization's spans are also
//! sent over OTLP, and how that is going. The body is rendered on the
//! server (`forwarding::fragments`).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    components::{
        list_filters::param,
        server_html::{ServerHtml, org_page_html},
        session::RequireUser,
    },
    forwarding::server_fns::forwarding_html,
    pages::settings::SettingsHeader,
};

#[component]
pub fn ForwardingPage() -> impl IntoView {
    let html = org_page_html(|org_id, params| {
        forwarding_html(org_id, param(&params, "tested"), param(&params, "__err"))
    });
    view! {
        <Title text="Forwarding" />
        <SettingsHeader title="Forwarding" />
        <RequireUser children=move |_, org| match org {
            Some(_) => view! { <ServerHtml html class="forwarding-body" /> }.into_any(),
            None => view! { <p class="muted">"Join or create an organization first."</p> }.into_any(),
        } />
    }
}
