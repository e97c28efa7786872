//! Cost read-path benchmark: 10,000,000 model calls' worth of usage rollups
//! for one organization, then the 30-day Costs page (server-rendered, with
//! a session cookie) and `GET /api/v1/usage` over HTTP.
//!
//! Ingesting ten million spans would take hours on the bench machine, so
//! the rollup rows are generated and inserted directly, as ingest would
//! have left them: 92 days of hours, 8 models from 3 providers, 5
//! services, 6 agents and 4 API tokens in a sparse, diurnal mix, with
//! `requests` summing to exactly 10,000,000 and latency histograms whose
//! counts add up to the requests. Real traces for the most-expensive list
//! and GenAI metric points go through `/v1/traces` and `/v1/metrics`.
//!
//! `cargo bench -p server --bench costs` (SQLite), with
//! `SPECULA_BENCH_DATABASE=postgres` for PostgreSQL on 127.0.0.1:5432;
//! `SPECULA_BENCH_REQUESTS` (default 10000000) sizes the rollups and
//! `SPECULA_BENCH_SAMPLES` (default 200) the timed requests per read,
//! `SPECULA_BENCH_METRIC_DAYS` (default 31, 0 for none) the days of
//! GenAI metric points;
//! `SPECULA_BENCH_HOLD_SECS` keeps the loaded server up that long before
//! timing, for profiling.

mod support;

use std::time::{Duration, Instant};

use app::telemetry::services::ingest::usage::{self, HOUR_NS, LATENCY_BUCKETS, UsageCounters, UsageKey};
use opentelemetry_proto::tonic::{
    collector::metrics::v1::ExportMetricsServiceRequest,
    metrics::v1::{
        AggregationTemporality, Histogram, HistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics,
        metric::Data,
    },
    resource::v1::Resource,
    trace::v1::{Span, Status},
};
use prost::Message;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement, TransactionTrait};
use serde_json::json;
use support::*;

const DAYS: i64 = 92;
const WARM_UP: usize = 10;

/// A model: name, provider, USD per million input / cached input / output
/// tokens, median latency in ms, error rate, mean input and output tokens.
struct Model {
    name: &'static str,
    provider: &'static str,
    prices: (f64, f64, f64),
    median_ms: f64,
    error_rate: f64,
    tokens: (f64, f64),
}

const MODELS: [Model; 8] = [
    Model {
        name: "gpt-4o",
        provider: "openai",
        prices: (2.5, 1.25, 10.0),
        median_ms: 1800.0,
        error_rate: 0.004,
        tokens: (2400.0, 320.0),
    },
    Model {
        name: "gpt-4o-mini",
        provider: "openai",
        prices: (0.15, 0.075, 0.6),
        median_ms: 900.0,
        error_rate: 0.002,
        tokens: (1500.0, 200.0),
    },
    Model {
        name: "gpt-4.1",
        provider: "openai",
        prices: (2.0, 0.5, 8.0),
        median_ms: 2200.0,
        error_rate: 0.003,
        tokens: (5200.0, 450.0),
    },
    Model {
        name: "o3",
        provider: "openai",
        prices: (2.0, 0.5, 8.0),
        median_ms: 9000.0,
        error_rate: 0.01,
        tokens: (3800.0, 2400.0),
    },
    Model {
        name: "claude-sonnet-4-5",
        provider: "anthropic",
        prices: (3.0, 0.3, 15.0),
        median_ms: 3500.0,
        error_rate: 0.006,
        tokens: (8000.0, 600.0),
    },
    Model {
        name: "claude-haiku-4-5",
        provider: "anthropic",
        prices: (1.0, 0.1, 5.0),
        median_ms: 1100.0,
        error_rate: 0.003,
        tokens: (2000.0, 250.0),
    },
    Model {
        name: "claude-opus-4-1",
        provider: "anthropic",
        prices: (15.0, 1.5, 75.0),
        median_ms: 7000.0,
        error_rate: 0.008,
        tokens: (9000.0, 900.0),
    },
    Model {
        name: "gemini-2.5-pro",
        provider: "google",
        prices: (1.25, 0.31, 10.0),
        median_ms: 4000.0,
        error_rate: 0.012,
        tokens: (6000.0, 700.0),
    },
];

const SERVICES: [&str; 5] = ["coder", "reviewer", "support-bot", "search-api", "nightly-evals"];
const AGENTS: [&str; 6] = [
    "planner",
    "coder-agent",
    "reviewer-agent",
    "triage",
    "answerer",
    "eval-runner",
];
const TOKENS: [&str; 4] = ["prod-agents", "ci", "support-prod", "notebooks"];

/// A deterministic generator (SplitMix64): the same rows every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// Who uses which model: the workloads a team of this size runs.
struct Workload {
    model: usize,
    service: usize,
    agent: usize,
    token: usize,
    weight: f64,
    /// Runs at night (evals) rather than in working hours.
    nightly: bool,
}

/// A service, its agents, the tokens it sends with and the models it calls.
type Shape = (usize, &'static [usize], &'static [usize], &'static [usize]);

fn workloads(random: &mut Random) -> Vec<Workload> {
    let shapes: [Shape; 5] = [
        (0, &[0, 1], &[0, 3], &[0, 2, 4, 6]),
        (1, &[2], &[0, 1], &[4, 5, 0]),
        (2, &[3, 4], &[2], &[1, 5, 7]),
        (3, &[4], &[2, 0], &[1, 7, 5]),
        (4, &[5], &[1], &[3, 4, 0, 7, 2, 6]),
    ];
    let mut out = Vec::new();
    for (service, agents, tokens, models) in shapes {
        for &agent in agents {
            for &token in tokens {
                for (rank, &model) in models.iter().enumerate() {
                    out.push(Workload {
                        model,
                        service,
                        agent,
                        token,
                        // A few heavy workloads and a long tail.
                        weight: (0.2 + random.unit()) / (1.0 + rank as f64).powf(1.3),
                        nightly: service == 4,
                    });
                }
            }
        }
    }
    out
}

/// How busy an hour is for a workload (0 to 1): working hours on weekdays,
/// or nights for the nightly evals.
fn activity(hour_ns: i64, nightly: bool) -> f64 {
    let hour = (hour_ns / HOUR_NS).rem_euclid(24);
    let weekday = (hour_ns / (24 * HOUR_NS) + 3).rem_euclid(7); // 0 = Monday
    if nightly {
        return if (1..5).contains(&hour) { 0.9 } else { 0.03 };
    }
    let daytime = if (8..19).contains(&hour) { 1.0 } else { 0.15 };
    let weekend = if weekday >= 5 { 0.25 } else { 1.0 };
    daytime * weekend
}

/// The upper bounds of the rollups' latency buckets, in ms (as ingest).
fn bucket_upper_ms(index: usize) -> f64 {
    (2f64.powf(index as f64 / 2.0) * 1e6).floor() / 1e6
}

/// Standard normal CDF (Abramowitz–Stegun 7.1.26), enough for a spread.
fn normal_cdf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs() / std::f64::consts::SQRT_2);
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-(x * x) / 2.0).exp();
    if x >= 0.0 {
        (1.0 + y) / 2.0
    } else {
        (1.0 - y) / 2.0
    }
}

/// `requests` spread over the latency buckets as a log-normal around
/// `median_ms`, counts summing to `requests`; and their total duration.
fn latencies(requests: i64, median_ms: f64) -> ([i64; LATENCY_BUCKETS], i64) {
    let sigma = 0.6;
    let cdf = |ms: f64| normal_cdf((ms.ln() - median_ms.ln()) / sigma);
    let mut counts = [0i64; LATENCY_BUCKETS];
    let mut assigned = 0;
    let mut duration_ns = 0i64;
    for (index, count) in counts.iter_mut().enumerate() {
        let lower = if index == 0 {
            0.0
        } else {
            bucket_upper_ms(index - 1)
        };
        let upper = bucket_upper_ms(index);
        let share = if index == LATENCY_BUCKETS - 1 {
            1.0 - cdf(lower)
        } else {
            cdf(upper) - if index == 0 { 0.0 } else { cdf(lower) }
        };
        *count = (share * requests as f64).floor() as i64;
        assigned += *count;
    }
    // What rounding left goes to the median's bucket.
    let median_bucket = (0..LATENCY_BUCKETS)
        .find(|index| bucket_upper_ms(*index) >= median_ms)
        .unwrap_or(LATENCY_BUCKETS - 1);
    counts[median_bucket] += requests - assigned;
    for (index, count) in counts.iter().enumerate() {
        let lower = if index == 0 {
            0.5
        } else {
            bucket_upper_ms(index - 1)
        };
        let middle_ms = (lower * bucket_upper_ms(index)).sqrt();
        duration_ns += (*count as f64 * middle_ms * 1e6) as i64;
    }
    (counts, duration_ns)
}

/// One generated rollup row's key and counters.
struct Rollup {
    hour_ns: i64,
    workload: usize,
    requests: i64,
}

/// The rows: each workload is active in an hour with a chance that follows
/// its activity, and the requests are split by weight so they sum to `total`.
fn rollups(workloads: &[Workload], now_hour: i64, total: i64, random: &mut Random) -> Vec<Rollup> {
    let first_hour = now_hour - DAYS * 24 * HOUR_NS;
    let mut rows = Vec::new();
    let mut weights = Vec::new();
    let mut hour = first_hour;
    while hour <= now_hour {
        for (index, workload) in workloads.iter().enumerate() {
            let busy = activity(hour, workload.nightly);
            if random.unit() < 0.15 + 0.8 * busy {
                rows.push(Rollup {
                    hour_ns: hour,
                    workload: index,
                    requests: 1,
                });
                weights.push(workload.weight * busy.max(0.02) * (0.5 + random.unit()));
            }
        }
        hour += HOUR_NS;
    }
    let spread = total - rows.len() as i64;
    assert!(spread >= 0, "more rows than requests");
    let sum: f64 = weights.iter().sum();
    let mut assigned = 0;
    for (row, weight) in rows.iter_mut().zip(&weights) {
        let share = (spread as f64 * weight / sum).floor() as i64;
        row.requests += share;
        assigned += share;
    }
    // The rounding remainder, one request each to rows spread over the range.
    let mut left = spread - assigned;
    while left > 0 {
        let index = random.below(rows.len());
        rows[index].requests += 1;
        left -= 1;
    }
    rows
}

/// Adds the rows to the usage rollups (hourly and daily) as ingest would have.
async fn insert_rollups(
    db: &DatabaseConnection,
    org_id: uuid::Uuid,
    token_ids: &[uuid::Uuid],
    workloads: &[Workload],
    rows: &[Rollup],
    random: &mut Random,
) {
    let mut deltas = Vec::with_capacity(rows.len());
    for row in rows {
        let workload = &workloads[row.workload];
        let model = &MODELS[workload.model];
        let requests = row.requests;
        let jitter = |random: &mut Random| 0.8 + 0.4 * random.unit();
        let errors = ((requests as f64 * model.error_rate * jitter(random)).round() as i64).min(requests);
        let input = (requests as f64 * model.tokens.0 * jitter(random)) as i64;
        let cache_read = (input as f64 * 0.45 * jitter(random)) as i64;
        let cache_write = if model.provider == "anthropic" {
            (input as f64 * 0.05) as i64
        } else {
            0
        };
        let output = (requests as f64 * model.tokens.1 * jitter(random)) as i64;
        let reasoning = if model.name == "o3" { output * 3 / 4 } else { 0 };
        // 1 USD per million tokens is 1,000 nano-dollars per token.
        let cost_nanos = ((input - cache_read) as f64 * model.prices.0 * 1000.0
            + cache_read as f64 * model.prices.1 * 1000.0
            + output as f64 * model.prices.2 * 1000.0) as i64;
        let (latency, duration_ns) = latencies(requests, model.median_ms);
        deltas.push((
            UsageKey {
                org_id,
                hour_ns: row.hour_ns,
                model: model.name.to_owned(),
                provider: model.provider.to_owned(),
                service_name: SERVICES[workload.service].to_owned(),
                agent: AGENTS[workload.agent].to_owned(),
                token_id: token_ids[workload.token],
            },
            UsageCounters {
                requests,
                errors,
                input_tokens: input,
                output_tokens: output,
                cache_read_tokens: cache_read,
                cache_write_tokens: cache_write,
                reasoning_tokens: reasoning,
                cost_nanos,
                unpriced: 0,
                duration_ns,
                latency,
            },
        ));
    }
    let txn = db.begin().await.unwrap();
    usage::upsert(&txn, deltas).await.unwrap();
    txn.commit().await.unwrap();
}

/// Semantic-convention bucket bounds for token counts and for seconds.
const TOKEN_BOUNDS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];
const SECOND_BOUNDS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// Traces for the most-expensive list: an agent and two model calls each,
/// spread over the last 30 days, sent as 100-trace exports per service.
fn trace_exports(now_ns: i64, traces: usize, random: &mut Random) -> Vec<Vec<u8>> {
    let models = ["gpt-4o", "claude-sonnet-4-5", "gpt-4o-mini"];
    let mut exports = Vec::new();
    for chunk_start in (0..traces).step_by(100) {
        let mut spans = Vec::new();
        for number in chunk_start..(chunk_start + 100).min(traces) {
            let trace_id: Vec<u8> = [0xc0u8; 8]
                .into_iter()
                .chain((number as u64).to_be_bytes())
                .collect();
            let span_id = |n: u64| ((number as u64) << 8 | n).to_be_bytes().to_vec();
            let start = now_ns - (random.unit() * 30.0 * 24.0 * HOUR_NS as f64) as i64 - HOUR_NS;
            let span = |n: u64, name: String, duration_ms: i64, attributes| Span {
                trace_id: trace_id.clone(),
                span_id: span_id(n),
                parent_span_id: if n == 1 { Vec::new() } else { span_id(1) },
                name,
                kind: 1,
                start_time_unix_nano: (start + n as i64 * 1_000_000) as u64,
                end_time_unix_nano: (start + n as i64 * 1_000_000 + duration_ms * 1_000_000) as u64,
                attributes,
                status: Some(Status {
                    code: 1,
                    message: String::new(),
                }),
                ..Default::default()
            };
            let agent = AGENTS[random.below(AGENTS.len())];
            spans.push(span(
                1,
                format!("invoke_agent {agent}"),
                20_000,
                vec![
                    kv("gen_ai.operation.name", "invoke_agent"),
                    kv("gen_ai.agent.name", agent),
                ],
            ));
            for n in [2, 3] {
                let model = models[random.below(models.len())];
                spans.push(span(
                    n,
                    format!("chat {model}"),
                    500 + random.below(8000) as i64,
                    vec![
                        kv("gen_ai.operation.name", "chat"),
                        kv(
                            "gen_ai.provider.name",
                            if model.starts_with("claude") {
                                "anthropic"
                            } else {
                                "openai"
                            },
                        ),
                        kv("gen_ai.request.model", model),
                        int("gen_ai.usage.input_tokens", 1000 + random.below(60_000) as i64),
                        int("gen_ai.usage.output_tokens", 100 + random.below(4000) as i64),
                    ],
                ));
            }
        }
        exports.push(export_request(SERVICES[exports.len() % SERVICES.len()], spans));
    }
    exports
}

/// Cumulative GenAI metrics as an OTel SDK exports them every 15 minutes
/// (token usage by type and operation duration for four models), one
/// export per day of the last `days`.
fn metric_exports(now_ns: i64, days: i64, random: &mut Random) -> (Vec<Vec<u8>>, usize) {
    let interval = HOUR_NS / 4;
    let start = now_ns - days * 24 * HOUR_NS;
    let models = ["gpt-4o", "claude-sonnet-4-5", "gpt-4o-mini", "gemini-2.5-pro"];
    // Per model: calls, input tokens, output tokens, seconds, and the buckets.
    let mut totals = vec![(0u64, 0.0f64, 0.0f64, 0.0f64, [0u64; 15], [0u64; 15], [0u64; 15]); models.len()];
    let mut exports = Vec::new();
    let mut points = 0;
    let mut time = start + interval;
    while time <= now_ns {
        let day_end = time + 24 * HOUR_NS;
        let mut tokens = Vec::new();
        let mut durations = Vec::new();
        while time < day_end && time <= now_ns {
            for (index, model) in models.iter().enumerate() {
                let total = &mut totals[index];
                let calls = random.below(40) as u64;
                total.0 += calls;
                let input = calls as f64 * (1500.0 + random.below(3000) as f64);
                let output = calls as f64 * (150.0 + random.below(400) as f64);
                total.1 += input;
                total.2 += output;
                total.4[7] += calls; // input: 1,024 to 4,096 tokens
                total.5[5] += calls; // output: 64 to 1,024
                for _ in 0..calls {
                    let bucket = 7 + random.below(4);
                    total.6[bucket] += 1;
                    total.3 += SECOND_BOUNDS[bucket - 1] * (1.0 + random.unit());
                }
                let attributes = |token_type: Option<&str>| {
                    let mut attributes = vec![
                        kv("gen_ai.operation.name", "chat"),
                        kv("gen_ai.request.model", model),
                        kv(
                            "gen_ai.provider.name",
                            if model.starts_with("claude") {
                                "anthropic"
                            } else {
                                "openai"
                            },
                        ),
                    ];
                    attributes.extend(token_type.map(|kind| kv("gen_ai.token.type", kind)));
                    attributes
                };
                let point =
                    |attributes, count, sum, counts: &[u64; 15], bounds: &[f64; 14]| HistogramDataPoint {
                        attributes,
                        start_time_unix_nano: start as u64,
                        time_unix_nano: time as u64,
                        count,
                        sum: Some(sum),
                        bucket_counts: counts.to_vec(),
                        explicit_bounds: bounds.to_vec(),
                        ..Default::default()
                    };
                tokens.push(point(
                    attributes(Some("input")),
                    total.0,
                    total.1,
                    &total.4,
                    &TOKEN_BOUNDS,
                ));
                tokens.push(point(
                    attributes(Some("output")),
                    total.0,
                    total.2,
                    &total.5,
                    &TOKEN_BOUNDS,
                ));
                durations.push(point(
                    attributes(None),
                    total.0,
                    total.3,
                    &total.6,
                    &SECOND_BOUNDS,
                ));
                points += 3;
            }
            time += interval;
        }
        let metric = |name: &str, unit: &str, data_points| Metric {
            name: name.to_owned(),
            unit: unit.to_owned(),
            data: Some(Data::Histogram(Histogram {
                data_points,
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })),
            ..Default::default()
        };
        exports.push(
            ExportMetricsServiceRequest {
                resource_metrics: vec![ResourceMetrics {
                    resource: Some(Resource {
                        attributes: vec![kv("service.name", "support-bot")],
                        ..Default::default()
                    }),
                    scope_metrics: vec![ScopeMetrics {
                        metrics: vec![
                            metric("gen_ai.client.token.usage", "{token}", tokens),
                            metric("gen_ai.client.operation.duration", "s", durations),
                        ],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            }
            .encode_to_vec(),
        );
    }
    (exports, points)
}

async fn post(client: &reqwest::Client, url: &str, token: &str, body: Vec<u8>) {
    let response = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{url}: {}", response.status());
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
}

#[tokio::main]
async fn main() {
    let database = std::env::var("SPECULA_BENCH_DATABASE").unwrap_or_else(|_| "sqlite".to_owned());
    let total_requests: i64 = env_or("SPECULA_BENCH_REQUESTS", 10_000_000);
    let samples: usize = env_or("SPECULA_BENCH_SAMPLES", 200);
    let metric_days: i64 = env_or("SPECULA_BENCH_METRIC_DAYS", 31);
    let postgres_db = format!("specula_bench_costs_{}", std::process::id());
    if database == "postgres" {
        with_postgres_db(&postgres_db, true).await;
    }
    let server = start_server(&database, &postgres_db);
    // A jar of our own, so that the browser's time zone cookie can be added later.
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    let base = server.base.clone();
    wait_ready(&browser, &base).await;

    let org = sign_up(&browser, &base).await;
    let mut token_ids = Vec::new();
    let mut secrets = Vec::new();
    for name in TOKENS {
        let minted: serde_json::Value = browser
            .post(format!("{base}/api/v1/orgs/{org}/tokens"))
            .json(&json!({"name": name, "scopes": ["ingest", "read"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        token_ids.push(
            minted["token"]["id"]
                .as_str()
                .unwrap()
                .parse::<uuid::Uuid>()
                .unwrap(),
        );
        secrets.push(minted["secret"].as_str().unwrap().to_owned());
    }
    let token = &secrets[0];

    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let now_hour = now_ns - now_ns.rem_euclid(HOUR_NS);
    let mut random = Random(42);
    let workloads = workloads(&mut random);
    let started = Instant::now();
    let rows = rollups(&workloads, now_hour, total_requests, &mut random);
    let db = Database::connect(&server.database_url).await.unwrap();
    insert_rollups(
        &db,
        org.parse().unwrap(),
        &token_ids,
        &workloads,
        &rows,
        &mut random,
    )
    .await;
    let in_30_days = rows
        .iter()
        .filter(|row| row.hour_ns >= now_hour - 30 * 24 * HOUR_NS)
        .count();
    println!(
        "== {database}: {} rollup rows ({in_30_days} in the last 30 days) for {total_requests} requests over {DAYS} days, {} workloads, inserted in {:.1} s",
        rows.len(),
        workloads.len(),
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let traces = 2_000;
    for body in trace_exports(now_ns, traces, &mut random) {
        post(&browser, &format!("{base}/v1/traces"), token, body).await;
    }
    let (exports, points) = metric_exports(now_ns, metric_days, &mut random);
    for body in exports {
        post(&browser, &format!("{base}/v1/metrics"), token, body).await;
    }
    if database == "postgres" {
        db.execute_unprepared("ANALYZE").await.unwrap();
    }
    println!(
        "{traces} traces ({} spans) and {points} cumulative GenAI metric points sent in {:.1} s; the database holds {} hourly and {} daily usage rollup rows, {} metric points in {} metric rollup rows",
        traces * 3,
        started.elapsed().as_secs_f64(),
        count(&db, "SELECT COUNT(*) FROM usage_rollups").await,
        count(&db, "SELECT COUNT(*) FROM usage_daily_rollups").await,
        count(&db, "SELECT COUNT(*) FROM metric_points").await,
        count(&db, "SELECT COUNT(*) FROM metric_rollups").await,
    );
    let requests = count(&db, "SELECT CAST(SUM(requests) AS BIGINT) FROM usage_rollups").await;
    assert_eq!(requests, total_requests + 2 * traces as i64, "rollup requests");
    let daily = count(
        &db,
        "SELECT CAST(SUM(requests) AS BIGINT) FROM usage_daily_rollups",
    )
    .await;
    assert_eq!(daily, requests, "daily rollup requests");

    let page = browser
        .get(format!("{base}/costs?range=30d"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-testid=\"chart-cost-by-model\""), "no charts");
    assert_eq!(
        page.contains("data-testid=\"genai-metrics\""),
        metric_days > 0,
        "GenAI metrics section"
    );
    assert!(page.contains("href=\"/traces/"), "no top traces");
    println!("the 30-day Costs page is {} KB", page.len() / 1024);
    // For profiling: keep the loaded server up and say how to reach it.
    let hold: u64 = env_or("SPECULA_BENCH_HOLD_SECS", 0);
    if hold > 0 {
        println!(
            "holding {hold} s: {base} token {token} database {}",
            server.database_url
        );
        tokio::time::sleep(Duration::from_secs(hold)).await;
    }
    report(
        "Costs page, 30 days, server-rendered",
        &time_get(
            &browser,
            &format!("{base}/costs?range=30d"),
            None,
            WARM_UP,
            samples,
        )
        .await,
    );
    // All the load's 92 days: more than 90, so the buckets are weeks.
    let local_minute = |time_ns: i64| {
        chrono::DateTime::from_timestamp_nanos(time_ns)
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let weeks_page = format!(
        "{base}/costs?range=custom&since={}&until={}",
        local_minute(now_ns - 92 * 24 * HOUR_NS),
        local_minute(now_ns)
    );
    report(
        "Costs page, 92 days by week, server-rendered",
        &time_get(&browser, &weeks_page, None, WARM_UP, samples).await,
    );
    // A browser in Berlin: no local day is a UTC day, so days are added up
    // from the hourly rollups; weeks read the daily rollups but for the
    // UTC day each local week starts in.
    jar.add_cookie_str("specula_tz=Europe%2FBerlin; Path=/", &base.parse().unwrap());
    report(
        "Costs page, 30 days, server-rendered, browser in Europe/Berlin",
        &time_get(
            &browser,
            &format!("{base}/costs?range=30d"),
            None,
            WARM_UP,
            samples,
        )
        .await,
    );
    report(
        "Costs page, 92 days by week, server-rendered, browser in Europe/Berlin",
        &time_get(&browser, &weeks_page, None, WARM_UP, samples).await,
    );
    for query in [
        "",
        "group_by=model",
        "group_by=model,service&granularity=day",
        "group_by=service,agent&granularity=week",
        "group_by=token&granularity=total",
        "group_by=model&granularity=hour",
    ] {
        let since = (now_ns - 30 * 24 * HOUR_NS).to_string();
        let url = format!("{base}/api/v1/usage?since={since}&{query}");
        report(
            &format!(
                "GET /api/v1/usage, 30 days, {}",
                if query.is_empty() {
                    "defaults (by day)"
                } else {
                    query
                }
            ),
            &time_get(&browser, &url, Some(token), WARM_UP, samples).await,
        );
    }

    db.close().await.ok();
    server.stop();
    if database == "postgres" {
        with_postgres_db(&postgres_db, false).await;
    }
}
