//! The Costs page's data: the range's rollups grouped by time bucket and
//! model, and by service, agent and API token over the whole range, plus
//! the previous period's totals, the most expensive traces and the GenAI
//! metric points. Each read returns as few rows as the page's charts need:
//! reading every key per bucket would return thousands of 60-column rows
//! for a month. The rollups hold sums, so every chart's numbers add up
//! exactly to the headline's. Drawing is the charts' side
//! (`charts::costs`), not this one's.

use std::collections::HashMap;

use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::{
    costs::{
        services::{
            genai_metrics::{self, HistogramPoint},
            usage::{self, Dimension, Granularity, UsageGroup, UsageRequest},
        },
        types::{COST_RANGES, DEFAULT_COST_RANGE, UsageQuery},
    },
    error::{AppError, Result},
    telemetry::{
        services::{
            ingest::usage::{HOUR_NS, UsageCounters},
            span_store,
        },
        types::TraceSummary,
    },
    time_zone::DisplayZone,
};

/// The window a `range` (or a custom `since`/`until`) stands for.
pub fn usage_query(
    range: Option<&str>,
    since: Option<String>,
    until: Option<String>,
    now_ns: i64,
) -> Result<UsageQuery> {
    let range = range.filter(|range| !range.is_empty());
    if range.is_none_or(|range| range == "custom") && (since.is_some() || until.is_some()) {
        return Ok(UsageQuery {
            since,
            until,
            ..Default::default()
        });
    }
    let range = range.unwrap_or(DEFAULT_COST_RANGE);
    let hours = COST_RANGES
        .iter()
        .find(|(value, _, _)| *value == range)
        .map(|(_, _, hours)| *hours)
        .ok_or_else(|| AppError::BadRequest(format!("unknown range {range:?}")))?;
    Ok(UsageQuery {
        since: Some((now_ns - hours * HOUR_NS).to_string()),
        until: Some(now_ns.to_string()),
        ..Default::default()
    })
}

/// What the Costs page is drawn from, for one range.
pub struct DashboardData {
    pub request: UsageRequest,
    pub groups: ChartGroups,
    pub totals: UsageCounters,
    /// The same length of time just before, for comparison.
    pub previous: UsageCounters,
    pub top_traces: Vec<TraceSummary>,
    /// The GenAI metric points, when any is in the range.
    pub metric_points: Option<Vec<HistogramPoint>>,
    /// The names of the API tokens that `groups.by_owner` names.
    pub token_names: HashMap<Uuid, usage::TokenName>,
}

/// Reads what the dashboard of `org_id` shows for the range.
pub async fn dashboard(
    db: &DatabaseConnection,
    org_id: Uuid,
    range: Option<&str>,
    since: Option<String>,
    until: Option<String>,
    now_ns: i64,
    zone: &DisplayZone,
) -> Result<DashboardData> {
    let mut request = UsageRequest::parse(&usage_query(range, since, until, now_ns)?, now_ns)?;
    request.group_by = vec![Dimension::Model];
    request.zone = zone.tz();
    // Costs by owner are ranked over the whole range: no time buckets,
    // so the read is a few dozen rows, not one per key and day.
    let owners_request = UsageRequest {
        granularity: Granularity::Total,
        group_by: OWNER_DIMENSIONS.to_vec(),
        ..request.clone()
    };
    let length = request.until_ns - request.since_ns;
    let previous_request = UsageRequest {
        since_ns: request.since_ns - length,
        until_ns: request.since_ns,
        // Bucketed only so that the read can be split in two; summed below.
        granularity: Granularity::for_range(length),
        group_by: Vec::new(),
        filters: Vec::new(),
        // Summed: UTC days read the fewest rows.
        zone: None,
    };
    let range = (request.since_ns, request.until_ns);
    // The reads are independent: each runs on its own connection, at once.
    let (by_model, by_owner, previous_groups, top_traces, (metric_points, has_metrics)) = tokio::try_join!(
        usage::groups(db, org_id, &request),
        usage::groups(db, org_id, &owners_request),
        usage::groups(db, org_id, &previous_request),
        span_store::most_expensive(db, org_id, range, 10),
        genai_metrics::points(db, org_id, &request),
    )?;
    let mut previous = UsageCounters::default();
    for group in &previous_groups {
        previous.merge(&group.counters);
    }
    let token_names = usage::token_names(db, org_id, token_ids(&by_owner)).await?;
    let mut totals = UsageCounters::default();
    for group in &by_model {
        totals.merge(&group.counters);
    }
    Ok(DashboardData {
        request,
        groups: ChartGroups { by_model, by_owner },
        totals,
        previous,
        top_traces,
        metric_points: has_metrics.then_some(metric_points),
        token_names,
    })
}

/// What the cost-by-owner charts rank: the values of `by_owner` groups.
pub const OWNER_DIMENSIONS: [Dimension; 3] = [Dimension::Service, Dimension::Agent, Dimension::Token];

/// What the span charts are drawn from.
pub struct ChartGroups {
    /// Per time bucket and model (the model the only value).
    pub by_model: Vec<UsageGroup>,
    /// Over the whole range, per [`OWNER_DIMENSIONS`].
    pub by_owner: Vec<UsageGroup>,
}

fn token_ids(by_owner: &[UsageGroup]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = by_owner
        .iter()
        .map(|group| owner(group, Dimension::Token))
        .filter_map(|value| Uuid::parse_str(value).ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The time buckets of the range, in order, and each one's label: the
/// request zone's hours, days and Monday weeks (see [`usage::bucket_starts`]).
pub fn buckets(request: &UsageRequest, zone: &DisplayZone) -> Vec<(i64, String)> {
    let format = match request.granularity {
        Granularity::Hour => "%d %b %H:%M",
        Granularity::Week => "w/c %d %b",
        _ => "%d %b",
    };
    usage::bucket_starts(request)
        .into_iter()
        .map(|start| {
            let shown = start.saturating_add(zone.offset_seconds(start) * 1_000_000_000);
            let label = chrono::DateTime::from_timestamp_nanos(shown)
                .format(format)
                .to_string();
            (start, label)
        })
        .collect()
}

/// The bucket of [`buckets`] holding `time_ns`, if one does before `until_ns`.
pub fn bucket_index(buckets: &[(i64, String)], until_ns: i64, time_ns: i64) -> Option<usize> {
    if time_ns >= until_ns {
        return None;
    }
    buckets
        .partition_point(|(start, _)| *start <= time_ns)
        .checked_sub(1)
}

/// The title of the charts' period column, naming the zone of the labels.
pub fn period_title(request: &UsageRequest, zone: &DisplayZone) -> String {
    match request.granularity {
        Granularity::Hour => zone.titled("Hour"),
        Granularity::Day => zone.titled("Day"),
        Granularity::Week => zone.titled("Week"),
        Granularity::Total => zone.titled("Period"),
    }
}

/// The value of `dimension` in a group read by [`OWNER_DIMENSIONS`].
pub fn owner(group: &UsageGroup, dimension: Dimension) -> &str {
    let position = OWNER_DIMENSIONS
        .iter()
        .position(|candidate| *candidate == dimension)
        .unwrap_or_default();
    group.values.get(position).map(String::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_590_400_000_000_000; // 2025-12-01T12:00:00Z

    #[test]
    fn quick_ranges_end_now_and_custom_windows_pass_through() {
        let query = usage_query(None, None, None, NOW).unwrap();
        assert_eq!(query.since, Some((NOW - 30 * 24 * HOUR_NS).to_string()));
        let query = usage_query(Some("24h"), Some("ignored".into()), None, NOW).unwrap();
        assert_eq!(query.since, Some((NOW - 24 * HOUR_NS).to_string()));
        let query = usage_query(Some("custom"), Some("2025-11-01T00:00".into()), None, NOW).unwrap();
        assert_eq!(query.since.as_deref(), Some("2025-11-01T00:00"));
        assert!(usage_query(Some("1y"), None, None, NOW).is_err());
    }

    #[test]
    fn local_days_and_weeks_follow_the_clock_changes() {
        let berlin = DisplayZone::resolve(false, Some("Europe/Berlin"));
        // 2026-03-28T12:00Z to 2026-03-31T00:00Z: 28, 29 (23 hours) and 30 March.
        let since = 1_774_699_200_000_000_000;
        let mut request = UsageRequest {
            since_ns: since,
            until_ns: since + 50 * HOUR_NS,
            granularity: Granularity::Day,
            group_by: Vec::new(),
            filters: Vec::new(),
            zone: berlin.tz(),
        };
        let days = buckets(&request, &berlin);
        let labels: Vec<&str> = days.iter().map(|(_, label)| label.as_str()).collect();
        assert_eq!(labels, ["28 Mar", "29 Mar", "30 Mar"]);
        // Midnight of 28 March is 23:00 UTC the day before.
        assert_eq!(days[0].0, since - 13 * HOUR_NS);
        assert_eq!(days[2].0 - days[1].0, 23 * HOUR_NS);
        request.granularity = Granularity::Week;
        request.until_ns = since + 20 * 24 * HOUR_NS;
        let weeks = buckets(&request, &berlin);
        let labels: Vec<&str> = weeks.iter().map(|(_, label)| label.as_str()).collect();
        assert_eq!(labels, ["w/c 23 Mar", "w/c 30 Mar", "w/c 06 Apr", "w/c 13 Apr"]);
        // Monday 30 March begins at 22:00 UTC on the 29th (summer time).
        assert_eq!(weeks[1].0, since + 34 * HOUR_NS);
        assert_eq!(period_title(&request, &berlin), "Week (Europe/Berlin)");
    }

    #[test]
    fn the_time_axis_covers_the_range_without_gaps() {
        let request = UsageRequest::parse(&usage_query(Some("7d"), None, None, NOW).unwrap(), NOW).unwrap();
        let days = buckets(&request, &DisplayZone::default());
        assert_eq!(request.granularity, Granularity::Day);
        // 7 days from midday to midday touch 8 calendar days.
        assert_eq!(days.len(), 8);
        assert_eq!(days[0].1, "24 Nov");
        assert_eq!(days[7].1, "01 Dec");
        let request = UsageRequest::parse(&usage_query(Some("24h"), None, None, NOW).unwrap(), NOW).unwrap();
        assert_eq!(buckets(&request, &DisplayZone::default()).len(), 24);
    }
}
