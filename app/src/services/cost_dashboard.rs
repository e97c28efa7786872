//! The Costs page's data: the range's rollups grouped by time bucket and
//! model, and by service, agent and API token over the whole range, folded
//! here into the headline figures and the charts, plus the previous
//! period's totals and the most expensive traces. Each read returns as
//! few rows as its charts need: reading every key per bucket would return
//! thousands of 60-column rows for a month. The rollups hold sums, so every chart's numbers add up exactly
//! to the headline's. The GenAI metrics' charts ([`genai_metrics`]) share
//! the time axis.

use std::collections::HashMap;

use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::{
    charts::{HorizontalBarChart, LineChart, Series, StackedBarChart, Unit},
    costs::{COST_RANGES, ChartPanel, CostDashboard, DEFAULT_COST_RANGE, UsageQuery},
    error::{AppError, Result},
    services::{
        genai_metrics,
        ingest::usage::{HOUR_NS, UsageCounters, percentile_ms},
        traces,
        usage::{self, Dimension, Granularity, UsageGroup, UsageRequest},
    },
};

/// Models drawn as their own series; the rest are summed as "Other".
const MODELS_DRAWN: usize = 7;
/// Models in the latency chart.
const LATENCY_MODELS: usize = 4;
pub(crate) const CHART_WIDTH: u32 = 720;
pub(crate) const CHART_HEIGHT: u32 = 300;

/// The window a `range` (or a custom `since`/`until`) stands for.
fn usage_query(
    range: Option<&str>,
    since: Option<String>,
    until: Option<String>,
    now_ns: i64,
) -> Result<UsageQuery> {
    let range = range.filter(|range| !range.is_empty());
    if range.is_none_or(|range| range == "custom") && (since.is_some() || until.is_some()) {
        return Ok(UsageQuery {
            since,
            until,
            ..Default::default()
        });
    }
    let range = range.unwrap_or(DEFAULT_COST_RANGE);
    let hours = COST_RANGES
        .iter()
        .find(|(value, _, _)| *value == range)
        .map(|(_, _, hours)| *hours)
        .ok_or_else(|| AppError::BadRequest(format!("unknown range {range:?}")))?;
    Ok(UsageQuery {
        since: Some((now_ns - hours * HOUR_NS).to_string()),
        until: Some(now_ns.to_string()),
        ..Default::default()
    })
}

/// Builds the dashboard of `org_id` for the range.
pub async fn dashboard(
    db: &DatabaseConnection,
    org_id: Uuid,
    range: Option<&str>,
    since: Option<String>,
    until: Option<String>,
    now_ns: i64,
) -> Result<CostDashboard> {
    let mut request = UsageRequest::parse(&usage_query(range, since, until, now_ns)?, now_ns)?;
    request.group_by = vec![Dimension::Model];
    // Costs by owner are ranked over the whole range: no time buckets,
    // so the read is a few dozen rows, not one per key and day.
    let owners_request = UsageRequest {
        granularity: Granularity::Total,
        group_by: OWNER_DIMENSIONS.to_vec(),
        ..request.clone()
    };
    let length = request.until_ns - request.since_ns;
    let previous_request = UsageRequest {
        since_ns: request.since_ns - length,
        until_ns: request.since_ns,
        // Bucketed only so that the read can be split in two; summed below.
        granularity: Granularity::for_range(length),
        group_by: Vec::new(),
        filters: Vec::new(),
    };
    let range = (request.since_ns, request.until_ns);
    // The reads are independent: each runs on its own connection, at once.
    let (by_model, by_owner, previous_groups, top_traces, (metric_points, has_metrics)) = tokio::try_join!(
        usage::groups(db, org_id, &request),
        usage::groups(db, org_id, &owners_request),
        usage::groups(db, org_id, &previous_request),
        traces::most_expensive(db, org_id, range, 10),
        genai_metrics::points(db, org_id, &request),
    )?;
    let mut previous = UsageCounters::default();
    for group in &previous_groups {
        previous.merge(&group.counters);
    }
    // The metric charts are drawn on another core while the span charts are.
    let metric_charts = has_metrics.then(|| {
        let (request, axis) = (request.clone(), buckets(&request));
        tokio::task::spawn_blocking(move || genai_metrics::charts(&request, &axis, metric_points))
    });
    let token_names = usage::token_names(db, org_id, token_ids(&by_owner)).await?;
    let groups = ChartGroups { by_model, by_owner };
    let span_charts = charts(&request, &groups, &token_names);
    let metric_charts = match metric_charts {
        Some(task) => task
            .await
            .map_err(|err| AppError::Internal(format!("drawing the GenAI metric charts: {err}")))?,
        None => Vec::new(),
    };
    let mut totals = UsageCounters::default();
    for group in &groups.by_model {
        totals.merge(&group.counters);
    }
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

/// What the cost-by-owner charts rank: the values of `by_owner` groups.
const OWNER_DIMENSIONS: [Dimension; 3] = [Dimension::Service, Dimension::Agent, Dimension::Token];

/// What the span charts are drawn from.
struct ChartGroups {
    /// Per time bucket and model (the model the only value).
    by_model: Vec<UsageGroup>,
    /// Over the whole range, per [`OWNER_DIMENSIONS`].
    by_owner: Vec<UsageGroup>,
}

fn token_ids(by_owner: &[UsageGroup]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = by_owner
        .iter()
        .map(|group| owner(group, Dimension::Token))
        .filter_map(|value| Uuid::parse_str(value).ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The time buckets of the range, in order, and each one's label.
pub(crate) fn buckets(request: &UsageRequest) -> Vec<(i64, String)> {
    let step = match request.granularity {
        Granularity::Hour => HOUR_NS,
        Granularity::Day => 24 * HOUR_NS,
        Granularity::Week => 7 * 24 * HOUR_NS,
        Granularity::Total => request.until_ns - request.since_ns,
    };
    let format = match request.granularity {
        Granularity::Hour => "%d %b %H:00",
        Granularity::Week => "w/c %d %b",
        _ => "%d %b",
    };
    let mut start = request.granularity.bucket_of(request.since_ns, request.since_ns);
    let mut out = Vec::new();
    while start < request.until_ns && step > 0 {
        let label = chrono::DateTime::from_timestamp_nanos(start)
            .format(format)
            .to_string();
        out.push((start, label));
        start += step;
    }
    out
}

/// The value of `dimension` in a group read by [`OWNER_DIMENSIONS`].
fn owner(group: &UsageGroup, dimension: Dimension) -> &str {
    let position = OWNER_DIMENSIONS
        .iter()
        .position(|candidate| *candidate == dimension)
        .unwrap_or_default();
    group.values.get(position).map(String::as_str).unwrap_or_default()
}

fn named(value: &str, none: &str) -> String {
    if value.is_empty() {
        none.to_owned()
    } else {
        value.to_owned()
    }
}

fn usd(nanos: i64) -> f64 {
    nanos as f64 / 1e9
}

/// A percent-encoded `data:` URL of a CSV document.
pub(crate) fn csv_href(csv: &str) -> String {
    let mut href = String::with_capacity(csv.len() + 32);
    href.push_str("data:text/csv;charset=utf-8,");
    for byte in csv.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            href.push(byte as char);
        } else {
            href.push_str(&format!("%{byte:02X}"));
        }
    }
    href
}

/// A table cell: the exact number behind a chart's value.
pub(crate) fn exact_cell(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Usd => {
            let nanos = (value * 1e9).round() as i64;
            let digits = crate::services::cost_logs::usd_exact(nanos);
            let trimmed = digits.trim_end_matches('0');
            let trimmed = match trimmed.split_once('.') {
                Some((_, decimals)) if decimals.len() < 2 => {
                    format!("{trimmed}{}", "0".repeat(2 - decimals.len()))
                }
                _ => trimmed.to_owned(),
            };
            format!("${trimmed}")
        }
        Unit::Tokens | Unit::Requests => crate::format::count(value.round() as i64),
        Unit::Percent => format!("{value:.2}%"),
        Unit::Milliseconds => format!("{value:.1} ms"),
    }
}

/// A panel for a chart over time: the table has a row per bucket, a column per series.
fn time_panel(
    id: &str,
    title: &str,
    unit: Unit,
    categories: &[String],
    series: &[Series],
    svg: String,
    csv: String,
) -> ChartPanel {
    let mut columns = vec!["Period (UTC)".to_owned()];
    columns.extend(series.iter().map(|series| series.name.clone()));
    let rows = categories
        .iter()
        .enumerate()
        .map(|(index, category)| {
            let mut row = vec![category.clone()];
            row.extend(series.iter().map(|series| {
                series
                    .values
                    .get(index)
                    .filter(|value| value.is_finite())
                    .map_or_else(|| "—".to_owned(), |value| exact_cell(unit, *value))
            }));
            row
        })
        .collect();
    ChartPanel {
        id: id.to_owned(),
        title: title.to_owned(),
        svg,
        csv_href: csv_href(&csv),
        columns,
        rows,
    }
}

/// How a chart over time is drawn.
#[derive(Clone, Copy)]
pub(crate) enum TimeChart {
    StackedBars,
    Lines,
}

pub(crate) fn time_chart(
    kind: TimeChart,
    id: &str,
    title: &str,
    unit: Unit,
    categories: &[String],
    series: Vec<Series>,
) -> ChartPanel {
    let (title_text, categories_owned) = (title.to_owned(), categories.to_vec());
    let (svg, csv) = match kind {
        TimeChart::StackedBars => {
            let chart = StackedBarChart {
                title: title_text,
                unit,
                categories: categories_owned,
                series: series.clone(),
            };
            (chart.to_svg(CHART_WIDTH, CHART_HEIGHT), chart.to_csv())
        }
        TimeChart::Lines => {
            let chart = LineChart {
                title: title_text,
                unit,
                categories: categories_owned,
                series: series.clone(),
            };
            (chart.to_svg(CHART_WIDTH, CHART_HEIGHT), chart.to_csv())
        }
    };
    time_panel(id, title, unit, categories, &series, svg, csv)
}

fn ranked(
    id: &str,
    title: &str,
    label: &str,
    bars: Vec<(String, f64)>,
    mut exact: Vec<(String, i64)>,
) -> ChartPanel {
    let chart = HorizontalBarChart {
        title: title.to_owned(),
        unit: Unit::Usd,
        bars,
    };
    exact.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rows = exact
        .into_iter()
        .map(|(name, nanos)| vec![name, exact_cell(Unit::Usd, usd(nanos))])
        .collect();
    ChartPanel {
        id: id.to_owned(),
        title: title.to_owned(),
        svg: chart.to_svg(CHART_WIDTH, CHART_HEIGHT),
        csv_href: csv_href(&chart.to_csv()),
        columns: vec![label.to_owned(), "Cost".to_owned()],
        rows,
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
    fn of(groups: &'a [UsageGroup], index_of: &HashMap<i64, usize>, buckets: usize) -> Self {
        let mut folded = Folded {
            by_model: HashMap::new(),
            all: vec![UsageCounters::default(); buckets],
        };
        for group in groups {
            let Some(&index) = index_of.get(&group.time_ns) else {
                continue;
            };
            let (per_bucket, total) = folded
                .by_model
                .entry(group.values.first().map(String::as_str).unwrap_or_default())
                .or_insert_with(|| (vec![UsageCounters::default(); buckets], UsageCounters::default()));
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

fn charts(
    request: &UsageRequest,
    groups: &ChartGroups,
    token_names: &HashMap<Uuid, String>,
) -> Vec<ChartPanel> {
    let buckets = buckets(request);
    let index_of: HashMap<i64, usize> = buckets
        .iter()
        .enumerate()
        .map(|(index, (start, _))| (*start, index))
        .collect();
    let categories: Vec<String> = buckets.iter().map(|(_, label)| label.clone()).collect();
    let folded = Folded::of(&groups.by_model, &index_of, buckets.len());

    // Models by cost, most expensive first.
    let mut models: Vec<(&str, &(Vec<UsageCounters>, UsageCounters))> = folded
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
    let mut cost_series: Vec<Series> = models
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
        let mut other: Vec<i64> = folded.all.iter().map(|counters| counters.cost_nanos).collect();
        for (_, (per_bucket, _)) in models.iter().take(MODELS_DRAWN) {
            for (rest, counters) in other.iter_mut().zip(per_bucket) {
                *rest -= counters.cost_nanos;
            }
        }
        cost_series.push(Series::new("Other models", other.into_iter().map(usd).collect()));
    }

    let latency_series: Vec<Series> = models
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

    let ranked_by = |dimension: Dimension, name: &dyn Fn(&str) -> String| {
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
        (bars, exact)
    };
    let token_name = |id: &str| match Uuid::parse_str(id) {
        Ok(id) if id.is_nil() => "(no token: test traces)".to_owned(),
        Ok(id) => token_names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("token {}", &id.to_string()[..8])),
        Err(_) => id.to_owned(),
    };
    let (service_bars, service_exact) = ranked_by(Dimension::Service, &|value| named(value, "(no service)"));
    let (agent_bars, agent_exact) = ranked_by(Dimension::Agent, &|value| named(value, "(unattributed)"));
    let (token_bars, token_exact) = ranked_by(Dimension::Token, &token_name);

    let all = &folded.all;
    let requests = series_of(all, |counters| counters.requests as f64);
    let errors = series_of(all, |counters| counters.errors as f64);
    let error_rate = all
        .iter()
        .map(|counters| {
            if counters.requests > 0 {
                100.0 * counters.errors as f64 / counters.requests as f64
            } else {
                f64::NAN
            }
        })
        .collect();
    vec![
        time_chart(
            TimeChart::StackedBars,
            "cost-by-model",
            "Cost by model",
            Unit::Usd,
            &categories,
            cost_series,
        ),
        time_chart(
            TimeChart::StackedBars,
            "tokens",
            "Tokens",
            Unit::Tokens,
            &categories,
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
        ),
        time_chart(
            TimeChart::Lines,
            "requests",
            "Requests and errors",
            Unit::Requests,
            &categories,
            vec![Series::new("Requests", requests), Series::new("Errors", errors)],
        ),
        time_chart(
            TimeChart::Lines,
            "error-rate",
            "Error rate",
            Unit::Percent,
            &categories,
            vec![Series::new("Error rate", error_rate)],
        ),
        time_chart(
            TimeChart::Lines,
            "latency",
            "Latency by model (p50, p95)",
            Unit::Milliseconds,
            &categories,
            latency_series,
        ),
        ranked(
            "cost-by-service",
            "Cost by service",
            "Service",
            service_bars,
            service_exact,
        ),
        ranked("cost-by-agent", "Cost by agent", "Agent", agent_bars, agent_exact),
        ranked(
            "cost-by-token",
            "Cost by API token",
            "API token",
            token_bars,
            token_exact,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_590_400_000_000_000; // 2025-12-01T12:00:00Z

    #[test]
    fn quick_ranges_end_now_and_custom_windows_pass_through() {
        let query = usage_query(None, None, None, NOW).unwrap();
        assert_eq!(query.since, Some((NOW - 30 * 24 * HOUR_NS).to_string()));
        let query = usage_query(Some("24h"), Some("ignored".into()), None, NOW).unwrap();
        assert_eq!(query.since, Some((NOW - 24 * HOUR_NS).to_string()));
        let query = usage_query(Some("custom"), Some("2025-11-01T00:00".into()), None, NOW).unwrap();
        assert_eq!(query.since.as_deref(), Some("2025-11-01T00:00"));
        assert!(usage_query(Some("1y"), None, None, NOW).is_err());
    }

    #[test]
    fn the_time_axis_covers_the_range_without_gaps() {
        let request = UsageRequest::parse(&usage_query(Some("7d"), None, None, NOW).unwrap(), NOW).unwrap();
        let days = buckets(&request);
        assert_eq!(request.granularity, Granularity::Day);
        // 7 days from midday to midday touch 8 calendar days.
        assert_eq!(days.len(), 8);
        assert_eq!(days[0].1, "24 Nov");
        assert_eq!(days[7].1, "01 Dec");
        let request = UsageRequest::parse(&usage_query(Some("24h"), None, None, NOW).unwrap(), NOW).unwrap();
        assert_eq!(buckets(&request).len(), 24);
    }

    #[test]
    fn table_cells_are_exact() {
        assert_eq!(exact_cell(Unit::Usd, 12.5), "$12.50");
        assert_eq!(exact_cell(Unit::Usd, 0.000000001), "$0.000000001");
        assert_eq!(exact_cell(Unit::Usd, 0.0), "$0.00");
        assert_eq!(exact_cell(Unit::Tokens, 1_234_567.0), "1,234,567");
        assert_eq!(exact_cell(Unit::Percent, 12.3456), "12.35%");
    }

    #[test]
    fn csv_links_encode_everything_but_unreserved_characters() {
        assert_eq!(csv_href("a,b\r\n"), "data:text/csv;charset=utf-8,a%2Cb%0D%0A");
    }

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
        let panels = charts(&request, &groups, &HashMap::new());
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
        assert_eq!(cost.columns, ["Period (UTC)", "claude-sonnet-4-5", "gpt-4o"]);
        assert_eq!(cost.rows.last().unwrap(), &["01 Dec", "$0.006675", "$0.003"]);
        assert!(cost.svg.starts_with("<svg"));
        assert!(cost.csv_href.starts_with("data:text/csv"));
        let tokens = &panels[1];
        assert_eq!(tokens.rows.last().unwrap()[1..], ["120", "80", "20"]);
        let services = &panels[5];
        assert_eq!(services.rows, [["reviewer", "$0.006675"], ["coder", "$0.004"]]);
        let tokens_panel = &panels[7];
        assert_eq!(tokens_panel.rows[0][0], "(no token: test traces)");
    }
}
