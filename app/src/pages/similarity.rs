//! The Similarity page: a search over the organization's prompts, the
//! near-duplicate clusters of a range (what rewordings of one request cost,
//! how often they were sent), the abuse patterns with what each caught, and
//! the prompts flagged lately. The search and range are in the URL, so a
//! view can be shared; the body is rendered on the server
//! (`similarity::fragments`).

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
    similarity::server_fns::similarity_html,
};

/// The cluster ranges offered: `days` value and label.
const RANGES: [(&str, &str); 4] = [
    ("1", "Last 24 hours"),
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
];

#[component]
pub fn SimilarityPage() -> impl IntoView {
    let params = use_query_map();
    let html = org_page_html(|org_id, params| {
        similarity_html(
            org_id,
            None,
            None,
            param(&params, "q"),
            param(&params, "days").and_then(|days| days.parse().ok()),
            param(&params, "sort"),
            param(&params, "__err"),
        )
    });
    let value = move |name: &str| params.with(|params| param(params, name).unwrap_or_default());
    view! {
        <Title text="Similarity" />
        <header class="page-header">
            <h1>"Similarity"</h1>
            <p class="lead">
                "Prompts compared with prompts: have we seen this before, which rewordings of one request burn money, "
                "and who keeps sending variants of an abusive prompt."
            </p>
        </header>
        <RequireUser children=move |_, org| match org {
            Some(_) => view! {
                <GetForm action="/similarity" class="filter-bar">
                    <input class="input filter-search" type="search" name="q" value=move || value("q")
                        placeholder="A prompt to compare: paste what a user asked" aria-label="Prompt to compare" />
                    <select class="input" name="days" aria-label="Clusters of">
                        {RANGES.into_iter().map(|(days, label)| view! {
                            <option value=days selected=move || value("days") == days || (value("days").is_empty() && days == "7")>{label}</option>
                        }).collect_view()}
                    </select>
                    <select class="input" name="sort" aria-label="Rank clusters by">
                        <option value="cost">"By cost"</option>
                        <option value="count" selected=move || value("sort") == "count">"By count"</option>
                    </select>
                    <button class="button button-primary" type="submit">"Search"</button>
                </GetForm>
                <ServerHtml html class="similarity-body" />
            }
            .into_any(),
            None => view! { <p class="muted">"Join or create an organization first."</p> }.into_any(),
        } />
    }
}
