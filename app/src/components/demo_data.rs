//! "Run demo" and "Remove demo data": a week of demo telemetry to look
//! around in, on the empty Spans page and in Settings.

use leptos::prelude::*;
use uuid::Uuid;

use crate::{
    components::form_status::action_error,
    components::server_form::{FormFields, ServerForm},
    format,
    telemetry::{
        server_fns::{RemoveDemoData, RunDemo, get_demo_data},
        types::DemoData,
    },
    time_zone::use_display_zone,
};

/// What the demo adds, in a sentence.
const WHAT_IT_ADDS: &str = "About 300 agent runs over the last 7 days from three services named demo-…: \
    four models from two providers with cached and reasoning tokens, tool calls with diffs, errors and \
    retries, end users, sessions and GenAI metrics, sent through OTLP ingest like any exporter's.";

/// The button on the empty Spans page; once the demo is in, shows its week.
#[component]
pub fn RunDemoButton(org_id: Uuid) -> impl IntoView {
    let run = ServerAction::<RunDemo>::new();
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = run.value().get() {
            navigate("/spans?range=7d", Default::default());
        }
    });
    view! {
        <div class="demo-offer" data-testid="demo-offer">
            <p class="muted">"No agent to hook up yet? Look around with demo data. " {WHAT_IT_ADDS}</p>
            <RunDemoForm org_id run />
            {action_error(run.value())}
        </div>
    }
}

/// The "Run demo" button, saying while the demo is being added.
#[component]
fn RunDemoForm(org_id: Uuid, run: ServerAction<RunDemo>) -> impl IntoView {
    view! {
        <ServerForm action=run class="inline-form" args=move |_: &FormFields| RunDemo { org_id }>
            <input type="hidden" name="org_id" value=org_id.to_string() />
            <button type="submit" class="button" data-testid="run-demo" disabled=move || run.pending().get()>
                {move || if run.pending().get() { "Adding demo data…" } else { "Run demo" }}
            </button>
        </ServerForm>
    }
}

/// The Settings card: what demo data the organization has, and the button
/// that adds it or removes it (admins).
#[component]
pub fn DemoDataCard(org_id: Uuid, can_manage: bool) -> impl IntoView {
    let run = ServerAction::<RunDemo>::new();
    let remove = ServerAction::<RemoveDemoData>::new();
    let demo = Resource::new(
        move || (run.version().get(), remove.version().get()),
        move |_| get_demo_data(org_id),
    );
    view! {
        <section class="card" aria-labelledby="demo-heading" data-testid="demo-data">
            <h2 id="demo-heading">"Demo data"</h2>
            <Transition fallback=|| view! { <p class="skeleton">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match demo.await {
                        Ok(Some(demo)) => view! { <DemoPresent demo can_manage org_id remove /> }.into_any(),
                        Ok(None) => view! {
                            <p class="muted">{WHAT_IT_ADDS} " Remove it again with one click."</p>
                            {can_manage.then(|| view! { <RunDemoForm org_id run /> })}
                        }.into_any(),
                        Err(err) => view! { <p class="inline-error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
            {action_error(run.value())}
            {action_error(remove.value())}
            {move || remove.value().get().and_then(Result::ok).map(|removed| view! {
                <p class="muted" data-testid="demo-removed">
                    {format!(
                        "Removed {} traces, {} spans and {} metric points.",
                        format::count(removed.traces as i64),
                        format::count(removed.spans as i64),
                        format::count(removed.metric_points as i64)
                    )}
                </p>
            })}
        </section>
    }
}

#[component]
fn DemoPresent(
    demo: DemoData,
    can_manage: bool,
    org_id: Uuid,
    remove: ServerAction<RemoveDemoData>,
) -> impl IntoView {
    let added_by = demo
        .added_by
        .map(|email| format!(" by {email}"))
        .unwrap_or_default();
    let zone = use_display_zone();
    view! {
        <p data-testid="demo-present">
            {format!(
                "Added {} ({}){added_by}: {} traces, {} spans and {} metric points.",
                zone.minute(demo.added_at_ns),
                zone.name,
                format::count(demo.traces),
                format::count(demo.spans),
                format::count(demo.metric_points)
            )}
        </p>
        <p class="muted">
            "Its services are named demo-…, its spans and metric points carry the resource attribute "
            <code>{format!("specula.demo={}", demo.marker)}</code> ", and its usage is credited to the token “Demo data”."
        </p>
        {can_manage.then(|| view! {
            <ServerForm action=remove class="inline-form" args=move |_: &FormFields| RemoveDemoData { org_id }>
                <input type="hidden" name="org_id" value=org_id.to_string() />
                <button type="submit" class="button button-danger" data-testid="remove-demo"
                    onclick="return confirm('Remove the demo data? Your own telemetry stays.')"
                    disabled=move || remove.pending().get()>
                    "Remove demo data"
                </button>
            </ServerForm>
        })}
    }
}
