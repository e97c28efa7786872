//! What every server-drawn chart panel shares: its size, its table cells
//! (the exact numbers behind the drawing), its CSV download and the
//! panel built from a chart over time or a ranking.

use crate::{
    charts::{HorizontalBarChart, LineChart, Series, StackedBarChart, Unit},
    costs::types::ChartPanel,
};

pub const CHART_WIDTH: u32 = 720;
pub const CHART_HEIGHT: u32 = 300;

/// Dollars from nano-dollars, as charts plot them.
pub fn usd(nanos: i64) -> f64 {
    nanos as f64 / 1e9
}

/// A percent-encoded `data:` URL of a CSV document.
pub fn csv_href(csv: &str) -> String {
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
pub fn exact_cell(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Usd => {
            let nanos = (value * 1e9).round() as i64;
            let digits = crate::format::usd_exact(nanos);
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

/// A chart's time axis: each bucket's label, and the title of the period
/// column, which names the time zone the labels are in.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeAxis {
    pub title: String,
    pub labels: Vec<String>,
}

/// A panel for a chart over time: the table has a row per bucket, a column per series.
fn time_panel(
    id: &str,
    title: &str,
    unit: Unit,
    axis: &TimeAxis,
    series: &[Series],
    svg: String,
    csv: String,
) -> ChartPanel {
    let categories = &axis.labels;
    let mut columns = vec![axis.title.clone()];
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
pub enum TimeChart {
    StackedBars,
    Lines,
}

pub fn time_chart(
    kind: TimeChart,
    id: &str,
    title: &str,
    unit: Unit,
    axis: &TimeAxis,
    series: Vec<Series>,
) -> ChartPanel {
    let (title_text, categories_owned) = (title.to_owned(), axis.labels.clone());
    let svg = match kind {
        TimeChart::StackedBars => {
            let chart = StackedBarChart {
                title: title_text,
                unit,
                categories: categories_owned,
                series: series.clone(),
            };
            chart.to_svg(CHART_WIDTH, CHART_HEIGHT)
        }
        TimeChart::Lines => {
            let chart = LineChart {
                title: title_text,
                unit,
                categories: categories_owned,
                series: series.clone(),
            };
            chart.to_svg(CHART_WIDTH, CHART_HEIGHT)
        }
    };
    // The CSV's first column is titled like the table's: it names the zone.
    let csv = super::csv::table(&axis.title, &axis.labels, &series);
    time_panel(id, title, unit, axis, &series, svg, csv)
}

pub fn ranked(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
