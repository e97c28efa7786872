//! The trace list: one row per agent run (root span, service, start,
//! duration, spans, errors, tokens, cost), filtered through the URL like the
//! spans explorer, each row opening the trace view.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map, params::ParamsMap};

use crate::{
    components::{
        get_form::GetForm,
        list_filters::{Pager, TimeRangeFields, custom_window, param},
        send_traces::SendTracesCard,
        session::{RequireUser, use_session},
        skeleton::SkeletonTable,
    },
    error::ApiError,
    format,
    telemetry::{
        server_fns::explore_traces,
        types::{TracePage, TraceQuery, TraceSummary},
    },
    time_zone::use_display_zone,
};

const PARAMS: &[&str] = &[
    "q",
    "service",
    "model",
    "status",
    "range",
    "since",
    "until",
    "min_duration_ms",
    "min_cost_usd",
    "cursor",
];

fn trace_query(params: &ParamsMap) -> TraceQuery {
    let (since, until) = custom_window(params);
    TraceQuery {
        since,
        until,
        service: param(params, "service"),
        model: param(params, "model"),
        status: param(params, "status"),
        min_duration_ms: param(params, "min_duration_ms"),
        min_cost_usd: param(params, "min_cost_usd"),
        q: param(params, "q"),
        cursor: param(params, "cursor"),
        ..TraceQuery::default()
    }
}

#[component]
pub fn TracesPage() -> impl IntoView {
    let session = use_session();
    let params = use_query_map();
    let page = Resource::new(
        move || params.get(),
        move |params| async move {
            let org_id = session.active_org_id().await?;
            Some(explore_traces(org_id, trace_query(&params), param(&params, "range")).await)
        },
    );
    view! {
        <Title text="Traces" />
        <header class="page-header">
            <h1>"Traces"</h1>
            <p class="lead">"Agent runs end to end: open one for its span waterfall, conversations and diffs."</p>
        </header>
        <RequireUser children=move |_, org| match org {
            Some(_) => view! { <TraceList page /> }.into_any(),
            None => view! { <SendTracesCard org=None /> }.into_any(),
        } />
    }
}

#[component]
fn TraceList(page: Resource<Option<Result<TracePage, ApiError>>>) -> impl IntoView {
    let params = use_query_map();
    let value = move |name: &'static str| params.with(|params| param(params, name).unwrap_or_default());
    view! {
        <GetForm action="/traces" class="filter-bar">
            <input class="input filter-search" type="search" name="q" placeholder="Traces whose spans say…"
                aria-label="Search text" prop:value=move || value("q") />
            <input class="input" type="text" name="service" placeholder="Service" aria-label="Service" prop:value=move || value("service") />
            <input class="input" type="text" name="model" placeholder="Model" aria-label="Model" prop:value=move || value("model") />
            <select class="input" name="status" aria-label="Status">
                <option value="" selected=move || value("status").is_empty()>"Any status"</option>
                <option value="ok" selected=move || value("status") == "ok">"Without errors"</option>
                <option value="error" selected=move || value("status") == "error">"With errors"</option>
            </select>
            <TimeRangeFields />
            <button class="button button-primary" type="submit">"Filter"</button>
        </GetForm>
        <Transition fallback=|| view! { <SkeletonTable /> }>
            {move || Suspend::new(async move {
                match page.await {
                    None => ().into_any(),
                    Some(Err(err)) => view! { <p class="inline-error" role="alert">{err.message}</p> }.into_any(),
                    Some(Ok(page)) if page.traces.is_empty() => view! {
                        <div class="empty-state" data-testid="no-traces">
                            <p class="empty-state-title">"No traces"</p>
                            <p class="muted">"Traces appear here as soon as spans arrive; "<A href="/spans">"the Spans page"</A>" shows how to send them."</p>
                        </div>
                    }
                    .into_any(),
                    Some(Ok(page)) => view! {
                        <TraceTable traces=page.traces />
                        <Pager path="/traces" names=PARAMS next_cursor=page.next_cursor older_label="Older traces" />
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn TraceTable(traces: Vec<TraceSummary>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="table span-table" data-testid="trace-table">
                <thead>
                    <tr>
                        <th scope="col">{use_display_zone().titled("Started")}</th>
                        <th scope="col">"Root span"</th>
                        <th scope="col">"Service"</th>
                        <th scope="col" class="numeric">"Duration"</th>
                        <th scope="col" class="numeric">"Spans"</th>
                        <th scope="col" class="numeric">"Errors"</th>
                        <th scope="col" class="numeric">"Tokens in / out"</th>
                        <th scope="col" class="numeric">"Cost"</th>
                        <th scope="col">"Models"</th>
                    </tr>
                </thead>
                <tbody>
                    {traces.into_iter().map(|trace| {
                        let href = format!("/traces/{}", trace.trace_id);
                        let cost = format!("{}{}", format::cost(Some(trace.cost_nanos)), if trace.unpriced_spans > 0 { " + unpriced" } else { "" });
                        view! {
                            <tr class:row-error=trace.error_count != 0>
                                <td class="mono nowrap"><A href=href.clone()>{use_display_zone().timestamp(trace.start_time_ns)}</A></td>
                                <td><A href=href>{trace.root_span_name.clone().unwrap_or_else(|| "(root not received)".to_owned())}</A></td>
                                <td>{trace.service_name.clone()}</td>
                                <td class="numeric mono">{format::duration(trace.duration_ns)}</td>
                                <td class="numeric mono">{trace.span_count}</td>
                                <td class="numeric mono" class:status-error=trace.error_count != 0>{trace.error_count}</td>
                                <td class="numeric mono">{format!("{} / {}", format::count(trace.input_tokens), format::count(trace.output_tokens))}</td>
                                <td class="numeric mono">{cost}</td>
                                <td>{trace.models.join(", ")}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
