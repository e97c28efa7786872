//! Usage rollups and the cost APIs: rollups kept at ingest add up exactly to
//! the spans' costs, cached tokens are not counted twice, retries count
//! once, percentiles from the histogram land in the right bucket, the cost
//! log pages and exports CSV, the migration rolls up older spans the same
//! way, OTel GenAI metrics (delta and cumulative) are charted with the right
//! totals, and no tenant reads another's usage. On SQLite and PostgreSQL.

use crate::common;

use common::{Backend, TestServer, csv_downloads, export, get_json, get_with_token, post_otlp, span, tenant};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    rollups_add_up_to_the_span_costs,
    percentiles_come_from_the_histogram,
    the_cost_log_pages_filters_and_exports_csv,
    bad_usage_queries_are_explained,
    other_tenants_see_no_usage,
    the_migration_rolls_up_older_spans_alike,
    the_costs_page_renders_on_the_server,
    genai_metrics_are_charted_on_the_costs_page,
    long_ranges_read_the_daily_rollups_alike,
    metric_rollups_count_what_the_points_did,
);

const SECOND: i64 = 1_000_000_000;
const MS: i64 = 1_000_000;
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600 * SECOND;
const HOUR: i64 = 3600 * SECOND;
const TRACE_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TRACE_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const RANGE: &str = "since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z";

/// gpt-4o: 600 plain input × 2.50 + 400 cached × 1.25 + 100 output × 10 (USD/Mtok), in nano-dollars.
const GPT_4O_CALL: i64 = 1_500_000 + 500_000 + 1_000_000;
/// claude-sonnet-4-5: 500 plain × 3 + 1000 cache read × 0.30 + 500 cache write × 3.75 + 200 output × 15.
const CLAUDE_CALL: i64 = 1_500_000 + 300_000 + 1_875_000 + 3_000_000;

fn chat(model: &str, input: i64, cache_read: i64, cache_write: i64, output: i64) -> Value {
    json!({
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        "gen_ai.provider.name": if model.starts_with("claude") { "anthropic" } else { "openai" },
        "gen_ai.usage.input_tokens": input,
        "gen_ai.usage.cache_read.input_tokens": cache_read,
        "gen_ai.usage.cache_creation.input_tokens": cache_write,
        "gen_ai.usage.output_tokens": output,
    })
}

/// Trace A (service `coder`, first hour): an agent running gpt-4o, a
/// failing Claude call, an unpriced local model and a tool call. Trace B
/// (service `reviewer`, the next hour): one gpt-4o call as its own root.
fn fixture() -> [Vec<u8>; 2] {
    let trace_a = export(
        "coder",
        vec![
            span(
                TRACE_A,
                "00000000000000a1",
                None,
                "invoke_agent coder",
                (T0, 2 * SECOND),
                false,
                json!({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "coder-agent"}),
            ),
            span(
                TRACE_A,
                "00000000000000a2",
                Some("00000000000000a1"),
                "chat gpt-4o",
                (T0 + MS, 20 * MS),
                false,
                chat("gpt-4o", 1000, 400, 0, 100),
            ),
            span(
                TRACE_A,
                "00000000000000a3",
                Some("00000000000000a1"),
                "chat claude",
                (T0 + 30 * MS, 200 * MS),
                true,
                chat("claude-sonnet-4-5", 2000, 1000, 500, 200),
            ),
            span(
                TRACE_A,
                "00000000000000a4",
                Some("00000000000000a1"),
                "chat local",
                (T0 + 300 * MS, 5 * MS),
                false,
                chat("my-local-llm", 10, 0, 0, 5),
            ),
            span(
                TRACE_A,
                "00000000000000a5",
                Some("00000000000000a1"),
                "execute_tool apply_patch",
                (T0 + 400 * MS, 3 * MS),
                false,
                json!({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "apply_patch"}),
            ),
        ],
    );
    let trace_b = export(
        "reviewer",
        vec![span(
            TRACE_B,
            "00000000000000b1",
            None,
            "chat gpt-4o",
            (T0 + HOUR + 300 * SECOND, 30 * MS),
            false,
            chat("gpt-4o", 1000, 400, 0, 100),
        )],
    );
    [trace_a, trace_b]
}

async fn ingest(server: &TestServer, token: &str, body: Vec<u8>) {
    let response = post_otlp(server, "/v1/traces", token, "application/json", body).await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn usage(server: &TestServer, token: &str, query: &str) -> Value {
    get_json(server, token, &format!("/api/v1/usage?{RANGE}&{query}")).await
}

/// The report's rows as (dimension value, field) pairs, for one dimension.
fn by(report: &Value, dimension: &str, field: &str) -> Vec<(String, i64)> {
    let mut rows: Vec<(String, i64)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row[dimension].as_str().unwrap().to_owned(),
                row["usage"][field].as_i64().unwrap(),
            )
        })
        .collect();
    rows.sort();
    rows
}

async fn rollups_add_up_to_the_span_costs(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    let [trace_a, trace_b] = fixture();
    ingest(&server, &token, trace_a.clone()).await;
    ingest(&server, &token, trace_b).await;
    // A retry of the same spans is stored once and counted once.
    ingest(&server, &token, trace_a).await;

    let total = usage(&server, &token, "granularity=total").await;
    let totals = &total["totals"];
    assert_eq!(totals["cost_nanos"], 2 * GPT_4O_CALL + CLAUDE_CALL, "{total}");
    assert_eq!(totals["requests"], 4);
    assert_eq!(totals["errors"], 1);
    assert_eq!(totals["unpriced"], 1);
    assert_eq!(totals["input_tokens"], 1000 + 2000 + 10 + 1000);
    assert_eq!(totals["cache_read_tokens"], 400 + 1000 + 400);
    assert_eq!(totals["cache_write_tokens"], 500);
    assert_eq!(totals["output_tokens"], 100 + 200 + 5 + 100);
    assert_eq!(total["rows"].as_array().unwrap().len(), 1);

    // The cost log holds the same spans (not the agent or the tool call), and the same money.
    let log = get_json(&server, &token, &format!("/api/v1/cost-logs?{RANGE}")).await;
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4, "{log}");
    let logged: i64 = entries
        .iter()
        .filter_map(|entry| entry["cost_nanos"].as_i64())
        .sum();
    assert_eq!(logged, totals["cost_nanos"].as_i64().unwrap());

    let models = usage(&server, &token, "granularity=total&group_by=model").await;
    assert_eq!(
        by(&models, "model", "cost_nanos"),
        [
            ("claude-sonnet-4-5".to_owned(), CLAUDE_CALL),
            ("gpt-4o".to_owned(), 2 * GPT_4O_CALL),
            ("my-local-llm".to_owned(), 0)
        ]
    );
    assert_eq!(
        by(&models, "model", "unpriced")[2],
        ("my-local-llm".to_owned(), 1)
    );

    let hours = usage(&server, &token, "granularity=hour").await;
    let buckets: Vec<(i64, i64)> = hours["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["time_ns"].as_i64().unwrap(),
                row["usage"]["requests"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(buckets, [(T0, 3), (T0 + HOUR, 1)]);

    let agents = usage(&server, &token, "granularity=total&group_by=agent").await;
    assert_eq!(
        by(&agents, "agent", "cost_nanos"),
        [
            ("chat gpt-4o".to_owned(), GPT_4O_CALL),
            ("coder-agent".to_owned(), GPT_4O_CALL + CLAUDE_CALL)
        ]
    );
    let services = usage(&server, &token, "granularity=total&group_by=service&model=gpt-4o").await;
    assert_eq!(
        by(&services, "service", "cost_nanos"),
        [
            ("coder".to_owned(), GPT_4O_CALL),
            ("reviewer".to_owned(), GPT_4O_CALL)
        ]
    );

    let tokens = usage(&server, &token, "granularity=total&group_by=token").await;
    let row = &tokens["rows"][0];
    assert_eq!(row["token_name"], "sdk", "{tokens}");
    assert_ne!(row["token_id"], "00000000-0000-0000-0000-000000000000");
    let id = row["token_id"].as_str().unwrap();
    let filtered = usage(&server, &token, &format!("granularity=total&token={id}")).await;
    assert_eq!(filtered["totals"]["cost_nanos"], totals["cost_nanos"]);
    server.stop().await;
}

async fn percentiles_come_from_the_histogram(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    // 100 calls of 1 to 100 ms: the exact p50 is 50 ms, the exact p95 95 ms.
    let spans = (1..=100)
        .map(|ms| {
            span(
                TRACE_A,
                &format!("{ms:016x}"),
                None,
                "chat",
                (T0 + ms * SECOND, ms * MS),
                false,
                chat("gpt-4o", 10, 0, 0, 1),
            )
        })
        .collect();
    ingest(&server, &token, export("coder", spans)).await;
    let report = usage(&server, &token, "granularity=total").await;
    let totals = &report["totals"];
    assert_eq!(totals["requests"], 100);
    assert_eq!(totals["mean_latency_ms"], 50.5);
    for (field, exact) in [
        ("p50_latency_ms", 50.0),
        ("p95_latency_ms", 95.0),
        ("p99_latency_ms", 99.0),
    ] {
        let estimate = totals[field].as_f64().unwrap();
        // Within the exact value's bucket: (2^((i-1)/2), 2^(i/2)] ms.
        let bucket = (2.0 * f64::log2(exact)).ceil();
        let (lower, upper) = (2f64.powf((bucket - 1.0) / 2.0), 2f64.powf(bucket / 2.0));
        assert!(
            estimate > lower && estimate <= upper,
            "{field}: {estimate} not in ({lower}, {upper}]"
        );
    }
    server.stop().await;
}

async fn the_cost_log_pages_filters_and_exports_csv(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    for body in fixture() {
        ingest(&server, &token, body).await;
    }
    // Newest first, two at a time, every entry once.
    let mut seen = Vec::new();
    let mut path = format!("/api/v1/cost-logs?{RANGE}&limit=2");
    loop {
        let page = get_json(&server, &token, &path).await;
        for entry in page["entries"].as_array().unwrap() {
            seen.push(entry["span_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/cost-logs?{RANGE}&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "00000000000000b1",
            "00000000000000a4",
            "00000000000000a3",
            "00000000000000a2"
        ]
    );

    let claude = get_json(&server, &token, "/api/v1/cost-logs?model=claude-sonnet-4-5").await;
    assert_eq!(claude["entries"][0]["cost_nanos"], CLAUDE_CALL);
    assert_eq!(claude["entries"][0]["cache_write_tokens"], 500);
    assert_eq!(claude["entries"].as_array().unwrap().len(), 1);
    let unpriced = get_json(&server, &token, "/api/v1/cost-logs?unpriced=true").await;
    assert_eq!(unpriced["entries"][0]["model"], "my-local-llm");
    assert_eq!(unpriced["entries"][0]["cost_nanos"], Value::Null);
    assert_eq!(unpriced["entries"].as_array().unwrap().len(), 1);

    let response = get_with_token(&server, &token, "/api/v1/cost-logs?format=csv&limit=3").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let next = response.headers()["link"].to_str().unwrap().to_owned();
    assert!(
        next.contains("rel=\"next\"") && next.contains("format=csv"),
        "{next}"
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("time,trace_id,span_id,name,kind,model"));
    assert!(
        lines[1].contains(",00000000000000b1,") && lines[1].contains(",3000000,0.003000000,false"),
        "{}",
        lines[1]
    );
    // The Link header continues the export.
    let rest_path = next.trim_start_matches('<').split('>').next().unwrap().to_owned();
    let rest = get_with_token(&server, &token, &rest_path)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(rest.lines().count(), 2, "{rest}");
    assert!(rest.contains(",00000000000000a2,"));
    server.stop().await;
}

async fn bad_usage_queries_are_explained(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    for path in [
        "/api/v1/usage?granularity=minute",
        "/api/v1/usage?group_by=colour",
        "/api/v1/usage?since=yesterday",
        "/api/v1/usage?token=not-a-token",
        "/api/v1/usage?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
        "/api/v1/cost-logs?format=xml",
        "/api/v1/cost-logs?unpriced=maybe",
        "/api/v1/cost-logs?limit=501",
    ] {
        common::assert_error(
            get_with_token(&server, &token, path).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    // CSV exports may be larger than JSON pages.
    let response = get_with_token(&server, &token, "/api/v1/cost-logs?format=csv&limit=10000").await;
    assert_eq!(response.status(), StatusCode::OK);
    let (_, ingest_only) = tenant(&server, "bob@example.com", &["ingest"]).await;
    let response = get_with_token(&server, &ingest_only, "/api/v1/usage").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

async fn other_tenants_see_no_usage(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (alice_org, alice) = tenant(&server, "alice@example.com", &["ingest", "read"]).await;
    let (_, mallory) = tenant(&server, "mallory@example.com", &["ingest", "read"]).await;
    for body in fixture() {
        ingest(&server, &alice, body).await;
    }
    for path in [
        format!("/api/v1/usage?{RANGE}&group_by=model,token"),
        format!("/api/v1/usage?{RANGE}&org={alice_org}"),
    ] {
        let report = get_json(&server, &mallory, &path).await;
        assert_eq!(report["rows"], json!([]), "{path}");
        assert_eq!(report["totals"]["cost_nanos"], 0);
    }
    let log = get_json(&server, &mallory, &format!("/api/v1/cost-logs?org={alice_org}")).await;
    assert_eq!(log["entries"], json!([]));

    let browser = server.browser();
    browser.sign_up("eve@example.com").await;
    for path in [
        format!("/api/v1/usage?org={alice_org}"),
        format!("/api/v1/cost-logs?org={alice_org}&format=csv"),
    ] {
        let response = browser.get(&path).await;
        assert!(
            matches!(response.status(), StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{path}: {}",
            response.status()
        );
        assert!(!response.text().await.unwrap().contains("gpt-4o"));
    }
    // Alice herself, signed in, reads hers.
    let alice_browser = server.browser();
    assert_eq!(
        alice_browser
            .log_in("alice@example.com", common::PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    let report: Value = alice_browser
        .get(&format!(
            "/api/v1/usage?{RANGE}&org={alice_org}&granularity=total"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["totals"]["cost_nanos"], 2 * GPT_4O_CALL + CLAUDE_CALL);
    server.stop().await;
}

/// Migration 8 rolls up the spans stored before it with the same sums
/// and latency buckets as ingest computes (agents and tokens aside), and
/// migration 10 sums those hours into days as ingest does.
async fn the_migration_rolls_up_older_spans_alike(backend: Backend) {
    use migration::{Migrator, MigratorTrait};

    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    for body in fixture() {
        ingest(&server, &token, body).await;
    }
    // Latencies on and near bucket bounds: 1 ms, 2 ms, 2^(5/2) ms and more.
    let spans = [1_000_000, 2_000_000, 5_656_854, 5_656_855, 1_000_000_000]
        .iter()
        .enumerate()
        .map(|(index, &duration)| {
            span(
                TRACE_B,
                &format!("00000000000000c{index}"),
                Some("00000000000000b1"),
                "chat",
                (T0 + HOUR, duration),
                false,
                chat("gpt-4o-mini", 10, 0, 0, 1),
            )
        })
        .collect();
    ingest(&server, &token, export("reviewer", spans)).await;
    let query = "granularity=hour&group_by=model,provider,service";
    let at_ingest = usage(&server, &token, query).await;

    let daily_query = "granularity=day&group_by=model,provider,service";
    let daily_at_ingest = usage(&server, &token, daily_query).await;

    // Back to before migration 8, whatever came after it.
    let migrations = Migrator::migrations();
    let position = migrations
        .iter()
        .position(|migration| migration.name() == "m20261201_000008_usage_rollups")
        .unwrap();
    let db = &server.state.db;
    Migrator::down(db, Some((migrations.len() - position) as u32))
        .await
        .unwrap();
    Migrator::up(db, None).await.unwrap();
    let migrated = usage(&server, &token, query).await;
    assert_eq!(migrated, at_ingest);
    assert_eq!(usage(&server, &token, daily_query).await, daily_at_ingest);
    assert!(at_ingest["rows"].as_array().unwrap().len() >= 4, "{at_ingest}");
    server.stop().await;
}

/// The Costs page renders on the server with its charts, tables, totals
/// and most expensive traces; other organizations' members are refused.
async fn the_costs_page_renders_on_the_server(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest"]).await;
    for body in fixture() {
        ingest(&server, &token, body).await;
    }
    let browser = server.browser();
    assert_eq!(
        browser.log_in("ada@example.com", common::PASSWORD).await.status(),
        StatusCode::OK
    );
    let html = browser
        .get("/costs?range=custom&since=2026-01-01T00:00&until=2026-01-02T00:00")
        .await
        .text()
        .await
        .unwrap();
    for id in [
        "cost-by-model",
        "tokens",
        "requests",
        "error-rate",
        "latency",
        "cost-by-service",
        "cost-by-agent",
        "cost-by-token",
    ] {
        assert!(
            html.contains(&format!("data-testid=\"chart-{id}\"")),
            "no {id} chart"
        );
    }
    assert!(html.contains("role=\"img\""), "{html}");
    // Exact values in the tables: the Claude call and the whole coder agent.
    assert!(html.contains("$0.006675"), "{html}");
    assert!(html.contains("$0.009675"), "{html}");
    assert!(html.contains("coder-agent"));
    assert!(
        html.contains(&format!("href=\"/traces/{TRACE_A}\"")),
        "top traces link to the trace view"
    );
    assert!(html.contains("data:text/csv;charset=utf-8,"));

    let stranger = server.browser();
    stranger.sign_up("eve@example.com").await;
    let html = stranger
        .get("/costs?range=custom&since=2026-01-01T00:00&until=2026-01-02T00:00")
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("coder-agent"));
    assert!(!html.contains("$0.006675"));
    server.stop().await;
}

mod metrics {
    //! OTLP GenAI metric exports as SDKs send them.

    use opentelemetry_proto::tonic::{
        collector::metrics::v1::ExportMetricsServiceRequest,
        common::v1::{AnyValue, KeyValue, any_value},
        metrics::v1::{
            AggregationTemporality, Histogram, HistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics,
            metric::Data,
        },
        resource::v1::Resource,
    };
    use prost::Message;

    pub fn attribute(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.to_owned())),
            }),
            ..Default::default()
        }
    }

    /// A histogram point from `start` to `time` with `counts` in
    /// `bounds`' buckets and the values' `sum`.
    pub fn point(
        attributes: &[(&str, &str)],
        (start, time): (i64, i64),
        (bounds, counts): (&[f64], &[u64]),
        sum: f64,
    ) -> HistogramDataPoint {
        HistogramDataPoint {
            attributes: attributes
                .iter()
                .map(|(key, value)| attribute(key, value))
                .collect(),
            start_time_unix_nano: start as u64,
            time_unix_nano: time as u64,
            count: counts.iter().sum(),
            sum: Some(sum),
            bucket_counts: counts.to_vec(),
            explicit_bounds: bounds.to_vec(),
            ..Default::default()
        }
    }

    /// One export from service `coder`: a histogram metric per entry.
    pub fn export(metrics: Vec<(&str, &str, bool, Vec<HistogramDataPoint>)>) -> Vec<u8> {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![attribute("service.name", "coder")],
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics: metrics
                        .into_iter()
                        .map(|(name, unit, cumulative, data_points)| Metric {
                            name: name.to_owned(),
                            unit: unit.to_owned(),
                            data: Some(Data::Histogram(Histogram {
                                data_points,
                                aggregation_temporality: if cumulative {
                                    AggregationTemporality::Cumulative
                                } else {
                                    AggregationTemporality::Delta
                                } as i32,
                            })),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }
}

/// The GenAI metrics section of a Costs page, if it has one.
fn metrics_section(html: &str) -> Option<&str> {
    let start = html.find("data-testid=\"genai-metrics\"")?;
    let end = html[start..].find("</section>")? + start;
    Some(&html[start..end])
}

/// A team that exports GenAI metrics and no spans: gpt-4o token usage as
/// delta points (one export retried), Claude's with the older attribute
/// names as cumulative points, and cumulative operation durations. The
/// Costs page charts them with the totals of the changes, per hour, and
/// shows none of it to another organization or for a range without points.
async fn genai_metrics_are_charted_on_the_costs_page(backend: Backend) {
    use metrics::{export, point};

    const TOKENS: &str = "gen_ai.client.token.usage";
    const DURATION: &str = "gen_ai.client.operation.duration";
    const TOKEN_BOUNDS: &[f64] = &[100.0, 1000.0, 10000.0];
    const SECONDS: &[f64] = &[0.5, 1.0, 2.0];
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest"]).await;
    let minute = 60 * SECOND;
    let gpt = |kind: &'static str| {
        [
            ("gen_ai.token.type", kind),
            ("gen_ai.request.model", "gpt-4o"),
            ("gen_ai.provider.name", "openai"),
        ]
    };
    let claude = |kind: &'static str| {
        [
            ("gen_ai.token.type", kind),
            ("gen_ai.request.model", "claude-sonnet-4-5"),
            ("gen_ai.system", "anthropic"),
        ]
    };
    let calls = [
        ("gen_ai.request.model", "claude-sonnet-4-5"),
        ("gen_ai.system", "anthropic"),
    ];
    let delta = export(vec![(
        TOKENS,
        "{token}",
        false,
        vec![
            point(
                &gpt("input"),
                (T0 + 9 * minute, T0 + 10 * minute),
                (TOKEN_BOUNDS, &[0, 0, 1, 0]),
                1200.0,
            ),
            point(
                &gpt("output"),
                (T0 + 9 * minute, T0 + 10 * minute),
                (TOKEN_BOUNDS, &[0, 1, 0, 0]),
                300.0,
            ),
        ],
    )]);
    // The SDK's cumulative export, a minute into each hour.
    let cumulative = |time: i64, prompt: f64, completion: f64, seconds: &[u64], seconds_sum: f64| {
        export(vec![
            (
                TOKENS,
                "{token}",
                true,
                vec![
                    point(
                        &claude("prompt"),
                        (T0, time),
                        (TOKEN_BOUNDS, &[0, 1, 0, 0]),
                        prompt,
                    ),
                    point(
                        &claude("completion"),
                        (T0, time),
                        (TOKEN_BOUNDS, &[0, 1, 0, 0]),
                        completion,
                    ),
                ],
            ),
            (
                DURATION,
                "s",
                true,
                vec![point(&calls, (T0, time), (SECONDS, seconds), seconds_sum)],
            ),
        ])
    };
    for body in [
        delta.clone(),
        delta,
        cumulative(T0 + minute, 1000.0, 100.0, &[0, 2, 0, 0], 1.5),
        cumulative(T0 + HOUR + minute, 1500.0, 250.0, &[0, 4, 2, 0], 6.5),
    ] {
        let response = post_otlp(&server, "/v1/metrics", &token, "application/x-protobuf", body).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    let browser = server.browser();
    assert_eq!(
        browser.log_in("ada@example.com", common::PASSWORD).await.status(),
        StatusCode::OK
    );
    let page = "/costs?range=custom&since=2026-01-01T00:00&until=2026-01-02T00:00";
    let html = browser.get(page).await.text().await.unwrap();
    let section = metrics_section(&html).unwrap_or_else(|| panic!("no GenAI metrics section: {html}"));
    for id in [
        "metric-tokens",
        "metric-tokens-by-model",
        "metric-requests",
        "metric-duration",
    ] {
        assert!(
            section.contains(&format!("data-testid=\"chart-{id}\"")),
            "no {id} chart"
        );
    }
    assert!(section.contains("role=\"img\""));
    assert!(section.contains("claude-sonnet-4-5 (anthropic)"), "{section}");
    let csvs = csv_downloads(section);
    assert_eq!(csvs.len(), 4, "{csvs:?}");
    // Per hour: the retried delta export counts once; the cumulative
    // series count their first point whole (they started in the range)
    // and then the change.
    assert!(
        csvs[0].starts_with(
            "Hour (UTC),Input,Output\r\n01 Jan 00:00,2200,400\r\n01 Jan 01:00,500,150\r\n01 Jan 02:00,0,0\r\n"
        ),
        "{}",
        csvs[0]
    );
    assert_eq!(
        csvs[1],
        "Model,Provider,Input,Output,Other,Total\r\n\
         claude-sonnet-4-5,anthropic,1500,250,0,1750\r\n\
         gpt-4o,openai,1200,300,0,1500\r\n"
    );
    assert!(
        csvs[2].starts_with("Hour (UTC),Requests,Errors\r\n01 Jan 00:00,2,0\r\n01 Jan 01:00,4,0\r\n"),
        "{}",
        csvs[2]
    );
    // p50 and p95 interpolated inside the buckets, the mean from sum / count.
    assert!(
        csvs[3].starts_with(
            "Hour (UTC),p50,p95,Mean\r\n01 Jan 00:00,750,1000,750\r\n01 Jan 01:00,1000,2000,1250\r\n01 Jan 02:00,,,\r\n"
        ),
        "{}",
        csvs[3]
    );
    // The exact values are in the tables too.
    assert!(section.contains("1,750") && section.contains("2,200"));

    // A range without points has no section, not an empty one.
    let html = browser
        .get("/costs?range=custom&since=2026-02-01T00:00&until=2026-02-02T00:00")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-testid=\"costs-window\""), "{html}");
    assert!(metrics_section(&html).is_none());

    let stranger = server.browser();
    stranger.sign_up("eve@example.com").await;
    let html = stranger.get(page).await.text().await.unwrap();
    assert!(html.contains("data-testid=\"costs-window\""), "{html}");
    assert!(metrics_section(&html).is_none());
    assert!(!html.contains("claude-sonnet-4-5"));
    assert!(!html.contains("GenAI metrics"));
    server.stop().await;
}

/// Model calls on four days, read over a range that starts and ends inside
/// a day: by day, week and in total, from the daily rollups and the hours
/// at either end, the sums are those of the hours.
async fn long_ranges_read_the_daily_rollups_alike(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    let day = 24 * HOUR;
    // (time, duration, model, output tokens): before, inside and after the range.
    let calls = [
        (T0 + HOUR, 10 * MS, "gpt-4o", 1),
        (T0 + 3 * HOUR, 20 * MS, "gpt-4o", 2),
        (T0 + 23 * HOUR + 1800 * SECOND, 40 * MS, "claude-sonnet-4-5", 4),
        (T0 + day + 12 * HOUR, 80 * MS, "gpt-4o", 8),
        (T0 + 2 * day + 600 * SECOND, 160 * MS, "gpt-4o", 16),
        (T0 + 3 * day + 5 * HOUR, 320 * MS, "claude-sonnet-4-5", 32),
        (T0 + 3 * day + 7 * HOUR, 640 * MS, "gpt-4o", 64),
    ];
    let spans = calls
        .iter()
        .enumerate()
        .map(|(index, &(time, duration, model, output))| {
            span(
                TRACE_A,
                &format!("00000000000000d{index}"),
                None,
                "chat",
                (time, duration),
                false,
                chat(model, 100, 0, 0, output),
            )
        })
        .collect();
    ingest(&server, &token, export("coder", spans)).await;

    // 2026-01-01T02:00 to 2026-01-04T06:00: calls 2 to 6.
    let range = "since=2026-01-01T02:00:00Z&until=2026-01-04T06:00:00Z";
    let report = |query: String| {
        let server = &server;
        let token = &token;
        async move { get_json(server, token, &format!("/api/v1/usage?{range}&{query}")).await }
    };
    let hours = report("granularity=hour&group_by=model".into()).await;
    assert_eq!(hours["totals"]["output_tokens"], 2 + 4 + 8 + 16 + 32, "{hours}");
    let per_day_of_hours = |report: &Value| {
        let mut days: std::collections::BTreeMap<(i64, String), i64> = Default::default();
        for row in report["rows"].as_array().unwrap() {
            let time = row["time_ns"].as_i64().unwrap();
            *days
                .entry((
                    time - time.rem_euclid(day),
                    row["model"].as_str().unwrap().to_owned(),
                ))
                .or_default() += row["usage"]["output_tokens"].as_i64().unwrap();
        }
        days.into_iter().collect::<Vec<_>>()
    };
    let days = report("granularity=day&group_by=model".into()).await;
    assert_eq!(per_day_of_hours(&days), per_day_of_hours(&hours));
    assert_eq!(days["rows"].as_array().unwrap().len(), 5, "{days}");
    for granularity in ["day", "week", "total"] {
        let other = report(format!("granularity={granularity}&group_by=model")).await;
        assert_eq!(other["totals"], hours["totals"], "{granularity}: {other}");
    }
    let week = report("granularity=week&group_by=model".into()).await;
    // 2026-01-01 is a Thursday: the range is one week's rows, one per model.
    assert_eq!(
        by(&week, "model", "output_tokens"),
        [
            ("claude-sonnet-4-5".to_owned(), 4 + 32),
            ("gpt-4o".to_owned(), 2 + 8 + 16)
        ]
    );
    // Percentiles read from the summed day histograms are the hours' too.
    let total = report("granularity=total".into()).await;
    assert_eq!(
        total["totals"]["p95_latency_ms"],
        hours["totals"]["p95_latency_ms"]
    );
    assert!(total["totals"]["p95_latency_ms"].as_f64().unwrap() > 226.0);
    server.stop().await;
}

/// Cumulative GenAI metrics every 30 minutes for three days, with an
/// exporter restart on the second: a three-day Costs page (by day) counts
/// what the points did; the rollups hold a row per series per hour and per
/// day, not a row per point; and rebuilding them from the stored points
/// (the backfill for points stored before the rollups) charts the same.
async fn metric_rollups_count_what_the_points_did(backend: Backend) {
    use metrics::{export, point};

    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest"]).await;
    let attributes = [
        ("gen_ai.token.type", "input"),
        ("gen_ai.request.model", "gpt-4o"),
        ("gen_ai.provider.name", "openai"),
    ];
    let restart = T0 + 36 * HOUR + 600 * SECOND;
    let (mut total, mut counted, mut points) = (0.0, 0.0, 0);
    let mut time = T0 + 1800 * SECOND;
    while time < T0 + 72 * HOUR {
        let start = if time < restart { T0 } else { restart };
        if time >= restart && time - 1800 * SECOND < restart {
            // The restarted exporter counts from zero.
            total = 0.0;
        }
        total += 100.0;
        counted += 100.0;
        let body = export(vec![(
            "gen_ai.client.token.usage",
            "{token}",
            true,
            vec![point(&attributes, (start, time), (&[1000.0], &[1, 0]), total)],
        )]);
        let response = post_otlp(&server, "/v1/metrics", &token, "application/x-protobuf", body).await;
        assert_eq!(response.status(), StatusCode::OK);
        points += 1;
        time += 1800 * SECOND;
    }
    let browser = server.browser();
    assert_eq!(
        browser.log_in("ada@example.com", common::PASSWORD).await.status(),
        StatusCode::OK
    );
    let page = "/costs?range=custom&since=2026-01-01T00:00&until=2026-01-04T00:00";
    let by_model = |html: &str| {
        let section = metrics_section(html).unwrap_or_else(|| panic!("no GenAI metrics: {html}"));
        csv_downloads(section)[1].clone()
    };
    let html = browser.get(page).await.text().await.unwrap();
    assert_eq!(
        by_model(&html),
        format!("Model,Provider,Input,Output,Other,Total\r\ngpt-4o,openai,{counted},0,0,{counted}\r\n")
    );
    let per_day = csv_downloads(metrics_section(&html).unwrap())[0].clone();
    // 47 half hours on the first day (00:30 to 23:30), then 48 each.
    assert!(
        per_day.starts_with("Day (UTC),Input\r\n01 Jan,4700\r\n02 Jan,4800\r\n03 Jan,4800\r\n"),
        "{per_day}"
    );

    let db = &server.state.db;
    let count = |sql: &'static str| async move {
        db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap()
    };
    use sea_orm::ConnectionTrait;
    assert_eq!(count("SELECT COUNT(*) FROM metric_points").await, points);
    // 72 hours and 3 days, plus one of each for the restarted run.
    assert_eq!(count("SELECT COUNT(*) FROM metric_rollups").await, 72 + 3 + 2);

    // Points stored before the rollups existed: rolled up at startup.
    db.execute_unprepared("DELETE FROM metric_rollups").await.unwrap();
    db.execute_unprepared(
        "UPDATE maintenance_jobs SET position = 0, finished = false WHERE name = 'metric_rollup_backfill'",
    )
    .await
    .unwrap();
    let read = app::telemetry::services::ingest::metric_rollups::backfill(db, &Default::default())
        .await
        .unwrap();
    assert_eq!(read, points as u64);
    assert_eq!(count("SELECT COUNT(*) FROM metric_rollups").await, 72 + 3 + 2);
    let rebuilt = browser.get(page).await.text().await.unwrap();
    assert_eq!(metrics_section(&rebuilt), metrics_section(&html));
    // Done once: the next start does nothing.
    assert_eq!(
        app::telemetry::services::ingest::metric_rollups::backfill(db, &Default::default())
            .await
            .unwrap(),
        0
    );
    server.stop().await;
}
