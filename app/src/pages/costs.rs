//! The Costs page: where money and tokens went over a range, compared with
//! the period before, as server-drawn charts (each with a table of its exact
//! numbers and a CSV download) and the most expensive traces. The range is
//! in the URL, so a view can be shared and works before hydration.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

use crate::{
    components::{
        get_form::GetForm,
        list_filters::{TimeRangeFields, param},
        send_traces::SendTracesCard,
        server_html::{ServerHtml, org_page_html},
        session::{RequireUser, use_session},
    },
    costs::{
        server_fns::load_cost_dashboard,
        types::{COST_RANGES, ChartPanel, CostDashboard, DEFAULT_COST_RANGE, UsageFigures},
    },
    error::ApiError,
    format,
    governance::server_fns::limits_html,
    telemetry::types::TraceSummary,
    time_zone::use_display_zone,
};

#[component]
pub fn CostsPage() -> impl IntoView {
    let session = use_session();
    let params = use_query_map();
    // Created here rather than under the signed-in check: server rendering
    // may build that check's children twice, and a resource created there
    // would load the whole dashboard twice.
    let dashboard = Resource::new(
        move || (params.get(), session.version()),
        move |(params, _)| async move {
            let org = match session.info.await {
                Ok(Some(info)) => info.active_org,
                _ => None,
            };
            match org {
                Some(org) => Some(
                    load_cost_dashboard(
                        org.id,
                        param(&params, "range"),
                        param(&params, "since"),
                        param(&params, "until"),
                    )
                    .await,
                ),
                None => None,
            }
        },
    );
    let limits = org_page_html(|org_id, _| limits_html(org_id));
    view! {
        <Title text="Costs" />
        <header class="page-header">
            <h1>"Costs"</h1>
            <p class="lead">"Tokens and spend by model, service, agent, API token and day."</p>
            <p><A href="/costs/prices">"Prices"</A>" — what each model costs your organization, and recomputes."</p>
        </header>
        <RequireUser children=move |_, org| match org {
            Some(_) => view! {
                <CostsView dashboard />
                <ServerHtml html=limits class="limits-body" />
            }
            .into_any(),
            None => view! { <SendTracesCard org=None /> }.into_any(),
        } />
    }
}

#[component]
fn CostsView(dashboard: Resource<Option<Result<CostDashboard, ApiError>>>) -> impl IntoView {
    view! {
        <GetForm action="/costs" class="filter-bar">
            <TimeRangeFields ranges=COST_RANGES default_range=DEFAULT_COST_RANGE />
            <button class="button button-primary" type="submit">"Show"</button>
        </GetForm>
        <Transition fallback=|| view! { <p class="skeleton" aria-busy="true">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match dashboard.await {
                    None => ().into_any(),
                    Some(Err(err)) => view! { <p class="inline-error" role="alert">{err.message}</p> }.into_any(),
                    Some(Ok(dashboard)) => view! { <Dashboard dashboard /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Dashboard(dashboard: CostDashboard) -> impl IntoView {
    let CostDashboard {
        since_ns,
        until_ns,
        granularity,
        totals,
        previous,
        charts,
        genai_metrics,
        top_traces,
    } = dashboard;
    let empty = totals.requests == 0 && totals.cost_nanos == 0 && totals.input_tokens == 0;
    let has_metrics = !genai_metrics.is_empty();
    // Teams that send only metrics see them first, above the empty span charts.
    let (metrics_first, metrics_after) = if empty {
        (Some(genai_metrics), None)
    } else {
        (None, Some(genai_metrics))
    };
    view! {
        <p class="muted costs-window" data-testid="costs-window">
            {
                let zone = use_display_zone();
                format!("{} to {} {}, by {granularity}", zone.minute(since_ns), zone.minute(until_ns), zone.name)
            }
        </p>
        <Headline totals=totals.clone() previous />
        {empty.then(|| view! {
            <div class="empty-state" data-testid="no-usage">
                <p class="empty-state-title">"No model usage in this range"</p>
                {if has_metrics {
                    view! { <p class="muted">"No spans with token counts arrived in this range; the GenAI metrics below did."</p> }.into_any()
                } else {
                    view! { <p class="muted">"Spans with token counts show up here as they arrive; "<A href="/spans">"the Spans page"</A>" shows how to send them."</p> }.into_any()
                }}
            </div>
        })}
        {metrics_first.map(|panels| view! { <GenAiMetrics panels /> })}
        <div class="chart-grid">
            {charts.into_iter().map(|panel| view! { <Chart panel /> }).collect_view()}
        </div>
        {metrics_after.map(|panels| view! { <GenAiMetrics panels /> })}
        <TopTraces traces=top_traces />
    }
}

/// Charts of the OTel GenAI metrics (`gen_ai.client.*`) sent to
/// `/v1/metrics`; nothing at all when the range has none.
#[component]
fn GenAiMetrics(panels: Vec<ChartPanel>) -> impl IntoView {
    (!panels.is_empty()).then(|| {
        view! {
            <section class="genai-metrics" data-testid="genai-metrics" aria-labelledby="genai-metrics-title">
                <h2 class="genai-metrics-title" id="genai-metrics-title">"GenAI metrics"</h2>
                <p class="muted genai-metrics-lead">
                    "From the OpenTelemetry GenAI client metrics ("<code>"gen_ai.client.token.usage"</code>", "
                    <code>"gen_ai.client.operation.duration"</code>") sent to "<code>"/v1/metrics"</code>
                    "; cumulative series are counted as the change over the range."
                </p>
                <div class="chart-grid">
                    {panels.into_iter().map(|panel| view! { <Chart panel /> }).collect_view()}
                </div>
            </section>
        }
    })
}

/// The change from `before` to `now` in percent, when there was a before.
fn change(now: f64, before: f64) -> Option<f64> {
    (before > 0.0).then(|| (now - before) / before * 100.0)
}

#[component]
fn Stat(
    label: &'static str,
    value: String,
    change_percent: Option<f64>,
    #[prop(optional)] testid: &'static str,
) -> impl IntoView {
    let delta = change_percent.map(|percent| {
        let arrow = if percent > 0.5 {
            "▲"
        } else if percent < -0.5 {
            "▼"
        } else {
            "="
        };
        format!("{arrow} {}% vs previous period", format::fixed(percent.abs(), 0))
    });
    view! {
        <div class="stat card" data-testid=testid>
            <p class="stat-label">{label}</p>
            <p class="stat-value">{value}</p>
            <p class="stat-change muted">{delta.unwrap_or_else(|| "no previous data".to_owned())}</p>
        </div>
    }
}

#[component]
fn Headline(totals: UsageFigures, previous: UsageFigures) -> impl IntoView {
    let tokens = |figures: &UsageFigures| (figures.input_tokens + figures.output_tokens) as f64;
    let p95 = totals
        .p95_latency_ms
        .map_or_else(|| "—".to_owned(), |ms| format::duration((ms * 1e6) as i64));
    let error_rate = totals.error_rate().map_or_else(
        || "—".to_owned(),
        |rate| format!("{}%", format::fixed(rate * 100.0, 1)),
    );
    view! {
        <section class="stat-grid" aria-label="Totals">
            <Stat label="Total cost" value=format::cost(Some(totals.cost_nanos)) testid="total-cost"
                change_percent=change(totals.cost_nanos as f64, previous.cost_nanos as f64) />
            <Stat label="Tokens" value=format::count(totals.input_tokens + totals.output_tokens) testid="total-tokens"
                change_percent=change(tokens(&totals), tokens(&previous)) />
            <Stat label="Requests" value=format::count(totals.requests) testid="total-requests"
                change_percent=change(totals.requests as f64, previous.requests as f64) />
            <Stat label="Error rate" value=error_rate
                change_percent=totals.error_rate().zip(previous.error_rate()).and_then(|(now, before)| change(now, before)) />
            <Stat label="p95 latency" value=p95
                change_percent=totals.p95_latency_ms.zip(previous.p95_latency_ms).and_then(|(now, before)| change(now, before)) />
            <Stat label="Unpriced" value=format::count(totals.unpriced) testid="total-unpriced"
                change_percent=change(totals.unpriced as f64, previous.unpriced as f64) />
        </section>
    }
}

#[component]
fn Chart(panel: ChartPanel) -> impl IntoView {
    let ChartPanel {
        id,
        title,
        svg,
        csv_href,
        columns,
        rows,
    } = panel;
    let file = format!("{id}.csv");
    view! {
        <figure class="chart card" data-testid=format!("chart-{id}") id=id>
            <figcaption class="chart-header">
                <h2 class="chart-title">{title.clone()}</h2>
                <a class="button button-small" href=csv_href download=file>"Download CSV"</a>
            </figcaption>
            <div class="chart-svg" inner_html=svg></div>
            <details class="chart-table">
                <summary>"Table of values"</summary>
                <div class="table-scroll">
                    <table class="table">
                        <thead><tr>{columns.into_iter().map(|column| view! { <th scope="col">{column}</th> }).collect_view()}</tr></thead>
                        <tbody>
                            {rows.into_iter().map(|row| view! {
                                <tr>{row.into_iter().enumerate().map(|(index, cell)| view! {
                                    <td class:numeric={index > 0}>{cell}</td>
                                }).collect_view()}</tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            </details>
        </figure>
    }
}

#[component]
fn TopTraces(traces: Vec<TraceSummary>) -> impl IntoView {
    view! {
        <section class="card top-traces" data-testid="top-traces">
            <h2 class="chart-title">"Most expensive traces"</h2>
            {if traces.is_empty() {
                view! { <p class="muted">"No priced traces in this range."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll">
                        <table class="table">
                            <thead>
                                <tr>
                                    <th scope="col">{use_display_zone().titled("Started")}</th>
                                    <th scope="col">"Root span"</th>
                                    <th scope="col">"Service"</th>
                                    <th scope="col" class="numeric">"Tokens in / out"</th>
                                    <th scope="col" class="numeric">"Cost"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {traces.into_iter().map(|trace| {
                                    let href = format!("/traces/{}", trace.trace_id);
                                    view! {
                                        <tr>
                                            <td class="mono nowrap"><A href=href.clone()>{use_display_zone().timestamp(trace.start_time_ns)}</A></td>
                                            <td><A href=href>{trace.root_span_name.clone().unwrap_or_else(|| "(root not received)".to_owned())}</A></td>
                                            <td>{trace.service_name.clone()}</td>
                                            <td class="numeric">{format!("{} / {}", format::count(trace.input_tokens), format::count(trace.output_tokens))}</td>
                                            <td class="numeric">{format::cost(Some(trace.cost_nanos))}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}
