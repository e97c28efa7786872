//! The overview page: what Specula does and where to send telemetry.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::components::{copy_button::CopyButton, layout::SECTIONS};
use crate::instance::{InstanceInfo, get_instance_info};

#[component]
pub fn HomePage() -> impl IntoView {
    let info = Resource::new(|| (), |_| get_instance_info());

    view! {
        <Title text="" />
        <section class="hero">
            <h1>"See every model call your agents make"</h1>
            <p class="lead">
                "Specula receives OpenTelemetry spans from LLM agents and shows each model request, tool call, code diff, token and dollar, per trace and per team."
            </p>
        </section>
        <section class="card" aria-labelledby="endpoint-heading">
            <h2 id="endpoint-heading">"Send telemetry"</h2>
            <p class="muted">
                "Point any OpenTelemetry SDK's OTLP exporter at this server. OTel GenAI, OpenInference and OpenLLMetry attributes are understood as they are."
            </p>
            <Suspense fallback=|| view! { <p class="skeleton" aria-busy="true">"Loading endpoints…"</p> }>
                {move || Suspend::new(async move {
                    match info.await {
                        Ok(info) => view! { <Endpoints info /> }.into_any(),
                        Err(err) => view! {
                            <p class="inline-error" role="alert">
                                "Could not load the endpoints: " {err.message}
                            </p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
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

#[component]
fn Endpoints(info: InstanceInfo) -> impl IntoView {
    let env_snippet = format!(
        "OTEL_EXPORTER_OTLP_ENDPOINT={}\nOTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
        info.public_url
    );
    let traces_url = info.otlp_http_traces_url.clone();
    view! {
        <dl class="kv">
            <dt>"OTLP/HTTP traces"</dt>
            <dd>
                <code data-testid="otlp-http-endpoint">{info.otlp_http_traces_url}</code>
                <CopyButton value=Signal::stored(traces_url) label="OTLP/HTTP traces endpoint" />
            </dd>
            <dt>"OTLP/gRPC"</dt>
            <dd>
                <code>{info.otlp_grpc_url}</code>
            </dd>
            <dt>"Version"</dt>
            <dd>{info.version}</dd>
        </dl>
        <pre class="code-block"><code>{env_snippet}</code></pre>
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
