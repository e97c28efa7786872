//! Retention benchmark: 1,000,000 expired spans deleted by the retention
//! job while ingest goes on. Ingests the expired spans (bench batches dated
//! 2023), measures ingest latency at a paced load of recent spans, then
//! saves a policy keeping 30 days and runs the same paced load while the
//! job deletes: its rate, and ingest p99 meanwhile against before. Then
//! ingests as many recent spans again and reports the database's size
//! before, after the deletion and after the refill (freed space reused).
//!
//! `cargo bench -p server --bench retention` (SQLite), with
//! `SPECULA_BENCH_DATABASE=postgres` for PostgreSQL on 127.0.0.1:5432;
//! `SPECULA_BENCH_SPANS` (default 1000000) sizes the expired set.

mod support;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use support::*;

/// The paced load: 50 requests of 100 spans per second, for 60 seconds.
const PACED_RATE: f64 = 50.0;
const PACED_BATCHES: u64 = 3_000;
/// Batch numbers of recent spans start here (trace ids never meet the expired ones').
const RECENT_FROM: u64 = 10_000_000;

fn recent_batches(from: u64, count: u64) -> Arc<Vec<Vec<u8>>> {
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap() as u64;
    // Batch `from` starts a day ago, each next one a second later.
    let epoch = now - 86_400_000_000_000 - from * 1_000_000_000;
    Arc::new(
        (from..from + count)
            .map(|index| batch_from(index, epoch))
            .collect(),
    )
}

async fn status(client: &reqwest::Client, base: &str) -> Value {
    client
        .get(format!("{base}/api/v1/governance/retention"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn report_load(label: &str, result: &LoadResult) {
    println!(
        "{label}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} requests, {} refused)",
        percentile(&result.latencies, 0.5),
        percentile(&result.latencies, 0.99),
        percentile(&result.latencies, 1.0),
        result.latencies.len(),
        result.refused
    );
}

#[tokio::main]
async fn main() {
    let database = std::env::var("SPECULA_BENCH_DATABASE").unwrap_or_else(|_| "sqlite".to_owned());
    let expired_spans: usize = env_or("SPECULA_BENCH_SPANS", 1_000_000);
    let postgres_db = format!("specula_bench_retention_{}", std::process::id());
    let batch_count = expired_spans.div_ceil(SPANS_PER_BATCH) as u64;
    if database == "postgres" {
        with_postgres_db(&postgres_db, true).await;
    }
    let server = start_server_with(&database, &postgres_db, &[("SPECULA_RETENTION_INTERVAL", "2s")]);
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    wait_ready(&client, &server.base).await;
    let token = ingest_token(&client, &server.base).await;

    println!("== {database}: {expired_spans} expired spans");
    let expired = Arc::new((0..batch_count).map(batch).collect::<Vec<_>>());
    let loaded = load(&server.base, &token, expired, 8, None, None).await;
    println!(
        "expired spans ingested: {} in {:.1} s",
        loaded.acknowledged_spans,
        loaded.elapsed.as_secs_f64()
    );
    drop(loaded);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (filled, _) = database_bytes(&server, &postgres_db).await;

    let before = load(
        &server.base,
        &token,
        recent_batches(RECENT_FROM, PACED_BATCHES / 3),
        8,
        Some(PACED_RATE),
        None,
    )
    .await;
    report_load("ingest at 5,000 spans/s, no retention running", &before);

    let saved = client
        .post(format!("{}/api/v1/governance/policies", server.base))
        .json(&json!({"document": {"retention": {"spans_days": 30}}, "comment": "bench"}))
        .send()
        .await
        .unwrap();
    assert!(saved.status().is_success(), "{}", saved.text().await.unwrap());
    let saved_at = Instant::now();
    let (base, paced_token) = (server.base.clone(), token.clone());
    let recent = recent_batches(RECENT_FROM + PACED_BATCHES, PACED_BATCHES);
    let paced =
        tokio::spawn(async move { load(&base, &paced_token, recent, 8, Some(PACED_RATE), None).await });
    let target = batch_count * SPANS_PER_BATCH as u64;
    let mut seen_running = None;
    let finished = loop {
        let now = status(&client, &server.base).await;
        if now["running"] == true && seen_running.is_none() {
            seen_running = Some(saved_at.elapsed());
        }
        let deleted = now["total_spans_deleted"].as_u64().unwrap_or(0);
        if deleted >= target && now["running"] == false {
            break saved_at.elapsed();
        }
        assert!(
            saved_at.elapsed() < Duration::from_secs(1800),
            "retention did not finish: {now}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let started = seen_running.unwrap_or_default();
    let took = finished.saturating_sub(started).as_secs_f64();
    println!(
        "retention deleted {target} spans in {took:.1} s: {:.0} spans/s (pass seen {:.1} s after the save)",
        target as f64 / took,
        started.as_secs_f64()
    );
    let during = paced.await.unwrap();
    report_load(
        "ingest at 5,000 spans/s while retention deletes (and after, to 60 s)",
        &during,
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (emptied, _) = database_bytes(&server, &postgres_db).await;

    let refill = load(
        &server.base,
        &token,
        recent_batches(RECENT_FROM + 2 * PACED_BATCHES, batch_count),
        8,
        None,
        None,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (refilled, _) = database_bytes(&server, &postgres_db).await;
    println!(
        "database: {:.1} MB with the expired spans, {:.1} MB after retention, {:.1} MB after {} new spans",
        filled as f64 / 1e6,
        emptied as f64 / 1e6,
        refilled as f64 / 1e6,
        refill.acknowledged_spans
    );
    server.stop();
    if database == "postgres" {
        with_postgres_db(&postgres_db, false).await;
    }
}
