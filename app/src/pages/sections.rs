//! The product's sections. Each page states what it will hold until the
//! feature behind it lands, so the navigation is complete from day one.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
fn SectionPlaceholder(
    title: &'static str,
    summary: &'static str,
    arrives_with: &'static str,
) -> impl IntoView {
    view! {
        <Title text=title />
        <header class="page-header">
            <h1>{title}</h1>
            <p class="lead">{summary}</p>
        </header>
        <div class="empty-state" role="status">
            <svg class="empty-state-icon" viewBox="0 0 24 24" width="40" height="40" aria-hidden="true">
                <rect x="3" y="5" width="18" height="14" rx="2" fill="none" stroke="currentColor" stroke-width="1.5" />
                <path d="M7 10h10M7 14h6" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" />
            </svg>
            <p class="empty-state-title">"Nothing here yet"</p>
            <p class="muted">"This section arrives with " {arrives_with} "."</p>
        </div>
    }
}

#[component]
pub fn PoliciesPage() -> impl IntoView {
    view! {
        <SectionPlaceholder
            title="Policies"
            summary="What is kept: redaction, content capture, sampling, retention, rate limits and budgets."
            arrives_with="governance policies"
        />
    }
}
