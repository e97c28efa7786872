//! Reading the usage rollups: sums over a range of hours, by time bucket
//! and by any of model, provider, service, agent and API token. The time
//! bucketing and grouping happen in SQL, so a report reads as many rows as
//! it has groups, whatever the traffic behind them; whole days come from
//! the daily rollups, so a month sums a few rows per key, not 720.

use std::collections::{BTreeMap, HashMap};

use entity::api_token;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryResult, QuerySelect,
    Statement, Value,
};
use uuid::Uuid;

mod periods;

use crate::{
    costs::types::{UsageFigures, UsageQuery, UsageReport, UsageRow},
    error::{AppError, Result},
    platform::services::transaction::placeholder,
    telemetry::services::{
        ingest::usage::{
            COUNTER_COLUMNS, DAY_NS, HOUR_NS, LATENCY_BUCKETS, RollupPeriod, UsageCounters, hour_of,
            latency_column, percentile_ms,
        },
        span_store::parse_time,
    },
};

const WEEK_NS: i64 = 7 * DAY_NS;
/// 1970-01-05, the first Monday after the epoch: weeks start on Mondays.
const WEEK_OFFSET_NS: i64 = 4 * DAY_NS;
/// The longest range a report covers.
const MAX_RANGE_NS: i64 = 400 * DAY_NS;
const DEFAULT_RANGE_NS: i64 = 30 * DAY_NS;

/// How rollup hours are gathered into a report's time buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
    Week,
    /// The whole range as one bucket.
    Total,
}

impl Granularity {
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
            Granularity::Week => "week",
            Granularity::Total => "total",
        }
    }

    /// What `auto` picks: a few dozen to a hundred buckets.
    pub fn for_range(range_ns: i64) -> Self {
        if range_ns <= 2 * DAY_NS {
            Granularity::Hour
        } else if range_ns <= 90 * DAY_NS {
            Granularity::Day
        } else {
            Granularity::Week
        }
    }

    fn parse(text: Option<&str>, range_ns: i64) -> Result<Self> {
        match text.unwrap_or("auto") {
            "auto" | "" => Ok(Self::for_range(range_ns)),
            "hour" => Ok(Granularity::Hour),
            "day" => Ok(Granularity::Day),
            "week" => Ok(Granularity::Week),
            "total" => Ok(Granularity::Total),
            other => Err(AppError::BadRequest(format!(
                "`granularity` must be one of auto, hour, day, week, total, got {other:?}"
            ))),
        }
    }
}

/// What a report can be grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dimension {
    Model,
    Provider,
    Service,
    Agent,
    Token,
}

impl Dimension {
    pub const ALL: [Dimension; 5] = [
        Dimension::Model,
        Dimension::Provider,
        Dimension::Service,
        Dimension::Agent,
        Dimension::Token,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Model => "model",
            Dimension::Provider => "provider",
            Dimension::Service => "service",
            Dimension::Agent => "agent",
            Dimension::Token => "token",
        }
    }

    fn column(self) -> &'static str {
        match self {
            Dimension::Model => "model",
            Dimension::Provider => "provider",
            Dimension::Service => "service_name",
            Dimension::Agent => "agent",
            Dimension::Token => "token_id",
        }
    }

    fn parse_list(text: Option<&str>) -> Result<Vec<Dimension>> {
        let mut dimensions = Vec::new();
        for name in text
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            let dimension = Self::ALL
                .into_iter()
                .find(|dimension| dimension.as_str() == name)
                .ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "`group_by` takes model, provider, service, agent and token, got {name:?}"
                    ))
                })?;
            if !dimensions.contains(&dimension) {
                dimensions.push(dimension);
            }
        }
        Ok(dimensions)
    }
}

/// A checked usage request.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageRequest {
    pub since_ns: i64,
    pub until_ns: i64,
    pub granularity: Granularity,
    pub group_by: Vec<Dimension>,
    /// Dimension values the rollups must have.
    pub filters: Vec<(Dimension, String)>,
    /// Whose clock days and weeks follow; UTC when none.
    pub zone: Option<chrono_tz::Tz>,
}

impl UsageRequest {
    /// Checks `query`, with `now_ns` for the default range.
    pub fn parse(query: &UsageQuery, now_ns: i64) -> Result<Self> {
        let text = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
        let until = match text(&query.until) {
            Some(until) => parse_time("until", &until)?,
            None => now_ns,
        };
        let since = match text(&query.since) {
            Some(since) => parse_time("since", &since)?,
            None => until.saturating_sub(DEFAULT_RANGE_NS),
        };
        // Whole hours: the rollups' resolution.
        let since_ns = hour_of(since.max(0));
        let until_ns = hour_of(until.max(0).saturating_add(HOUR_NS - 1));
        if until_ns <= since_ns {
            return Err(AppError::BadRequest("`until` must be after `since`".into()));
        }
        if until_ns - since_ns > MAX_RANGE_NS {
            return Err(AppError::BadRequest(
                "a usage report covers at most 400 days".into(),
            ));
        }
        let mut filters = Vec::new();
        for (dimension, value) in [
            (Dimension::Model, &query.model),
            (Dimension::Provider, &query.provider),
            (Dimension::Service, &query.service),
            (Dimension::Agent, &query.agent),
            (Dimension::Token, &query.token),
        ] {
            if let Some(value) = value {
                if dimension == Dimension::Token && Uuid::parse_str(value).is_err() {
                    return Err(AppError::BadRequest(format!(
                        "`token` must be a token id, got {value:?}"
                    )));
                }
                filters.push((dimension, value.clone()));
            }
        }
        Ok(Self {
            since_ns,
            until_ns,
            granularity: Granularity::parse(query.granularity.as_deref(), until_ns - since_ns)?,
            group_by: Dimension::parse_list(query.group_by.as_deref())?,
            filters,
            zone: None,
        })
    }
}

/// One row read back: its bucket, its dimension values and its sums.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageGroup {
    pub time_ns: i64,
    /// Values of the request's `group_by` dimensions, in that order.
    pub values: Vec<String>,
    pub counters: UsageCounters,
}

pub(crate) use periods::{bucket_starts, parts};

/// The groups of `org_id`'s rollups that `request` asks for, in time order
/// and, within a bucket, in the order of their dimension values.
pub async fn groups(
    db: &DatabaseConnection,
    org_id: Uuid,
    request: &UsageRequest,
) -> Result<Vec<UsageGroup>> {
    let parts = parts(request);
    let of_period = |period: RollupPeriod| -> Vec<(i64, i64)> {
        parts
            .iter()
            .filter(|(part_period, _, _)| *part_period == period)
            .map(|(_, since_ns, until_ns)| (*since_ns, *until_ns))
            .collect()
    };
    let (hour_ranges, day_ranges) = (of_period(RollupPeriod::Hour), of_period(RollupPeriod::Day));
    // At once: SQLite computes one query on one core.
    let (hours, days) = tokio::try_join!(
        groups_in(db, org_id, request, RollupPeriod::Hour, &hour_ranges),
        groups_in(db, org_id, request, RollupPeriod::Day, &day_ranges),
    )?;
    if days.is_empty() || hours.is_empty() {
        return Ok(if days.is_empty() { hours } else { days });
    }
    // A bucket can take rows from both rollups.
    let mut merged: BTreeMap<(i64, Vec<String>), UsageCounters> = BTreeMap::new();
    for group in hours.into_iter().chain(days) {
        merged
            .entry((group.time_ns, group.values))
            .or_default()
            .merge(&group.counters);
    }
    Ok(merged
        .into_iter()
        .map(|((time_ns, values), counters)| UsageGroup {
            time_ns,
            values,
            counters,
        })
        .collect())
}

/// The groups of `period`'s rollups in `ranges` (parts of the request's
/// range), bucketed as the request says.
async fn groups_in(
    db: &DatabaseConnection,
    org_id: Uuid,
    request: &UsageRequest,
    period: RollupPeriod,
    ranges: &[(i64, i64)],
) -> Result<Vec<UsageGroup>> {
    if ranges.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let time_column = period.time_column();
    let time = periods::bucket_sql(request, time_column);
    let dimensions: Vec<&str> = request
        .group_by
        .iter()
        .map(|dimension| dimension.column())
        .collect();
    // PostgreSQL sums bigints as numeric; both read back a bigint.
    let sums: Vec<String> = COUNTER_COLUMNS
        .iter()
        .map(|column| column.to_string())
        .chain((0..LATENCY_BUCKETS).map(latency_column))
        .map(|column| format!("CAST(SUM({column}) AS BIGINT) AS {column}"))
        .collect();
    let mut values: Vec<Value> = Vec::new();
    // Each range names the organization itself, so that every one is a
    // range of the rollups' primary key on both databases.
    let mut in_ranges = Vec::with_capacity(ranges.len());
    for (since_ns, until_ns) in ranges {
        values.extend([org_id.into(), (*since_ns).into(), (*until_ns).into()]);
        let number = values.len();
        in_ranges.push(format!(
            "(org_id = {} AND {time_column} >= {} AND {time_column} < {})",
            placeholder(backend, number - 2),
            placeholder(backend, number - 1),
            placeholder(backend, number),
        ));
    }
    let mut conditions = vec![format!("({})", in_ranges.join(" OR "))];
    for (dimension, value) in &request.filters {
        values.push(match dimension {
            Dimension::Token => Uuid::parse_str(value).unwrap_or_default().into(),
            _ => value.clone().into(),
        });
        conditions.push(format!(
            "{} = {}",
            dimension.column(),
            placeholder(backend, values.len())
        ));
    }
    let selected: Vec<String> = std::iter::once(format!("{time} AS bucket"))
        .chain(dimensions.iter().map(|column| column.to_string()))
        .chain(sums)
        .collect();
    let grouped: Vec<String> = std::iter::once("bucket".to_owned())
        .chain(dimensions.iter().map(|column| column.to_string()))
        .collect();
    let sql = format!(
        "SELECT {} FROM {} WHERE {} GROUP BY {} ORDER BY {}",
        selected.join(", "),
        period.table(),
        conditions.join(" AND "),
        grouped.join(", "),
        grouped.join(", "),
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    rows.iter()
        .map(|row| {
            let mut group = read_group(row, &request.group_by)?;
            group.time_ns = periods::bucket_start(request, group.time_ns);
            Ok(group)
        })
        .collect()
}

/// A row of [`groups_in`]'s query, read by position (the bucket, the
/// dimensions, the counters, the latency buckets): by name, each of the
/// 57 columns would be a search through the row's column names.
fn read_group(row: &QueryResult, group_by: &[Dimension]) -> Result<UsageGroup> {
    let number =
        |index: usize| -> Result<i64> { Ok(row.try_get_by_index::<Option<i64>>(index)?.unwrap_or(0)) };
    let mut values = Vec::with_capacity(group_by.len());
    for (index, dimension) in group_by.iter().enumerate() {
        values.push(match dimension {
            Dimension::Token => row.try_get_by_index::<Uuid>(1 + index)?.to_string(),
            _ => row.try_get_by_index::<String>(1 + index)?,
        });
    }
    let counter = |name: &str| -> Result<i64> {
        let position = COUNTER_COLUMNS
            .iter()
            .position(|column| *column == name)
            .unwrap_or_default();
        number(1 + group_by.len() + position)
    };
    let first_latency = 1 + group_by.len() + COUNTER_COLUMNS.len();
    let mut latency = [0; LATENCY_BUCKETS];
    for (index, count) in latency.iter_mut().enumerate() {
        *count = number(first_latency + index)?;
    }
    Ok(UsageGroup {
        time_ns: number(0)?,
        values,
        counters: UsageCounters {
            requests: counter("requests")?,
            errors: counter("errors")?,
            input_tokens: counter("input_tokens")?,
            output_tokens: counter("output_tokens")?,
            cache_read_tokens: counter("cache_read_tokens")?,
            cache_write_tokens: counter("cache_write_tokens")?,
            reasoning_tokens: counter("reasoning_tokens")?,
            cost_nanos: counter("cost_nanos")?,
            unpriced: counter("unpriced")?,
            duration_ns: counter("duration_ns")?,
            latency,
        },
    })
}

/// The figures a report shows for summed counters.
pub fn figures(counters: &UsageCounters) -> UsageFigures {
    UsageFigures {
        requests: counters.requests,
        errors: counters.errors,
        input_tokens: counters.input_tokens,
        output_tokens: counters.output_tokens,
        cache_read_tokens: counters.cache_read_tokens,
        cache_write_tokens: counters.cache_write_tokens,
        reasoning_tokens: counters.reasoning_tokens,
        cost_nanos: counters.cost_nanos,
        unpriced: counters.unpriced,
        mean_latency_ms: (counters.requests > 0)
            .then(|| counters.duration_ns as f64 / counters.requests as f64 / 1e6),
        p50_latency_ms: percentile_ms(&counters.latency, 0.5),
        p95_latency_ms: percentile_ms(&counters.latency, 0.95),
        p99_latency_ms: percentile_ms(&counters.latency, 0.99),
    }
}

/// An API token as usage reports name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenName {
    pub name: String,
    /// The first characters of its secret, as the Tokens page shows them.
    pub prefix: String,
}

impl TokenName {
    /// `name (prefix…)`: names need not be unique, prefixes tell tokens apart.
    pub fn label(&self) -> String {
        match self.name.trim() {
            "" => format!("{}…", self.prefix),
            name => format!("{name} ({}…)", self.prefix),
        }
    }
}

/// The names of the organization's tokens among `ids`.
pub(crate) async fn token_names(
    db: &DatabaseConnection,
    org_id: Uuid,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, TokenName>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let tokens: Vec<(Uuid, String, String)> = api_token::Entity::find()
        .select_only()
        .column(api_token::Column::Id)
        .column(api_token::Column::Name)
        .column(api_token::Column::DisplayPrefix)
        .filter(api_token::Column::OrgId.eq(org_id))
        .filter(api_token::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(tokens
        .into_iter()
        .map(|(id, name, prefix)| (id, TokenName { name, prefix }))
        .collect())
}

/// The usage report for `query` over `org_id`'s rollups.
pub async fn report(
    db: &DatabaseConnection,
    org_id: Uuid,
    query: &UsageQuery,
    now_ns: i64,
) -> Result<UsageReport> {
    let request = UsageRequest::parse(query, now_ns)?;
    let groups = groups(db, org_id, &request).await?;
    let token_position = request
        .group_by
        .iter()
        .position(|dimension| *dimension == Dimension::Token);
    let names = match token_position {
        Some(position) => {
            let ids = groups
                .iter()
                .filter_map(|group| Uuid::parse_str(&group.values[position]).ok())
                .collect();
            token_names(db, org_id, ids).await?
        }
        None => HashMap::new(),
    };
    let mut totals = UsageCounters::default();
    let rows = groups
        .into_iter()
        .map(|group| {
            totals.merge(&group.counters);
            let mut row = UsageRow {
                time_ns: group.time_ns,
                usage: figures(&group.counters),
                ..Default::default()
            };
            for (dimension, value) in request.group_by.iter().zip(group.values) {
                match dimension {
                    Dimension::Model => row.model = Some(value),
                    Dimension::Provider => row.provider = Some(value),
                    Dimension::Service => row.service = Some(value),
                    Dimension::Agent => row.agent = Some(value),
                    Dimension::Token => {
                        let token = Uuid::parse_str(&value).ok().and_then(|id| names.get(&id));
                        row.token_name = token.map(|token| token.name.clone());
                        row.token_prefix = token.map(|token| token.prefix.clone());
                        row.token_id = Some(value);
                    }
                }
            }
            row
        })
        .collect();
    Ok(UsageReport {
        since_ns: request.since_ns,
        until_ns: request.until_ns,
        granularity: request.granularity.as_str().to_owned(),
        group_by: request
            .group_by
            .iter()
            .map(|dimension| dimension.as_str().to_owned())
            .collect(),
        rows,
        totals: figures(&totals),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_590_400_000_000_000; // 2025-12-01T12:00:00Z

    #[test]
    fn the_range_is_whole_hours_and_defaults_to_thirty_days() {
        let request = UsageRequest::parse(&UsageQuery::default(), NOW + 5).unwrap();
        assert_eq!(request.until_ns, NOW + HOUR_NS);
        assert_eq!(request.since_ns, NOW - 30 * DAY_NS);
        assert_eq!(request.granularity, Granularity::Day);
        let request = UsageRequest::parse(
            &UsageQuery {
                since: Some("2025-12-01T10:30:00Z".into()),
                until: Some("2025-12-01T12:00:00Z".into()),
                ..Default::default()
            },
            NOW,
        )
        .unwrap();
        assert_eq!(request.since_ns, NOW - 2 * HOUR_NS);
        assert_eq!(request.until_ns, NOW);
        assert_eq!(request.granularity, Granularity::Hour);
    }

    #[test]
    fn bad_parameters_say_what_is_wrong() {
        let bad = |query: UsageQuery| match UsageRequest::parse(&query, NOW) {
            Err(AppError::BadRequest(message)) => message,
            other => panic!("expected a bad request, got {other:?}"),
        };
        assert!(
            bad(UsageQuery {
                granularity: Some("minute".into()),
                ..Default::default()
            })
            .contains("granularity")
        );
        assert!(
            bad(UsageQuery {
                group_by: Some("model,colour".into()),
                ..Default::default()
            })
            .contains("colour")
        );
        assert!(
            bad(UsageQuery {
                token: Some("abc".into()),
                ..Default::default()
            })
            .contains("token")
        );
        assert!(
            bad(UsageQuery {
                since: Some(NOW.to_string()),
                until: Some((NOW - HOUR_NS).to_string()),
                ..Default::default()
            })
            .contains("after")
        );
        assert!(
            bad(UsageQuery {
                since: Some("0".into()),
                until: Some(NOW.to_string()),
                ..Default::default()
            })
            .contains("400 days")
        );
    }

    #[test]
    fn group_by_keeps_the_given_order_once() {
        let request = UsageRequest::parse(
            &UsageQuery {
                group_by: Some("token, model,token".into()),
                ..Default::default()
            },
            NOW,
        )
        .unwrap();
        assert_eq!(request.group_by, vec![Dimension::Token, Dimension::Model]);
    }

    #[test]
    fn auto_granularity_follows_the_range() {
        assert_eq!(Granularity::for_range(DAY_NS), Granularity::Hour);
        assert_eq!(Granularity::for_range(7 * DAY_NS), Granularity::Day);
        assert_eq!(Granularity::for_range(90 * DAY_NS), Granularity::Day);
        assert_eq!(Granularity::for_range(91 * DAY_NS), Granularity::Week);
    }

    #[test]
    fn utc_buckets_start_at_the_hour_midnight_and_monday() {
        // 2025-12-03T15:20Z is a Wednesday.
        let time = 1_764_775_200_000_000_000;
        let first_start = |granularity: Granularity| {
            let request = UsageRequest {
                since_ns: time,
                until_ns: time + 1,
                granularity,
                group_by: Vec::new(),
                filters: Vec::new(),
                zone: None,
            };
            bucket_starts(&request)[0]
        };
        assert_eq!(first_start(Granularity::Hour), 1_764_774_000_000_000_000);
        assert_eq!(first_start(Granularity::Day), 1_764_720_000_000_000_000);
        // Monday 2025-12-01T00:00Z.
        assert_eq!(first_start(Granularity::Week), 1_764_547_200_000_000_000);
        assert_eq!(first_start(Granularity::Total), time);
    }

    #[test]
    fn whole_days_come_from_the_daily_rollups() {
        let request = |since: i64, until: i64, granularity: &str| {
            UsageRequest::parse(
                &UsageQuery {
                    since: Some(since.to_string()),
                    until: Some(until.to_string()),
                    granularity: Some(granularity.into()),
                    ..Default::default()
                },
                NOW,
            )
            .unwrap()
        };
        let midnight = RollupPeriod::Day.start_of(NOW);
        // 30 days to 12:00: 12 hours, 29 days, 12 hours.
        let month = request(NOW - 30 * DAY_NS, NOW, "day");
        assert_eq!(
            parts(&month),
            [
                (RollupPeriod::Hour, NOW - 30 * DAY_NS, midnight - 29 * DAY_NS),
                (RollupPeriod::Day, midnight - 29 * DAY_NS, midnight),
                (RollupPeriod::Hour, midnight, NOW),
            ]
        );
        // Aligned on midnights: days only.
        assert_eq!(
            parts(&request(midnight - 7 * DAY_NS, midnight, "week")),
            [(RollupPeriod::Day, midnight - 7 * DAY_NS, midnight)]
        );
        // Hourly reports, and ranges without a whole day, read hours.
        assert_eq!(
            parts(&request(NOW - 30 * DAY_NS, NOW, "hour")),
            [(RollupPeriod::Hour, NOW - 30 * DAY_NS, NOW)]
        );
        assert_eq!(
            parts(&request(NOW - 20 * HOUR_NS, NOW, "total")),
            [(RollupPeriod::Hour, NOW - 20 * HOUR_NS, NOW)]
        );
        // The parts cover the range exactly, end to end.
        for part in [
            parts(&month),
            parts(&request(NOW - 3 * DAY_NS, NOW + HOUR_NS, "total")),
        ] {
            for pair in part.windows(2) {
                assert_eq!(pair[0].2, pair[1].1);
            }
        }
    }

    #[test]
    fn figures_read_percentiles_from_the_histogram() {
        let mut counters = UsageCounters {
            requests: 100,
            duration_ns: 100 * 20_000_000,
            ..Default::default()
        };
        counters.latency[crate::telemetry::services::ingest::usage::latency_bucket(20_000_000)] = 100;
        let figures = figures(&counters);
        assert_eq!(figures.mean_latency_ms, Some(20.0));
        let p50 = figures.p50_latency_ms.unwrap();
        assert!((16.0..=22.7).contains(&p50), "{p50}");
        assert_eq!(super::figures(&UsageCounters::default()).p95_latency_ms, None);
    }
}
