//! Usage rollups, kept up to date at ingest: per organization, hour,
//! model, provider, service, agent and API token, the requests, errors,
//! tokens, cost and a latency histogram of the spans that used a model;
//! and the same sums per day, for long ranges.
//!
//! Dashboards read these rows and never scan spans, so their cost grows
//! with the number of hours and distinct keys, not with traffic. Every
//! counter is a sum, so the writer folds a batch's new spans into one delta
//! per key and adds it with `ON CONFLICT … DO UPDATE SET c = c + excluded.c`:
//! exact on either database, and safe with several replicas writing the
//! same row. The latency histogram has fixed log-scale buckets (one column
//! each) so that percentiles can be read from sums of rollups.

use std::{collections::HashMap, sync::LazyLock};

use sea_orm::{DbErr, Statement, Value};
use uuid::Uuid;

use crate::{
    platform::services::transaction::{WriteTransaction, placeholder, value_groups},
    telemetry::services::{
        span::{
            genai::LlmKind,
            normalized::NormalizedSpan,
            record::{SpanRecord, StatusCode},
        },
        span_store::SpanRow,
    },
};

/// Nanoseconds per rollup bucket: one hour.
pub const HOUR_NS: i64 = 3_600_000_000_000;

/// Latency buckets. Bucket 0 holds durations up to 1 ms; bucket `i` in
/// `1..LAST_BUCKET` holds (2^((i-1)/2), 2^(i/2)] ms, a factor of √2 each, so
/// a percentile read from the histogram is within 41% of the exact value;
/// the last holds everything above 2^22 ms (70 minutes).
pub const LATENCY_BUCKETS: usize = 46;
const LAST_BUCKET: usize = LATENCY_BUCKETS - 1;

/// The column of latency bucket `index`: `latency_00` …
pub fn latency_column(index: usize) -> String {
    format!("latency_{index:02}")
}

/// The inclusive upper bound of bucket `index` in whole nanoseconds (the
/// migration that rolls up older spans compares against the same numbers).
pub fn bucket_upper_ns(index: usize) -> i64 {
    (2f64.powf(index as f64 / 2.0) * 1e6).floor() as i64
}

static UPPER_BOUNDS_NS: LazyLock<[i64; LAST_BUCKET]> = LazyLock::new(|| std::array::from_fn(bucket_upper_ns));

/// The bucket a duration falls in.
pub fn latency_bucket(duration_ns: i64) -> usize {
    UPPER_BOUNDS_NS.partition_point(|&upper| upper < duration_ns)
}

/// The bounds of bucket `index` in milliseconds: (exclusive lower, inclusive upper).
pub fn bucket_bounds_ms(index: usize) -> (f64, f64) {
    let upper = |i: usize| bucket_upper_ns(i) as f64 / 1e6;
    match index {
        0 => (0.0, upper(0)),
        i if i >= LAST_BUCKET => (upper(LAST_BUCKET - 1), upper(LAST_BUCKET)),
        i => (upper(i - 1), upper(i)),
    }
}

/// The `quantile` (0 to 1) of the durations counted in `counts`, in
/// milliseconds, interpolated inside its bucket; `None` without data.
pub fn percentile_ms(counts: &[i64], quantile: f64) -> Option<f64> {
    let total: i64 = counts.iter().map(|count| (*count).max(0)).sum();
    if total == 0 || !quantile.is_finite() {
        return None;
    }
    // The rank of the wanted duration among the sorted durations (1-based).
    let rank = (quantile.clamp(0.0, 1.0) * total as f64).ceil().max(1.0);
    let mut below = 0i64;
    for (index, &count) in counts.iter().enumerate() {
        let count = count.max(0);
        if count > 0 && (below + count) as f64 >= rank {
            let (lower, upper) = bucket_bounds_ms(index);
            let within = (rank - below as f64) / count as f64;
            return Some(lower + (upper - lower) * within);
        }
        below += count;
    }
    None
}

/// What a rollup row is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UsageKey {
    pub org_id: Uuid,
    pub hour_ns: i64,
    pub model: String,
    pub provider: String,
    pub service_name: String,
    pub agent: String,
    /// The API token that sent the spans; the nil id for spans stored
    /// without one (the demo trace).
    pub token_id: Uuid,
}

/// The counters of one rollup row, or what a batch adds to one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageCounters {
    pub requests: i64,
    pub errors: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    pub cost_nanos: i64,
    pub unpriced: i64,
    /// Total duration of the requests, for means.
    pub duration_ns: i64,
    pub latency: [i64; LATENCY_BUCKETS],
}

// Arrays this long have no derived `Default`.
impl Default for UsageCounters {
    fn default() -> Self {
        Self {
            requests: 0,
            errors: 0,
            input_tokens: 0,
            output_tokens: 0,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
            cost_nanos: 0,
            unpriced: 0,
            duration_ns: 0,
            latency: [0; LATENCY_BUCKETS],
        }
    }
}

/// The counter columns, in the order [`UsageCounters::push_values`] binds them.
pub const COUNTER_COLUMNS: &[&str] = &[
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_nanos",
    "unpriced",
    "duration_ns",
];

const KEY_COLUMNS: &[&str] = &[
    "org_id",
    "hour_ns",
    "model",
    "provider",
    "service_name",
    "agent",
    "token_id",
];

/// Whether a span counts in the usage rollups: model calls, and any span
/// that reports tokens or has a cost (so the rollups' cost is exactly the
/// sum of the spans' costs).
pub fn is_usage(row: &SpanRow) -> bool {
    counts_as_request(row.llm_kind)
        || row.cost_nanos.is_some()
        || row.unpriced
        || row.tokens.input.is_some()
        || row.tokens.output.is_some()
}

fn counts_as_request(llm_kind: &str) -> bool {
    llm_kind == LlmKind::Request.as_str() || llm_kind == LlmKind::Embedding.as_str()
}

impl UsageCounters {
    pub fn add(&mut self, row: &SpanRow) {
        let tokens = row.tokens;
        if counts_as_request(row.llm_kind) {
            let duration = row.end_time_ns.saturating_sub(row.start_time_ns).max(0);
            self.requests += 1;
            self.errors += i64::from(row.status_code == StatusCode::Error);
            self.duration_ns = self.duration_ns.saturating_add(duration);
            self.latency[latency_bucket(duration)] += 1;
        }
        self.input_tokens += tokens.input.unwrap_or(0);
        self.output_tokens += tokens.output.unwrap_or(0);
        self.cache_read_tokens += tokens.cache_read.unwrap_or(0);
        self.cache_write_tokens += tokens.cache_write.unwrap_or(0);
        self.reasoning_tokens += tokens.reasoning.unwrap_or(0);
        self.cost_nanos = self.cost_nanos.saturating_add(row.cost_nanos.unwrap_or(0));
        self.unpriced += i64::from(row.unpriced);
    }

    /// Adds another row's counters (when reading several rollups as one).
    pub fn merge(&mut self, other: &UsageCounters) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
        self.cost_nanos = self.cost_nanos.saturating_add(other.cost_nanos);
        self.unpriced += other.unpriced;
        self.duration_ns = self.duration_ns.saturating_add(other.duration_ns);
        for (mine, theirs) in self.latency.iter_mut().zip(other.latency) {
            *mine += theirs;
        }
    }

    fn push_values(&self, values: &mut Vec<Value>) {
        values.extend([
            self.requests.into(),
            self.errors.into(),
            self.input_tokens.into(),
            self.output_tokens.into(),
            self.cache_read_tokens.into(),
            self.cache_write_tokens.into(),
            self.reasoning_tokens.into(),
            self.cost_nanos.into(),
            self.unpriced.into(),
            self.duration_ns.into(),
        ]);
        values.extend(self.latency.iter().map(|count| Value::from(*count)));
    }
}

/// The agent a span's usage is attributed to: the nearest enclosing agent
/// span in the same export (named by `gen_ai.agent.name` when it has one),
/// else the root span when the export holds it. Exporters batch a trace's
/// spans together, so this is nearly always known; when it is not, the
/// usage is unattributed (empty) rather than guessed.
pub fn attribute_agents(spans: &[NormalizedSpan]) -> Vec<Option<String>> {
    let by_span_id: HashMap<(&str, &str), usize> = spans
        .iter()
        .enumerate()
        .map(|(index, span)| {
            (
                (span.record.trace_id.as_str(), span.record.span_id.as_str()),
                index,
            )
        })
        .collect();
    let agent_name = |record: &SpanRecord| {
        record
            .attributes
            .get("gen_ai.agent.name")
            .and_then(serde_json::Value::as_str)
            .filter(|name| !name.is_empty())
            .unwrap_or(&record.name)
            .to_owned()
    };
    spans
        .iter()
        .map(|span| {
            let mut current = span;
            // Bounded: a parent cycle in bad input must not loop forever.
            for _ in 0..64 {
                if current.llm.kind == LlmKind::Agent {
                    return Some(agent_name(&current.record));
                }
                let Some(parent) = current.record.parent_span_id.as_deref() else {
                    return Some(current.record.name.clone());
                };
                match by_span_id.get(&(current.record.trace_id.as_str(), parent)) {
                    Some(&index) => current = &spans[index],
                    None => return None,
                }
            }
            None
        })
        .collect()
}

/// The hour a time falls in.
pub fn hour_of(time_ns: i64) -> i64 {
    RollupPeriod::Hour.start_of(time_ns)
}

/// Rollup rows per statement at most: 63 parameters each stays below
/// SQLite's and PostgreSQL's limits on bound parameters.
const USAGE_CHUNK: usize = 200;

/// Nanoseconds per day (UTC days: the dashboards label periods in UTC).
pub const DAY_NS: i64 = 24 * HOUR_NS;

/// Deletes the organization's usage rollups (hourly and daily) sent with
/// `token_id`: everything that token's spans added to them.
pub async fn delete_rollups_of_token(
    txn: &impl WriteTransaction,
    org_id: Uuid,
    token_id: Uuid,
) -> Result<u64, DbErr> {
    let backend = txn.backend();
    let mut deleted = 0;
    for period in [RollupPeriod::Hour, RollupPeriod::Day] {
        let sql = format!(
            "DELETE FROM {} WHERE org_id = {} AND token_id = {}",
            period.table(),
            placeholder(backend, 1),
            placeholder(backend, 2)
        );
        deleted += txn
            .execute_statement(Statement::from_sql_and_values(
                backend,
                sql,
                [org_id.into(), token_id.into()],
            ))
            .await?
            .rows_affected;
    }
    Ok(deleted)
}

/// The two tables of usage rollups: the same sums per hour and per day. A
/// month reads some thirty day rows per key instead of 720 hour rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RollupPeriod {
    Hour,
    Day,
}

impl RollupPeriod {
    pub fn table(self) -> &'static str {
        match self {
            RollupPeriod::Hour => "usage_rollups",
            RollupPeriod::Day => "usage_daily_rollups",
        }
    }

    /// The key column holding the period's start.
    pub fn time_column(self) -> &'static str {
        match self {
            RollupPeriod::Hour => "hour_ns",
            RollupPeriod::Day => "day_ns",
        }
    }

    pub fn length_ns(self) -> i64 {
        match self {
            RollupPeriod::Hour => HOUR_NS,
            RollupPeriod::Day => DAY_NS,
        }
    }

    /// The start of the period a time falls in.
    pub fn start_of(self, time_ns: i64) -> i64 {
        time_ns - time_ns.rem_euclid(self.length_ns())
    }
}

/// Adds the hourly deltas to the hourly rollups and, summed per day, to
/// the daily ones, in the caller's transaction.
pub async fn upsert(
    txn: &impl WriteTransaction,
    mut deltas: Vec<(UsageKey, UsageCounters)>,
) -> Result<(), DbErr> {
    // In key order: two replicas' commits then lock shared rows in the same
    // order and cannot deadlock on PostgreSQL.
    deltas.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
    let mut by_day: HashMap<UsageKey, UsageCounters> = HashMap::with_capacity(deltas.len());
    for (key, counters) in &deltas {
        let day = UsageKey {
            hour_ns: RollupPeriod::Day.start_of(key.hour_ns),
            ..key.clone()
        };
        by_day.entry(day).or_default().merge(counters);
    }
    add_to(txn, RollupPeriod::Hour, &deltas).await?;
    // The key's `hour_ns` holds the day's start here.
    let mut by_day: Vec<(UsageKey, UsageCounters)> = by_day.into_iter().collect();
    by_day.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
    add_to(txn, RollupPeriod::Day, &by_day).await
}

/// Adds `deltas` to the rows of `period`'s table, keyed by `hour_ns` as
/// that period's start.
async fn add_to(
    txn: &impl WriteTransaction,
    period: RollupPeriod,
    deltas: &[(UsageKey, UsageCounters)],
) -> Result<(), DbErr> {
    let backend = txn.backend();
    let table = period.table();
    let latency_columns: Vec<String> = (0..LATENCY_BUCKETS).map(latency_column).collect();
    let counter_columns: Vec<&str> = COUNTER_COLUMNS
        .iter()
        .copied()
        .chain(latency_columns.iter().map(String::as_str))
        .collect();
    let key_columns: Vec<&str> = KEY_COLUMNS
        .iter()
        .map(|column| {
            if *column == "hour_ns" {
                period.time_column()
            } else {
                column
            }
        })
        .collect();
    let columns = key_columns.len() + counter_columns.len();
    let updates = counter_columns
        .iter()
        .map(|column| format!("{column} = {table}.{column} + excluded.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    for chunk in deltas.chunks(USAGE_CHUNK) {
        let mut values = Vec::with_capacity(chunk.len() * columns);
        for (key, counters) in chunk {
            values.extend([
                key.org_id.into(),
                key.hour_ns.into(),
                key.model.clone().into(),
                key.provider.clone().into(),
                key.service_name.clone().into(),
                key.agent.clone().into(),
                key.token_id.into(),
            ]);
            counters.push_values(&mut values);
        }
        let sql = format!(
            "INSERT INTO {table} ({}, {}) VALUES {} ON CONFLICT ({}) DO UPDATE SET {updates}",
            key_columns.join(", "),
            counter_columns.join(", "),
            value_groups(backend, chunk.len(), columns),
            key_columns.join(", "),
        );
        txn.execute_statement(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// The key of a usage span in a batch of `org_id` sent with `token_id`.
pub fn key_of(org_id: Uuid, token_id: Option<Uuid>, row: &SpanRow) -> UsageKey {
    UsageKey {
        org_id,
        hour_ns: hour_of(row.start_time_ns),
        model: row.model.clone().unwrap_or_default(),
        provider: row.provider.clone().unwrap_or_default(),
        service_name: row.service_name.clone(),
        agent: row.agent.clone().unwrap_or_default(),
        token_id: token_id.unwrap_or(Uuid::nil()),
    }
}

/// Accumulates a batch's new usage spans, one delta per key.
#[derive(Default)]
pub struct UsageDeltas {
    by_key: HashMap<UsageKey, UsageCounters>,
}

impl UsageDeltas {
    pub fn add(&mut self, org_id: Uuid, token_id: Option<Uuid>, row: &SpanRow) {
        if is_usage(row) {
            self.by_key
                .entry(key_of(org_id, token_id, row))
                .or_default()
                .add(row);
        }
    }

    pub fn into_rows(self) -> Vec<(UsageKey, UsageCounters)> {
        self.by_key.into_iter().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::services::span::{genai::LlmFields, record::SpanKind};

    const MS: i64 = 1_000_000;

    #[test]
    fn buckets_grow_by_root_two_with_inclusive_upper_bounds() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(MS), 0);
        assert_eq!(latency_bucket(MS + 1), 1);
        assert_eq!(latency_bucket(2 * MS), 2);
        assert_eq!(latency_bucket(2 * MS + 1), 3);
        assert_eq!(latency_bucket(1_000 * MS), 20); // 2^9.97 ms
        assert_eq!(latency_bucket(i64::MAX), LAST_BUCKET);
        assert_eq!(latency_bucket(-5), 0);
        for index in 1..LAST_BUCKET {
            let (lower, upper) = bucket_bounds_ms(index);
            let ratio = upper / lower;
            assert!(
                (ratio - std::f64::consts::SQRT_2).abs() < 1e-6,
                "bucket {index}: {ratio}"
            );
            assert_eq!(latency_bucket(bucket_upper_ns(index)), index);
            assert_eq!(latency_bucket(bucket_upper_ns(index - 1) + 1), index);
        }
    }

    #[test]
    fn percentiles_interpolate_inside_the_bucket() {
        let mut counts = [0; LATENCY_BUCKETS];
        assert_eq!(percentile_ms(&counts, 0.5), None);
        // 90 fast calls at 10 ms, 10 slow ones at 1 s.
        counts[latency_bucket(10 * MS)] = 90;
        counts[latency_bucket(1_000 * MS)] = 10;
        let p50 = percentile_ms(&counts, 0.5).unwrap();
        let (lower, upper) = bucket_bounds_ms(latency_bucket(10 * MS));
        assert!(p50 > lower && p50 <= upper, "{p50}");
        let p95 = percentile_ms(&counts, 0.95).unwrap();
        let (lower, upper) = bucket_bounds_ms(latency_bucket(1_000 * MS));
        assert!(p95 > lower && p95 <= upper, "{p95}");
        assert_eq!(percentile_ms(&counts, 1.0), Some(upper));
        assert_eq!(percentile_ms(&counts, f64::NAN), None);
    }

    #[test]
    fn percentiles_stay_within_a_bucket_of_the_exact_value() {
        // Durations spread over four orders of magnitude.
        let durations: Vec<i64> = (1..=1000).map(|i| i * i * 7_919).collect();
        let mut counts = [0; LATENCY_BUCKETS];
        for &duration in &durations {
            counts[latency_bucket(duration)] += 1;
        }
        for quantile in [0.5, 0.9, 0.95, 0.99] {
            let rank = (quantile * durations.len() as f64).ceil() as usize;
            let exact = durations[rank - 1];
            let (lower, upper) = bucket_bounds_ms(latency_bucket(exact));
            let estimate = percentile_ms(&counts, quantile).unwrap();
            assert!(
                estimate > lower && estimate <= upper,
                "q{quantile}: {estimate} vs {exact} ns"
            );
        }
    }

    #[test]
    fn hours_start_on_the_hour_even_before_1970() {
        assert_eq!(hour_of(HOUR_NS + 5), HOUR_NS);
        assert_eq!(hour_of(HOUR_NS), HOUR_NS);
        assert_eq!(hour_of(-1), -HOUR_NS);
    }

    fn record(span_id: &str, parent: Option<&str>, name: &str, kind: LlmKind) -> NormalizedSpan {
        let record = SpanRecord {
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            span_id: span_id.into(),
            parent_span_id: parent.map(str::to_owned),
            name: name.into(),
            kind: SpanKind::Internal,
            start_time_ns: 0,
            end_time_ns: 0,
            status_code: StatusCode::Unset,
            status_message: None,
            service_name: "agent".into(),
            resource_attributes: Default::default(),
            scope: Default::default(),
            attributes: Default::default(),
            events: Vec::new(),
            links: Vec::new(),
        };
        NormalizedSpan {
            record,
            policy: Default::default(),
            llm: LlmFields {
                kind,
                ..Default::default()
            },
            cost: crate::telemetry::services::span::cost::SpanCost::NotApplicable,
        }
    }

    #[test]
    fn usage_goes_to_the_nearest_agent_or_the_root() {
        let mut named = record(
            "0000000000000002",
            Some("0000000000000001"),
            "invoke_agent",
            LlmKind::Agent,
        );
        named
            .record
            .attributes
            .insert("gen_ai.agent.name".into(), "planner".into());
        let records = vec![
            record("0000000000000001", None, "workflow run", LlmKind::Other),
            named,
            record(
                "0000000000000003",
                Some("0000000000000002"),
                "chat",
                LlmKind::Request,
            ),
            record(
                "0000000000000004",
                Some("0000000000000001"),
                "chat",
                LlmKind::Request,
            ),
            record(
                "0000000000000005",
                Some("00000000000000ff"),
                "chat",
                LlmKind::Request,
            ),
            // A parent cycle ends, unattributed.
            record(
                "0000000000000006",
                Some("0000000000000007"),
                "a",
                LlmKind::Request,
            ),
            record(
                "0000000000000007",
                Some("0000000000000006"),
                "b",
                LlmKind::Request,
            ),
        ];
        let agents = attribute_agents(&records);
        assert_eq!(
            agents,
            [
                Some("workflow run".to_owned()),
                Some("planner".to_owned()),
                Some("planner".to_owned()),
                Some("workflow run".to_owned()),
                None,
                None,
                None,
            ]
        );
    }
}
