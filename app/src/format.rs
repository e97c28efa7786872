//! How numbers read on screen: durations, money, token counts and times.
//! The same on the server and in the browser, so hydration matches.

/// `value` with `decimals` digits after the point (rounded half away from
/// zero). Written with integers: the standard library's fixed-precision
/// float formatting weighs some 10 KB in the browser bundle.
pub fn fixed(value: f64, decimals: u32) -> String {
    let scale = 10u64.pow(decimals);
    // Saturating: a non-finite or huge value reads as the largest one.
    let scaled = (value * scale as f64).round() as i64;
    let sign = if scaled < 0 { "-" } else { "" };
    let (whole, fraction) = (scaled.unsigned_abs() / scale, scaled.unsigned_abs() % scale);
    if decimals == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction:0width$}", width = decimals as usize)
    }
}

/// `850 µs`, `12.3 ms`, `1.25 s`, `2 m 05 s`.
pub fn duration(nanos: i64) -> String {
    let nanos = nanos.max(0) as f64;
    if nanos < 1e6 {
        format!("{} µs", fixed(nanos / 1e3, 0))
    } else if nanos < 1e9 {
        let ms = nanos / 1e6;
        if ms < 10.0 {
            format!("{} ms", fixed(ms, 1))
        } else {
            format!("{} ms", fixed(ms, 0))
        }
    } else if nanos < 60e9 {
        format!("{} s", fixed(nanos / 1e9, 2))
    } else {
        let seconds = (nanos / 1e9).round() as i64;
        format!("{} m {:02} s", seconds / 60, seconds % 60)
    }
}

/// Dollars from nano-dollars, with enough digits for small LLM costs:
/// `$0.0035`, `$12.40`; `—` when not priced.
pub fn cost(nanos: Option<i64>) -> String {
    match nanos {
        None => "—".to_owned(),
        Some(nanos) => {
            let dollars = nanos as f64 / 1e9;
            if dollars == 0.0 {
                "$0".to_owned()
            } else if dollars < 0.01 {
                format!("${}", fixed(dollars, 4))
            } else {
                format!("${}", fixed(dollars, 2))
            }
        }
    }
}

/// `1,234,567`.
pub fn count(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if value < 0 {
        out.push('-');
    }
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `2026-01-01 00:00:20.123` (UTC) from Unix nanoseconds.
pub fn timestamp(nanos: i64) -> String {
    let seconds = nanos.div_euclid(1_000_000_000);
    let millis = nanos.rem_euclid(1_000_000_000) / 1_000_000;
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{millis:03}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Unix nanoseconds of an RFC 3339 time in UTC as the API writes it
/// (`2026-01-01T01:00:00Z`, `…+00:00`, fractions allowed); `None` otherwise.
pub fn parse_utc_rfc3339(text: &str) -> Option<i64> {
    let (date, time) = text.split_once('T')?;
    let mut date_parts = date.split('-').map(|part| part.parse::<i64>().ok());
    let (year, month, day) = (date_parts.next()??, date_parts.next()??, date_parts.next()??);
    let time = time.strip_suffix('Z').or_else(|| time.strip_suffix("+00:00"))?;
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut clock_parts = clock.split(':').map(|part| part.parse::<i64>().ok());
    let (hour, minute, second) = (clock_parts.next()??, clock_parts.next()??, clock_parts.next()??);
    let nanos: i64 = format!("{fraction:0<9}").get(..9)?.parse().ok()?;
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + hour * 3600 + minute * 60 + second) * 1_000_000_000) + nanos)
}

/// A calendar date to days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to a calendar date (Howard Hinnant's algorithm),
/// so the browser build needs no date library.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Appends one row's fields, separated by commas (the caller ends the line).
pub fn push_csv_row(out: &mut String, fields: &[String]) {
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        push_csv_field(out, field);
    }
}

/// Appends one field, quoted only when RFC 4180 requires it.
pub fn push_csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// Nano-dollars as an exact decimal number of dollars.
pub fn usd_exact(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let magnitude = nanos.unsigned_abs();
    format!(
        "{sign}{}.{:09}",
        magnitude / 1_000_000_000,
        magnitude % 1_000_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_numbers() {
        assert_eq!(duration(850_000), "850 µs");
        assert_eq!(duration(2_500_000), "2.5 ms");
        assert_eq!(duration(850_000_000), "850 ms");
        assert_eq!(duration(1_250_000_000), "1.25 s");
        assert_eq!(duration(125_000_000_000), "2 m 05 s");
        assert_eq!(cost(None), "—");
        assert_eq!(cost(Some(3_500_000)), "$0.0035");
        assert_eq!(cost(Some(12_400_000_000)), "$12.40");
        assert_eq!(fixed(-2.345, 1), "-2.3");
        assert_eq!(fixed(-0.04, 1), "0.0", "no negative zero");
        assert_eq!(fixed(99.996, 2), "100.00");
        assert_eq!(fixed(7.0, 0), "7");
        assert_eq!(fixed(0.05, 3), "0.050");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(-1000), "-1,000");
        assert_eq!(count(12), "12");
    }

    #[test]
    fn utc_rfc3339_reads_back_to_the_same_instant() {
        for nanos in [
            0,
            1_767_225_620_123_000_000,
            951_782_400 * 1_000_000_000,
            -86_400_000_000_000,
        ] {
            let text = timestamp(nanos).replace(' ', "T") + "Z";
            assert_eq!(parse_utc_rfc3339(&text), Some(nanos), "{text}");
        }
        assert_eq!(
            parse_utc_rfc3339("2026-01-01T01:00:00+00:00"),
            Some(1_767_229_200_000_000_000)
        );
        assert_eq!(parse_utc_rfc3339("2026-01-01T01:00:00+01:00"), None);
        assert_eq!(parse_utc_rfc3339("soon"), None);
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(timestamp(0), "1970-01-01 00:00:00.000");
        assert_eq!(timestamp(1_767_225_620_123_000_000), "2026-01-01 00:00:20.123");
        assert_eq!(timestamp(951_782_400 * 1_000_000_000), "2000-02-29 00:00:00.000");
    }
}
