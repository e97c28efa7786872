//! The Costs page's GenAI metric charts: the histogram points of
//! `gen_ai.client.token.usage` and `gen_ai.client.operation.duration`,
//! turned into deltas and summed on the dashboard's time axis.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::{
    charts::{
        HorizontalBarChart, Series, Unit,
        panels::{CHART_HEIGHT, CHART_WIDTH, TimeAxis, TimeChart, csv_href, exact_cell, time_chart},
    },
    costs::{
        services::{
            dashboard::bucket_index,
            genai_metrics::{
                Distribution, ERROR_TYPE, HistogramPoint, OPERATION_DURATION, PROVIDER_NAME, REQUEST_MODEL,
                RESPONSE_MODEL, SYSTEM, TOKEN_TYPE, TOKEN_USAGE, deltas,
            },
            usage::UsageRequest,
        },
        types::ChartPanel,
    },
    format::push_csv_field,
};

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
    period_title: &str,
    points: Vec<HistogramPoint>,
) -> Vec<ChartPanel> {
    let axis = &TimeAxis {
        title: period_title.to_owned(),
        labels: buckets.iter().map(|(_, label)| label.clone()).collect(),
    };
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
        // Points may be finer than the buckets (hours for local days).
        let Some(index) = bucket_index(buckets, request.until_ns, point.time_ns) else {
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
            axis,
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
            axis,
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
            axis,
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
        push_csv_field(&mut csv, &name(model));
        csv.push(',');
        push_csv_field(&mut csv, provider);
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
    use super::*;
    use crate::costs::{
        services::{
            dashboard::buckets as time_axis,
            genai_metrics::histograms::tests::{SECOND, T0, histogram, point},
        },
        types::UsageQuery,
    };

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
        let axis = time_axis(&request, &crate::time_zone::DisplayZone::default());
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
        let panels = charts(&request, &axis, "Hour (UTC)", points);
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
        assert_eq!(by_type.columns, ["Hour (UTC)", "Input", "Output"]);
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
        assert_eq!(durations.columns, ["Hour (UTC)", "p50", "p95", "Mean"]);
        assert_eq!(durations.rows[0][1..], ["750.0 ms", "1000.0 ms", "750.0 ms"]);
        // Hour two: 2 in (0.5, 1], 2 in (1, 2], 1 above 2 s; mean (5 + 30) / 5 s.
        assert_eq!(durations.rows[1][1..], ["1500.0 ms", "2000.0 ms", "7000.0 ms"]);
        assert_eq!(durations.rows[2][1..], ["—", "—", "—"]);
        assert!(charts(&request, &axis, "Hour (UTC)", Vec::new()).is_empty());
    }
}
