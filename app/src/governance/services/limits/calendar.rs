//! Calendar months in UTC, the period quotas and budgets count in.

use chrono::{DateTime, Datelike, NaiveDate};

pub const HOUR_NS: i64 = 3_600_000_000_000;

fn first_of_month(now_ns: i64) -> NaiveDate {
    let date = DateTime::from_timestamp_nanos(now_ns).date_naive();
    date.with_day(1).unwrap_or(date)
}

fn nanos(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .and_then(|time| time.and_utc().timestamp_nanos_opt())
        .unwrap_or(i64::MAX)
}

/// The start of `now_ns`'s month.
pub fn month_start_ns(now_ns: i64) -> i64 {
    nanos(first_of_month(now_ns))
}

/// The start of the next month.
pub fn month_end_ns(now_ns: i64) -> i64 {
    let first = first_of_month(now_ns);
    nanos(first.checked_add_months(chrono::Months::new(1)).unwrap_or(first))
}

/// `2026-12`.
pub fn month_label(now_ns: i64) -> String {
    first_of_month(now_ns).format("%Y-%m").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap()
    }

    #[test]
    fn months_start_and_end_at_utc_midnight_on_the_first() {
        let now = at("2026-12-05T15:30:00Z");
        assert_eq!(month_start_ns(now), at("2026-12-01T00:00:00Z"));
        assert_eq!(month_end_ns(now), at("2027-01-01T00:00:00Z"));
        assert_eq!(month_label(now), "2026-12");
        let leap = at("2028-02-29T23:59:59Z");
        assert_eq!(month_end_ns(leap) - month_start_ns(leap), 29 * 24 * HOUR_NS);
        assert_eq!(
            month_start_ns(at("2027-01-01T00:00:00Z")),
            at("2027-01-01T00:00:00Z")
        );
    }
}
