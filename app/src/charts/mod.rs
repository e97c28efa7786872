//! Charts, drawn on the server as SVG strings: the chart kinds here, the
//! panels every page shows them in (`panels`), and the Costs page's charts
//! (`costs`, `genai`).
//!
//! This module owns the picture and the numbers behind it: plain data in
//! ([`Series`], labelled bars), an SVG `String` and a CSV `String` out. It
//! knows nothing of the database or of Leptos. Charts are rendered on the
//! server with plotters' SVG backend so they are crisp at any zoom, need no
//! JavaScript, and the wasm bundle never links plotters (the module is
//! `ssr`-only).
//!
//! The SVGs follow the page theme: text, axes and grid are `currentColor`,
//! so the CSS `color` of the container decides them; series use the
//! Okabe–Ito palette, which stays distinguishable with colour-vision
//! deficiencies. They carry `width`/`height` and a `viewBox`, so
//! `width: 100%; height: auto` scales them. No input panics: missing or
//! non-finite values are gaps, and a chart with nothing to show (or one
//! plotters fails to draw) is a frame saying "No data in this range".

pub mod costs;
mod csv;
pub mod genai;
pub mod panels;
mod render;
mod units;

pub use units::Unit;

/// Okabe–Ito, with its black swapped for a grey that reads on light and
/// dark backgrounds alike. Series beyond eight reuse the colours in order.
pub const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#8C8C8C",
];

const PALETTE_RGB: [(u8, u8, u8); 8] = [
    (0x00, 0x72, 0xB2),
    (0xE6, 0x9F, 0x00),
    (0x00, 0x9E, 0x73),
    (0xCC, 0x79, 0xA7),
    (0x56, 0xB4, 0xE9),
    (0xD5, 0x5E, 0x00),
    (0xF0, 0xE4, 0x42),
    (0x8C, 0x8C, 0x8C),
];

/// One named row of values, one per category of the chart it belongs to.
/// `f64::NAN` means "no data"; values past the categories are ignored and
/// missing ones count as no data.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

impl Series {
    pub fn new(name: impl Into<String>, values: Vec<f64>) -> Self {
        Self {
            name: name.into(),
            values,
        }
    }
}

/// Vertical bars per category with the series stacked bottom-up in order
/// (cost per day by model; tokens per day as input/output/cached).
/// Negative values stack downwards from zero.
#[derive(Clone, Debug, PartialEq)]
pub struct StackedBarChart {
    pub title: String,
    pub unit: Unit,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
}

impl StackedBarChart {
    /// The chart as an SVG document `width`×`height` pixels (clamped to
    /// 240×140 … 4096×4096).
    pub fn to_svg(&self, width: u32, height: u32) -> String {
        render::vertical(
            render::Vertical::StackedBars,
            &self.title,
            self.unit,
            &self.categories,
            &self.series,
            width,
            height,
        )
    }

    /// `category,<series names…>` and one row per category, values exact.
    pub fn to_csv(&self) -> String {
        csv::table("category", &self.categories, &self.series)
    }
}

/// One line per series with a marker on each value (latency percentiles by
/// model, requests per day, error rate). The line breaks at `NAN`.
#[derive(Clone, Debug, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub unit: Unit,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
}

impl LineChart {
    /// The chart as an SVG document `width`×`height` pixels (clamped to
    /// 240×140 … 4096×4096).
    pub fn to_svg(&self, width: u32, height: u32) -> String {
        render::vertical(
            render::Vertical::Lines,
            &self.title,
            self.unit,
            &self.categories,
            &self.series,
            width,
            height,
        )
    }

    /// `category,<series names…>` and one row per category, values exact.
    pub fn to_csv(&self) -> String {
        csv::table("category", &self.categories, &self.series)
    }
}

/// Ranked horizontal bars with their labels on the left (cost by service or
/// agent, cost by API token). Bars are drawn largest first whatever the
/// input order; when there are more than fit, the smallest are summed into
/// one "N more" bar.
#[derive(Clone, Debug, PartialEq)]
pub struct HorizontalBarChart {
    pub title: String,
    pub unit: Unit,
    pub bars: Vec<(String, f64)>,
}

impl HorizontalBarChart {
    /// The chart as an SVG document `width`×`height` pixels (clamped to
    /// 240×140 … 4096×4096).
    pub fn to_svg(&self, width: u32, height: u32) -> String {
        render::horizontal(&self.title, self.unit, &self.bars, width, height)
    }

    /// `label,value` and one row per bar in the chart's (ranked) order,
    /// every bar included even when the picture folds the tail.
    pub fn to_csv(&self) -> String {
        csv::pairs(&render::ranked(&self.bars))
    }
}

#[cfg(test)]
mod tests {
    use super::render::{FONT_STACK, INK_HEX, NO_DATA, escape};
    use super::*;

    fn days(n: usize) -> Vec<String> {
        (1..=n).map(|d| format!("2026-01-{d:02}")).collect()
    }

    /// Tags balance, attributes are quoted, and `&` only starts an entity:
    /// enough of XML well-formedness to catch a broken post-processing step.
    fn assert_well_formed(svg: &str) {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            assert_text_ok(&rest[..start]);
            let end = rest[start..].find('>').expect("unclosed tag") + start;
            let tag = &rest[start + 1..end];
            assert!(!tag.contains('<'), "'<' inside tag: {tag}");
            assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes: {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name.trim()), "mismatched close");
            } else if !tag.ends_with('/') {
                stack.push(tag.split_whitespace().next().unwrap_or_default().to_owned());
            }
            rest = &rest[end + 1..];
        }
        assert_text_ok(rest);
        assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    }

    fn assert_text_ok(text: &str) {
        assert!(!text.contains('>'), "raw '>' in text: {text}");
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..text[i..].find(';').map_or(text.len(), |e| i + e + 1)];
            assert!(
                ["&lt;", "&gt;", "&amp;", "&quot;", "&apos;"].contains(&entity),
                "bad entity {entity:?}"
            );
        }
    }

    /// Checks every chart must pass.
    fn assert_chart_basics(svg: &str, title: &str) {
        assert!(svg.starts_with("<svg"), "{svg}");
        let root = &svg[..svg.find('>').unwrap()];
        assert!(root.contains("viewBox=\"0 0 "), "{root}");
        assert!(root.contains("width=\"") && root.contains("height=\""));
        assert!(root.contains("role=\"img\""));
        assert!(root.contains(&format!("aria-label=\"{}", escape(title))));
        assert!(svg.contains(&format!("<title>{}</title>", escape(title))));
        assert!(!svg.contains(INK_HEX), "theme sentinel left in the output");
        assert!(svg.contains("currentColor"));
        assert_well_formed(svg);
    }

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    /// Lines holding an element of `tag` drawn in `colour` (plotters writes one element per line).
    fn elements<'a>(svg: &'a str, tag: &str, colour: &str) -> Vec<&'a str> {
        svg.lines()
            .filter(|l| l.starts_with(&format!("<{tag} ")) && l.contains(&format!("\"{colour}\"")))
            .collect()
    }

    fn cost_chart() -> StackedBarChart {
        StackedBarChart {
            title: "Cost per day".to_owned(),
            unit: Unit::Usd,
            categories: days(3),
            series: vec![
                Series::new("gpt-4o", vec![1.5, 0.0, 2.25]),
                Series::new("claude-sonnet", vec![3.0, f64::NAN, 0.0]),
                Series::new("llama", vec![0.5, 4.0]),
            ],
        }
    }

    #[test]
    fn stacked_bars_draw_one_rect_per_non_zero_segment() {
        let chart = cost_chart();
        let svg = chart.to_svg(640, 320);
        assert_chart_basics(&svg, "Cost per day");
        // Non-zero, present values: 1.5, 2.25, 3.0, 0.5, 4.0; plus one legend swatch per series.
        assert_eq!(count(&svg, "<rect"), 5 + 3);
        assert_eq!(elements(&svg, "rect", PALETTE[0]).len(), 2 + 1);
        assert_eq!(elements(&svg, "rect", PALETTE[1]).len(), 1 + 1);
        assert_eq!(elements(&svg, "rect", PALETTE[2]).len(), 2 + 1);
        for s in &chart.series {
            assert!(
                svg.contains(&format!(">\n{}\n</text>", s.name)),
                "legend lacks {}",
                s.name
            );
        }
        for day in &chart.categories {
            assert!(svg.contains(day.as_str()), "x axis lacks {day}");
        }
        // The highest stack is 4.5; the axis ends on the round tick above it.
        assert!(svg.contains(">\n$6\n</text>"), "{svg}");
        assert!(!svg.contains(">\n$8\n</text>"), "{svg}");
        assert!(svg.contains(&format!("font-family=\"{}\"", escape(FONT_STACK))));
        // Grid lines are faint currentColor.
        assert!(svg.contains("opacity=\"0.15\" stroke=\"currentColor\""));
    }

    #[test]
    fn stacked_segments_sit_on_each_other() {
        let chart = StackedBarChart {
            title: "t".to_owned(),
            unit: Unit::Tokens,
            categories: vec!["d".to_owned()],
            series: vec![
                Series::new("input", vec![100.0]),
                Series::new("output", vec![100.0]),
            ],
        };
        let svg = chart.to_svg(400, 300);
        let attr = |line: &str, name: &str| -> i32 {
            let start = line.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            line[start..][..line[start..].find('"').unwrap()].parse().unwrap()
        };
        let bottom = elements(&svg, "rect", PALETTE[0])
            .into_iter()
            .max_by_key(|l| attr(l, "y"))
            .unwrap();
        let top = elements(&svg, "rect", PALETTE[1])
            .into_iter()
            .max_by_key(|l| attr(l, "y"))
            .unwrap();
        // Equal values stack to equal heights, the second directly on the first.
        assert!((attr(bottom, "height") - attr(top, "height")).abs() <= 1);
        assert!(
            (attr(top, "y") + attr(top, "height") - attr(bottom, "y")).abs() <= 1,
            "{top}\n{bottom}"
        );
        assert!(attr(bottom, "y") < attr(top, "y") + 2 * attr(top, "height"));
    }

    #[test]
    fn single_series_has_no_legend() {
        let chart = StackedBarChart {
            title: "Requests".to_owned(),
            unit: Unit::Requests,
            categories: days(2),
            series: vec![Series::new("all", vec![3.0, 4.0])],
        };
        let svg = chart.to_svg(500, 300);
        assert_chart_basics(&svg, "Requests");
        assert_eq!(count(&svg, "<rect"), 2);
        assert!(!svg.contains(">\nall\n</text>"));
    }

    #[test]
    fn many_categories_thin_the_x_labels() {
        let chart = StackedBarChart {
            title: "Cost per day".to_owned(),
            unit: Unit::Usd,
            categories: days(31),
            series: vec![Series::new("all", (0..31).map(|i| i as f64).collect())],
        };
        let svg = chart.to_svg(480, 260);
        let shown = chart
            .categories
            .iter()
            .filter(|d| svg.contains(&format!(">\n{d}\n</text>")))
            .count();
        assert!((2..31).contains(&shown), "{shown} of 31 labels shown");
        assert!(
            svg.contains(">\n2026-01-01\n</text>"),
            "the first day is labelled"
        );
        // Thinned labels stay apart: consecutive x positions at least a label's width.
        let xs: Vec<i32> = svg
            .lines()
            .filter(|l| l.starts_with("<text") && l.contains("text-anchor=\"middle\""))
            .filter_map(|l| l.split("x=\"").nth(1)?.split('"').next()?.parse().ok())
            .collect();
        assert!(xs.windows(2).all(|p| p[1] - p[0] >= 60), "{xs:?}");
    }

    #[test]
    fn y_tick_labels_are_unique_and_few() {
        for (unit, max) in [
            (Unit::Usd, 0.0042),
            (Unit::Tokens, 1.25e6),
            (Unit::Milliseconds, 2_400.0),
        ] {
            let chart = LineChart {
                title: "t".to_owned(),
                unit,
                categories: days(2),
                series: vec![Series::new("a", vec![0.0, max])],
            };
            let svg = chart.to_svg(600, 300);
            let labels: Vec<&str> = svg
                .lines()
                .zip(svg.lines().skip(1))
                .filter(|(tag, _)| tag.starts_with("<text") && tag.contains("text-anchor=\"end\""))
                .map(|(_, text)| text)
                .collect();
            assert!((3..=9).contains(&labels.len()), "{unit:?}: {labels:?}");
            let mut unique = labels.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), labels.len(), "{unit:?}: {labels:?}");
        }
    }

    #[test]
    fn line_breaks_at_missing_values() {
        let chart = LineChart {
            title: "p95 latency".to_owned(),
            unit: Unit::Milliseconds,
            categories: days(6),
            series: vec![Series::new(
                "gpt-4o",
                vec![120.0, f64::NAN, 300.0, 340.0, f64::INFINITY, 90.0],
            )],
        };
        let svg = chart.to_svg(600, 300);
        assert_chart_basics(&svg, "p95 latency");
        let lines = elements(&svg, "polyline", PALETTE[0]);
        // Only 300 → 340 are neighbours; 120 and 90 stand alone as markers.
        assert_eq!(lines.len(), 1, "{lines:?}");
        let points = lines[0]
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(points.split_whitespace().count(), 2, "{points}");
        assert_eq!(elements(&svg, "circle", PALETTE[0]).len(), 4);
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn multi_line_chart_has_legend_and_distinct_colours() {
        let chart = LineChart {
            title: "Latency".to_owned(),
            unit: Unit::Milliseconds,
            categories: days(3),
            series: (0..10)
                .map(|i| Series::new(format!("model-{i}"), vec![i as f64 * 100.0 + 50.0; 3]))
                .collect(),
        };
        let svg = chart.to_svg(1000, 400);
        assert_chart_basics(&svg, "Latency");
        for s in &chart.series {
            assert!(
                svg.contains(&format!(">\n{}\n</text>", s.name)),
                "legend lacks {}",
                s.name
            );
        }
        // The palette cycles after eight series: series 8 reuses colour 0.
        assert_eq!(elements(&svg, "polyline", PALETTE[0]).len(), 2 * 2);
        assert_eq!(elements(&svg, "polyline", PALETTE[7]).len(), 2);
        // Legend rows end above the plot: every data point is below the last legend row.
        let legend_bottom = svg
            .lines()
            .zip(svg.lines().skip(1))
            .filter(|(_, t)| t.starts_with("model-"))
            .filter_map(|(l, _)| l.split(" y=\"").nth(1)?.split('"').next()?.parse::<i32>().ok())
            .max()
            .unwrap();
        let top_point = svg
            .lines()
            .filter(|l| l.starts_with("<circle") && PALETTE.iter().any(|c| l.contains(c)))
            .filter_map(|l| l.split("cy=\"").nth(1)?.split('"').next()?.parse::<i32>().ok())
            .filter(|cy| *cy > legend_bottom)
            .count();
        // Ten legend markers sit in the legend; all 30 data markers are below it.
        assert_eq!(top_point, 30);
    }

    #[test]
    fn horizontal_bars_are_ranked_and_truncated() {
        let chart = HorizontalBarChart {
            title: "Cost by service".to_owned(),
            unit: Unit::Usd,
            bars: vec![
                ("small".to_owned(), 1.0),
                (
                    "a-very-long-agent-name-that-will-never-fit-in-the-label-area".to_owned(),
                    30.0,
                ),
                ("middle".to_owned(), 12.5),
                ("unpriced".to_owned(), f64::NAN),
            ],
        };
        let svg = chart.to_svg(480, 240);
        assert_chart_basics(&svg, "Cost by service");
        assert_eq!(count(&svg, "<rect"), 3);
        assert!(!svg.contains("never-fit-in-the-label-area"));
        let long = svg
            .lines()
            .find(|l| l.starts_with("a-very-long"))
            .expect("truncated label");
        assert!(long.ends_with('…'), "{long}");
        // Ranked: the largest bar's label is the topmost.
        let y_of = |label: &str| -> i32 {
            let lines: Vec<&str> = svg.lines().collect();
            let i = lines.iter().position(|l| l.starts_with(label)).unwrap();
            lines[i - 1]
                .split(" y=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        assert!(y_of("a-very-long") < y_of("middle"));
        assert!(y_of("middle") < y_of("small"));
        assert!(y_of("small") < y_of("unpriced"));
        assert!(svg.contains(">\n$30.00\n</text>") || svg.contains(">\n$30\n</text>"));
        assert!(svg.contains(">\n$12.50\n</text>"));
    }

    #[test]
    fn horizontal_bars_fold_the_tail_into_one_bar() {
        let chart = HorizontalBarChart {
            title: "Cost by token".to_owned(),
            unit: Unit::Usd,
            bars: (0..100)
                .map(|i| (format!("token-{i}"), f64::from(i) + 1.0))
                .collect(),
        };
        let svg = chart.to_svg(600, 300);
        assert_chart_basics(&svg, "Cost by token");
        let bars = count(&svg, "<rect");
        assert!((5..30).contains(&bars), "{bars} bars");
        assert!(svg.contains(&format!(">\n{} more\n</text>", 100 - (bars - 1))));
        assert!(svg.contains(">\ntoken-99\n</text>"));
        // The CSV keeps every bar, ranked.
        let csv = chart.to_csv();
        assert_eq!(csv.lines().count(), 101);
        assert!(csv.starts_with("label,value\r\ntoken-99,100\r\ntoken-98,99\r\n"));
    }

    #[test]
    fn negative_values_get_room_below_zero() {
        let chart = HorizontalBarChart {
            title: "Credits".to_owned(),
            unit: Unit::Usd,
            bars: vec![("refund".to_owned(), -20.0), ("spend".to_owned(), 50.0)],
        };
        let svg = chart.to_svg(500, 200);
        assert_chart_basics(&svg, "Credits");
        assert!(
            svg.contains(">\n-$20\n</text>") || svg.contains(">\n-$20.00\n</text>"),
            "{svg}"
        );
        assert_eq!(count(&svg, "<rect"), 2);
        let stacked = StackedBarChart {
            title: "Net".to_owned(),
            unit: Unit::Usd,
            categories: days(2),
            series: vec![
                Series::new("a", vec![-5.0, 5.0]),
                Series::new("b", vec![-5.0, 5.0]),
            ],
        };
        let svg = stacked.to_svg(500, 300);
        assert_chart_basics(&svg, "Net");
        assert!(svg.contains(">\n-$10\n</text>"), "{svg}");
        assert_eq!(count(&svg, "<rect"), 4 + 2);
    }

    #[test]
    fn empty_data_renders_the_empty_state() {
        let bars = |series: Vec<Series>, categories: Vec<String>| StackedBarChart {
            title: "Cost per day".to_owned(),
            unit: Unit::Usd,
            categories,
            series,
        };
        let cases = [
            bars(vec![], days(3)),
            bars(vec![Series::new("a", vec![1.0])], vec![]),
            bars(
                vec![Series::new("a", vec![0.0, 0.0]), Series::new("b", vec![f64::NAN])],
                days(2),
            ),
            bars(vec![Series::new("a", vec![])], days(5)),
            bars(
                vec![Series::new("a", vec![f64::INFINITY, f64::NEG_INFINITY])],
                days(2),
            ),
            bars(vec![Series::new("a", vec![1e-320, -1e-300])], days(2)),
        ];
        for chart in &cases {
            let svg = chart.to_svg(600, 300);
            assert_chart_basics(&svg, "Cost per day");
            assert!(svg.contains(NO_DATA), "{chart:?}");
            assert_eq!(count(&svg, "<rect"), 0);
            let line = LineChart {
                title: chart.title.clone(),
                unit: chart.unit,
                categories: chart.categories.clone(),
                series: chart.series.clone(),
            };
            // Lines of zeros are data; only lines without a finite value are empty.
            let has_points = !chart.categories.is_empty()
                && chart.series.iter().any(|s| {
                    s.values
                        .iter()
                        .take(chart.categories.len())
                        .any(|v| v.is_finite())
                });
            assert_eq!(line.to_svg(600, 300).contains(NO_DATA), !has_points, "{chart:?}");
        }
        for bars in [vec![], vec![("a".to_owned(), 0.0), ("b".to_owned(), f64::NAN)]] {
            let chart = HorizontalBarChart {
                title: "By service".to_owned(),
                unit: Unit::Usd,
                bars,
            };
            let svg = chart.to_svg(600, 300);
            assert_chart_basics(&svg, "By service");
            assert!(svg.contains(NO_DATA));
        }
        // Data present: no empty-state text.
        assert!(!cost_chart().to_svg(600, 300).contains(NO_DATA));
    }

    #[test]
    fn mismatched_lengths_treat_missing_values_as_gaps() {
        let chart = StackedBarChart {
            title: "t".to_owned(),
            unit: Unit::Usd,
            categories: days(4),
            series: vec![
                Series::new("short", vec![1.0]),
                Series::new("long", vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            ],
        };
        let svg = chart.to_svg(600, 300);
        assert_chart_basics(&svg, "t");
        // 1 + 4 segments (values past the categories are ignored) + 2 legend swatches.
        assert_eq!(count(&svg, "<rect"), 5 + 2);
        assert_eq!(
            chart.to_csv(),
            "category,short,long\r\n2026-01-01,1,1\r\n2026-01-02,,2\r\n2026-01-03,,3\r\n2026-01-04,,4\r\n"
        );
    }

    #[test]
    fn csv_is_exact_and_quoted() {
        let chart = LineChart {
            title: "Error rate".to_owned(),
            unit: Unit::Percent,
            categories: vec!["Mon, 1st".to_owned()],
            series: vec![Series::new("p \"95\"", vec![12.345678901234567])],
        };
        assert_eq!(
            chart.to_csv(),
            "category,\"p \"\"95\"\"\"\r\n\"Mon, 1st\",12.345678901234567\r\n"
        );
        let money = StackedBarChart {
            title: "c".to_owned(),
            unit: Unit::Usd,
            categories: vec!["d".to_owned()],
            series: vec![Series::new("m", vec![0.000123456789])],
        };
        assert_eq!(money.to_csv(), "category,m\r\nd,0.000123456789\r\n");
    }

    #[test]
    fn hostile_text_is_escaped() {
        let chart = StackedBarChart {
            title: "<script>alert('x')</script> & \"co\"".to_owned(),
            unit: Unit::Usd,
            categories: vec!["<b>day</b>".to_owned(), "nul\0here".to_owned()],
            series: vec![
                Series::new("a&b", vec![1.0, 2.0]),
                Series::new("c>d", vec![1.0, 2.0]),
            ],
        };
        let svg = chart.to_svg(600, 300);
        assert_chart_basics(&svg, "<script>alert('x')</script> & \"co\"");
        assert!(!svg.contains("<script") && !svg.contains("<b>") && !svg.contains('\0'));
        assert!(svg.contains("a&amp;b"));
    }

    #[test]
    fn sizes_are_clamped_and_scaled_by_viewbox() {
        let svg = cost_chart().to_svg(0, 0);
        assert!(
            svg.starts_with("<svg width=\"240\" height=\"140\" viewBox=\"0 0 240 140\""),
            "{svg}"
        );
        let svg = cost_chart().to_svg(u32::MAX, 500);
        assert!(svg.starts_with("<svg width=\"4096\" height=\"500\" viewBox=\"0 0 4096 500\""));
    }

    #[test]
    fn palette_constants_agree() {
        for (hex, (r, g, b)) in PALETTE.iter().zip(PALETTE_RGB) {
            assert_eq!(*hex, format!("#{r:02X}{g:02X}{b:02X}"));
        }
    }

    /// Deterministic pseudo-random inputs: every chart, every odd value and size, no panic.
    #[test]
    fn no_input_panics() {
        let odd = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            1e-320,
            1e300,
            -1e300,
            123_456.789,
            1e-9,
        ];
        let sizes = [
            (0, 0),
            (1, 1),
            (240, 140),
            (300, 1),
            (1, 300),
            (800, 400),
            (5000, 5000),
        ];
        let units = [
            Unit::Usd,
            Unit::Tokens,
            Unit::Requests,
            Unit::Percent,
            Unit::Milliseconds,
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |bound: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((seed >> 33) as usize) % bound.max(1)
        };
        for round in 0..150 {
            let n = next(40);
            let categories: Vec<String> = (0..n).map(|i| "x".repeat(next(30)) + &i.to_string()).collect();
            let series: Vec<Series> = (0..next(12))
                .map(|s| {
                    Series::new(
                        "s".repeat(next(60)) + &s.to_string(),
                        (0..next(45)).map(|_| odd[next(odd.len())]).collect(),
                    )
                })
                .collect();
            let bars: Vec<(String, f64)> = (0..next(60))
                .map(|i| ("é".repeat(next(70)) + &i.to_string(), odd[next(odd.len())]))
                .collect();
            let (w, h) = sizes[round % sizes.len()];
            let unit = units[next(units.len())];
            let title = "T".repeat(next(200));
            let stacked = StackedBarChart {
                title: title.clone(),
                unit,
                categories: categories.clone(),
                series: series.clone(),
            };
            let line = LineChart {
                title: title.clone(),
                unit,
                categories,
                series,
            };
            let hbar = HorizontalBarChart {
                title: title.clone(),
                unit,
                bars,
            };
            for svg in [stacked.to_svg(w, h), line.to_svg(w, h), hbar.to_svg(w, h)] {
                assert!(svg.starts_with("<svg") && svg.contains("role=\"img\""));
                assert!(!svg.contains(INK_HEX));
                assert_well_formed(&svg);
            }
            let _ = (stacked.to_csv(), line.to_csv(), hbar.to_csv());
        }
    }
}
