//! Governance evaluate benchmark: a policy of 100 rules (50 blocked
//! patterns, 30 redaction rules, 10 allowed and 5 denied models, 5 region
//! rules) with the cost ceiling and the abuse check on (40 abuse patterns),
//! and 4 KB prompts of the evaluation sets' words, a tenth of them carrying
//! a customer id to redact and a tenth asking for a model to route.
//!
//! Reports the decision alone (in process, what the server computes per
//! call), then `POST /api/v1/governance/evaluate` one call at a time (the
//! latency a gateway sees on loopback, an upper bound of the server-side
//! time) and with 8 concurrent connections (throughput), and checks that
//! every decision was stored as a governance event.
//!
//! `cargo bench -p server --bench evaluate` (SQLite), with
//! `SPECULA_BENCH_DATABASE=postgres` for PostgreSQL on 127.0.0.1:5432;
//! `SPECULA_BENCH_SAMPLES` (default 2000) sizes the timed calls and
//! `SPECULA_BENCH_SECONDS` (default 10) the throughput run.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use app::{
    governance::{
        services::{
            book,
            guardrails::{self, CompiledGuardrails, DecisionContext},
        },
        types::{EvaluateRequest, PolicyDocument},
    },
    similarity::services::abuse::AbuseGuard,
    telemetry::services::ingest::{policy::IngestPolicy, pricing::OrgPricing},
};
use serde_json::{Value, json};
use support::*;
use uuid::Uuid;

const PROMPT_BYTES: usize = 4096;
const WARM_UP: usize = 200;

fn policy() -> Value {
    let blocked: Vec<Value> = (0..50)
        .map(|index| match index % 2 {
            0 => json!({"id": format!("blocked-{index}"), "kind": "regex",
                        "pattern": format!(r"(?:exfiltrate|leak) (?:the )?secret[- ]{index}\b"),
                        "reason": "exfiltration"}),
            _ => json!({"id": format!("blocked-{index}"), "kind": "literal",
                        "pattern": format!("forbidden phrase number {index}"), "case_insensitive": true,
                        "reason": "a phrase the compliance team listed"}),
        })
        .collect();
    let redaction: Vec<Value> = (0..30)
        .map(|index| match index {
            0 => json!({"id": "customer", "kind": "regex", "pattern": "CUST-[0-9]{6}", "label": "customer_id"}),
            _ if index % 3 == 0 => json!({"id": format!("codename-{index}"), "kind": "literal",
                                          "pattern": format!("Project Codename {index}"), "label": "codename",
                                          "case_insensitive": true}),
            _ => json!({"id": format!("pii-{index}"), "kind": "regex",
                        "pattern": format!(r"\bREF{index}-[0-9]{{4,8}}\b"), "label": format!("reference_{index}")}),
        })
        .collect();
    json!({
        "redaction": {"rules": redaction},
        "guardrails": {
            "blocked_patterns": blocked,
            "max_prompt_chars": 100000,
            "max_prompt_tokens": 25000,
            "allowed_models": ["gpt-4o-mini", "gpt-4.1*", "claude-*", "mistral-*", "gemini-2.5-*",
                               "o3-mini", "o4-mini", "llama-3*", "command-r*", "deepseek-*"],
            "denied_models": ["claude-3-opus*", "gpt-4-32k*", "o1-pro*", "gemini-1.0*", "llama-2*"],
            "fallback_model": "gpt-4o-mini",
            "regions": [
                {"region": "eu", "models": ["mistral-*"], "providers": ["anthropic"]},
                {"region": "uk", "providers": ["anthropic", "openai"]},
                {"region": "ch", "models": ["mistral-*"]},
                {"region": "ca", "providers": ["openai"]},
                {"region": "au", "providers": ["anthropic"]},
            ],
            "max_cost_usd": "0.50",
            "abuse_threshold": 0.5,
        },
    })
}

/// The evaluate calls: 4 KB prompts, a tenth with a customer id, a tenth
/// for a model the policy routes, regions named now and then.
fn requests(count: usize) -> Vec<Value> {
    let words = vocabulary();
    let mut random = Random(0x5eed_1234_abcd_0001);
    (0..count)
        .map(|index| {
            let mut prompt = prompt(&mut random, &words, PROMPT_BYTES);
            if index % 10 == 3 {
                prompt.push_str(" Please refund CUST-123456 today.");
            }
            let model = match index % 10 {
                7 => "gpt-4o",
                _ => "claude-sonnet-4-5",
            };
            let region = ["eu", "us", "uk", ""][index % 4];
            json!({
                "model": model,
                "prompt": prompt,
                "end_user": format!("user-{}", index % 100),
                "region": region,
                "service": "support-agent",
            })
        })
        .collect()
}

fn abuse_texts() -> Vec<String> {
    let words = vocabulary();
    let mut random = Random(0xabad_cafe_0000_0001);
    (0..40).map(|_| prompt(&mut random, &words, 300)).collect()
}

/// The decision alone, in process, over the same policy and prompts.
fn decisions_in_process(requests: &[Value]) {
    let document: PolicyDocument = serde_json::from_value(policy()).unwrap();
    let ingest = book::compile(&IngestPolicy::default(), 1, &document).unwrap();
    let compiled = CompiledGuardrails::compile(&document.guardrails).unwrap();
    let pricing = OrgPricing::new([]);
    let org_id = Uuid::nil();
    let abuse = AbuseGuard::with_patterns(org_id, &abuse_texts());
    let context = DecisionContext {
        org_id,
        ingest: &ingest,
        guardrails: &compiled,
        pricing: &pricing,
        abuse: &abuse,
        spent_budgets: &[],
        now_ns: 1_800_000_000_000_000_000,
    };
    let requests: Vec<EvaluateRequest> = requests
        .iter()
        .map(|request| serde_json::from_value(request.clone()).unwrap())
        .collect();
    let mut timings = Vec::with_capacity(requests.len());
    let mut actions = std::collections::BTreeMap::<&str, u64>::new();
    for (round, request) in requests.iter().cycle().take(WARM_UP + requests.len()).enumerate() {
        let started = Instant::now();
        let evaluation = guardrails::evaluate(&context, request).unwrap();
        if round >= WARM_UP {
            timings.push(started.elapsed());
            *actions.entry(evaluation.action.as_str()).or_default() += 1;
        }
    }
    timings.sort();
    report("the decision alone (in process)", &timings);
    println!("  actions: {actions:?}");
}

async fn post(client: &reqwest::Client, url: &str, token: &str, body: &Value) -> Duration {
    let started = Instant::now();
    let response = client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.bytes().await.unwrap();
    let elapsed = started.elapsed();
    assert!(status.is_success(), "{status} {}", String::from_utf8_lossy(&text));
    elapsed
}

#[tokio::main]
async fn main() {
    let database = std::env::var("SPECULA_BENCH_DATABASE").unwrap_or_else(|_| "sqlite".to_owned());
    let samples: usize = env_or("SPECULA_BENCH_SAMPLES", 2_000);
    let seconds: u64 = env_or("SPECULA_BENCH_SECONDS", 10);
    let postgres_db = format!("specula_bench_evaluate_{}", std::process::id());
    let requests = requests(samples);
    println!(
        "{} prompts of {} bytes; policy of 100 rules, 40 abuse patterns",
        requests.len(),
        PROMPT_BYTES
    );
    decisions_in_process(&requests);

    if database == "postgres" {
        with_postgres_db(&postgres_db, true).await;
    }
    let server = start_server(&database, &postgres_db);
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    wait_ready(&client, &server.base).await;
    let org = sign_up(&client, &server.base).await;
    let token = mint_token(&client, &server.base, &org, &["evaluate"]).await;
    let saved = client
        .post(format!("{}/api/v1/governance/policies", server.base))
        .json(&json!({"document": policy(), "comment": "bench"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        saved.status(),
        reqwest::StatusCode::CREATED,
        "{}",
        saved.text().await.unwrap()
    );
    for text in abuse_texts() {
        let response = client
            .post(format!("{}/api/v1/orgs/{org}/abuse-patterns", server.base))
            .json(&json!({"label": "bench", "text": text}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    let url = format!("{}/api/v1/governance/evaluate", server.base);

    // One call at a time.
    let mut timings = Vec::with_capacity(samples);
    for (round, request) in requests.iter().cycle().take(WARM_UP + samples).enumerate() {
        let elapsed = post(&client, &url, &token, request).await;
        if round >= WARM_UP {
            timings.push(elapsed);
        }
    }
    timings.sort();
    report(
        &format!("POST /api/v1/governance/evaluate, one at a time, {database}"),
        &timings,
    );

    // Throughput over 8 connections.
    let requests = Arc::new(requests);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let (client, url, token, requests, done) = (
                reqwest::Client::new(),
                url.clone(),
                token.clone(),
                requests.clone(),
                done.clone(),
            );
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut index = worker;
                while Instant::now() < deadline {
                    latencies.push(post(&client, &url, &token, &requests[index % requests.len()]).await);
                    done.fetch_add(1, Ordering::Relaxed);
                    index += 8;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let decided = done.load(Ordering::Relaxed);
    println!(
        "throughput, 8 connections, {database}: {:.0} decisions/s ({decided} in {elapsed:.1} s)",
        decided as f64 / elapsed
    );
    report("  latency under that load", &latencies);

    // Every decision stored: the writer drains on SIGTERM.
    let sent = (WARM_UP + samples) as u64 + decided;
    let mut server = server;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status();
    let _ = server.child.wait();
    let stored = count_rows(&server.database_url, "governance_events").await;
    println!("governance events stored: {stored} of {sent} decisions");
    assert_eq!(stored, sent, "every decision is stored");
    if database == "postgres" {
        with_postgres_db(&postgres_db, false).await;
    }
}
