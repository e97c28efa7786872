//! The Costs page's GenAI metrics: charts for teams that export the OTel
//! GenAI client metrics (`gen_ai.client.token.usage`,
//! `gen_ai.client.operation.duration`) instead of, or as well as, spans.
//!
//! Points are read from the metric rollups (the last point of each
//! cumulative run per hour or day, see `ingest::metric_rollups`) and
//! folded here.
//! Delta points add up as they are; cumulative points (the OTel SDK
//! default) are turned into deltas per series first, because each one
//! repeats everything its series counted since it started. A series is a
//! metric name, a service and the point's attributes (resource ones
//! included); a drop in its count, or a later start time, is a reset (an
//! exporter restart), and then the point itself is the delta.
//!
//! Conventions: <https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/>.

use std::collections::{BTreeMap, HashMap};

use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Statement};
use serde_json::Value;
use uuid::Uuid;

mod histograms;

pub use histograms::{Distribution, ExplicitBuckets, HistogramPoint, deltas};

use crate::{
    charts::{HorizontalBarChart, Series, Unit, push_field},
    costs::ChartPanel,
    error::Result,
    services::{
        cost_dashboard::{CHART_HEIGHT, CHART_WIDTH, TimeChart, csv_href, exact_cell, time_chart},
        ingest::usage::{HOUR_NS, RollupPeriod},
        usage::{self, UsageRequest, placeholder},
    },
};

pub use crate::services::ingest::metric_rollups::{OPERATION_DURATION, TOKEN_USAGE};

/// `input` or `output`; before semconv 1.27, `prompt` or `completion`.
const TOKEN_TYPE: &str = "gen_ai.token.type";
const RESPONSE_MODEL: &str = "gen_ai.response.model";
const REQUEST_MODEL: &str = "gen_ai.request.model";
const PROVIDER_NAME: &str = "gen_ai.provider.name";
/// The provider's attribute before semconv 1.37.
const SYSTEM: &str = "gen_ai.system";
/// Set on the duration of operations that failed.
const ERROR_TYPE: &str = "error.type";

/// How far before the range points are read, only to find where each
/// cumulative series stood when the range began. SDKs export every minute
/// or so, and keep exporting an unchanged cumulative value, so an hour
/// finds it; a series silent for longer is counted from its next point.
const BASELINE_LOOKBACK_NS: i64 = HOUR_NS;

/// A row of [`points`]' query, read by position.
fn read_point(row: &QueryResult) -> Result<HistogramPoint> {
    let buckets: Option<String> = row.try_get_by_index(8)?;
    Ok(HistogramPoint {
        name: row.try_get_by_index(0)?,
        unit: row.try_get_by_index(1)?,
        service_name: row.try_get_by_index(2)?,
        attributes: row.try_get_by_index(3)?,
        start_time_ns: row.try_get_by_index(4)?,
        time_ns: row.try_get_by_index(5)?,
        count: row.try_get_by_index(6)?,
        sum: row.try_get_by_index(7)?,
        buckets: buckets.as_deref().and_then(ExplicitBuckets::parse),
        cumulative: row.try_get_by_index(9)?,
    })
}

/// The organization's GenAI histogram points from an hour before the
/// range of `request` (cumulative baselines) to its end, as the metric
/// rollups keep them: per hour, or per day for the whole days of a report
/// in days or longer, the last point of each cumulative run and every
/// delta point. Turned into deltas, they count what all the points did.
/// Also says whether any point is in the range.
pub async fn points(
    db: &DatabaseConnection,
    org_id: Uuid,
    request: &UsageRequest,
) -> Result<(Vec<HistogramPoint>, bool)> {
    let backend = db.get_database_backend();
    let mut parts = usage::parts(request);
    match parts.first_mut() {
        Some((RollupPeriod::Hour, since_ns, _)) => *since_ns -= BASELINE_LOOKBACK_NS,
        _ => parts.insert(
            0,
            (
                RollupPeriod::Hour,
                request.since_ns - BASELINE_LOOKBACK_NS,
                request.since_ns,
            ),
        ),
    }
    let mut values: Vec<sea_orm::Value> = vec![org_id.into(), TOKEN_USAGE.into(), OPERATION_DURATION.into()];
    let mut ranges = Vec::with_capacity(parts.len());
    for (period, since_ns, until_ns) in parts {
        values.extend([period.length_ns().into(), since_ns.into(), until_ns.into()]);
        let number = values.len();
        ranges.push(format!(
            "(period_ns = {} AND period_start_ns >= {} AND period_start_ns < {})",
            placeholder(backend, number - 2),
            placeholder(backend, number - 1),
            placeholder(backend, number),
        ));
    }
    let sql = format!(
        "SELECT name, unit, service_name, attributes, start_time_ns, time_ns, count, sum, buckets, cumulative \
        FROM metric_rollups \
        WHERE org_id = {} AND name IN ({}, {}) AND ({})",
        placeholder(backend, 1),
        placeholder(backend, 2),
        placeholder(backend, 3),
        ranges.join(" OR "),
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let points = rows.iter().map(read_point).collect::<Result<Vec<_>>>()?;
    let in_range = points.iter().any(|point| point.time_ns >= request.since_ns);
    Ok((points, in_range))
}

/// What a point says about itself, from its attributes.
#[derive(Debug, Default, PartialEq)]
struct PointLabels {
    token_type: TokenType,
    model: String,
    provider: String,
    failed: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
enum TokenType {
    Input,
    Output,
    /// A type the conventions do not name, as sent.
    Other(String),
    #[default]
    Unknown,
}

impl TokenType {
    fn of(value: &str) -> Self {
        match value {
            "input" | "prompt" => TokenType::Input,
            "output" | "completion" => TokenType::Output,
            "" => TokenType::Unknown,
            other => TokenType::Other(other.to_owned()),
        }
    }

    fn label(&self) -> String {
        match self {
            TokenType::Input => "Input".to_owned(),
            TokenType::Output => "Output".to_owned(),
            TokenType::Other(name) => name.clone(),
            TokenType::Unknown => "(no token type)".to_owned(),
        }
    }
}

impl PointLabels {
    fn parse(attributes: &str) -> Self {
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(attributes) else {
            return Self::default();
        };
        let text = |keys: &[&str]| {
            keys.iter()
                .find_map(|key| {
                    map.get(*key)
                        .and_then(Value::as_str)
                        .filter(|text| !text.is_empty())
                })
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            token_type: TokenType::of(&text(&[TOKEN_TYPE])),
            model: text(&[RESPONSE_MODEL, REQUEST_MODEL]),
            provider: text(&[PROVIDER_NAME, SYSTEM]),
            failed: map.get(ERROR_TYPE).is_some_and(|value| !value.is_null()),
        }
    }
}

/// Milliseconds per unit of a duration histogram (the conventions say `s`).
fn milliseconds_per(unit: &str) -> f64 {
    match unit {
        "ms" => 1.0,
        "us" | "µs" => 1e-3,
        "ns" => 1e-6,
        "min" => 60_000.0,
        _ => 1_000.0,
    }
}

/// Per model and provider: tokens by type.
#[derive(Default)]
struct ModelTokens {
    input: f64,
    output: f64,
    other: f64,
}

impl ModelTokens {
    fn total(&self) -> f64 {
        self.input + self.output + self.other
    }
}

/// The GenAI metrics' charts on the time axis `buckets` (the other
/// charts'); empty when no point is in the range.
pub fn charts(
    request: &UsageRequest,
    buckets: &[(i64, String)],
    points: Vec<HistogramPoint>,
) -> Vec<ChartPanel> {
    let index_of: HashMap<i64, usize> = buckets
        .iter()
        .enumerate()
        .map(|(index, (start, _))| (*start, index))
        .collect();
    let categories: Vec<String> = buckets.iter().map(|(_, label)| label.clone()).collect();
    let deltas = deltas(points, request.since_ns);
    let mut labels: HashMap<&str, PointLabels> = HashMap::new();

    let mut tokens_by_type: BTreeMap<TokenType, Vec<f64>> = BTreeMap::new();
    let mut tokens_by_model: BTreeMap<(String, String), ModelTokens> = BTreeMap::new();
    let mut requests = vec![0.0; buckets.len()];
    let mut errors = vec![0.0; buckets.len()];
    let mut duration_ms = vec![0.0; buckets.len()];
    let mut distributions = vec![Distribution::default(); buckets.len()];
    let (mut has_tokens, mut has_durations) = (false, false);

    for point in &deltas {
        let bucket = request.granularity.bucket_of(point.time_ns, request.since_ns);
        let Some(&index) = index_of.get(&bucket) else {
            continue;
        };
        let labels = labels
            .entry(point.attributes.as_str())
            .or_insert_with(|| PointLabels::parse(&point.attributes));
        if point.name == TOKEN_USAGE {
            has_tokens = true;
            tokens_by_type
                .entry(labels.token_type.clone())
                .or_insert_with(|| vec![0.0; buckets.len()])[index] += point.sum;
            let model = tokens_by_model
                .entry((labels.model.clone(), labels.provider.clone()))
                .or_default();
            match labels.token_type {
                TokenType::Input => model.input += point.sum,
                TokenType::Output => model.output += point.sum,
                _ => model.other += point.sum,
            }
        } else if point.name == OPERATION_DURATION {
            has_durations = true;
            let scale = milliseconds_per(&point.unit);
            requests[index] += point.count as f64;
            if labels.failed {
                errors[index] += point.count as f64;
            }
            duration_ms[index] += point.sum * scale;
            if let Some(histogram) = &point.buckets {
                distributions[index].add(histogram, scale);
            }
        }
    }

    let mut panels = Vec::new();
    if has_tokens {
        panels.push(time_chart(
            TimeChart::StackedBars,
            "metric-tokens",
            "Tokens by type (GenAI metrics)",
            Unit::Tokens,
            &categories,
            tokens_by_type
                .into_iter()
                .map(|(token_type, values)| Series::new(token_type.label(), values))
                .collect(),
        ));
        panels.push(tokens_by_model_panel(tokens_by_model));
    }
    if has_durations {
        panels.push(time_chart(
            TimeChart::Lines,
            "metric-requests",
            "Requests and errors (GenAI metrics)",
            Unit::Requests,
            &categories,
            vec![
                Series::new("Requests", requests.clone()),
                Series::new("Errors", errors),
            ],
        ));
        let quantile = |quantile: f64| {
            distributions
                .iter()
                .map(|distribution| distribution.quantile(quantile).unwrap_or(f64::NAN))
                .collect()
        };
        let mean = requests
            .iter()
            .zip(&duration_ms)
            .map(|(requests, total)| {
                if *requests > 0.0 {
                    total / requests
                } else {
                    f64::NAN
                }
            })
            .collect();
        panels.push(time_chart(
            TimeChart::Lines,
            "metric-duration",
            "Operation duration (p50, p95, mean)",
            Unit::Milliseconds,
            &categories,
            vec![
                Series::new("p50", quantile(0.5)),
                Series::new("p95", quantile(0.95)),
                Series::new("Mean", mean),
            ],
        ));
    }
    panels
}

fn tokens_by_model_panel(by_model: BTreeMap<(String, String), ModelTokens>) -> ChartPanel {
    let title = "Tokens by model (GenAI metrics)";
    let mut models: Vec<((String, String), ModelTokens)> = by_model.into_iter().collect();
    models.sort_by(|a, b| b.1.total().total_cmp(&a.1.total()).then_with(|| a.0.cmp(&b.0)));
    let name = |model: &str| {
        if model.is_empty() {
            "(no model)".to_owned()
        } else {
            model.to_owned()
        }
    };
    let label = |model: &str, provider: &str| {
        if provider.is_empty() {
            name(model)
        } else {
            format!("{} ({provider})", name(model))
        }
    };
    let figures = |tokens: &ModelTokens| [tokens.input, tokens.output, tokens.other, tokens.total()];
    // The table reads best with the provider beside the model; the CSV
    // keeps it in a column of its own for spreadsheets.
    let rows: Vec<Vec<String>> = models
        .iter()
        .map(|((model, provider), tokens)| {
            std::iter::once(label(model, provider))
                .chain(figures(tokens).map(|value| exact_cell(Unit::Tokens, value)))
                .collect()
        })
        .collect();
    let mut csv = String::from("Model,Provider,Input,Output,Other,Total\r\n");
    for ((model, provider), tokens) in &models {
        push_field(&mut csv, &name(model));
        csv.push(',');
        push_field(&mut csv, provider);
        for value in figures(tokens) {
            csv.push_str(&format!(",{value}"));
        }
        csv.push_str("\r\n");
    }
    let chart = HorizontalBarChart {
        title: title.to_owned(),
        unit: Unit::Tokens,
        bars: models
            .iter()
            .map(|((model, provider), tokens)| (label(model, provider), tokens.total()))
            .collect(),
    };
    ChartPanel {
        id: "metric-tokens-by-model".to_owned(),
        title: title.to_owned(),
        svg: chart.to_svg(CHART_WIDTH, CHART_HEIGHT),
        csv_href: csv_href(&csv),
        columns: ["Model", "Input", "Output", "Other", "Total"]
            .map(str::to_owned)
            .to_vec(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::{
        histograms::tests::{SECOND, T0, histogram, point},
        *,
    };
    use crate::{costs::UsageQuery, services::cost_dashboard::buckets as time_axis};

    #[test]
    fn old_and_new_attribute_names_read_alike() {
        let new = PointLabels::parse(
            r#"{"gen_ai.token.type":"input","gen_ai.request.model":"gpt-4o","gen_ai.response.model":"gpt-4o-2024-08-06","gen_ai.provider.name":"openai"}"#,
        );
        assert_eq!(new.token_type, TokenType::Input);
        assert_eq!(new.model, "gpt-4o-2024-08-06");
        assert_eq!(new.provider, "openai");
        let old = PointLabels::parse(
            r#"{"gen_ai.token.type":"completion","gen_ai.request.model":"gpt-4o","gen_ai.system":"openai"}"#,
        );
        assert_eq!(old.token_type, TokenType::Output);
        assert_eq!(old.model, "gpt-4o");
        assert_eq!(old.provider, "openai");
        assert_eq!(
            PointLabels::parse(r#"{"gen_ai.token.type":"prompt"}"#).token_type,
            TokenType::Input
        );
        assert!(PointLabels::parse(r#"{"error.type":"timeout"}"#).failed);
        assert_eq!(PointLabels::parse("[]"), PointLabels::default());
    }

    #[test]
    fn charts_sum_tokens_requests_and_durations_per_bucket() {
        let request = UsageRequest::parse(
            &UsageQuery {
                since: Some(T0.to_string()),
                until: Some((T0 + 24 * 3600 * SECOND).to_string()),
                ..Default::default()
            },
            T0,
        )
        .unwrap();
        let axis = time_axis(&request);
        let hour = 3600 * SECOND;
        let tokens = |kind: &str, system: &str, time: i64, sum: f64| HistogramPoint {
            attributes: format!(
                r#"{{"gen_ai.token.type":"{kind}","gen_ai.request.model":"gpt-4o","{system}":"openai"}}"#
            ),
            ..point("", time - 60 * SECOND, time, false, 1, sum)
        };
        let duration = |attributes: &str, time: i64, counts: &[i64], sum: f64| HistogramPoint {
            name: OPERATION_DURATION.to_owned(),
            unit: "s".to_owned(),
            buckets: Some(histogram(&[0.5, 1.0, 2.0], counts)),
            ..point(attributes, T0, time, true, counts.iter().sum(), sum)
        };
        let points = vec![
            tokens("input", PROVIDER_NAME, T0 + 60 * SECOND, 1200.0),
            tokens("prompt", SYSTEM, T0 + hour + 60 * SECOND, 800.0),
            tokens("output", PROVIDER_NAME, T0 + hour + 60 * SECOND, 150.0),
            duration("{}", T0 + 60 * SECOND, &[0, 2, 0, 0], 1.5),
            duration("{}", T0 + hour + 60 * SECOND, &[0, 4, 2, 0], 6.5),
            duration(
                r#"{"error.type":"timeout"}"#,
                T0 + hour + 60 * SECOND,
                &[0, 0, 0, 1],
                30.0,
            ),
        ];
        let panels = charts(&request, &axis, points);
        let ids: Vec<&str> = panels.iter().map(|panel| panel.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "metric-tokens",
                "metric-tokens-by-model",
                "metric-requests",
                "metric-duration"
            ]
        );
        let by_type = &panels[0];
        assert_eq!(by_type.columns, ["Period (UTC)", "Input", "Output"]);
        assert_eq!(by_type.rows[0][1..], ["1,200", "0"]);
        assert_eq!(by_type.rows[1][1..], ["800", "150"]);
        let by_model = &panels[1];
        assert_eq!(by_model.rows, [["gpt-4o (openai)", "2,000", "150", "0", "2,150"]]);
        assert!(
            by_model
                .csv_href
                .contains("gpt-4o%2Copenai%2C2000%2C150%2C0%2C2150")
        );
        let requests = &panels[2];
        assert_eq!(requests.rows[0][1..], ["2", "0"]);
        // The second hour: 4 more successful calls (cumulative 6 − 2) and one failure.
        assert_eq!(requests.rows[1][1..], ["5", "1"]);
        let durations = &panels[3];
        assert_eq!(durations.columns, ["Period (UTC)", "p50", "p95", "Mean"]);
        assert_eq!(durations.rows[0][1..], ["750.0 ms", "1000.0 ms", "750.0 ms"]);
        // Hour two: 2 in (0.5, 1], 2 in (1, 2], 1 above 2 s; mean (5 + 30) / 5 s.
        assert_eq!(durations.rows[1][1..], ["1500.0 ms", "2000.0 ms", "7000.0 ms"]);
        assert_eq!(durations.rows[2][1..], ["—", "—", "—"]);
        assert!(charts(&request, &axis, Vec::new()).is_empty());
    }
}
