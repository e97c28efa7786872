//! The Costs page's charts, drawn from the dashboard's rollups: one
//! function per chart, each a panel with its SVG, table and CSV. The GenAI
//! metric charts ([`super::genai`]) share the time axis and are drawn on
//! another core meanwhile.

use std::collections::HashMap;

use uuid::Uuid;

use crate::{
    charts::{
        Series, Unit,
        panels::{TimeAxis, TimeChart, ranked, time_chart, usd},
    },
    costs::{
        services::{
            dashboard::{ChartGroups, DashboardData, bucket_index, buckets, owner, period_title},
            usage::{self, Dimension, TokenName, UsageGroup},
        },
        types::{ChartPanel, CostDashboard},
    },
    error::{AppError, Result},
    telemetry::services::ingest::usage::{UsageCounters, percentile_ms},
    time_zone::DisplayZone,
};

/// Models drawn as their own series; the rest are summed as "Other".
const MODELS_DRAWN: usize = 7;
/// Models in the latency chart.
const LATENCY_MODELS: usize = 4;

/// The Costs page: its figures and every chart.
pub async fn dashboard(data: DashboardData, zone: &DisplayZone) -> Result<CostDashboard> {
    let DashboardData {
        request,
        groups,
        totals,
        previous,
        top_traces,
        metric_points,
        token_names,
    } = data;
    // The metric charts are drawn on another core while the span charts are.
    let buckets = buckets(&request, zone);
    let period_title = period_title(&request, zone);
    let metric_charts = metric_points.map(|points| {
        let (request, buckets, title) = (request.clone(), buckets.clone(), period_title.clone());
        tokio::task::spawn_blocking(move || super::genai::charts(&request, &buckets, &title, points))
    });
    let span_charts = charts(&groups, &buckets, &period_title, request.until_ns, &token_names);
    let metric_charts = match metric_charts {
        Some(task) => task
            .await
            .map_err(|err| AppError::Internal(format!("drawing the GenAI metric charts: {err}")))?,
        None => Vec::new(),
    };
    Ok(CostDashboard {
        since_ns: request.since_ns,
        until_ns: request.until_ns,
        granularity: request.granularity.as_str().to_owned(),
        totals: usage::figures(&totals),
        previous: usage::figures(&previous),
        charts: span_charts,
        genai_metrics: metric_charts,
        top_traces,
    })
}

fn named(value: &str, none: &str) -> String {
    if value.is_empty() {
        none.to_owned()
    } else {
        value.to_owned()
    }
}

/// Counters per time bucket, for every model and for all together: one
/// pass over the groups, whatever the number of series drawn from it.
struct Folded<'a> {
    /// Each model's counters per bucket, and its counters over the range.
    by_model: HashMap<&'a str, (Vec<UsageCounters>, UsageCounters)>,
    all: Vec<UsageCounters>,
}

impl<'a> Folded<'a> {
    /// `groups` may be finer than the buckets (hours for local days).
    fn of(groups: &'a [UsageGroup], buckets: &[(i64, String)], until_ns: i64) -> Self {
        let mut folded = Folded {
            by_model: HashMap::new(),
            all: vec![UsageCounters::default(); buckets.len()],
        };
        for group in groups {
            let Some(index) = bucket_index(buckets, until_ns, group.time_ns) else {
                continue;
            };
            let (per_bucket, total) = folded
                .by_model
                .entry(group.values.first().map(String::as_str).unwrap_or_default())
                .or_insert_with(|| {
                    (
                        vec![UsageCounters::default(); folded.all.len()],
                        UsageCounters::default(),
                    )
                });
            per_bucket[index].merge(&group.counters);
            total.merge(&group.counters);
            folded.all[index].merge(&group.counters);
        }
        folded
    }
}

fn series_of(per_bucket: &[UsageCounters], value: impl Fn(&UsageCounters) -> f64) -> Vec<f64> {
    per_bucket.iter().map(value).collect()
}

/// A model's counters per bucket and over the whole range.
type ModelCounters<'a> = (&'a str, &'a (Vec<UsageCounters>, UsageCounters));

fn charts(
    groups: &ChartGroups,
    buckets: &[(i64, String)],
    period_title: &str,
    until_ns: i64,
    token_names: &HashMap<Uuid, TokenName>,
) -> Vec<ChartPanel> {
    let axis = TimeAxis {
        title: period_title.to_owned(),
        labels: buckets.iter().map(|(_, label)| label.clone()).collect(),
    };
    let folded = Folded::of(&groups.by_model, buckets, until_ns);
    let models = models_by_cost(&folded);
    let token_name = |id: &str| match Uuid::parse_str(id) {
        // Spans stored without a token: the test trace, the demo.
        Ok(id) if id.is_nil() => "(no token)".to_owned(),
        Ok(id) => token_names
            .get(&id)
            .map(TokenName::label)
            .unwrap_or_else(|| format!("deleted token {}", &id.to_string()[..8])),
        Err(_) => id.to_owned(),
    };
    vec![
        cost_by_model(&axis, &models, &folded.all),
        tokens(&axis, &folded.all),
        requests_and_errors(&axis, &folded.all),
        error_rate(&axis, &folded.all),
        latency_by_model(&axis, &models),
        cost_ranked_by(
            groups,
            Dimension::Service,
            ("cost-by-service", "Cost by service", "Service"),
            &|value| named(value, "(no service)"),
        ),
        cost_ranked_by(
            groups,
            Dimension::Agent,
            ("cost-by-agent", "Cost by agent", "Agent"),
            &|value| named(value, "(unattributed)"),
        ),
        cost_ranked_by(
            groups,
            Dimension::Token,
            ("cost-by-token", "Cost by API token", "API token"),
            &token_name,
        ),
    ]
}

/// Models by cost, most expensive first (then by requests, then by name).
fn models_by_cost<'a>(folded: &'a Folded<'a>) -> Vec<ModelCounters<'a>> {
    let mut models: Vec<ModelCounters<'a>> = folded
        .by_model
        .iter()
        .map(|(model, counters)| (*model, counters))
        .collect();
    models.sort_by(|a, b| {
        let (a_total, b_total) = (&(a.1).1, &(b.1).1);
        b_total
            .cost_nanos
            .cmp(&a_total.cost_nanos)
            .then(b_total.requests.cmp(&a_total.requests))
            .then(a.0.cmp(b.0))
    });
    models
}

/// Cost per bucket, stacked by model: the most expensive models drawn, the
/// rest summed as "Other models".
fn cost_by_model(axis: &TimeAxis, models: &[ModelCounters<'_>], all: &[UsageCounters]) -> ChartPanel {
    let mut series: Vec<Series> = models
        .iter()
        .take(MODELS_DRAWN)
        .map(|(model, (per_bucket, _))| {
            Series::new(
                named(model, "(no model)"),
                series_of(per_bucket, |counters| usd(counters.cost_nanos)),
            )
        })
        .collect();
    if models.len() > MODELS_DRAWN {
        // Nano-dollars are integers: what the drawn models leave is exact.
        let mut other: Vec<i64> = all.iter().map(|counters| counters.cost_nanos).collect();
        for (_, (per_bucket, _)) in models.iter().take(MODELS_DRAWN) {
            for (rest, counters) in other.iter_mut().zip(per_bucket) {
                *rest -= counters.cost_nanos;
            }
        }
        series.push(Series::new("Other models", other.into_iter().map(usd).collect()));
    }
    time_chart(
        TimeChart::StackedBars,
        "cost-by-model",
        "Cost by model",
        Unit::Usd,
        axis,
        series,
    )
}

/// Tokens per bucket: fresh input, cached input and output, stacked.
fn tokens(axis: &TimeAxis, all: &[UsageCounters]) -> ChartPanel {
    time_chart(
        TimeChart::StackedBars,
        "tokens",
        "Tokens",
        Unit::Tokens,
        axis,
        vec![
            Series::new(
                "Input",
                series_of(all, |counters| {
                    (counters.input_tokens - counters.cache_read_tokens).max(0) as f64
                }),
            ),
            Series::new(
                "Cached input",
                series_of(all, |counters| counters.cache_read_tokens as f64),
            ),
            Series::new("Output", series_of(all, |counters| counters.output_tokens as f64)),
        ],
    )
}

fn requests_and_errors(axis: &TimeAxis, all: &[UsageCounters]) -> ChartPanel {
    time_chart(
        TimeChart::Lines,
        "requests",
        "Requests and errors",
        Unit::Requests,
        axis,
        vec![
            Series::new("Requests", series_of(all, |counters| counters.requests as f64)),
            Series::new("Errors", series_of(all, |counters| counters.errors as f64)),
        ],
    )
}

/// Errors per request in each bucket; a bucket without requests has no rate
/// (a gap, not 0%).
fn error_rate(axis: &TimeAxis, all: &[UsageCounters]) -> ChartPanel {
    let rate = series_of(all, |counters| {
        if counters.requests > 0 {
            100.0 * counters.errors as f64 / counters.requests as f64
        } else {
            f64::NAN
        }
    });
    time_chart(
        TimeChart::Lines,
        "error-rate",
        "Error rate",
        Unit::Percent,
        axis,
        vec![Series::new("Error rate", rate)],
    )
}

/// p50 and p95 latency of the most expensive models that served requests.
fn latency_by_model(axis: &TimeAxis, models: &[ModelCounters<'_>]) -> ChartPanel {
    let series: Vec<Series> = models
        .iter()
        .filter(|(_, (_, total))| total.requests > 0)
        .take(LATENCY_MODELS)
        .flat_map(|(model, (per_bucket, _))| {
            [(0.5, "p50"), (0.95, "p95")].map(|(quantile, label)| {
                Series::new(
                    format!("{} {label}", named(model, "(no model)")),
                    series_of(per_bucket, |counters| {
                        percentile_ms(&counters.latency, quantile).unwrap_or(f64::NAN)
                    }),
                )
            })
        })
        .collect();
    time_chart(
        TimeChart::Lines,
        "latency",
        "Latency by model (p50, p95)",
        Unit::Milliseconds,
        axis,
        series,
    )
}

/// Cost over the range by one owner dimension (service, agent, API token),
/// ranked, with the exact sums in its table.
fn cost_ranked_by(
    groups: &ChartGroups,
    dimension: Dimension,
    (id, title, label): (&str, &str, &str),
    name: &dyn Fn(&str) -> String,
) -> ChartPanel {
    let mut sums: HashMap<&str, i64> = HashMap::new();
    for group in &groups.by_owner {
        *sums.entry(owner(group, dimension)).or_default() += group.counters.cost_nanos;
    }
    let exact: Vec<(String, i64)> = sums
        .into_iter()
        .filter(|(_, nanos)| *nanos > 0)
        .map(|(value, nanos)| (name(value), nanos))
        .collect();
    let bars = exact
        .iter()
        .map(|(name, nanos)| (name.clone(), usd(*nanos)))
        .collect();
    ranked(id, title, label, bars, exact)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::services::usage::UsageRequest;

    fn charts_in_utc(
        request: &UsageRequest,
        groups: &ChartGroups,
        names: &HashMap<Uuid, TokenName>,
    ) -> Vec<ChartPanel> {
        let zone = DisplayZone::default();
        charts(
            groups,
            &buckets(request, &zone),
            &period_title(request, &zone),
            request.until_ns,
            names,
        )
    }

    use crate::{costs::services::dashboard::usage_query, telemetry::services::ingest::usage::HOUR_NS};

    const NOW: i64 = 1_764_590_400_000_000_000; // 2025-12-01T12:00:00Z

    /// The same usage as read per bucket and model, and per owner.
    fn groups(calls: &[(i64, &str, &str, i64)]) -> ChartGroups {
        let counters = |cost_nanos: i64| UsageCounters {
            requests: 1,
            cost_nanos,
            input_tokens: 100,
            cache_read_tokens: 40,
            output_tokens: 10,
            ..Default::default()
        };
        ChartGroups {
            by_model: calls
                .iter()
                .map(|&(time_ns, model, _, cost_nanos)| UsageGroup {
                    time_ns,
                    values: vec![model.into()],
                    counters: counters(cost_nanos),
                })
                .collect(),
            by_owner: calls
                .iter()
                .map(|&(_, _, service, cost_nanos)| UsageGroup {
                    time_ns: 0,
                    values: vec![service.into(), String::new(), Uuid::nil().to_string()],
                    counters: counters(cost_nanos),
                })
                .collect(),
        }
    }

    #[test]
    fn charts_split_the_same_money_every_way() {
        let request = UsageRequest::parse(&usage_query(Some("7d"), None, None, NOW).unwrap(), NOW).unwrap();
        let day = 24 * HOUR_NS;
        let today = NOW - NOW.rem_euclid(day);
        let groups = groups(&[
            (today, "gpt-4o", "coder", 3_000_000),
            (today, "claude-sonnet-4-5", "reviewer", 6_675_000),
            (today - day, "gpt-4o", "coder", 1_000_000),
        ]);
        let panels = charts_in_utc(&request, &groups, &HashMap::new());
        let ids: Vec<&str> = panels.iter().map(|panel| panel.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "cost-by-model",
                "tokens",
                "requests",
                "error-rate",
                "latency",
                "cost-by-service",
                "cost-by-agent",
                "cost-by-token"
            ]
        );
        let cost = &panels[0];
        // Most expensive model first; the last day holds both.
        assert_eq!(cost.columns, ["Day (UTC)", "claude-sonnet-4-5", "gpt-4o"]);
        assert_eq!(cost.rows.last().unwrap(), &["01 Dec", "$0.006675", "$0.003"]);
        assert!(cost.svg.starts_with("<svg"));
        assert!(cost.csv_href.starts_with("data:text/csv"));
        let tokens = &panels[1];
        assert_eq!(tokens.rows.last().unwrap()[1..], ["120", "80", "20"]);
        let services = &panels[5];
        assert_eq!(services.rows, [["reviewer", "$0.006675"], ["coder", "$0.004"]]);
        let tokens_panel = &panels[7];
        assert_eq!(tokens_panel.rows[0][0], "(no token)");
    }

    #[test]
    fn tokens_are_labelled_by_name_and_prefix() {
        let request = UsageRequest::parse(&usage_query(Some("7d"), None, None, NOW).unwrap(), NOW).unwrap();
        let (named, deleted) = (Uuid::from_u128(7), Uuid::from_u128(8));
        let owner = |token: Uuid, cost_nanos: i64| UsageGroup {
            time_ns: 0,
            values: vec!["coder".into(), String::new(), token.to_string()],
            counters: UsageCounters {
                requests: 1,
                cost_nanos,
                ..Default::default()
            },
        };
        let groups = ChartGroups {
            by_model: Vec::new(),
            by_owner: vec![owner(named, 3), owner(Uuid::nil(), 2), owner(deleted, 1)],
        };
        let names = HashMap::from([(
            named,
            TokenName {
                name: "CI agents".into(),
                prefix: "spk_ab12".into(),
            },
        )]);
        let panels = charts_in_utc(&request, &groups, &names);
        let tokens = panels.iter().find(|panel| panel.id == "cost-by-token").unwrap();
        let labels: Vec<&str> = tokens.rows.iter().map(|row| row[0].as_str()).collect();
        assert_eq!(
            labels,
            ["CI agents (spk_ab12…)", "(no token)", "deleted token 00000000"]
        );
        assert!(
            tokens.svg.contains("CI agents (spk_ab12…)"),
            "the bar is labelled too"
        );
    }
}
