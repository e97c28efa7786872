//! The OTLP configuration card ("Send traces"): where to send spans, a token
//! (pasted, or minted here), and setup snippets with both filled in.

use leptos::prelude::*;

use crate::components::{
    copy_button::CopyButton,
    otlp_snippets::{TOKEN_PLACEHOLDER, snippets},
};
use std::time::Duration;

use uuid::Uuid;

use crate::{
    accounts::{
        server_fns::organization::MintToken,
        types::{Action, OrgSummary, role_allows},
    },
    components::server_form::{FormFields, ServerForm},
    error::ApiError,
    platform::{server_fns::get_instance_info, types::InstanceInfo},
    telemetry::server_fns::{SendTestTrace, get_ingest_status},
};

/// Where this installation is reached (the card's endpoints), read once per
/// page load.
#[derive(Clone, Copy)]
pub struct InstanceInfoContext(Resource<Result<InstanceInfo, ApiError>>);

/// Creates the instance-info resource at the top of the app. Resources made
/// by components under a signed-in check are created afresh when server
/// rendering builds that check's children again, and then hydrate against
/// the wrong data; this one exists once.
pub fn provide_instance_info() {
    provide_context(InstanceInfoContext(Resource::new(|| (), |_| get_instance_info())));
}

#[component]
pub fn SendTracesCard(
    /// The organization tokens are minted in; `None` shows the snippets only.
    org: Option<OrgSummary>,
) -> impl IntoView {
    let info = expect_context::<InstanceInfoContext>().0;
    let token = RwSignal::new(String::new());
    let tab = RwSignal::new("shell");
    let mint = ServerAction::<MintToken>::new();
    Effect::new(move |_| {
        if let Some(Ok(minted)) = mint.value().get() {
            token.set(minted.secret);
        }
    });
    let can_mint = org
        .as_ref()
        .is_some_and(|org| role_allows(org.role, Action::MintOwnIngestToken));
    let org_id = StoredValue::new(org.as_ref().map(|org| org.id.to_string()).unwrap_or_default());
    let org_uuid = org.as_ref().map(|org| org.id).unwrap_or_default();

    view! {
        <section class="card send-traces" aria-labelledby="send-traces-heading" data-testid="send-traces">
            <h2 id="send-traces-heading">"Send traces"</h2>
            <p class="muted">
                "Point any OpenTelemetry SDK's OTLP exporter at Specula. OTel GenAI, OpenInference and OpenLLMetry attributes are understood as they are."
            </p>
            <Suspense fallback=|| view! { <p class="skeleton" aria-busy="true">"Loading endpoints…"</p> }>
                {move || Suspend::new(async move {
                    match info.await {
                        Ok(info) => {
                            let traces_url = info.otlp_http_traces_url.clone();
                            view! {
                                <dl class="kv">
                                    <dt>"OTLP/HTTP traces"</dt>
                                    <dd>
                                        <code data-testid="otlp-http-endpoint">{info.otlp_http_traces_url.clone()}</code>
                                        <CopyButton value=Signal::stored(traces_url) label="OTLP/HTTP traces endpoint" />
                                    </dd>
                                    <dt>"OTLP/gRPC"</dt>
                                    <dd><code>{info.otlp_grpc_url.clone()}</code></dd>
                                </dl>
                            }
                            .into_any()
                        }
                        Err(err) => view! {
                            <p class="inline-error" role="alert">"Could not load the endpoints: " {err.message}</p>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>

            <div class="token-row">
                <label for="ingest-token">"API token"</label>
                <input
                    id="ingest-token"
                    type="text"
                    class="input mono"
                    placeholder=TOKEN_PLACEHOLDER
                    autocomplete="off"
                    spellcheck="false"
                    data-testid="token-input"
                    prop:value=move || token.get()
                    on:input=move |ev| token.set(event_target_value(&ev))
                />
                <Show when=move || can_mint>
                    <ServerForm action=mint class="inline-form" args=move |_: &FormFields| MintToken { org_id: org_uuid, name: "OTLP exporter".to_owned(), scope_ingest: Some("on".to_owned()), scope_read: None, scope_evaluate: None, scope_metrics: None, expires_in_days: None }>
                        <input type="hidden" name="org_id" value=org_id.get_value() />
                        <input type="hidden" name="name" value="OTLP exporter" />
                        <input type="hidden" name="scope_ingest" value="on" />
                        <button type="submit" class="button button-primary" data-testid="mint-ingest-token">
                            "Mint an ingest token"
                        </button>
                    </ServerForm>
                </Show>
            </div>
            {move || match mint.value().get() {
                Some(Ok(_)) => view! {
                    <p class="notice" role="status">
                        "New token minted. Copy it now: it is shown only once."
                    </p>
                }
                .into_any(),
                Some(Err(err)) => view! { <p class="inline-error" role="alert">{err.message}</p> }.into_any(),
                None => ().into_any(),
            }}

            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let base = info.await.map(|info| info.public_url).unwrap_or_default();
                    view! { <SnippetTabs base token tab /> }
                })}
            </Suspense>
            {org.map(|org| view! { <ClientOnly><IngestStatusLine org_id=org.id can_send=can_mint /></ClientOnly> })}
        </section>
    }
}

#[component]
fn SnippetTabs(base: String, token: RwSignal<String>, tab: RwSignal<&'static str>) -> impl IntoView {
    let base = StoredValue::new(base);
    let current = Memo::new(move |_| base.with_value(|base| snippets(base, Some(&token.get()))));
    let tabs = move || {
        current
            .get()
            .into_iter()
            .map(|snippet| {
                let id = snippet.id;
                view! {
                    <button
                        type="button"
                        role="tab"
                        class="tab"
                        aria-selected=move || (tab.get() == id).to_string()
                        on:click=move |_| tab.set(id)
                    >
                        {snippet.label}
                    </button>
                }
            })
            .collect_view()
    };
    let code = move || {
        current
            .get()
            .into_iter()
            .find(|snippet| snippet.id == tab.get())
            .map(|snippet| snippet.code)
            .unwrap_or_default()
    };
    view! {
        <div class="tabs" role="tablist" aria-label="Setup snippets">{tabs}</div>
        <div class="snippet">
            <pre class="code-block" data-testid="snippet"><code>{code}</code></pre>
            <CopyButton value=Signal::derive(code) label="setup snippet" />
        </div>
    }
}

/// Renders `children` in the browser only, once the page has hydrated: for
/// live state whose resource is created under the signed-in check and the
/// page's own suspense, which server rendering may build more than once
/// (the resource's data then hydrates against the wrong build).
#[component]
fn ClientOnly(children: ChildrenFn) -> impl IntoView {
    let mounted = RwSignal::new(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| mounted.set(true));
    move || mounted.get().then(|| children())
}

/// "Waiting for the first span" or "last span N s ago", refreshed every few
/// seconds, and a button that sends the demo trace through the pipeline.
#[component]
fn IngestStatusLine(org_id: Uuid, can_send: bool) -> impl IntoView {
    let tick = RwSignal::new(0u32);
    let send = ServerAction::<SendTestTrace>::new();
    let status = Resource::new(
        move || (tick.get(), send.version().get()),
        move |_| get_ingest_status(org_id),
    );
    Effect::new(move |_| {
        // Polls only in the browser: effects do not run on the server.
        if let Ok(handle) =
            set_interval_with_handle(move || tick.update(|tick| *tick += 1), Duration::from_secs(5))
        {
            on_cleanup(move || handle.clear());
        }
    });

    view! {
        <div class="ingest-status" data-testid="ingest-status">
            <Transition fallback=|| view! { <span class="muted">"Checking for spans…"</span> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(status) => match status.seconds_since_last_span() {
                            None => view! { <span class="status-dot status-waiting"></span> <span>"Waiting for the first span…"</span> }.into_any(),
                            Some(seconds) => view! { <span class="status-dot status-live"></span> <span>{format!("Last span received {} ago", ago(seconds))}</span> }.into_any(),
                        },
                        Err(err) => view! { <span class="inline-error">{err.message}</span> }.into_any(),
                    }
                })}
            </Transition>
            <Show when=move || can_send>
                <ServerForm action=send class="inline-form" args=move |_: &FormFields| SendTestTrace { org_id }>
                    <input type="hidden" name="org_id" value=org_id.to_string() />
                    <button type="submit" class="button button-small" data-testid="send-test-trace" disabled=move || send.pending().get()>
                        "Send a test trace"
                    </button>
                </ServerForm>
            </Show>
            {move || match send.value().get() {
                Some(Ok(trace_id)) => Some(view! {
                    <span class="muted" data-testid="test-trace-id">"Sent trace " <code>{trace_id}</code></span>
                }.into_any()),
                Some(Err(err)) => Some(view! { <span class="inline-error">{err.message}</span> }.into_any()),
                None => None,
            }}
        </div>
    }
}

/// `42` → `42 s`, `125` → `2 min`, `7300` → `2 h`.
fn ago(seconds: i64) -> String {
    match seconds {
        0..=59 => format!("{seconds} s"),
        60..=3599 => format!("{} min", seconds / 60),
        3600..=86_399 => format!("{} h", seconds / 3600),
        _ => format!("{} d", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_read_naturally() {
        assert_eq!(super::ago(0), "0 s");
        assert_eq!(super::ago(125), "2 min");
        assert_eq!(super::ago(7_300), "2 h");
        assert_eq!(super::ago(200_000), "2 d");
    }
}
