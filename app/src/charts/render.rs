//! Layout and drawing with plotters' SVG backend, and the post-processing
//! plotters cannot do itself (theme colour, accessibility attributes).
//!
//! Text sizes are estimates: without a font feature plotters cannot measure
//! glyphs, and the browser picks the actual font anyway. Every estimate errs
//! wide so labels get room rather than overlap.

use std::fmt::Write as _;
use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::charts::{PALETTE_RGB, Series, Unit};

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// The system UI stack, so charts read like the page around them.
pub(super) const FONT_STACK: &str =
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";

/// Drawn in place of the page's text colour and swapped for `currentColor`
/// afterwards: plotters only knows RGB, but the theme is decided in CSS.
/// No palette colour is this close to black.
const INK: (u8, u8, u8) = (1, 2, 3);
pub(super) const INK_HEX: &str = "#010203";

pub(super) const NO_DATA: &str = "No data in this range";

// Layout, in pixels.
const PAD: i32 = 12;
const TITLE_PX: f64 = 14.0;
const TITLE_H: i32 = 20;
const LEGEND_PX: f64 = 12.0;
const LEGEND_ROW: i32 = 18;
const LABEL_PX: f64 = 11.0;
const TICK: i32 = 4;
/// Plotters puts labels two tick lengths from the axis; the rest is the text.
const X_AXIS_H: i32 = 2 * TICK + 16;
/// Rows thinner than this cannot hold a readable label.
const MIN_ROW_H: i32 = 16;
/// Y ticks closer than this crowd their labels.
const MIN_TICK_GAP: i32 = 45;
const MAX_CATEGORY_CHARS: usize = 16;
const MAX_LEGEND_CHARS: usize = 40;
/// Average glyph width of a UI sans-serif as a share of its size, rounded up.
const CHAR_EM: f64 = 0.6;

/// Below this the title, axes and one bar no longer fit; above it the SVG
/// string grows for no visible gain.
const MIN_W: u32 = 240;
const MIN_H: u32 = 140;
const MAX_SIDE: u32 = 4096;

/// Values past this are clamped so that sums of many of them stay finite.
const VALUE_LIMIT: f64 = 1e300;
/// Values this close to zero are drawn as zero: a scale for them would need
/// subnormal tick steps, and no cost or count is that small.
const VALUE_EPSILON: f64 = 1e-250;

fn ink(alpha: f64) -> RGBAColor {
    RGBAColor(INK.0, INK.1, INK.2, alpha)
}

fn font(px: f64, style: FontStyle) -> FontDesc<'static> {
    // The SVG backend writes `font-size` as the given size divided by 1.24.
    FontDesc::new(FontFamily::Name(FONT_STACK), px * 1.24, style)
}

fn text_style(px: f64, alpha: f64, h: HPos, v: VPos) -> TextStyle<'static> {
    font(px, FontStyle::Normal).color(&ink(alpha)).pos(Pos::new(h, v))
}

fn series_colour(index: usize) -> RGBColor {
    let (r, g, b) = PALETTE_RGB[index % PALETTE_RGB.len()];
    RGBColor(r, g, b)
}

pub(super) fn clamp_size(width: u32, height: u32) -> (u32, u32) {
    (width.clamp(MIN_W, MAX_SIDE), height.clamp(MIN_H, MAX_SIDE))
}

/// A finite value, clamped; `None` for missing, NaN and infinities.
pub(super) fn finite(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite()).map(|v| {
        if v.abs() < VALUE_EPSILON {
            0.0
        } else {
            v.clamp(-VALUE_LIMIT, VALUE_LIMIT)
        }
    })
}

/// Control characters are not allowed in XML text, and a newline in a label
/// would only break the layout.
pub(super) fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// At most `max_chars` characters, the last one an ellipsis when cut.
pub(super) fn truncate(text: &str, max_chars: usize) -> String {
    let max_chars = max_chars.max(1);
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max_chars - 1).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

fn text_w(text: &str, px: f64) -> i32 {
    (text.chars().count() as f64 * px * CHAR_EM).ceil() as i32
}

fn chars_fitting(width: i32, px: f64) -> usize {
    (f64::from(width.max(0)) / (px * CHAR_EM)).floor() as usize
}

pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Evenly spaced round values (steps of 1, 2 or 5 × 10ⁿ) and the axis range
/// `start..end` they sit on.
#[derive(Debug, PartialEq)]
pub(super) struct Ticks {
    pub values: Vec<f64>,
    pub step: f64,
    start: f64,
    end: f64,
}

impl Ticks {
    fn lo(&self) -> f64 {
        self.start
    }
    fn hi(&self) -> f64 {
        self.end
    }

    /// Gives a negative part only the room it needs rather than a whole
    /// step: a $12 refund should not take a quarter of a $1.5k axis.
    fn snug_below(mut self, lo: f64) -> Self {
        if lo < 0.0 {
            self.start = (lo - 0.05 * (self.end - lo)).max(self.start);
            let start = self.start;
            self.values.retain(|v| *v >= start);
        }
        self
    }
}

/// `None` when no usable scale exists (an empty or non-finite span, or a
/// span so small its step underflows); callers then draw the empty state.
pub(super) fn nice_ticks(lo: f64, hi: f64, intervals: usize) -> Option<Ticks> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return None;
    }
    let raw = span / intervals.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    if !(magnitude.is_finite() && magnitude > 0.0) {
        return None;
    }
    let norm = raw / magnitude;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    let step = nice * magnitude;
    let first = (lo / step).floor();
    let last = (hi / step).ceil();
    let count = last - first;
    if !(step > 0.0 && count.is_finite() && (1.0..=64.0).contains(&count)) {
        return None;
    }
    // `+ 0.0` turns a `-0.0` tick into `0.0`.
    let values: Vec<f64> = (0..=count as i64)
        .map(|i| (first + i as f64) * step + 0.0)
        .collect();
    let (start, end) = (values[0], values[values.len() - 1]);
    Some(Ticks {
        values,
        step,
        start,
        end,
    })
}

/// A linear axis whose ticks are exactly the given values. plotters'
/// `with_key_points` on an `f64` range does not meet the mesh's label
/// formatter bound in 0.3.7; and rounding (not truncating) to pixels keeps
/// stacked segments flush.
struct Axis {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Axis {
    fn new(range: Range<f64>, ticks: Vec<f64>) -> Self {
        Self { range, ticks }
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let share = if span > 0.0 {
            (value - self.range.start) / span
        } else {
            0.0
        };
        let pixel = f64::from(limit.0) + share * f64::from(limit.1 - limit.0);
        // `as` saturates (and maps NaN to 0): no overflow whatever the value.
        pixel.round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // No minor grid: light lines would only add noise to a small chart.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Marker {
    Square,
    Line,
}

impl Marker {
    fn width(self) -> i32 {
        match self {
            Marker::Square => 10,
            Marker::Line => 16,
        }
    }
}

/// One legend entry's place; `series` is `None` for the "+N more" note.
#[derive(Debug, PartialEq)]
pub(super) struct LegendSlot {
    pub x: i32,
    pub row: usize,
    pub text: String,
    pub series: Option<usize>,
}

fn legend_item_w(text: &str, marker_w: i32) -> i32 {
    marker_w + 6 + text_w(text, LEGEND_PX) + 16
}

/// Legend entries in rows of `avail` pixels; what does not fit in
/// `max_rows` collapses into "+N more" so the legend never eats the plot.
pub(super) fn legend_layout(names: &[String], marker_w: i32, avail: i32, max_rows: usize) -> Vec<LegendSlot> {
    let max_chars = chars_fitting(avail - marker_w - 22, LEGEND_PX).clamp(4, MAX_LEGEND_CHARS);
    let mut slots: Vec<LegendSlot> = Vec::new();
    let (mut x, mut row) = (0, 0);
    for (index, name) in names.iter().enumerate() {
        let text = truncate(&clean(name), max_chars);
        let w = legend_item_w(&text, marker_w);
        if x > 0 && x + w > avail {
            row += 1;
            x = 0;
        }
        if row >= max_rows.max(1) {
            break;
        }
        slots.push(LegendSlot {
            x,
            row,
            text,
            series: Some(index),
        });
        x += w;
    }
    if slots.len() < names.len() {
        loop {
            let more = format!("+{} more", names.len() - slots.len());
            let (end, row) = slots
                .last()
                .map_or((0, 0), |s| (s.x + legend_item_w(&s.text, marker_w), s.row));
            if slots.is_empty() || end + text_w(&more, LEGEND_PX) <= avail {
                slots.push(LegendSlot {
                    x: end,
                    row,
                    text: more,
                    series: None,
                });
                break;
            }
            slots.pop();
        }
    }
    slots
}

fn legend_rows(slots: &[LegendSlot]) -> i32 {
    slots.iter().map(|s| s.row as i32 + 1).max().unwrap_or(0)
}

/// Where the plot may start below the title and `rows` legend rows.
fn header_height(rows: i32) -> i32 {
    let legend = if rows > 0 { 4 + rows * LEGEND_ROW } else { 0 };
    PAD + TITLE_H + legend + 8
}

fn draw_header(root: &Area, width: i32, title: &str, legend: &[LegendSlot], marker: Marker) -> DrawResult {
    let title = truncate(&clean(title), chars_fitting(width - 2 * PAD, TITLE_PX));
    let style = font(TITLE_PX, FontStyle::Bold)
        .color(&ink(1.0))
        .pos(Pos::new(HPos::Left, VPos::Top));
    root.draw(&Text::new(title, (PAD, PAD), style))?;

    let top = PAD + TITLE_H + 4;
    let label = text_style(LEGEND_PX, 0.85, HPos::Left, VPos::Center);
    for slot in legend {
        let (x, mid) = (PAD + slot.x, top + slot.row as i32 * LEGEND_ROW + LEGEND_ROW / 2);
        let text_x = match slot.series {
            Some(series) => {
                let colour = series_colour(series);
                match marker {
                    Marker::Square => {
                        root.draw(&Rectangle::new(
                            [(x, mid - 5), (x + 10, mid + 5)],
                            colour.filled(),
                        ))?;
                    }
                    Marker::Line => {
                        root.draw(&PathElement::new(
                            vec![(x, mid), (x + 16, mid)],
                            colour.stroke_width(2),
                        ))?;
                        root.draw(&Circle::new((x + 8, mid), 3, colour.filled()))?;
                    }
                }
                x + marker.width() + 6
            }
            None => x,
        };
        root.draw(&Text::new(slot.text.clone(), (text_x, mid), label.clone()))?;
    }
    Ok(())
}

/// The axis that carries values; the grid runs across it only, since lines
/// along the category axis would cut through bars and labels.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ValueAxis {
    X,
    Y,
}

type Plot<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Axis, Axis>>;
type TickLabel<'f> = &'f dyn Fn(&f64) -> String;

/// Builds the plot on `area` and draws its axes, tick marks, labels (by
/// `x_label` and `y_label`) and value grid, the same on every chart.
fn draw_frame<'a, 'b>(
    area: &'a Area<'b>,
    y_label_area: i32,
    x: Axis,
    y: Axis,
    value_axis: ValueAxis,
    (x_label, y_label): (TickLabel<'_>, TickLabel<'_>),
) -> Result<Plot<'a, 'b>, DrawingAreaErrorKind<std::io::Error>> {
    let mut chart = ChartBuilder::on(area)
        .x_label_area_size(X_AXIS_H)
        .y_label_area_size(y_label_area)
        .build_cartesian_2d(x, y)?;
    let mut mesh = chart.configure_mesh();
    match value_axis {
        ValueAxis::X => mesh.disable_y_mesh(),
        ValueAxis::Y => mesh.disable_x_mesh(),
    };
    mesh.bold_line_style(ink(0.15).stroke_width(1))
        .light_line_style(TRANSPARENT)
        .axis_style(ink(0.45).stroke_width(1))
        .label_style(text_style(LABEL_PX, 0.75, HPos::Center, VPos::Center))
        .set_all_tick_mark_size(TICK)
        .x_label_formatter(x_label)
        .y_label_formatter(y_label)
        .draw()?;
    Ok(chart)
}

/// Runs plotters on a string-backed SVG; `None` if any drawing call fails.
fn render(width: u32, height: u32, draw: impl FnOnce(&Area<'_>) -> DrawResult) -> Option<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        draw(&root).ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

/// Theme colour, `role`, `aria-label` and `<title>` on plotters' output.
fn finish(svg: &str, title: &str, width: u32, height: u32) -> Option<String> {
    let svg = svg.replace(&format!("\"{INK_HEX}\""), "\"currentColor\"");
    if !svg.starts_with("<svg") {
        return None;
    }
    let open_end = svg.find('>')?;
    let head = svg[..open_end].trim_end_matches('/');
    let title = escape(&clean(title));
    let mut out = String::with_capacity(svg.len() + 2 * title.len() + 96);
    out.push_str(head);
    // plotters 0.3.7 writes a viewBox; without one CSS could not scale the chart.
    if !head.contains("viewBox=") {
        let _ = write!(out, " viewBox=\"0 0 {width} {height}\"");
    }
    let _ = write!(
        out,
        " role=\"img\" aria-label=\"{title}\">\n<title>{title}</title>"
    );
    out.push_str(&svg[open_end + 1..]);
    Some(out)
}

/// The chart's frame with a message instead of data. Written by hand, not by
/// plotters, because it is also what a failed drawing falls back to.
pub(super) fn empty(title: &str, width: u32, height: u32) -> String {
    let (w, h) = clamp_size(width, height);
    let clean_title = clean(title);
    let label = if clean_title.is_empty() {
        NO_DATA.to_owned()
    } else {
        format!("{clean_title}: {NO_DATA}")
    };
    let shown = escape(&truncate(
        &clean_title,
        chars_fitting(w as i32 - 2 * PAD, TITLE_PX),
    ));
    let font = escape(FONT_STACK);
    format!(
        "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\" \
         role=\"img\" aria-label=\"{label}\">\n<title>{title}</title>\n\
         <text x=\"{PAD}\" y=\"{PAD}\" dy=\"0.76em\" font-family=\"{font}\" font-size=\"{TITLE_PX}\" \
         font-weight=\"bold\" fill=\"currentColor\">{shown}</text>\n\
         <text x=\"{cx}\" y=\"{cy}\" dy=\"0.5ex\" text-anchor=\"middle\" font-family=\"{font}\" \
         font-size=\"13\" fill=\"currentColor\" opacity=\"0.6\">{NO_DATA}</text>\n</svg>\n",
        label = escape(&label),
        title = escape(&clean_title),
        cx = w / 2,
        cy = h / 2,
    )
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Vertical {
    StackedBars,
    Lines,
}

fn value_at(series: &Series, index: usize) -> Option<f64> {
    finite(series.values.get(index).copied())
}

/// The value range to show, always including zero so bar heights and line
/// levels compare honestly.
fn vertical_extent(kind: Vertical, n: usize, series: &[Series]) -> (f64, f64) {
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for index in 0..n {
        let values = series.iter().filter_map(|s| value_at(s, index));
        match kind {
            Vertical::StackedBars => {
                let (up, down) =
                    values.fold(
                        (0.0, 0.0),
                        |(up, down), v| if v > 0.0 { (up + v, down) } else { (up, down + v) },
                    );
                hi = hi.max(up);
                lo = lo.min(down);
            }
            Vertical::Lines => {
                for v in values {
                    hi = hi.max(v);
                    lo = lo.min(v);
                }
            }
        }
    }
    (lo, hi)
}

fn label_at(labels: &[String], x: f64) -> String {
    let index = x.round();
    if index >= 0.0 && (index as usize) < labels.len() {
        labels[index as usize].clone()
    } else {
        String::new()
    }
}

/// Stacked bars or lines over categories: one layout, two ways of drawing data.
pub(super) fn vertical(
    kind: Vertical,
    title: &str,
    unit: Unit,
    categories: &[String],
    series: &[Series],
    width: u32,
    height: u32,
) -> String {
    let (w, h) = clamp_size(width, height);
    draw_vertical(kind, title, unit, categories, series, w, h)
        .and_then(|svg| finish(&svg, title, w, h))
        .unwrap_or_else(|| empty(title, w, h))
}

fn draw_vertical(
    kind: Vertical,
    title: &str,
    unit: Unit,
    categories: &[String],
    series: &[Series],
    w: u32,
    h: u32,
) -> Option<String> {
    let n = categories.len();
    let has_points = series
        .iter()
        .any(|s| s.values.iter().take(n).any(|v| v.is_finite()));
    let (lo, hi) = match vertical_extent(kind, n, series) {
        // A line of zeros (a 0% error rate) is data, not an empty chart.
        (0.0, 0.0) if kind == Vertical::Lines && has_points => (0.0, 1.0),
        extent => extent,
    };
    if n == 0 || (lo == 0.0 && hi == 0.0) {
        return None;
    }
    let (wi, hi_px) = (w as i32, h as i32);
    let marker = if kind == Vertical::StackedBars {
        Marker::Square
    } else {
        Marker::Line
    };
    let legend = if series.len() > 1 {
        let names: Vec<String> = series.iter().map(|s| s.name.clone()).collect();
        let max_rows = (hi_px / 4 / LEGEND_ROW).max(1) as usize;
        legend_layout(&names, marker.width(), wi - 2 * PAD, max_rows)
    } else {
        Vec::new()
    };
    let plot_top = header_height(legend_rows(&legend));
    let plot_h = hi_px - plot_top - PAD - X_AXIS_H;
    let ticks = nice_ticks(lo, hi, (plot_h / MIN_TICK_GAP).clamp(2, 8) as usize)?.snug_below(lo);
    let y_labels: Vec<String> = ticks
        .values
        .iter()
        .map(|v| unit.format_tick(*v, ticks.step))
        .collect();
    let y_area = y_labels.iter().map(|l| text_w(l, LABEL_PX)).max().unwrap_or(0) + 2 * TICK + 6;

    let labels: Vec<String> = categories
        .iter()
        .map(|c| truncate(&clean(c), MAX_CATEGORY_CHARS))
        .collect();
    let label_w = labels.iter().map(|l| text_w(l, LABEL_PX)).max().unwrap_or(0) + 12;
    // The last label is centred on the last slot and may hang past the plot.
    let right = PAD.max(label_w / 2);
    let plot_w = (wi - PAD - y_area - right).max(1);
    let every = ((n as f64 * f64::from(label_w)) / f64::from(plot_w))
        .ceil()
        .max(1.0) as usize;
    let x_keys: Vec<f64> = (0..n).step_by(every).map(|i| i as f64).collect();
    let (x_lo, x_hi) = match kind {
        Vertical::StackedBars => (-0.5, n as f64 - 0.5),
        Vertical::Lines => (-0.3, n as f64 - 0.7),
    };
    let slot_px = f64::from(plot_w) / (x_hi - x_lo);

    render(w, h, |root| {
        draw_header(root, wi, title, &legend, marker)?;
        let area = root.margin(plot_top, PAD, PAD, right);
        let chart = draw_frame(
            &area,
            y_area,
            Axis::new(x_lo..x_hi, x_keys.clone()),
            Axis::new(ticks.lo()..ticks.hi(), ticks.values.clone()),
            ValueAxis::Y,
            (&|x| label_at(&labels, *x), &|y| unit.format_tick(*y, ticks.step)),
        )?;
        let plot = chart.plotting_area();
        if ticks.lo() < 0.0 {
            plot.draw(&PathElement::new(
                vec![(x_lo, 0.0), (x_hi, 0.0)],
                ink(0.45).stroke_width(1),
            ))?;
        }
        match kind {
            Vertical::StackedBars => {
                // A gap between bars once there is room for one; a few days
                // of data should not read as a wall of colour.
                let half = if slot_px >= 4.0 {
                    0.36f64.min(28.0 / slot_px)
                } else {
                    0.5
                };
                for index in 0..n {
                    let (mut up, mut down) = (0.0, 0.0);
                    for (j, s) in series.iter().enumerate() {
                        let Some(v) = value_at(s, index).filter(|v| *v != 0.0) else {
                            continue;
                        };
                        let (y0, y1) = if v > 0.0 {
                            up += v;
                            (up - v, up)
                        } else {
                            down += v;
                            (down, down - v)
                        };
                        let x = index as f64;
                        plot.draw(&Rectangle::new(
                            [(x - half, y0), (x + half, y1)],
                            series_colour(j).filled(),
                        ))?;
                    }
                }
            }
            Vertical::Lines => {
                let radius = if slot_px >= 8.0 { 3 } else { 2 };
                for (j, s) in series.iter().enumerate() {
                    let colour = series_colour(j);
                    // A missing value ends the line: joining across a gap would invent data.
                    let mut run: Vec<(f64, f64)> = Vec::new();
                    for index in 0..=n {
                        match (index < n).then(|| value_at(s, index)).flatten() {
                            Some(v) => run.push((index as f64, v)),
                            None => {
                                if run.len() > 1 {
                                    plot.draw(&PathElement::new(run.clone(), colour.stroke_width(2)))?;
                                }
                                for point in run.drain(..) {
                                    plot.draw(&Circle::new(point, radius, colour.filled()))?;
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    })
}

/// Bars ranked largest first, missing values last; ties keep their order.
pub(super) fn ranked(bars: &[(String, f64)]) -> Vec<(String, f64)> {
    let mut out = bars.to_vec();
    out.sort_by(|(_, a), (_, b)| match (finite(Some(*a)), finite(Some(*b))) {
        (Some(a), Some(b)) => b.total_cmp(&a),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    out
}

pub(super) fn horizontal(title: &str, unit: Unit, bars: &[(String, f64)], width: u32, height: u32) -> String {
    let (w, h) = clamp_size(width, height);
    draw_horizontal(title, unit, bars, w, h)
        .and_then(|svg| finish(&svg, title, w, h))
        .unwrap_or_else(|| empty(title, w, h))
}

fn draw_horizontal(title: &str, unit: Unit, bars: &[(String, f64)], w: u32, h: u32) -> Option<String> {
    if bars
        .iter()
        .all(|(_, v)| finite(Some(*v)).is_none_or(|v| v == 0.0))
    {
        return None;
    }
    let (wi, hi_px) = (w as i32, h as i32);
    let plot_top = header_height(0);
    let plot_h = hi_px - plot_top - PAD - X_AXIS_H;
    let max_rows = (plot_h / MIN_ROW_H).max(1) as usize;

    let mut rows: Vec<(String, Option<f64>)> = ranked(bars)
        .into_iter()
        .map(|(label, v)| (label, finite(Some(v))))
        .collect();
    if rows.len() > max_rows {
        // The tail becomes one honest total rather than bars too thin to read.
        let rest = rows.split_off(max_rows - 1);
        let total = rest.iter().filter_map(|(_, v)| *v).sum::<f64>();
        rows.push((format!("{} more", rest.len()), Some(total)));
    }
    let m = rows.len();
    let lo = rows.iter().filter_map(|(_, v)| *v).fold(0.0f64, f64::min);
    let hi = rows.iter().filter_map(|(_, v)| *v).fold(0.0f64, f64::max);

    let max_chars = chars_fitting((f64::from(wi) * 0.35) as i32 - 2 * TICK - 6, LABEL_PX).clamp(4, 40);
    let labels: Vec<String> = rows.iter().map(|(l, _)| truncate(&clean(l), max_chars)).collect();
    let y_area = labels.iter().map(|l| text_w(l, LABEL_PX)).max().unwrap_or(0) + 2 * TICK + 6;
    let values: Vec<Option<String>> = rows.iter().map(|(_, v)| v.map(|v| unit.format(v))).collect();
    let value_w = values
        .iter()
        .flatten()
        .map(|v| text_w(v, LABEL_PX))
        .max()
        .unwrap_or(0)
        + 8;
    let right = PAD + value_w;
    let plot_w = (wi - PAD - y_area - right).max(1);

    // Fewer ticks until their labels fit side by side.
    let mut intervals = (plot_w / 70).clamp(2, 8) as usize;
    let ticks = loop {
        let ticks = nice_ticks(lo, hi, intervals)?.snug_below(lo);
        let widest = ticks
            .values
            .iter()
            .map(|v| text_w(&unit.format_tick(*v, ticks.step), LABEL_PX))
            .max();
        let needed = (widest.unwrap_or(0) + 12) * ticks.values.len() as i32;
        if needed <= plot_w || intervals == 1 {
            break ticks;
        }
        intervals -= 1;
    };
    // Rank 1 at the top: row r sits at y = m - 1 - r.
    let row_y = |r: usize| (m - 1 - r) as f64;
    let y_keys: Vec<f64> = (0..m).map(row_y).collect();

    render(w, h, |root| {
        draw_header(root, wi, title, &[], Marker::Square)?;
        let area = root.margin(plot_top, PAD, PAD, right);
        let chart = draw_frame(
            &area,
            y_area,
            Axis::new(ticks.lo()..ticks.hi(), ticks.values.clone()),
            Axis::new(-0.5..m as f64 - 0.5, y_keys.clone()),
            ValueAxis::X,
            (&|x| unit.format_tick(*x, ticks.step), &|y| {
                label_at(&labels, m as f64 - 1.0 - *y)
            }),
        )?;
        let plot = chart.plotting_area();
        if ticks.lo() < 0.0 {
            plot.draw(&PathElement::new(
                vec![(0.0, -0.5), (0.0, m as f64 - 0.5)],
                ink(0.45).stroke_width(1),
            ))?;
        }
        let value_style = text_style(LABEL_PX, 0.85, HPos::Left, VPos::Center);
        for (r, ((_, v), text)) in rows.iter().zip(&values).enumerate() {
            let (Some(v), Some(text)) = (v, text) else {
                continue;
            };
            let y = row_y(r);
            if *v != 0.0 {
                plot.draw(&Rectangle::new(
                    [(0.0, y - 0.35), (*v, y + 0.35)],
                    series_colour(0).filled(),
                ))?;
            }
            // A negative bar's row is empty right of zero, so its label goes there.
            let (px, py) = chart.backend_coord(&(v.max(0.0), y));
            root.draw(&Text::new(text.clone(), (px + 6, py), value_style.clone()))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let t = nice_ticks(0.0, 9.3, 5).unwrap();
        assert_eq!(t.values, [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(t.step, 2.0);
        let t = nice_ticks(-3.0, 12.0, 4).unwrap();
        assert_eq!(t.values, [-5.0, 0.0, 5.0, 10.0, 15.0]);
        let t = nice_ticks(0.0, 0.0042, 4).unwrap();
        assert!(
            t.values.last().unwrap() >= &0.0042 && t.values.len() <= 6,
            "{t:?}"
        );
        assert!(nice_ticks(0.0, 0.0, 4).is_none());
        assert!(nice_ticks(0.0, f64::INFINITY, 4).is_none());
        assert!(nice_ticks(0.0, f64::NAN, 4).is_none());
        // Subnormal spans either get a scale or none; they never panic.
        let _ = nice_ticks(0.0, 1e-320, 4);
        assert!(nice_ticks(-1e300, 1e300, 8).is_some());
        assert!(nice_ticks(0.0, 5.0, 0).is_some());

        let snug = nice_ticks(-12.0, 1234.5, 4).unwrap().snug_below(-12.0);
        assert_eq!(snug.values.first(), Some(&0.0));
        assert!(snug.lo() < -12.0 && snug.lo() > -100.0, "{snug:?}");
        let full = nice_ticks(-10.0, 10.0, 4).unwrap().snug_below(-10.0);
        assert_eq!((full.lo(), full.values[0]), (-10.0, -10.0));
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("exactly-10", 10), "exactly-10");
        assert_eq!(truncate("a-much-longer-service-name", 10), "a-much-lo…");
        assert_eq!(truncate("ünïcødé-ñame-here", 8), "ünïcødé…");
        assert_eq!(truncate("space at cut", 7), "space…");
        assert_eq!(truncate("anything", 0), "…");
        assert_eq!(clean(" tab\there\nnul\0 "), "tab here nul");
    }

    #[test]
    fn legend_wraps_and_collapses_overflow() {
        let names: Vec<String> = (0..6).map(|i| format!("model-{i}")).collect();
        let one_row = legend_layout(&names, 10, 2000, 3);
        assert_eq!(one_row.len(), 6);
        assert!(one_row.iter().all(|s| s.row == 0));
        assert!(one_row.windows(2).all(|p| p[0].x < p[1].x));

        let wrapped = legend_layout(&names, 10, 200, 10);
        assert_eq!(wrapped.len(), 6);
        assert!(legend_rows(&wrapped) > 1);
        for s in &wrapped {
            assert!(s.x + legend_item_w(&s.text, 10) - 16 <= 200, "{s:?} overflows");
        }

        let capped = legend_layout(&names, 10, 200, 1);
        let note = capped.last().unwrap();
        assert_eq!(note.series, None);
        let shown = capped.iter().filter(|s| s.series.is_some()).count();
        assert_eq!(note.text, format!("+{} more", 6 - shown));
        assert!(capped.iter().all(|s| s.row == 0));
    }

    #[test]
    fn empty_state_is_a_complete_svg() {
        let svg = empty("Cost <per> day & \"model\"", 0, 0);
        assert!(svg.starts_with("<svg width=\"240\" height=\"140\" viewBox=\"0 0 240 140\""));
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("<title>Cost &lt;per&gt; day &amp; &quot;model&quot;</title>"));
        assert!(svg.contains(NO_DATA));
        assert!(svg.contains("currentColor"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
