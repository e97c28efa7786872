//! The Costs page's GenAI metrics: charts for teams that export the OTel
//! GenAI client metrics (`gen_ai.client.token.usage`,
//! `gen_ai.client.operation.duration`) instead of, or as well as, spans.
//!
//! Points are read from `metric_points` bounded by organization, metric
//! name and time (the `(org_id, name, time_ns)` index) and folded here.
//! Delta points add up as they are; cumulative points (the OTel SDK
//! default) are turned into deltas per series first, because each one
//! repeats everything its series counted since it started. A series is a
//! metric name, a service and the point's attributes (resource ones
//! included); a drop in its count, or a later start time, is a reset (an
//! exporter restart), and then the point itself is the delta.
//!
//! Conventions: <https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/>.

use std::collections::{BTreeMap, HashMap};

use entity::metric_point;
use sea_orm::{ColumnTrait, DatabaseConnection, DerivePartialModel, EntityTrait, QueryFilter};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    charts::{HorizontalBarChart, Series, Unit, push_field},
    costs::ChartPanel,
    error::Result,
    services::{
        cost_dashboard::{CHART_HEIGHT, CHART_WIDTH, TimeChart, csv_href, exact_cell, time_chart},
        ingest::usage::HOUR_NS,
        usage::UsageRequest,
    },
};

/// Tokens per operation, a histogram in `{token}` split by token type.
pub const TOKEN_USAGE: &str = "gen_ai.client.token.usage";
/// Operation duration, a histogram in seconds.
pub const OPERATION_DURATION: &str = "gen_ai.client.operation.duration";

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

/// Explicit histogram buckets: `counts[i]` values fell in
/// `(bounds[i-1], bounds[i]]`, the first below `bounds[0]` and the last
/// above the last bound, as the converter stores them.
#[derive(Clone, Debug, PartialEq)]
pub struct ExplicitBuckets {
    pub bounds: Vec<f64>,
    pub counts: Vec<i64>,
}

impl ExplicitBuckets {
    /// Reads the converter's `{"explicit_bounds": [..], "bucket_counts": [..]}`;
    /// `None` unless it has one more count than bounds.
    fn parse(json: &str) -> Option<Self> {
        let value: Value = serde_json::from_str(json).ok()?;
        let bounds: Vec<f64> = value
            .get("explicit_bounds")?
            .as_array()?
            .iter()
            .map(Value::as_f64)
            .collect::<Option<_>>()?;
        let counts: Vec<i64> = value
            .get("bucket_counts")?
            .as_array()?
            .iter()
            .map(|count| count.as_u64().and_then(|count| i64::try_from(count).ok()))
            .collect::<Option<_>>()?;
        (counts.len() == bounds.len() + 1 && bounds.iter().all(|bound| bound.is_finite()))
            .then_some(Self { bounds, counts })
    }

    /// The range of bucket `index`. The open-ended ends are closed at zero
    /// below (durations and token counts are not negative) and at the last
    /// bound above, as Prometheus' `histogram_quantile` does.
    fn range(&self, index: usize) -> (f64, f64) {
        let (first, last) = (self.bounds[0], self.bounds[self.bounds.len() - 1]);
        match index {
            0 => (first.min(0.0), first),
            i if i >= self.bounds.len() => (last, last),
            i => (self.bounds[i - 1], self.bounds[i]),
        }
    }
}

/// One histogram point as stored (the fields the charts need).
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramPoint {
    pub name: String,
    pub unit: String,
    pub service_name: String,
    /// The attributes' JSON text: part of the series' identity.
    pub attributes: String,
    pub start_time_ns: i64,
    pub time_ns: i64,
    pub cumulative: bool,
    pub count: i64,
    pub sum: f64,
    /// Explicit-bucket histograms only.
    pub buckets: Option<ExplicitBuckets>,
}

impl HistogramPoint {
    /// What this point counted since `earlier`, a point of the same series;
    /// `None` when the series was reset in between.
    fn since(&self, earlier: &HistogramPoint) -> Option<HistogramPoint> {
        if self.count < earlier.count || self.start_time_ns > earlier.start_time_ns {
            return None;
        }
        let buckets = match (&self.buckets, &earlier.buckets) {
            (Some(now), Some(before)) if now.bounds == before.bounds => {
                let counts: Vec<i64> = now
                    .counts
                    .iter()
                    .zip(&before.counts)
                    .map(|(now, before)| now - before)
                    .collect();
                if counts.iter().any(|count| *count < 0) {
                    return None;
                }
                Some(ExplicitBuckets {
                    bounds: now.bounds.clone(),
                    counts,
                })
            }
            (Some(_), Some(_)) => return None,
            _ => None,
        };
        Some(HistogramPoint {
            count: self.count - earlier.count,
            sum: self.sum - earlier.sum,
            buckets,
            ..self.clone()
        })
    }
}

/// The deltas of `points` that fall in the range starting at `since_ns`:
/// delta points as they are, cumulative points minus their series'
/// previous point. A cumulative series' first point counts only if the
/// series started inside the range; otherwise it is the baseline. Points
/// repeated with the same start and time (a retried export) count once.
pub fn deltas(points: Vec<HistogramPoint>, since_ns: i64) -> Vec<HistogramPoint> {
    let mut series: HashMap<(String, String, String), Vec<HistogramPoint>> = HashMap::new();
    for point in points {
        let key = (
            point.name.clone(),
            point.service_name.clone(),
            point.attributes.clone(),
        );
        series.entry(key).or_default().push(point);
    }
    let mut out = Vec::new();
    for mut points in series.into_values() {
        points.sort_by_key(|point| (point.time_ns, point.start_time_ns));
        points.dedup_by(|later, earlier| {
            later.time_ns == earlier.time_ns && later.start_time_ns == earlier.start_time_ns
        });
        let mut previous: Option<&HistogramPoint> = None;
        for point in &points {
            let delta = if !point.cumulative {
                Some(point.clone())
            } else {
                match previous {
                    Some(earlier) if earlier.cumulative => {
                        Some(point.since(earlier).unwrap_or_else(|| point.clone()))
                    }
                    _ => (point.start_time_ns >= since_ns).then(|| point.clone()),
                }
            };
            if let Some(delta) = delta.filter(|delta| delta.time_ns >= since_ns) {
                out.push(delta);
            }
            previous = Some(point);
        }
    }
    out
}

/// Explicit-bucket counts gathered from many points, summed per set of
/// bounds (a series keeps its bounds; different SDKs may not agree).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Distribution {
    histograms: Vec<ExplicitBuckets>,
}

impl Distribution {
    /// Adds `buckets`, their bounds scaled by `scale` (seconds to milliseconds).
    pub fn add(&mut self, buckets: &ExplicitBuckets, scale: f64) {
        let bounds: Vec<f64> = buckets.bounds.iter().map(|bound| bound * scale).collect();
        match self
            .histograms
            .iter_mut()
            .find(|histogram| histogram.bounds == bounds)
        {
            Some(histogram) => {
                for (mine, theirs) in histogram.counts.iter_mut().zip(&buckets.counts) {
                    *mine += theirs;
                }
            }
            None => self.histograms.push(ExplicitBuckets {
                bounds,
                counts: buckets.counts.clone(),
            }),
        }
    }

    /// The `quantile` (0 to 1), interpolated inside its bucket as if the
    /// bucket's values were spread evenly; `None` without data.
    pub fn quantile(&self, quantile: f64) -> Option<f64> {
        let total: i64 = self
            .histograms
            .iter()
            .flat_map(|histogram| &histogram.counts)
            .map(|count| (*count).max(0))
            .sum();
        if total == 0 || !quantile.is_finite() {
            return None;
        }
        // The rank of the wanted value among the sorted values (1-based).
        let rank = (quantile.clamp(0.0, 1.0) * total as f64).ceil().max(1.0);
        if let [histogram] = &self.histograms[..] {
            let mut below = 0.0;
            for (index, &count) in histogram.counts.iter().enumerate() {
                let count = count.max(0) as f64;
                if count > 0.0 && below + count >= rank {
                    let (lower, upper) = histogram.range(index);
                    return Some(lower + (upper - lower) * (rank - below) / count);
                }
                below += count;
            }
            return None;
        }
        // Several sets of bounds: find where the summed piecewise-linear
        // distribution reaches the rank.
        let pieces: Vec<(f64, f64, f64)> = self
            .histograms
            .iter()
            .flat_map(|histogram| {
                histogram
                    .counts
                    .iter()
                    .enumerate()
                    .filter(|(_, count)| **count > 0)
                    .map(|(index, count)| {
                        let (lower, upper) = histogram.range(index);
                        (lower, upper, *count as f64)
                    })
            })
            .collect();
        let below = |x: f64| -> f64 {
            pieces
                .iter()
                .map(|&(lower, upper, count)| {
                    if upper <= lower {
                        if x >= upper { count } else { 0.0 }
                    } else {
                        count * ((x - lower) / (upper - lower)).clamp(0.0, 1.0)
                    }
                })
                .sum()
        };
        let mut low = pieces.iter().map(|piece| piece.0).fold(f64::INFINITY, f64::min);
        let mut high = pieces
            .iter()
            .map(|piece| piece.1)
            .fold(f64::NEG_INFINITY, f64::max);
        for _ in 0..100 {
            let middle = (low + high) / 2.0;
            if below(middle) >= rank {
                high = middle;
            } else {
                low = middle;
            }
        }
        Some(high)
    }
}

/// The stored columns the charts read.
#[derive(DerivePartialModel)]
#[sea_orm(entity = "metric_point::Entity")]
struct PointRow {
    name: String,
    unit: String,
    kind: String,
    service_name: String,
    attributes: String,
    start_time_ns: i64,
    time_ns: i64,
    count: Option<i64>,
    sum: Option<f64>,
    buckets: Option<String>,
    temporality: Option<String>,
}

impl From<PointRow> for HistogramPoint {
    fn from(row: PointRow) -> Self {
        let buckets = (row.kind == "histogram")
            .then(|| row.buckets.as_deref().and_then(ExplicitBuckets::parse))
            .flatten();
        HistogramPoint {
            name: row.name,
            unit: row.unit,
            service_name: row.service_name,
            attributes: row.attributes,
            start_time_ns: row.start_time_ns,
            time_ns: row.time_ns,
            cumulative: row.temporality.as_deref() == Some("cumulative"),
            count: row.count.unwrap_or(0),
            sum: row.sum.unwrap_or(0.0),
            buckets,
        }
    }
}

/// The organization's GenAI histogram points from an hour before `since_ns`
/// (cumulative baselines) to `until_ns`, and whether any is in the range.
pub async fn points(
    db: &DatabaseConnection,
    org_id: Uuid,
    (since_ns, until_ns): (i64, i64),
) -> Result<(Vec<HistogramPoint>, bool)> {
    let rows = metric_point::Entity::find()
        .filter(metric_point::Column::OrgId.eq(org_id))
        .filter(metric_point::Column::Name.is_in([TOKEN_USAGE, OPERATION_DURATION]))
        .filter(metric_point::Column::TimeNs.gte(since_ns.saturating_sub(BASELINE_LOOKBACK_NS)))
        .filter(metric_point::Column::TimeNs.lt(until_ns))
        .filter(metric_point::Column::Kind.is_in(["histogram", "exponential_histogram"]))
        .into_partial_model::<PointRow>()
        .all(db)
        .await?;
    let in_range = rows.iter().any(|row| row.time_ns >= since_ns);
    Ok((rows.into_iter().map(HistogramPoint::from).collect(), in_range))
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
    let mut labels: HashMap<String, PointLabels> = HashMap::new();

    let mut tokens_by_type: BTreeMap<TokenType, Vec<f64>> = BTreeMap::new();
    let mut tokens_by_model: BTreeMap<(String, String), ModelTokens> = BTreeMap::new();
    let mut requests = vec![0.0; buckets.len()];
    let mut errors = vec![0.0; buckets.len()];
    let mut duration_ms = vec![0.0; buckets.len()];
    let mut distributions = vec![Distribution::default(); buckets.len()];
    let (mut has_tokens, mut has_durations) = (false, false);

    for point in deltas(points, request.since_ns) {
        let bucket = request.granularity.bucket_of(point.time_ns, request.since_ns);
        let Some(&index) = index_of.get(&bucket) else {
            continue;
        };
        let labels = labels
            .entry(point.attributes.clone())
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
    use super::*;
    use crate::{costs::UsageQuery, services::cost_dashboard::buckets as time_axis};

    const SECOND: i64 = 1_000_000_000;
    /// 2026-01-01T00:00:00Z.
    const T0: i64 = 1_767_225_600 * SECOND;

    fn histogram(bounds: &[f64], counts: &[i64]) -> ExplicitBuckets {
        ExplicitBuckets {
            bounds: bounds.to_vec(),
            counts: counts.to_vec(),
        }
    }

    fn point(
        attributes: &str,
        start: i64,
        time: i64,
        cumulative: bool,
        count: i64,
        sum: f64,
    ) -> HistogramPoint {
        HistogramPoint {
            name: TOKEN_USAGE.to_owned(),
            unit: "{token}".to_owned(),
            service_name: "coder".to_owned(),
            attributes: attributes.to_owned(),
            start_time_ns: start,
            time_ns: time,
            cumulative,
            count,
            sum,
            buckets: None,
        }
    }

    fn sums(mut deltas: Vec<HistogramPoint>) -> Vec<(i64, i64, f64)> {
        deltas.sort_by_key(|delta| delta.time_ns);
        deltas
            .into_iter()
            .map(|delta| (delta.time_ns, delta.count, delta.sum))
            .collect()
    }

    #[test]
    fn delta_points_add_up_as_they_are_and_count_once() {
        let points = vec![
            point("{}", T0, T0 + 60 * SECOND, false, 2, 100.0),
            point("{}", T0 + 60 * SECOND, T0 + 120 * SECOND, false, 3, 50.0),
            // A retried export stores the same point again.
            point("{}", T0 + 60 * SECOND, T0 + 120 * SECOND, false, 3, 50.0),
        ];
        assert_eq!(
            sums(deltas(points, T0)),
            [(T0 + 60 * SECOND, 2, 100.0), (T0 + 120 * SECOND, 3, 50.0)]
        );
    }

    #[test]
    fn cumulative_points_become_deltas_per_series() {
        let input = r#"{"gen_ai.token.type":"input"}"#;
        let output = r#"{"gen_ai.token.type":"output"}"#;
        let points = vec![
            // Started inside the range: the first point counts whole.
            point(input, T0, T0 + 60 * SECOND, true, 2, 100.0),
            point(output, T0, T0 + 60 * SECOND, true, 2, 10.0),
            point(input, T0, T0 + 120 * SECOND, true, 5, 400.0),
            point(output, T0, T0 + 120 * SECOND, true, 5, 25.0),
            // Nothing new: a zero delta.
            point(input, T0, T0 + 180 * SECOND, true, 5, 400.0),
        ];
        let mut out = sums(deltas(points, T0));
        out.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(
            out,
            [
                (T0 + 60 * SECOND, 2, 10.0),
                (T0 + 60 * SECOND, 2, 100.0),
                (T0 + 120 * SECOND, 3, 15.0),
                (T0 + 120 * SECOND, 3, 300.0),
                (T0 + 180 * SECOND, 0, 0.0),
            ]
        );
    }

    #[test]
    fn a_series_that_began_before_the_range_counts_from_its_baseline() {
        let since = T0 + 3600 * SECOND;
        let points = vec![
            // Read from the look-back window: only a baseline.
            point("{}", T0, since - 60 * SECOND, true, 10, 1000.0),
            point("{}", T0, since + 60 * SECOND, true, 12, 1300.0),
        ];
        assert_eq!(sums(deltas(points, since)), [(since + 60 * SECOND, 2, 300.0)]);
        // Without a baseline, the first point only starts the count.
        let points = vec![
            point("{}", T0, since + 60 * SECOND, true, 12, 1300.0),
            point("{}", T0, since + 120 * SECOND, true, 13, 1400.0),
        ];
        assert_eq!(sums(deltas(points, since)), [(since + 120 * SECOND, 1, 100.0)]);
    }

    #[test]
    fn a_reset_counts_the_point_itself() {
        let points = vec![
            point("{}", T0, T0 + 60 * SECOND, true, 10, 1000.0),
            // The count dropped: the exporter restarted.
            point("{}", T0, T0 + 120 * SECOND, true, 3, 300.0),
            point("{}", T0, T0 + 180 * SECOND, true, 4, 350.0),
            // A later start time is a restart too, even when the count grew.
            point("{}", T0 + 190 * SECOND, T0 + 240 * SECOND, true, 6, 600.0),
        ];
        assert_eq!(
            sums(deltas(points, T0)),
            [
                (T0 + 60 * SECOND, 10, 1000.0),
                (T0 + 120 * SECOND, 3, 300.0),
                (T0 + 180 * SECOND, 1, 50.0),
                (T0 + 240 * SECOND, 6, 600.0),
            ]
        );
    }

    #[test]
    fn cumulative_buckets_are_subtracted_too() {
        let mut first = point("{}", T0, T0 + 60 * SECOND, true, 3, 1.5);
        first.buckets = Some(histogram(&[0.5, 1.0], &[1, 2, 0]));
        let mut second = point("{}", T0, T0 + 120 * SECOND, true, 7, 5.5);
        second.buckets = Some(histogram(&[0.5, 1.0], &[1, 4, 2]));
        let mut out = deltas(vec![second, first], T0);
        out.sort_by_key(|delta| delta.time_ns);
        assert_eq!(out[1].buckets, Some(histogram(&[0.5, 1.0], &[0, 2, 2])));
        assert_eq!(out[1].count, 4);
    }

    #[test]
    fn percentiles_interpolate_inside_the_bucket() {
        let mut distribution = Distribution::default();
        assert_eq!(distribution.quantile(0.5), None);
        // Ten values in (0.1, 0.5] s, ten in (0.5, 1] s.
        distribution.add(&histogram(&[0.1, 0.5, 1.0], &[0, 10, 10, 0]), 1000.0);
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-6);
        assert!(close(distribution.quantile(0.5), 500.0));
        assert!(close(distribution.quantile(0.25), 300.0));
        assert!(close(distribution.quantile(0.95), 950.0));
        // The overflow bucket reads as the last bound; the first starts at zero.
        let mut tails = Distribution::default();
        tails.add(&histogram(&[2.0], &[5, 3]), 1.0);
        assert!(close(tails.quantile(0.95), 2.0));
        assert!(close(tails.quantile(0.1), 0.4));
        // Two SDKs with different bounds: the same answer as one histogram
        // when the values agree.
        let mut mixed = Distribution::default();
        mixed.add(&histogram(&[0.1, 0.5, 1.0], &[0, 10, 0, 0]), 1000.0);
        mixed.add(&histogram(&[0.5, 1.0], &[0, 10, 0]), 1000.0);
        assert!(close(mixed.quantile(0.95), 950.0), "{:?}", mixed.quantile(0.95));
        assert!(close(mixed.quantile(0.25), 300.0), "{:?}", mixed.quantile(0.25));
    }

    #[test]
    fn bucket_json_is_read_as_the_converter_writes_it() {
        let parsed = ExplicitBuckets::parse(r#"{"explicit_bounds":[1.0,100.0],"bucket_counts":[0,1,2]}"#);
        assert_eq!(parsed, Some(histogram(&[1.0, 100.0], &[0, 1, 2])));
        assert_eq!(
            ExplicitBuckets::parse(r#"{"explicit_bounds":[1.0],"bucket_counts":[0,1,2]}"#),
            None
        );
        assert_eq!(ExplicitBuckets::parse("not json"), None);
    }

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
