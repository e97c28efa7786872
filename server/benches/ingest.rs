//! Ingest load generator: starts the release `specula` binary on a fresh
//! database, sends realistic GenAI agent traces as pre-built protobuf batches
//! of 100 spans over several connections, and reports durable throughput
//! (acknowledged spans that are in the database), request latency, the
//! server's memory and the database size; then checks that SIGTERM during
//! load loses no acknowledged span.
//!
//! `cargo bench -p server --bench ingest` (SQLite), with
//! `SPECULA_BENCH_DATABASE=postgres` for PostgreSQL on 127.0.0.1:5432.
//! `SPECULA_BENCH_SPANS` (default 200000) and `SPECULA_BENCH_CONNECTIONS`
//! (default 8) size the run; `SPECULA_BENCH_SERVER` names another server
//! binary to run instead of this build's.
//! `SPECULA_BENCH_DISTINCT_PROMPTS=true` gives every request span a prompt
//! of its own (the prompt workers then embed one per span).
//! `SPECULA_BENCH_POLICY=rules` saves an organization policy of 20
//! redaction rules of its own and 50% head sampling (errors kept) before
//! the load; spans it samples out count as accounted for.

mod support;

use std::{process::Command, sync::Arc, time::Duration};

use support::*;

#[tokio::main]
async fn main() {
    let database = std::env::var("SPECULA_BENCH_DATABASE").unwrap_or_else(|_| "sqlite".to_owned());
    let total_spans: usize = env_or("SPECULA_BENCH_SPANS", 200_000);
    let connections: usize = env_or("SPECULA_BENCH_CONNECTIONS", 8);
    let postgres_db = format!("specula_bench_{}", std::process::id());
    let batch_count = total_spans.div_ceil(SPANS_PER_BATCH);
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();

    println!("building {batch_count} batches of {SPANS_PER_BATCH} spans…");
    let batches = Arc::new((0..batch_count as u64).map(batch).collect::<Vec<_>>());
    let batch_bytes = batches.iter().map(Vec::len).sum::<usize>() / batches.len();

    // Phase 1: throughput, as fast as the server acknowledges.
    if database == "postgres" {
        with_postgres_db(&postgres_db, true).await;
    }
    let server = start_server(&database, &postgres_db);
    wait_ready(&client, &server.base).await;
    let token = ingest_token(&client, &server.base).await;
    if std::env::var("SPECULA_BENCH_POLICY").as_deref() == Ok("rules") {
        save_bench_policy(&client, &server.base).await;
        println!("policy: 20 redaction rules of the organization's own, 50% of traces sampled, errors kept");
    }
    let cpu_before = cpu_seconds(server.child.id());
    let result = load(&server.base, &token, batches.clone(), connections, None, None).await;
    let server_cpu = cpu_seconds(server.child.id()) - cpu_before;
    let stored = accounted_spans(&server.database_url).await;
    let rss = memory_kib(server.child.id(), "VmRSS:");
    let peak = memory_kib(server.child.id(), "VmHWM:");
    // Let a background checkpoint move the WAL into the database file.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (db_bytes, wal_bytes) = database_bytes(&server, &postgres_db).await;
    let throughput = result.acknowledged_spans as f64 / result.elapsed.as_secs_f64();
    println!(
        "== {database}: {total_spans} spans, {connections} connections, ~{batch_bytes} B per 100-span batch"
    );
    println!(
        "throughput: {throughput:.0} spans/s durable ({} acknowledged, {stored} in the database, {} refused) in {:.1} s",
        result.acknowledged_spans,
        result.refused,
        result.elapsed.as_secs_f64()
    );
    println!(
        "server CPU: {:.1} µs per span ({:.2} cores busy on average)",
        server_cpu * 1e6 / result.acknowledged_spans.max(1) as f64,
        server_cpu / result.elapsed.as_secs_f64()
    );
    println!(
        "latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&result.latencies, 0.5),
        percentile(&result.latencies, 0.99),
        percentile(&result.latencies, 1.0)
    );
    println!(
        "server memory: RSS {} MiB now, {} MiB peak",
        rss / 1024,
        peak / 1024
    );
    println!(
        "database: {:.1} MB for {stored} spans ({:.2} MB per 10,000 spans), write-ahead log {:.1} MB",
        db_bytes as f64 / 1e6,
        db_bytes as f64 / 1e6 / (stored.max(1) as f64 / 10_000.0),
        wal_bytes as f64 / 1e6
    );
    assert!(
        stored >= result.acknowledged_spans,
        "acknowledged spans missing from the database"
    );

    // Phase 2: latency at 10,000 spans/s (100 requests of 100 spans per second).
    let paced: Arc<Vec<Vec<u8>>> = Arc::new(
        (batch_count as u64..batch_count as u64 + 1000)
            .map(batch)
            .collect(),
    );
    let result = load(&server.base, &token, paced, connections, Some(100.0), None).await;
    println!(
        "at 10,000 spans/s: p50 {:.1} ms, p99 {:.1} ms ({} requests, {} refused)",
        percentile(&result.latencies, 0.5),
        percentile(&result.latencies, 0.99),
        result.latencies.len(),
        result.refused
    );

    // Phase 3: SIGTERM under load loses no acknowledged span.
    let before = accounted_spans(&server.database_url).await;
    let fresh: Arc<Vec<Vec<u8>>> = Arc::new((2_000_000u64..2_000_000 + 2000).map(batch).collect());
    let pid = server.child.id();
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
    });
    let result = load(&server.base, &token, fresh, connections, None, None).await;
    killer.await.unwrap();
    let mut child = server.child;
    let status = child.wait().unwrap();
    let after = accounted_spans(&server.database_url).await;
    println!(
        "SIGTERM under load: {} spans acknowledged, {} new in the database, lost {}; exit {status}",
        result.acknowledged_spans,
        after - before,
        result.acknowledged_spans.saturating_sub(after - before)
    );
    assert!(
        after - before >= result.acknowledged_spans,
        "acknowledged spans were lost on SIGTERM"
    );
    if database == "postgres" {
        with_postgres_db(&postgres_db, false).await;
    }
}
