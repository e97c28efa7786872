//! The spans explorer: the organization's spans, newest first, filtered by a
//! bar whose state lives in the URL (shareable, back-button friendly, and
//! working without JavaScript as a plain GET form).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map, params::ParamsMap};

use crate::{
    accounts::types::{Action, OrgSummary, role_allows},
    components::{
        demo_data::RunDemoButton,
        get_form::GetForm,
        keyboard_navigation::keyboard_navigation,
        kind_badge::{KINDS, KindBadge, flagged_badge},
        list_filters::{TimeRangeFields, custom_window, list_href, param, params_all},
        live_tail::live_tail,
        send_traces::SendTracesCard,
        session::{RequireUser, urlencode, use_session},
        skeleton::SkeletonTable,
    },
    error::ApiError,
    format,
    telemetry::{
        server_fns::{explore_spans, known_models},
        types::{SpanPage, SpanQuery, SpanSummary},
    },
    time_zone::use_display_zone,
};

/// The URL parameters the explorer understands, in the order links write them.
const PARAMS: &[&str] = &[
    "q",
    "kind",
    "model",
    "provider",
    "service",
    "tool",
    "status",
    "trace_id",
    "session",
    "user",
    "attr",
    "range",
    "since",
    "until",
    "min_duration_ms",
    "min_cost_usd",
    "flagged",
    "limit",
    "cursor",
];

fn span_query(params: &ParamsMap) -> SpanQuery {
    let (since, until) = custom_window(params);
    SpanQuery {
        kind: param(params, "kind"),
        model: param(params, "model"),
        provider: param(params, "provider"),
        service: param(params, "service"),
        tool: param(params, "tool"),
        status: param(params, "status"),
        trace_id: param(params, "trace_id"),
        session: param(params, "session"),
        user: param(params, "user"),
        since,
        until,
        min_duration_ms: param(params, "min_duration_ms"),
        min_cost_usd: param(params, "min_cost_usd"),
        q: param(params, "q"),
        flagged: param(params, "flagged"),
        limit: param(params, "limit"),
        cursor: param(params, "cursor"),
        attributes: attribute_filters(params),
    }
}

/// `attr=<key>=<value>` parameters of the page's URL (the API spells them
/// `attr.<key>=<value>`; one name for all keeps the filter bar a plain form).
fn attribute_filters(params: &ParamsMap) -> Vec<(String, String)> {
    params_all(params, "attr")
        .iter()
        .filter_map(|filter| filter.split_once('='))
        .filter(|(key, _)| !key.trim().is_empty())
        .map(|(key, value)| (key.trim().to_owned(), value.to_owned()))
        .collect()
}

/// The live tail's stream for the explorer's filters: the same filters,
/// without the paging and time-window ones (a tail has no end).
fn live_url(org_id: uuid::Uuid, params: &ParamsMap) -> String {
    let mut url = list_href(
        "/api/v1/live",
        PARAMS,
        params,
        &[
            ("cursor", None),
            ("range", None),
            ("since", None),
            ("until", None),
            ("attr", None),
        ],
    );
    url.push_str(if url.contains('?') { "&" } else { "?" });
    url.push_str(&format!("org={org_id}"));
    for (key, value) in attribute_filters(params) {
        url.push_str(&format!("&attr.{}={}", urlencode(&key), urlencode(&value)));
    }
    url
}

fn explorer_href(params: &ParamsMap, changes: &[(&str, Option<&str>)]) -> String {
    list_href("/spans", PARAMS, params, changes)
}

#[component]
pub fn SpansPage() -> impl IntoView {
    let session = use_session();
    let params = use_query_map();
    let page = Resource::new(
        move || params.get(),
        move |params| async move {
            let org_id = session.active_org_id().await?;
            Some(explore_spans(org_id, span_query(&params), param(&params, "range")).await)
        },
    );
    // Read once per visit: new models are rare, and the box takes any text.
    let models = Resource::new(
        || (),
        move |_| async move {
            let org_id = session.active_org_id().await?;
            known_models(org_id).await.ok()
        },
    );
    view! {
        <Title text="Spans" />
        <header class="page-header">
            <h1>"Spans"</h1>
            <p class="lead">"Every LLM request, tool call, tool result and response your agents emit."</p>
        </header>
        <RequireUser children=move |_, org| match org {
            Some(org) => view! { <Explorer org page models /> }.into_any(),
            None => view! { <SendTracesCard org=None /> }.into_any(),
        } />
    }
}

#[component]
fn Explorer(
    org: OrgSummary,
    page: Resource<Option<Result<SpanPage, ApiError>>>,
    models: Resource<Option<Vec<String>>>,
) -> impl IntoView {
    let params = use_query_map();
    let org_id = org.id;
    let filtered = move || {
        let params = params.get();
        PARAMS
            .iter()
            .any(|name| *name != "cursor" && param(&params, name).is_some())
    };
    let org = StoredValue::new(org);
    let live = RwSignal::new(false);
    let connected = RwSignal::new(false);
    let live_rows = RwSignal::new(Vec::<SpanSummary>::new());
    live_tail(move |params| live_url(org_id, params), live, connected, live_rows);

    view! {
        <FilterBar models />
        <div class="explorer-toolbar">
            <button type="button" class="button button-small live-toggle" class:live-on=move || live.get()
                aria-pressed=move || live.get().to_string() data-testid="live-toggle"
                data-connected=move || connected.get().to_string()
                on:click=move |_| live.update(|on| *on = !*on)>
                <span class="status-dot" class:status-live=move || live.get() class:status-waiting=move || !live.get()></span>
                {move || if live.get() { " Live: on" } else { " Live" }}
            </button>
            <span class="muted keyboard-hint">"/ search · j k move · Enter open"</span>
        </div>
        <Transition fallback=|| view! { <SkeletonTable /> }>
            {move || Suspend::new(async move {
                match page.await {
                    None => ().into_any(),
                    Some(Err(err)) => view! { <p class="inline-error" role="alert">{err.message}</p> }.into_any(),
                    Some(Ok(page)) if page.spans.is_empty() && !filtered() => {
                        let org = org.get_value();
                        let can_run_demo = role_allows(org.role, Action::ManagePolicies);
                        view! {
                            <SendTracesCard org=Some(org.clone()) />
                            {can_run_demo.then(|| view! { <RunDemoButton org_id=org.id /> })}
                        }.into_any()
                    }
                    Some(Ok(page)) if page.spans.is_empty() => view! {
                        <div class="empty-state" data-testid="no-match">
                            <p class="empty-state-title">"No spans match"</p>
                            <A href="/spans" attr:class="button">"Clear filters"</A>
                        </div>
                    }
                    .into_any(),
                    Some(Ok(page)) => {
                        let more_rows = RwSignal::new(Vec::<SpanSummary>::new());
                        view! {
                            <SpanTable spans=page.spans live_rows more_rows />
                            <LoadMore org_id next_cursor=page.next_cursor more_rows />
                        }
                        .into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// Appends the next page under the table. Without JavaScript it is a link
/// to that page; "Newest" then leads back.
#[component]
fn LoadMore(
    org_id: uuid::Uuid,
    next_cursor: Option<String>,
    more_rows: RwSignal<Vec<SpanSummary>>,
) -> impl IntoView {
    let params = use_query_map();
    let cursor = RwSignal::new(next_cursor);
    let loading = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let load = move |event: leptos::ev::MouseEvent| {
        event.prevent_default();
        let Some(next) = cursor.get_untracked() else {
            return;
        };
        if loading.get_untracked() {
            return;
        }
        loading.set(true);
        let params = params.get_untracked();
        let query = SpanQuery {
            cursor: Some(next),
            ..span_query(&params)
        };
        leptos::task::spawn_local(async move {
            match explore_spans(org_id, query, param(&params, "range")).await {
                Ok(page) => {
                    more_rows.update(|rows| rows.extend(page.spans));
                    cursor.set(page.next_cursor);
                    error.set(None);
                }
                Err(err) => error.set(Some(err.message)),
            }
            loading.set(false);
        });
    };
    view! {
        <nav class="pager" aria-label="More spans">
            <Show when=move || params.with(|params| param(params, "cursor").is_some())>
                <A href=move || explorer_href(&params.get(), &[("cursor", None)]) attr:class="button">"Newest"</A>
            </Show>
            {move || cursor.get().map(|next| view! {
                <a class="button" href=move || explorer_href(&params.get(), &[("cursor", Some(next.as_str()))])
                    on:click=load aria-busy=move || loading.get().to_string() data-testid="load-more">
                    {move || if loading.get() { "Loading…" } else { "Load more" }}
                </a>
            })}
            {move || error.get().map(|message| view! { <p class="inline-error" role="alert">{message}</p> })}
        </nav>
    }
}

/// The filters as a GET form: without JavaScript it reloads the page with the
/// new query; with it, the router navigates without a reload.
#[component]
fn FilterBar(
    /// The organization's models, offered in the Model box.
    models: Resource<Option<Vec<String>>>,
) -> impl IntoView {
    let params = use_query_map();
    let value = move |name: &'static str| params.with(|params| param(params, name).unwrap_or_default());
    view! {
        <GetForm action="/spans" class="filter-bar">
            <input class="input filter-search" type="search" name="q" placeholder="Search prompts, completions, tool output, diffs… ( / )"
                aria-label="Search text" prop:value=move || value("q") data-testid="search" />
            <select class="input" name="kind" aria-label="Kind">
                <option value="" selected=move || value("kind").is_empty()>"All kinds"</option>
                {KINDS.iter().map(|(kind, label)| view! {
                    <option value=*kind selected=move || value("kind") == *kind>{*label}</option>
                }).collect_view()}
            </select>
            <input class="input" type="text" name="model" placeholder="Model" aria-label="Model" list="known-models"
                title="The model asked for or the one that answered" prop:value=move || value("model") />
            <datalist id="known-models" data-testid="known-models">
                <Transition>
                    {move || Suspend::new(async move {
                        models.await.unwrap_or_default().into_iter()
                            .map(|model| view! { <option value=model></option> })
                            .collect_view()
                    })}
                </Transition>
            </datalist>
            <input class="input" type="text" name="tool" placeholder="Tool" aria-label="Tool name" prop:value=move || value("tool") />
            <input class="input" type="text" name="service" placeholder="Service" aria-label="Service" prop:value=move || value("service") />
            <select class="input" name="status" aria-label="Status">
                <option value="" selected=move || value("status").is_empty()>"Any status"</option>
                <option value="ok" selected=move || value("status") == "ok">"OK"</option>
                <option value="error" selected=move || value("status") == "error">"Error"</option>
            </select>
            <TimeRangeFields />
            // Cleared after each search: the filters in force are the chips.
            <input class="input" type="text" name="attr" placeholder="attribute=value" aria-label="Attribute equals"
                prop:value=move || params.with(|_| String::new())
                title="Spans whose attribute equals a value, e.g. gen_ai.request.model=gpt-4o" />
            <button class="button button-primary" type="submit">"Filter"</button>
            <AttributeChips />
        </GetForm>
    }
}

/// The attribute filters in force: each kept by a hidden field when the
/// form is sent again, and removable on its own.
#[component]
fn AttributeChips() -> impl IntoView {
    let params = use_query_map();
    move || {
        let current = params.get();
        let filters = params_all(&current, "attr");
        (!filters.is_empty()).then(|| view! {
            <ul class="filter-chips" aria-label="Attribute filters">
                {filters.iter().map(|filter| {
                    let mut rest = current.clone();
                    rest.remove("attr");
                    for other in filters.iter().filter(|other| *other != filter) {
                        rest.insert("attr", other.clone());
                    }
                    let remove = explorer_href(&rest, &[("cursor", None)]);
                    view! {
                        <li class="filter-chip" data-testid="attribute-filter">
                            <input type="hidden" name="attr" value=filter.clone() />
                            <span class="mono">{filter.clone()}</span>
                            <A href=remove attr:aria-label=format!("Remove filter {filter}") attr:class="chip-remove">"×"</A>
                        </li>
                    }
                }).collect_view()}
            </ul>
        })
    }
}

fn row_key(span: &SpanSummary) -> String {
    format!("{}/{}", span.trace_id, span.span_id)
}

fn trace_href(span: &SpanSummary) -> String {
    format!("/traces/{}?span={}", span.trace_id, span.span_id)
}

/// One row: time (opens the trace), kind, title (a quick filter), service,
/// tokens, cost, duration, status.
fn span_row(span: SpanSummary, params: Memo<ParamsMap>, selected: RwSignal<Option<String>>) -> impl IntoView {
    let key = row_key(&span);
    let href = trace_href(&span);
    let title = match (span.llm_kind.as_str(), &span.model, &span.tool_name) {
        ("tool_call" | "tool_result", _, Some(tool)) => Some(("tool", tool.clone())),
        (_, Some(model), _) => Some(("model", model.clone())),
        (_, _, Some(tool)) => Some(("tool", tool.clone())),
        _ => None,
    };
    let tokens = match (span.tokens.input, span.tokens.output) {
        (None, None) => String::new(),
        (input, output) => format!(
            "{} / {}",
            input.map(format::count).unwrap_or_default(),
            output.map(format::count).unwrap_or_default()
        ),
    };
    let cost = if span.unpriced {
        "unpriced".to_owned()
    } else if span.cost_nanos.is_some() {
        format::cost(span.cost_nanos)
    } else {
        String::new()
    };
    let error = span.status_code == "error";
    view! {
        <tr class:row-error=error class:row-selected=move || selected.with(|selected| selected.as_deref() == Some(key.as_str()))
            data-kind=span.llm_kind.clone()>
            <td class="mono nowrap"><A href=href.clone()>{use_display_zone().timestamp(span.start_time_ns)}</A></td>
            <td><KindBadge kind=span.llm_kind.clone() />{span.flagged.then(flagged_badge)}</td>
            <td class="span-title">
                {match title {
                    Some((filter, value)) => {
                        let label = value.clone();
                        let filter_href = move || explorer_href(&params.get(), &[(filter, Some(value.as_str())), ("cursor", None)]);
                        view! { <A href=filter_href attr:class="quick-filter" attr:title=format!("Only this {filter}")>{label}</A> }.into_any()
                    }
                    None => view! { <A href=href>{span.name.clone()}</A> }.into_any(),
                }}
            </td>
            <td>{span.service_name.clone()}</td>
            <td class="numeric mono">{tokens}</td>
            <td class="numeric mono">{cost}</td>
            <td class="numeric mono">{format::duration(span.duration_ns)}</td>
            <td>{if error { view! { <span class="status status-error">"error"</span> }.into_any() } else { view! { <span class="status">{span.status_code.clone()}</span> }.into_any() }}</td>
        </tr>
    }
}

/// The table: spans streamed in by the Live toggle on top, then the page.
/// Keyboard: `/` focuses the search, `j`/`k` move through rows, `Enter` opens one.
#[component]
fn SpanTable(
    spans: Vec<SpanSummary>,
    live_rows: RwSignal<Vec<SpanSummary>>,
    more_rows: RwSignal<Vec<SpanSummary>>,
) -> impl IntoView {
    let query = use_query_map();
    let params = Memo::new(move |_| query.get());
    let selected = RwSignal::new(None::<String>);
    let page_rows: Vec<SpanSummary> = spans.clone();
    keyboard_navigation(selected, move || {
        live_rows.with(|live| {
            more_rows.with(|more| {
                live.iter()
                    .chain(page_rows.iter())
                    .chain(more.iter())
                    .map(|span| (row_key(span), trace_href(span)))
                    .collect::<Vec<_>>()
            })
        })
    });
    view! {
        <div class="table-scroll">
            <table class="table span-table" data-testid="span-table">
                <thead>
                    <tr>
                        <th scope="col">{use_display_zone().titled("Time")}</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Title"</th>
                        <th scope="col">"Service"</th>
                        <th scope="col" class="numeric">"Tokens in / out"</th>
                        <th scope="col" class="numeric">"Cost"</th>
                        <th scope="col" class="numeric">"Duration"</th>
                        <th scope="col">"Status"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || live_rows.get().into_iter().map(|span| span_row(span, params, selected)).collect_view()}
                    {spans.into_iter().map(|span| span_row(span, params, selected)).collect_view()}
                    {move || more_rows.get().into_iter().map(|span| span_row(span, params, selected)).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_other_filters() {
        let mut params = ParamsMap::new();
        params.insert("kind", "request".to_owned());
        params.insert("cursor", "1_2".to_owned());
        assert_eq!(
            explorer_href(&params, &[("model", Some("gpt-4o")), ("cursor", None)]),
            "/spans?kind=request&model=gpt-4o"
        );
        assert_eq!(explorer_href(&ParamsMap::new(), &[]), "/spans");
        assert_eq!(
            explorer_href(&ParamsMap::new(), &[("q", Some("a b&c"))]),
            "/spans?q=a%20b%26c"
        );
    }

    #[test]
    fn attribute_filters_come_from_key_value_parameters() {
        let mut params = ParamsMap::new();
        params.insert("attr", "gen_ai.request.model=gpt-4o".to_owned());
        params.insert("attr", " user.tier = a=b".to_owned());
        params.insert("attr", "no-equals-sign".to_owned());
        params.insert("attr", "=value-without-key".to_owned());
        assert_eq!(
            attribute_filters(&params),
            [
                ("gen_ai.request.model".to_owned(), "gpt-4o".to_owned()),
                ("user.tier".to_owned(), " a=b".to_owned()),
            ]
        );
    }
}
