//! How a chart writes its numbers. Axis ticks get only as many decimals as
//! the tick spacing needs, so neighbouring labels differ and stay short.

/// What a chart's values measure; decides how axis ticks and values read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// US dollars: `$0`, `$0.0035`, `$1.20`, `$250`, `$15k`.
    Usd,
    /// Token counts: `950`, `350k`, `1.2M`.
    Tokens,
    /// Request counts: `42`, `1.23k`.
    Requests,
    /// Percentages given as 0–100 (not 0–1): `12%`, `0.5%`.
    Percent,
    /// Durations in milliseconds: `850 ms`, `1.2 s`, `2.5 min`.
    Milliseconds,
}

/// Thousands steps; past `T` labels switch to exponent notation.
const SCALES: [(f64, &str); 5] = [(1.0, ""), (1e3, "k"), (1e6, "M"), (1e9, "B"), (1e12, "T")];

/// The most decimals any label gets; nobody reads a ninth digit on an axis.
const MAX_DECIMALS: usize = 8;

impl Unit {
    /// One value on its own (a bar's value label, a tooltip): about three
    /// significant digits.
    pub fn format(self, value: f64) -> String {
        self.render(value, None)
    }

    /// A tick on an axis whose ticks are `step` apart: decimals follow the
    /// step, so `0.5, 1, 1.5` never collapse into `1, 1, 2`.
    pub fn format_tick(self, value: f64, step: f64) -> String {
        let step = (step.is_finite() && step > 0.0).then_some(step.abs());
        self.render(value, step)
    }

    fn render(self, value: f64, step: Option<f64>) -> String {
        if value.is_nan() {
            return "—".to_owned();
        }
        if value.is_infinite() {
            return if value > 0.0 { "∞" } else { "-∞" }.to_owned();
        }
        let sign = if value < 0.0 { "-" } else { "" };
        let abs = value.abs();
        let (body, suffix) = match self {
            Unit::Usd => (magnitude(abs, step, true), ""),
            Unit::Tokens | Unit::Requests => (magnitude(abs, step, false), ""),
            Unit::Percent => (magnitude(abs, step, false), "%"),
            Unit::Milliseconds => duration(abs, step),
        };
        // `-0.0001` rounded to nothing must not read as "-0".
        let sign = if is_zero_text(&body) { "" } else { sign };
        match self {
            Unit::Usd => format!("{sign}${body}"),
            _ => format!("{sign}{body}{suffix}"),
        }
    }
}

/// Milliseconds below a second, seconds below two minutes, minutes above:
/// the reader compares latencies, so the unit changes as late as is readable.
fn duration(ms: f64, step: Option<f64>) -> (String, &'static str) {
    if ms == 0.0 {
        return ("0".to_owned(), "");
    }
    if ms < 1000.0 {
        let text = magnitude_unscaled(ms, step, false);
        // 999.7 ms rounds to "1000": that is a second.
        if text.parse::<f64>().is_ok_and(|v| v < 1000.0) {
            return (text, " ms");
        }
    }
    if ms < 120_000.0 {
        return (magnitude(ms / 1e3, step.map(|s| s / 1e3), false), " s");
    }
    (magnitude(ms / 6e4, step.map(|s| s / 6e4), false), " min")
}

fn is_zero_text(text: &str) -> bool {
    text.chars().all(|c| matches!(c, '0' | '.'))
}

/// `abs` (finite, ≥ 0) with a thousands suffix.
fn magnitude(abs: f64, step: Option<f64>, money: bool) -> String {
    if abs == 0.0 {
        return "0".to_owned();
    }
    if abs >= 1e15 {
        return exponent(abs);
    }
    let mut index = SCALES
        .iter()
        .rposition(|(divisor, _)| abs >= *divisor)
        .unwrap_or(0);
    loop {
        let (divisor, suffix) = SCALES[index];
        let text = fixed(abs / divisor, step.map(|s| s / divisor), money && index == 0);
        // Rounding can carry into the next suffix: 999,960 is "1M", not "1000k".
        if index + 1 < SCALES.len() && text.parse::<f64>().is_ok_and(|v| v >= 1000.0) {
            index += 1;
            continue;
        }
        return format!("{text}{suffix}");
    }
}

/// Like [`magnitude`] but never scaled (milliseconds below a second).
fn magnitude_unscaled(abs: f64, step: Option<f64>, money: bool) -> String {
    if abs == 0.0 {
        "0".to_owned()
    } else {
        fixed(abs, step, money)
    }
}

/// `value` with the decimals its step (on an axis) or its size (alone) needs.
/// Money keeps cents once it shows any decimals: `$1.20`, not `$1.2`.
fn fixed(value: f64, step: Option<f64>, money: bool) -> String {
    let decimals = match step {
        Some(step) => step_decimals(step),
        None => value_decimals(value, money),
    };
    let decimals = if money && decimals > 0 {
        decimals.max(2)
    } else {
        decimals
    };
    let text = format!("{value:.decimals$}");
    match (money, step) {
        // Axis money keeps aligned cents; a lone amount drops only zeros past the cents.
        (true, Some(_)) => text,
        (true, None) => trim_zeros(&text, 2),
        (false, _) => trim_zeros(&text, 0),
    }
}

/// The fewest decimals that write every multiple of `step` exactly.
fn step_decimals(step: f64) -> usize {
    for decimals in 0..=MAX_DECIMALS {
        let scaled = step * 10f64.powi(decimals as i32);
        if (scaled - scaled.round()).abs() <= 1e-6 * scaled.max(1.0) {
            return decimals;
        }
    }
    // A step that is no round number (never produced by the tick picker).
    ((-step.log10()).ceil().max(0.0) as usize).min(MAX_DECIMALS)
}

/// About three significant digits; two for amounts below one, so small
/// per-request costs (`$0.0035`) stay visible instead of reading `$0.00`.
fn value_decimals(value: f64, money: bool) -> usize {
    if value >= 100.0 {
        0
    } else if money && value >= 0.01 {
        2
    } else if value >= 10.0 {
        1
    } else if value >= 1.0 {
        2
    } else {
        ((-value.log10()).floor().max(0.0) as usize + 2).min(MAX_DECIMALS)
    }
}

/// Drops trailing zeros after the decimal point, keeping at least `keep` decimals.
fn trim_zeros(text: &str, keep: usize) -> String {
    let Some(dot) = text.find('.') else {
        return text.to_owned();
    };
    let mut end = text.len();
    let min_end = dot + 1 + keep;
    while end > min_end && text.as_bytes()[end - 1] == b'0' {
        end -= 1;
    }
    if end == dot + 1 {
        end = dot;
    }
    text[..end].to_owned()
}

/// `1.2e15`: past trillions a suffix stops helping.
fn exponent(abs: f64) -> String {
    let text = format!("{abs:.1e}");
    match text.split_once('e') {
        Some((mantissa, exp)) => format!("{}e{exp}", trim_zeros(mantissa, 0)),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_values() {
        let f = |v| Unit::Usd.format(v);
        assert_eq!(f(0.0), "$0");
        assert_eq!(f(-0.0), "$0");
        assert_eq!(f(1.2), "$1.20");
        assert_eq!(f(12.5), "$12.50");
        assert_eq!(f(0.05), "$0.05");
        assert_eq!(f(0.0035), "$0.0035");
        assert_eq!(f(0.005), "$0.005");
        assert_eq!(f(250.0), "$250");
        assert_eq!(f(15_000.0), "$15k");
        assert_eq!(f(1_500.0), "$1.5k");
        assert_eq!(f(1_234.0), "$1.23k");
        assert_eq!(f(999_960.0), "$1M");
        assert_eq!(f(2_500_000.0), "$2.5M");
        assert_eq!(f(-3.5), "-$3.50");
        assert_eq!(f(3e18), "$3e18");
        assert_eq!(f(f64::NAN), "—");
    }

    #[test]
    fn usd_ticks_keep_cents_and_differ() {
        let ticks: Vec<_> = [0.0, 0.5, 1.0, 1.5]
            .iter()
            .map(|v| Unit::Usd.format_tick(*v, 0.5))
            .collect();
        assert_eq!(ticks, ["$0", "$0.50", "$1.00", "$1.50"]);
        let ticks: Vec<_> = [0.0, 5.0, 10.0]
            .iter()
            .map(|v| Unit::Usd.format_tick(*v, 5.0))
            .collect();
        assert_eq!(ticks, ["$0", "$5", "$10"]);
        let ticks: Vec<_> = [0.0, 0.001, 0.002]
            .iter()
            .map(|v| Unit::Usd.format_tick(*v, 0.001))
            .collect();
        assert_eq!(ticks, ["$0", "$0.001", "$0.002"]);
        let ticks: Vec<_> = [10_000.0, 12_500.0, 15_000.0]
            .iter()
            .map(|v| Unit::Usd.format_tick(*v, 2_500.0))
            .collect();
        assert_eq!(ticks, ["$10k", "$12.5k", "$15k"]);
        // Float noise from stepping (0.1 * 3) must not leak into the label.
        assert_eq!(Unit::Usd.format_tick(0.30000000000000004, 0.1), "$0.30");
        assert_eq!(Unit::Usd.format_tick(-20.0, 10.0), "-$20");
    }

    #[test]
    fn tokens_and_requests() {
        assert_eq!(Unit::Tokens.format(1_200_000.0), "1.2M");
        assert_eq!(Unit::Tokens.format(350_000.0), "350k");
        assert_eq!(Unit::Tokens.format(999.0), "999");
        assert_eq!(Unit::Tokens.format(0.0), "0");
        assert_eq!(Unit::Tokens.format(4.2e9), "4.2B");
        assert_eq!(Unit::Tokens.format_tick(1_500_000.0, 500_000.0), "1.5M");
        assert_eq!(Unit::Tokens.format_tick(2_000_000.0, 500_000.0), "2M");
        assert_eq!(Unit::Requests.format(42.0), "42");
        assert_eq!(Unit::Requests.format(1_234.0), "1.23k");
        assert_eq!(Unit::Requests.format_tick(250.0, 50.0), "250");
        assert_eq!(Unit::Requests.format_tick(1_200.0, 200.0), "1.2k");
    }

    #[test]
    fn percent() {
        assert_eq!(Unit::Percent.format(12.0), "12%");
        assert_eq!(Unit::Percent.format(0.5), "0.5%");
        assert_eq!(Unit::Percent.format(3.25), "3.25%");
        assert_eq!(Unit::Percent.format(100.0), "100%");
        assert_eq!(Unit::Percent.format_tick(2.5, 0.5), "2.5%");
        assert_eq!(Unit::Percent.format_tick(0.0, 0.5), "0%");
    }

    #[test]
    fn milliseconds() {
        assert_eq!(Unit::Milliseconds.format(850.0), "850 ms");
        assert_eq!(Unit::Milliseconds.format(1_200.0), "1.2 s");
        assert_eq!(Unit::Milliseconds.format(999.7), "1 s");
        assert_eq!(Unit::Milliseconds.format(0.25), "0.25 ms");
        assert_eq!(Unit::Milliseconds.format(90_000.0), "90 s");
        assert_eq!(Unit::Milliseconds.format(150_000.0), "2.5 min");
        assert_eq!(Unit::Milliseconds.format(0.0), "0");
        let ticks: Vec<_> = [0.0, 500.0, 1_000.0, 1_500.0]
            .iter()
            .map(|v| Unit::Milliseconds.format_tick(*v, 500.0))
            .collect();
        assert_eq!(ticks, ["0", "500 ms", "1 s", "1.5 s"]);
    }

    #[test]
    fn non_finite_and_odd_steps_do_not_panic() {
        for unit in [
            Unit::Usd,
            Unit::Tokens,
            Unit::Requests,
            Unit::Percent,
            Unit::Milliseconds,
        ] {
            for v in [
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::MAX,
                f64::MIN,
                f64::MIN_POSITIVE,
                1e-320,
            ] {
                for step in [0.0, -1.0, f64::NAN, 1e-300, 1.0 / 3.0, f64::MAX] {
                    assert!(!unit.format_tick(v, step).is_empty());
                }
                assert!(!unit.format(v).is_empty());
            }
        }
        assert_eq!(Unit::Usd.format(f64::INFINITY), "∞");
        // Too small to show: no "-" on a zero.
        assert_eq!(Unit::Usd.format(-0.000_000_001), "$0.00");
    }
}
