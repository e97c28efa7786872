//! The Audit page (owners and admins): every administrative change to the
//! organization, who made it, when and from where, with a check of the
//! log's hash chain and a CSV download. The filters are in the URL; the
//! body is rendered on the server (`platform::fragments`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    components::{
        get_form::GetForm,
        list_filters::param,
        server_html::{ServerHtml, org_page_html},
        session::RequireUser,
    },
    pages::settings::SettingsHeader,
    platform::{server_fns::audit_html, types::AUDIT_ACTION_KINDS},
};

#[component]
pub fn AuditPage() -> impl IntoView {
    let params = use_query_map();
    let html = org_page_html(|org_id, params| {
        audit_html(
            org_id,
            param(&params, "action"),
            param(&params, "actor"),
            param(&params, "cursor"),
            param(&params, "verify").is_some_and(|verify| verify == "1"),
        )
    });
    let value = move |name: &str| params.with(|params| param(params, name).unwrap_or_default());
    view! {
        <Title text="Audit log" />
        <SettingsHeader title="Audit log" />
        <p class="lead">
            "Every change to who may do what and to what governs the organization's data: "
            "tokens, members, roles, prices, policies. Entries cannot be edited or deleted."
        </p>
        <RequireUser children=move |_, org| match org {
            Some(_) => view! {
                <GetForm action="/settings/audit" class="filter-bar">
                    <select class="input" name="action" aria-label="Kind of change">
                        <option value="">"All changes"</option>
                        {AUDIT_ACTION_KINDS.into_iter().map(|(prefix, label)| view! {
                            <option value=prefix selected=move || value("action") == prefix>{label}</option>
                        }).collect_view()}
                    </select>
                    <input class="input" type="search" name="actor" value=move || value("actor")
                        placeholder="Who: an email or a token's name" aria-label="Who" />
                    <button class="button button-primary" type="submit">"Filter"</button>
                </GetForm>
                <ServerHtml html class="audit-body" />
            }
            .into_any(),
            None => view! { <p class="muted">"Join or create an organization first."</p> }.into_any(),
        } />
    }
}
