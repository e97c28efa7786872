//! The Alerts page: rules with their state, the history of firings and
//! resolves, silences and channels; owners and admins add and remove them
//! here. The body is rendered on the server (`alerts::fragments`).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    alerts::server_fns::alerts_html,
    components::{
        list_filters::param,
        server_html::{ServerHtml, org_page_html},
        session::RequireUser,
    },
};

#[component]
pub fn AlertsPage() -> impl IntoView {
    let html = org_page_html(|org_id, params| {
        alerts_html(org_id, param(&params, "secret_of"), param(&params, "__err"))
    });
    view! {
        <Title text="Alerts" />
        <header class="page-header">
            <h1>"Alerts"</h1>
            <p class="lead">"Rules over error rates, latency, spend, budgets, flagged prompts, refused exports and silent services, and where they notify."</p>
        </header>
        <RequireUser children=move |_, org| match org {
            Some(_) => view! { <ServerHtml html class="alerts-body" /> }.into_any(),
            None => view! { <p class="muted">"Join or create an organization first."</p> }.into_any(),
        } />
    }
}
