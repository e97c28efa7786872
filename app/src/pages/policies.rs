//! The Policies page: the organization's policy in force in plain words,
//! its editor (owners and admins), what sampling left out, every version
//! with what it changed and a restore button, and a box that shows what a
//! pasted text becomes under the policy. The body is rendered on the
//! server (`governance::fragments`); only the test box runs in the browser.

use leptos::prelude::*;
use leptos_meta::Title;
use uuid::Uuid;

use crate::{
    accounts::types::{Action, role_allows},
    components::{
        list_filters::param,
        server_html::{ServerHtml, org_page_html},
        session::RequireUser,
    },
    governance::server_fns::{DryRunHtml, PreviewRedaction, policies_html},
};

#[component]
pub fn PoliciesPage() -> impl IntoView {
    let html = org_page_html(|org_id, params| policies_html(org_id, param(&params, "__err")));
    view! {
        <Title text="Policies" />
        <header class="page-header">
            <h1>"Policies"</h1>
            <p class="lead">
                "What is kept of the organization's spans (content capture, redaction, size limits, sampling), "
                "for how long, and what a gateway may send to which model. Every save is a new version."
            </p>
        </header>
        <RequireUser children=move |_, org| match org {
            Some(org) => view! {
                <ServerHtml html class="policies-body" />
                {role_allows(org.role, Action::ManagePolicies).then(|| view! { <DryRunBox org_id=org.id /> })}
                <RedactionTest org_id=org.id />
            }
            .into_any(),
            None => view! { <p class="muted">"Join or create an organization first."</p> }.into_any(),
        } />
    }
}

/// A pasted text through the policy in force, nothing stored.
#[component]
fn RedactionTest(org_id: Uuid) -> impl IntoView {
    let preview = ServerAction::<PreviewRedaction>::new();
    let text = RwSignal::new(String::new());
    let test = move |_| {
        preview.dispatch(PreviewRedaction {
            org_id,
            text: text.get_untracked(),
        });
    };
    view! {
        <section class="card" data-testid="redaction-test">
            <h2>"Test redaction"</h2>
            <p class="muted">
                "Paste a prompt, a tool result or a diff to see what the policy in force keeps of it. Nothing is stored."
            </p>
            <textarea class="input mono" rows="6" aria-label="Text to test" spellcheck="false"
                prop:value=move || text.get() on:input=move |event| text.set(event_target_value(&event))></textarea>
            <div class="form-actions">
                <button type="button" class="button" on:click=test>"Test"</button>
            </div>
            {move || preview.value().get().map(|result| match result {
                Ok(html) => view! { <div inner_html=html></div> }.into_any(),
                Err(err) => view! { <p class="inline-error" role="alert">{err.message}</p> }.into_any(),
            })}
        </section>
    }
}

/// The editor's draft tried on the newest 1,000 stored spans, nothing saved.
#[component]
fn DryRunBox(org_id: Uuid) -> impl IntoView {
    let dry_run = ServerAction::<DryRunHtml>::new();
    let run = move |_| {
        use leptos::wasm_bindgen::JsCast;

        let draft = document()
            .get_element_by_id("policy-document")
            .and_then(|element| element.dyn_into::<leptos::web_sys::HtmlTextAreaElement>().ok())
            .map(|editor| editor.value())
            .unwrap_or_default();
        dry_run.dispatch(DryRunHtml {
            org_id,
            document: draft,
        });
    };
    view! {
        <section class="card" data-testid="dry-run">
            <h2>"Dry run"</h2>
            <p class="muted">
                "Before saving, see what the draft in the editor would redact, cut, sample out or flag in the "
                "last 1,000 spans, beside what the version in force did to them."
            </p>
            <div class="form-actions">
                <button type="button" class="button" on:click=run disabled=move || dry_run.pending().get()>
                    "Test against the last 1,000 spans"
                </button>
            </div>
            {move || dry_run.value().get().map(|result| match result {
                Ok(html) => view! { <div inner_html=html></div> }.into_any(),
                Err(err) => view! { <p class="inline-error" role="alert">{err.message}</p> }.into_any(),
            })}
        </section>
    }
}
