//! The OTLP configuration card ("Send traces"): where to send spans, a token
//! (pasted, or minted here), and setup snippets with both filled in.

use leptos::prelude::*;

use super::{
    copy_button::CopyButton,
    otlp_snippets::{TOKEN_PLACEHOLDER, snippets},
};
use crate::{
    accounts::{Action, OrgSummary, role_allows},
    instance::get_instance_info,
    organization::MintToken,
};

#[component]
pub fn SendTracesCard(
    /// The organization tokens are minted in; `None` shows the snippets only.
    org: Option<OrgSummary>,
) -> impl IntoView {
    let info = Resource::new(|| (), |_| get_instance_info());
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
                    <ActionForm action=mint attr:class="inline-form">
                        <input type="hidden" name="org_id" value=org_id.get_value() />
                        <input type="hidden" name="name" value="OTLP exporter" />
                        <input type="hidden" name="scope_ingest" value="on" />
                        <button type="submit" class="button button-primary" data-testid="mint-ingest-token">
                            "Mint an ingest token"
                        </button>
                    </ActionForm>
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
