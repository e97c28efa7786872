//! The overview page: what Specula does and where to send telemetry.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::components::{layout::SECTIONS, send_traces::SendTracesCard, session::use_session};

#[component]
pub fn HomePage() -> impl IntoView {
    let session = use_session();

    view! {
        <Title text="" />
        <section class="hero">
            <h1>"See every model call your agents make"</h1>
            <p class="lead">
                "Specula receives OpenTelemetry spans from LLM agents and shows each model request, tool call, code diff, token and dollar, per trace and per team."
            </p>
        </section>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let org = session.info.await.ok().flatten().and_then(|info| info.active_org);
                view! { <SendTracesCard org /> }
            })}
        </Transition>
        <section aria-labelledby="sections-heading">
            <h2 id="sections-heading" class="section-heading">"Sections"</h2>
            <ul class="section-grid">
                {SECTIONS
                    .into_iter()
                    .map(|(href, label)| {
                        view! {
                            <li class="section-tile">
                                <A href=href>
                                    <span class="section-tile-title">{label}</span>
                                    <span class="section-tile-text">{section_blurb(href)}</span>
                                </A>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}

fn section_blurb(href: &str) -> &'static str {
    match href {
        "/spans" => "Every model request, tool call, tool result and response, filterable and live.",
        "/traces" => "Follow an agent run end to end, with rendered diffs and correlation ids.",
        "/costs" => "Tokens and dollars by model, service, token and day.",
        "/policies" => "Redaction, content capture, sampling, retention and budgets.",
        "/settings" => "Organization, members and API tokens.",
        _ => "",
    }
}
