//! Report buckets in a time zone: local hours, days and Monday weeks, read
//! from rollups kept per UTC hour and UTC day. A UTC day is read from the
//! daily rollups when it lies inside one local bucket; the days a local
//! bucket starts in (every day, for local days off UTC) are read hour by
//! hour. The bucketing itself happens in SQL: each rollup row's time is
//! shifted by its zone offset (a `CASE` over the range's constant-offset
//! spans) and cut into local buckets, so a read returns one row per bucket
//! and key whatever the zone.

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;

use super::{Granularity, UsageRequest, WEEK_NS, WEEK_OFFSET_NS};
use crate::telemetry::services::ingest::usage::{DAY_NS, HOUR_NS, RollupPeriod};

/// A run of rollup time from `since_ns` to `until_ns`, read from `period`'s
/// rollups.
pub type Part = (RollupPeriod, i64, i64);

/// The parts of `request`'s range and the rollups each is read from: whole
/// UTC days from the daily rollups when the buckets are days or longer and
/// no bucket starts inside the day, hours everywhere else. Adjacent hourly
/// runs are merged.
pub fn parts(request: &UsageRequest) -> Vec<Part> {
    let (since_ns, until_ns) = (request.since_ns, request.until_ns);
    let first_midnight = RollupPeriod::Day.start_of(since_ns.saturating_add(DAY_NS - 1));
    let last_midnight = RollupPeriod::Day.start_of(until_ns);
    if matches!(request.granularity, Granularity::Hour) || first_midnight >= last_midnight {
        return vec![(RollupPeriod::Hour, since_ns, until_ns)];
    }
    let starts = bucket_starts(request);
    let mut parts: Vec<Part> = Vec::new();
    let mut push = |period: RollupPeriod, since: i64, until: i64| {
        if since >= until {
            return;
        }
        match parts.last_mut() {
            Some((last, _, end)) if *last == period && *end == since => *end = until,
            _ => parts.push((period, since, until)),
        }
    };
    push(RollupPeriod::Hour, since_ns, first_midnight);
    let mut day = first_midnight;
    while day < last_midnight {
        // A bucket starting strictly inside the day splits it.
        let split = starts
            .get(starts.partition_point(|start| *start <= day))
            .is_some_and(|start| *start < day + DAY_NS);
        let period = if split {
            RollupPeriod::Hour
        } else {
            RollupPeriod::Day
        };
        push(period, day, day + DAY_NS);
        day += DAY_NS;
    }
    push(RollupPeriod::Hour, last_midnight, until_ns);
    parts
}

/// When each bucket of `request` begins (Unix ns), from the one holding
/// `since_ns` to the last before `until_ns`: local midnights or local
/// Monday midnights (23 or 25 hours apart across clock changes), UTC hours.
pub fn bucket_starts(request: &UsageRequest) -> Vec<i64> {
    let (since_ns, until_ns) = (request.since_ns, request.until_ns);
    let step_days = match request.granularity {
        Granularity::Hour => {
            let first = RollupPeriod::Hour.start_of(since_ns);
            return (0..)
                .map(|index| first + index * HOUR_NS)
                .take_while(|start| *start < until_ns)
                .collect();
        }
        Granularity::Total => return vec![since_ns],
        Granularity::Day => 1,
        Granularity::Week => 7,
    };
    let mut date = local_date(request.granularity.local_bucket(local_ns(request.zone, since_ns)));
    let mut starts = Vec::new();
    while let Some(start) = first_instant(request.zone, date) {
        if start >= until_ns {
            break;
        }
        starts.push(start);
        match date.checked_add_days(chrono::Days::new(step_days)) {
            Some(next) => date = next,
            None => break,
        }
    }
    starts
}

impl Granularity {
    /// The start of the bucket holding local (or UTC) time `local_ns`, on
    /// the same clock.
    fn local_bucket(self, local_ns: i64) -> i64 {
        match self {
            Granularity::Hour => local_ns - local_ns.rem_euclid(HOUR_NS),
            Granularity::Day => local_ns - local_ns.rem_euclid(DAY_NS),
            Granularity::Week => local_ns - (local_ns - WEEK_OFFSET_NS).rem_euclid(WEEK_NS),
            Granularity::Total => local_ns,
        }
    }

    /// [`Self::local_bucket`] in SQL over a local time expression
    /// (non-negative: integer division rounds down on both databases).
    fn local_bucket_sql(self, local: &str) -> String {
        match self {
            Granularity::Hour => format!("(({local}) / {HOUR_NS}) * {HOUR_NS}"),
            Granularity::Day => format!("(({local}) / {DAY_NS}) * {DAY_NS}"),
            Granularity::Week => {
                format!("((({local}) - {WEEK_OFFSET_NS}) / {WEEK_NS}) * {WEEK_NS} + {WEEK_OFFSET_NS}")
            }
            Granularity::Total => local.to_owned(),
        }
    }
}

/// The SQL giving each rollup row's bucket as the local clock reads its
/// start (see [`bucket_start`] for the instant), for rows from `since_ns`
/// to `until_ns` in `time_column`.
pub fn bucket_sql(request: &UsageRequest, time_column: &str) -> String {
    match request.granularity {
        // Hours are UTC hours whatever the zone: the rollups' own.
        Granularity::Hour => time_column.to_owned(),
        Granularity::Total => request.since_ns.to_string(),
        granularity => {
            let spans = offset_spans(request.zone, request.since_ns, request.until_ns);
            let shifted =
                |offset_ns: i64| granularity.local_bucket_sql(&format!("{time_column} + {offset_ns}"));
            match spans.as_slice() {
                [] => granularity.local_bucket_sql(time_column),
                [(_, offset_ns)] => shifted(*offset_ns),
                [(_, first), rest @ ..] => {
                    let mut sql = String::from("CASE");
                    let mut offset_before = *first;
                    for (start, offset_ns) in rest {
                        sql.push_str(&format!(
                            " WHEN {time_column} < {start} THEN {}",
                            shifted(offset_before)
                        ));
                        offset_before = *offset_ns;
                    }
                    sql.push_str(&format!(" ELSE {} END", shifted(offset_before)));
                    sql
                }
            }
        }
    }
}

/// The instant a bucket read back by [`bucket_sql`] begins (Unix ns).
pub fn bucket_start(request: &UsageRequest, bucket: i64) -> i64 {
    match request.granularity {
        Granularity::Hour | Granularity::Total => bucket,
        _ => first_instant(request.zone, local_date(bucket)).unwrap_or(bucket),
    }
}

/// The zone's offset from UTC over the range, as `(from, offset)` spans in
/// time order (one when the offset does not change), checked at each hour:
/// the rollups' times are hour starts.
fn offset_spans(zone: Option<Tz>, since_ns: i64, until_ns: i64) -> Vec<(i64, i64)> {
    if zone.is_none() {
        return Vec::new();
    }
    let mut spans: Vec<(i64, i64)> = Vec::new();
    let mut hour = RollupPeriod::Hour.start_of(since_ns);
    while hour < until_ns {
        let offset_ns = local_ns(zone, hour) - hour;
        if spans.last().is_none_or(|(_, last)| *last != offset_ns) {
            spans.push((hour, offset_ns));
        }
        hour += HOUR_NS;
    }
    spans
}

/// `time_ns` as the zone's clock reads it, counted from the epoch.
fn local_ns(zone: Option<Tz>, time_ns: i64) -> i64 {
    use chrono::Offset;

    let Some(zone) = zone else { return time_ns };
    let utc = chrono::DateTime::from_timestamp_nanos(time_ns).naive_utc();
    let offset = zone.offset_from_utc_datetime(&utc).fix().local_minus_utc();
    time_ns.saturating_add(i64::from(offset) * 1_000_000_000)
}

/// The date of a local time counted from the epoch.
fn local_date(local_ns: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_nanos(local_ns).date_naive()
}

/// When `date` begins in the zone (midnight, or the first hour after it
/// where a clock change skips midnight), in Unix ns.
fn first_instant(zone: Option<Tz>, date: NaiveDate) -> Option<i64> {
    let Some(zone) = zone else {
        return date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_nanos_opt();
    };
    (0..3).find_map(|hour| {
        let local = date.and_hms_opt(hour, 0, 0)?;
        zone.from_local_datetime(&local).earliest()?.timestamp_nanos_opt()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap()
    }

    fn request(granularity: Granularity, zone: Option<Tz>, since: &str, until: &str) -> UsageRequest {
        UsageRequest {
            since_ns: time(since),
            until_ns: time(until),
            granularity,
            group_by: Vec::new(),
            filters: Vec::new(),
            zone,
        }
    }

    fn iso(time_ns: i64) -> String {
        chrono::DateTime::from_timestamp_nanos(time_ns)
            .format("%Y-%m-%dT%H:%MZ")
            .to_string()
    }

    #[test]
    fn utc_days_come_from_the_daily_rollups_between_partial_edges() {
        let request = request(
            Granularity::Day,
            None,
            "2026-03-01T10:00:00Z",
            "2026-03-05T06:00:00Z",
        );
        let parts: Vec<(RollupPeriod, String, String)> = parts(&request)
            .into_iter()
            .map(|(period, since, until)| (period, iso(since), iso(until)))
            .collect();
        assert_eq!(
            parts,
            vec![
                (
                    RollupPeriod::Hour,
                    "2026-03-01T10:00Z".into(),
                    "2026-03-02T00:00Z".into()
                ),
                (
                    RollupPeriod::Day,
                    "2026-03-02T00:00Z".into(),
                    "2026-03-05T00:00Z".into()
                ),
                (
                    RollupPeriod::Hour,
                    "2026-03-05T00:00Z".into(),
                    "2026-03-05T06:00Z".into()
                ),
            ]
        );
    }

    #[test]
    fn local_days_off_utc_are_read_hour_by_hour() {
        let berlin = Some(chrono_tz::Europe::Berlin);
        let request = request(
            Granularity::Day,
            berlin,
            "2026-03-01T00:00:00Z",
            "2026-03-31T00:00:00Z",
        );
        assert_eq!(
            parts(&request),
            vec![(RollupPeriod::Hour, request.since_ns, request.until_ns)]
        );
        // London keeps UTC in winter: its days are UTC days until the night of 29 March.
        let london = Some(chrono_tz::Europe::London);
        let request = self::request(
            Granularity::Day,
            london,
            "2026-03-01T00:00:00Z",
            "2026-04-03T00:00:00Z",
        );
        let hourly: Vec<(String, String)> = parts(&request)
            .into_iter()
            .filter(|(period, _, _)| *period == RollupPeriod::Hour)
            .map(|(_, since, until)| (iso(since), iso(until)))
            .collect();
        assert_eq!(
            hourly,
            vec![("2026-03-29T00:00Z".into(), "2026-04-03T00:00Z".into())]
        );
    }

    #[test]
    fn local_weeks_read_hours_only_on_the_days_a_week_starts_in() {
        let berlin = Some(chrono_tz::Europe::Berlin);
        let request = request(
            Granularity::Week,
            berlin,
            "2026-01-01T00:00:00Z",
            "2026-05-01T00:00:00Z",
        );
        let starts: Vec<String> = bucket_starts(&request).into_iter().map(iso).collect();
        assert_eq!(starts.first().map(String::as_str), Some("2025-12-28T23:00Z"));
        // The Monday after the clock change starts an hour earlier in UTC.
        assert!(starts.contains(&"2026-03-22T23:00Z".to_owned()));
        assert!(starts.contains(&"2026-03-29T22:00Z".to_owned()));
        let hourly_days: Vec<String> = parts(&request)
            .into_iter()
            .filter(|(period, _, _)| *period == RollupPeriod::Hour)
            .map(|(_, since, until)| {
                assert_eq!(until - since, DAY_NS, "{} to {}", iso(since), iso(until));
                iso(since)
            })
            .collect();
        // Each Monday 00:00 Berlin falls inside a UTC Sunday.
        assert_eq!(hourly_days.len(), 17);
        assert!(hourly_days.iter().all(|day| {
            let date = chrono::NaiveDate::parse_from_str(&day[..10], "%Y-%m-%d").unwrap();
            chrono::Datelike::weekday(&date) == chrono::Weekday::Sun
        }));
    }

    #[test]
    fn the_sql_bucket_follows_the_offset_of_each_row() {
        let berlin = Some(chrono_tz::Europe::Berlin);
        let request = request(
            Granularity::Day,
            berlin,
            "2026-03-25T00:00:00Z",
            "2026-04-02T00:00:00Z",
        );
        let sql = bucket_sql(&request, "hour_ns");
        assert!(sql.starts_with("CASE WHEN hour_ns < "), "{sql}");
        assert!(sql.contains("hour_ns + 3600000000000") && sql.contains("hour_ns + 7200000000000"));
        // Evaluated as SQL would, row by row: 22:00 UTC on 29 March is
        // midnight of 30 March in Berlin (summer time), 22:00 on 28 March
        // still 23:00 of the 28th.
        let bucket = |time: &str| {
            let row = self::time(time);
            let spans = offset_spans(berlin, request.since_ns, request.until_ns);
            let offset = spans.iter().rev().find(|(from, _)| *from <= row).unwrap().1;
            iso(bucket_start(
                &request,
                Granularity::Day.local_bucket(row + offset),
            ))
        };
        assert_eq!(bucket("2026-03-29T22:00:00Z"), "2026-03-29T22:00Z");
        assert_eq!(bucket("2026-03-28T22:00:00Z"), "2026-03-27T23:00Z");
        assert_eq!(bucket("2026-03-28T23:00:00Z"), "2026-03-28T23:00Z");
    }

    #[test]
    fn utc_reads_need_no_case() {
        let request = request(
            Granularity::Week,
            None,
            "2026-01-01T00:00:00Z",
            "2026-05-01T00:00:00Z",
        );
        assert_eq!(
            bucket_sql(&request, "day_ns"),
            format!("(((day_ns) - {WEEK_OFFSET_NS}) / {WEEK_NS}) * {WEEK_NS} + {WEEK_OFFSET_NS}")
        );
    }
}
