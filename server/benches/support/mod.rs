//! What the benches share: realistic GenAI batches, starting the release
//! server on a fresh database, signing up, sending load, percentiles.

#![allow(dead_code)]

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, KeyValue, any_value},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span, Status},
};
use prost::Message;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

pub const SPANS_PER_BATCH: usize = 100;

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

pub fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

/// A diff of about 2 KB.
pub fn diff(seed: u64) -> String {
    let mut out = format!("--- a/src/module_{seed}.rs\n+++ b/src/module_{seed}.rs\n@@ -10,12 +10,14 @@\n");
    for line in 0..24 {
        out.push_str(&format!("-    let value_{line} = compute({line}, {seed});\n+    let value_{line} = compute_checked({line}, {seed})?;\n"));
    }
    out.truncate(2048);
    out
}

/// One batch of `SPANS_PER_BATCH` spans: agent traces of six spans each
/// (agent → request → tool call → tool result with a diff → request → response).
/// Whether every request span sends a prompt of its own
/// (`SPECULA_BENCH_DISTINCT_PROMPTS=true`), so that the prompt workers
/// embed one per span, as with a stream of new prompts; by default all
/// send one prompt, as an agent's retries do.
fn distinct_prompts() -> bool {
    static DISTINCT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DISTINCT.get_or_init(|| env_or("SPECULA_BENCH_DISTINCT_PROMPTS", false))
}

/// A request span's `gen_ai.input.messages`.
fn input_messages(batch_index: u64, trace_number: u64, span: u64) -> String {
    let task = if distinct_prompts() {
        format!(
            "The parser panics on empty input in module {batch_index}.{trace_number}.{span}; make it return an error instead and add a test."
        )
    } else {
        "The parser panics on empty input; make it return an error instead and add a test.".to_owned()
    };
    json!([
        {"role": "system", "parts": [{"type": "text", "content": "You are a careful coding agent working in a Rust repository."}]},
        {"role": "user", "parts": [{"type": "text", "content": task}]},
    ])
    .to_string()
}

pub fn batch(batch_index: u64) -> Vec<u8> {
    batch_from(batch_index, 1_700_000_000_000_000_000)
}

/// [`batch`] with its traces starting `batch_index` seconds after `epoch_ns`.
pub fn batch_from(batch_index: u64, epoch_ns: u64) -> Vec<u8> {
    let mut spans = Vec::with_capacity(SPANS_PER_BATCH);
    let base = epoch_ns + batch_index * 1_000_000_000;
    let mut trace_number = 0u64;
    while spans.len() < SPANS_PER_BATCH {
        let trace_id: Vec<u8> = (batch_index << 20 | trace_number)
            .to_be_bytes()
            .into_iter()
            .chain(7u64.to_be_bytes())
            .collect();
        let span_id = |n: u64| (batch_index << 24 | trace_number << 4 | n).to_be_bytes().to_vec();
        let start = base + trace_number * 10_000_000;
        let make = |n: u64, parent: Option<u64>, name: &str, attributes: Vec<KeyValue>| Span {
            trace_id: trace_id.clone(),
            span_id: span_id(n),
            parent_span_id: parent.map(span_id).unwrap_or_default(),
            name: name.to_owned(),
            kind: 1,
            start_time_unix_nano: start + n * 1_000_000,
            end_time_unix_nano: start + n * 1_000_000 + 800_000,
            attributes,
            status: Some(Status {
                code: 1,
                message: String::new(),
            }),
            ..Default::default()
        };
        let request = |n: u64| {
            make(
                n,
                Some(1),
                "chat gpt-4o",
                vec![
                    kv("gen_ai.operation.name", "chat"),
                    kv("gen_ai.provider.name", "openai"),
                    kv("gen_ai.request.model", "gpt-4o"),
                    int("gen_ai.usage.input_tokens", 1800),
                    int("gen_ai.usage.output_tokens", 240),
                    int("gen_ai.usage.cache_read.input_tokens", 1024),
                    kv(
                        "gen_ai.input.messages",
                        &input_messages(batch_index, trace_number, n),
                    ),
                    kv(
                        "gen_ai.output.messages",
                        r#"[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"apply_patch","arguments":{"path":"src/parser.rs"}}],"finish_reason":"tool_calls"}]"#,
                    ),
                ],
            )
        };
        let trace = [
            make(
                1,
                None,
                "invoke_agent coder",
                vec![
                    kv("gen_ai.operation.name", "invoke_agent"),
                    kv("gen_ai.agent.name", "coder"),
                ],
            ),
            request(2),
            make(
                3,
                Some(1),
                "gen_ai.tool_call",
                vec![
                    kv("tool.name", "apply_patch"),
                    kv("tool.arguments", r#"{"path":"src/parser.rs"}"#),
                ],
            ),
            make(
                4,
                Some(1),
                "gen_ai.tool_result",
                vec![
                    kv("tool.name", "apply_patch"),
                    kv("tool.status", "ok"),
                    kv("tool.output.diff", &diff(batch_index ^ trace_number)),
                ],
            ),
            request(5),
            make(
                6,
                Some(1),
                "gen_ai.response",
                vec![kv(
                    "completion",
                    "Fixed: empty input now returns ParseError::Empty, with a regression test.",
                )],
            ),
        ];
        for span in trace {
            if spans.len() < SPANS_PER_BATCH {
                spans.push(span);
            }
        }
        trace_number += 1;
    }
    export_request("bench-agent", spans)
}

/// An encoded export of `spans`, all from one service in one scope.
pub fn export_request(service: &str, spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// Posts an encoded trace export with `token`.
pub async fn post_traces(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    client
        .post(format!("{base}/v1/traces"))
        .bearer_auth(token)
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// One trace of `spans` spans (an agent and its children, the same mix as
/// [`batch`]) with a trace id no batch uses; returns the id and the request.
pub fn long_trace(spans: usize) -> (String, Vec<u8>) {
    let trace_id: Vec<u8> = [0xfe; 8].into_iter().chain(7u64.to_be_bytes()).collect();
    let base = 1_800_000_000_000_000_000u64;
    let span_id = |n: usize| (0xfe00_0000_0000_0000u64 | n as u64).to_be_bytes().to_vec();
    let spans: Vec<Span> = (0..spans)
        .map(|n| {
            let attributes = match n % 3 {
                0 if n > 0 => vec![
                    kv("tool.name", "apply_patch"),
                    kv("tool.output.diff", &diff(n as u64)),
                ],
                _ if n > 0 => vec![
                    kv("gen_ai.operation.name", "chat"),
                    kv("gen_ai.request.model", "gpt-4o"),
                    int("gen_ai.usage.input_tokens", 1200),
                    int("gen_ai.usage.output_tokens", 80),
                ],
                _ => vec![kv("gen_ai.operation.name", "invoke_agent")],
            };
            Span {
                trace_id: trace_id.clone(),
                span_id: span_id(n),
                parent_span_id: if n == 0 { Vec::new() } else { span_id(0) },
                name: if n == 0 {
                    "invoke_agent long".to_owned()
                } else {
                    format!("step {n}")
                },
                kind: 1,
                start_time_unix_nano: base + n as u64 * 1_000_000,
                end_time_unix_nano: base + n as u64 * 1_000_000 + 900_000,
                attributes,
                status: Some(Status {
                    code: 1,
                    message: String::new(),
                }),
                ..Default::default()
            }
        })
        .collect();
    let hex: String = trace_id.iter().map(|byte| format!("{byte:02x}")).collect();
    (hex, export_request("bench-agent", spans))
}

pub struct RunningServer {
    pub child: Child,
    pub base: String,
    pub database_url: String,
    pub sqlite_files: Option<std::path::PathBuf>,
    _dir: tempfile::TempDir,
}

pub fn start_server(database: &str, postgres_db: &str) -> RunningServer {
    start_server_with(database, postgres_db, &[])
}

/// [`start_server`] with more environment variables.
pub fn start_server_with(database: &str, postgres_db: &str, env: &[(&str, &str)]) -> RunningServer {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (database_url, sqlite_files) = if database == "postgres" {
        (format!("postgres://postgres@127.0.0.1:5432/{postgres_db}"), None)
    } else {
        let path = dir.path().join("bench.db");
        (format!("sqlite://{}", path.display()), Some(path))
    };
    // Another build of the server, to compare two builds in one session.
    let binary =
        std::env::var("SPECULA_BENCH_SERVER").unwrap_or_else(|_| env!("CARGO_BIN_EXE_specula").to_owned());
    let child = Command::new(binary)
        .arg("serve")
        .env("SPECULA_LISTEN", format!("127.0.0.1:{port}"))
        .env("SPECULA_GRPC_LISTEN", "127.0.0.1:0")
        .env("SPECULA_DATABASE_URL", &database_url)
        .env("SPECULA_LOG", "warn")
        .env("SPECULA_INGEST_QUEUE", "1024")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start specula");
    RunningServer {
        child,
        base: format!("http://127.0.0.1:{port}"),
        database_url,
        sqlite_files,
        _dir: dir,
    }
}

impl RunningServer {
    /// Stops the server as an operator would (SIGTERM) and waits for it.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// CPU time (user and system, all threads) the process has used so far.
/// `/proc` counts it in USER_HZ ticks, which Linux fixes at 100 per second.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces; fields are counted after it.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|field| field.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15, the 12th and 13th after the name.
    (ticks(11) + ticks(12)) / 100.0
}

pub fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

pub async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..600 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server did not become ready");
}

pub async fn ingest_token(client: &reqwest::Client, base: &str) -> String {
    signed_up_token(client, base, &["ingest"]).await
}

/// Signs up the bench user (the client keeps the session cookie) and mints
/// a token with `scopes`.
pub async fn signed_up_token(client: &reqwest::Client, base: &str, scopes: &[&str]) -> String {
    let org = sign_up(client, base).await;
    mint_token(client, base, &org, scopes).await
}

/// Mints a token with `scopes` in `org` (the client holds an owner's
/// session); returns its secret.
pub async fn mint_token(client: &reqwest::Client, base: &str, org: &str, scopes: &[&str]) -> String {
    let minted: Value = client
        .post(format!("{base}/api/v1/orgs/{org}/tokens"))
        .json(&json!({"name": "bench", "scopes": scopes}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    minted["secret"].as_str().unwrap().to_owned()
}

/// Signs up the bench user (the client keeps the session cookie); returns
/// their organization's id.
pub async fn sign_up(client: &reqwest::Client, base: &str) -> String {
    sign_up_as(client, base, "bench@example.com").await
}

/// [`sign_up`] as `email`.
pub async fn sign_up_as(client: &reqwest::Client, base: &str, email: &str) -> String {
    let me: Value = client
        .post(format!("{base}/api/v1/auth/signup"))
        .json(&json!({"email": email, "password": "correct horse battery staple"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    me["organizations"][0]["id"].as_str().unwrap().to_owned()
}

/// `warm_up` untimed GETs, then `samples` timed ones, one at a time; the
/// timings sorted.
pub async fn time_get(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    warm_up: usize,
    samples: usize,
) -> Vec<Duration> {
    let mut timings = Vec::with_capacity(samples);
    for round in 0..warm_up + samples {
        let mut request = client.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let started = Instant::now();
        let response = request.send().await.unwrap();
        let status = response.status();
        let body = response.bytes().await.unwrap();
        if round >= warm_up {
            timings.push(started.elapsed());
        }
        assert!(
            status.is_success(),
            "{url}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    timings.sort();
    timings
}

/// Prints the percentiles of sorted timings.
pub fn report(label: &str, timings: &[Duration]) {
    println!(
        "{label}: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} requests)",
        percentile(timings, 0.5),
        percentile(timings, 0.95),
        percentile(timings, 0.99),
        percentile(timings, 1.0),
        timings.len()
    );
}

pub struct LoadResult {
    pub acknowledged_spans: u64,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    pub refused: u64,
}

/// Sends `batches` over `connections` concurrent connections, optionally paced
/// to `rate` requests per second in total.
pub async fn load(
    base: &str,
    token: &str,
    batches: Arc<Vec<Vec<u8>>>,
    connections: usize,
    rate: Option<f64>,
    stop_after: Option<usize>,
) -> LoadResult {
    let next = Arc::new(AtomicUsize::new(0));
    let acknowledged = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let limit = stop_after.unwrap_or(batches.len());
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();
        let (next, acknowledged, refused, batches) = (
            next.clone(),
            acknowledged.clone(),
            refused.clone(),
            batches.clone(),
        );
        let url = format!("{base}/v1/traces");
        let token = token.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= limit {
                    break;
                }
                if let Some(rate) = rate {
                    let due = started + Duration::from_secs_f64(index as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/x-protobuf")
                    .body(batches[index % batches.len()].clone())
                    .send()
                    .await;
                match response {
                    Ok(response) if response.status().is_success() => {
                        latencies.push(sent.elapsed());
                        acknowledged.fetch_add(SPANS_PER_BATCH as u64, Ordering::Relaxed);
                    }
                    _ => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    latencies.sort();
    LoadResult {
        acknowledged_spans: acknowledged.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        latencies,
        refused: refused.load(Ordering::Relaxed),
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

pub async fn stored_spans(database_url: &str) -> u64 {
    count_rows(database_url, "spans").await
}

/// The rows of `table`.
pub async fn count_rows(database_url: &str, table: &str) -> u64 {
    let db = Database::connect(database_url).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    let count: i64 = row.try_get("", "n").unwrap();
    db.close().await.ok();
    count as u64
}

/// Spans stored, plus those the organization's sampling left out (counted
/// in the same commits), where the server counts them.
pub async fn accounted_spans(database_url: &str) -> u64 {
    let stored = stored_spans(database_url).await;
    let db = Database::connect(database_url).await.unwrap();
    // A server from before policies has no such table.
    let sampled_out = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COALESCE(SUM(spans), 0) AS n FROM ingest_drops",
        ))
        .await
        .ok()
        .flatten()
        .and_then(|row| row.try_get::<i64>("", "n").ok())
        .unwrap_or(0);
    db.close().await.ok();
    stored + sampled_out as u64
}

/// Saves the policy `SPECULA_BENCH_POLICY=rules` names: 20 redaction rules
/// of the kinds organizations write (customer and order ids, emails, phone
/// numbers, internal hosts, codenames) and 50% head sampling.
pub async fn save_bench_policy(client: &reqwest::Client, base: &str) {
    let patterns = [
        r"CUST-[0-9]{6}",
        r"ORD-[0-9]{8}",
        r"INV-[0-9]{4}-[0-9]{5}",
        r"[A-Za-z0-9._%+-]+@corp\.example\.com",
        r"\+1[ -]?[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}",
        r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b",
        r"\b(?:db|cache|queue)-[0-9]{2}\.internal\.example\b",
        r"\b10\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\b",
        r"TICKET-[A-Z]{3}-[0-9]+",
        r"\bacct_[A-Za-z0-9]{16}\b",
        r"\bIBAN [A-Z]{2}[0-9]{2}[A-Z0-9 ]{12,30}",
        r"\bpatient-[0-9]{7}\b",
        r"\bemployee #[0-9]{5}\b",
        r"\bVIN [A-HJ-NPR-Z0-9]{17}\b",
        r"\bpolicy no\. [0-9]{9}\b",
        r"\bsession_[a-f0-9]{24}\b",
    ];
    let literals = [
        "Project Falcon",
        "Operation Bluebird",
        "Acme Merger",
        "codename ORCHID",
    ];
    let mut rules: Vec<Value> = patterns
        .iter()
        .enumerate()
        .map(|(index, pattern)| json!({"id": format!("rule-{index}"), "kind": "regex", "pattern": pattern, "label": format!("pii-{index}")}))
        .collect();
    rules.extend(literals.iter().enumerate().map(|(index, literal)| {
        json!({"id": format!("literal-{index}"), "kind": "literal", "pattern": literal, "label": "codename", "case_insensitive": true})
    }));
    let response = client
        .post(format!("{base}/api/v1/governance/policies"))
        .json(&json!({
            "document": {
                "redaction": {"rules": rules},
                "sampling": {"percent": 50, "keep_errors": true},
            },
            "comment": "bench",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        reqwest::StatusCode::CREATED,
        "{}",
        response.text().await.unwrap()
    );
}

/// The database's size and, for SQLite, its write-ahead log's (bounded, and
/// emptied into the database by the server's background checkpoints).
pub async fn database_bytes(server: &RunningServer, postgres_db: &str) -> (u64, u64) {
    let file_size = |suffix: &str| {
        server
            .sqlite_files
            .as_ref()
            .and_then(|path| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
            .map_or(0, |meta| meta.len())
    };
    match &server.sqlite_files {
        Some(_) => (file_size(""), file_size("-wal") + file_size("-shm")),
        None => {
            let db = Database::connect("postgres://postgres@127.0.0.1:5432/postgres")
                .await
                .unwrap();
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    format!("SELECT pg_database_size('{postgres_db}') AS n"),
                ))
                .await
                .unwrap()
                .unwrap();
            let size: i64 = row.try_get("", "n").unwrap();
            (size as u64, 0)
        }
    }
}

pub async fn with_postgres_db(name: &str, create: bool) {
    let db = Database::connect("postgres://postgres@127.0.0.1:5432/postgres")
        .await
        .unwrap();
    let sql = if create {
        format!("CREATE DATABASE \"{name}\"")
    } else {
        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")
    };
    db.execute_unprepared(&sql).await.unwrap();
    db.close().await.ok();
}

/// A xorshift generator: the same prompts on every run.
pub struct Random(pub u64);

impl Random {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// The similarity evaluation sets' words, to build prompts from.
pub fn vocabulary() -> Vec<String> {
    let dir = app::similarity::services::evaluation::eval_dir();
    let mut words: Vec<String> = app::similarity::services::evaluation::abuse_cases(&dir)
        .unwrap()
        .iter()
        .map(|case| case.text.clone())
        .chain(
            app::similarity::services::evaluation::cluster_cases(&dir)
                .unwrap()
                .iter()
                .map(|case| case.text.clone()),
        )
        .flat_map(|text| text.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    words.sort();
    words.dedup();
    words
}

/// A prompt of random words from `words`, about `length` bytes long.
pub fn prompt(random: &mut Random, words: &[String], length: usize) -> String {
    let mut text = String::new();
    while text.len() < length {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&words[random.below(words.len())]);
    }
    text
}
