//! Rate limits under a flood: every organization gets the installation's
//! ingest limit (`SPECULA_INGEST_RATE`, 5,000 spans/s by default here). A
//! paced tenant sends 100-span exports at 10 a second (1,000 spans/s, well
//! inside its limit) for `SPECULA_BENCH_SECONDS`, first alone and then
//! while a flooding tenant sends as fast as 8 connections can, ignoring
//! `Retry-After` (or, with `SPECULA_BENCH_FLOOD=sdk`, waiting it out). Reports the
//! paced tenant's latency (p50, p99, refusals) in both runs, and the flood's
//! accepted rate (which should be its limit) and refusals.
//!
//! `cargo bench -p server --bench limits` (SQLite), with
//! `SPECULA_BENCH_DATABASE=postgres` for PostgreSQL on 127.0.0.1:5432
//! (buckets shared through the database); `SPECULA_BENCH_LIMIT` sets the
//! limit (0: none, to see the flood unchecked).

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use support::*;

const PACED_RATE: f64 = 10.0;
const FLOOD_CONNECTIONS: usize = 8;

async fn tenant(base: &str, email: &str) -> String {
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let org = sign_up_as(&client, base, email).await;
    mint_token(&client, base, &org, &["ingest"]).await
}

/// Exports as fast as `connections` allow until `stop`; (accepted spans,
/// refused exports). `obey` waits out `Retry-After` after a refusal, as
/// OTLP SDKs do; otherwise the flood never lets up (a hostile client).
async fn flood(
    base: String,
    token: String,
    batches: Arc<Vec<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    obey: bool,
) -> (u64, u64) {
    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for connection in 0..FLOOD_CONNECTIONS {
        let (base, token, batches, stop, accepted, refused) = (
            base.clone(),
            token.clone(),
            batches.clone(),
            stop.clone(),
            accepted.clone(),
            refused.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut index = connection;
            while !stop.load(Ordering::Relaxed) {
                let response = client
                    .post(format!("{base}/v1/traces"))
                    .bearer_auth(&token)
                    .header("content-type", "application/x-protobuf")
                    .body(batches[index % batches.len()].clone())
                    .send()
                    .await;
                match response {
                    Ok(response) if response.status().is_success() => {
                        accepted.fetch_add(SPANS_PER_BATCH as u64, Ordering::Relaxed);
                    }
                    answer => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        let wait = answer.ok().and_then(|response| {
                            response.headers().get("retry-after")?.to_str().ok()?.parse().ok()
                        });
                        if let (true, Some(seconds)) = (obey, wait) {
                            tokio::time::sleep(Duration::from_secs(seconds)).await;
                        }
                    }
                }
                index += FLOOD_CONNECTIONS;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    (accepted.load(Ordering::Relaxed), refused.load(Ordering::Relaxed))
}

fn paced_report(label: &str, result: &LoadResult) {
    println!(
        "{label}: {} exports acknowledged, {} refused; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        result.latencies.len(),
        result.refused,
        percentile(&result.latencies, 0.50),
        percentile(&result.latencies, 0.99),
        percentile(&result.latencies, 1.0),
    );
}

#[tokio::main]
async fn main() {
    let database = std::env::var("SPECULA_BENCH_DATABASE").unwrap_or_else(|_| "sqlite".to_owned());
    let seconds: u64 = env_or("SPECULA_BENCH_SECONDS", 20);
    // `SPECULA_BENCH_LIMIT=0`: no limit, to see what the flood does unchecked.
    let limit: u64 = env_or("SPECULA_BENCH_LIMIT", 5_000);
    // `SPECULA_BENCH_FLOOD=sdk`: the flood waits out `Retry-After` as SDKs do.
    let obey = std::env::var("SPECULA_BENCH_FLOOD").is_ok_and(|flood| flood == "sdk");
    let postgres_db = format!("specula_bench_limits_{}", std::process::id());
    if database == "postgres" {
        with_postgres_db(&postgres_db, true).await;
    }
    let limit_text = limit.to_string();
    let env: &[(&str, &str)] = match limit {
        0 => &[],
        _ => &[("SPECULA_INGEST_RATE", &limit_text)],
    };
    let server = start_server_with(&database, &postgres_db, env);
    let client = reqwest::Client::new();
    wait_ready(&client, &server.base).await;
    let paced = tenant(&server.base, "paced@example.com").await;
    let flooding = tenant(&server.base, "flood@example.com").await;
    let exports = (PACED_RATE * seconds as f64) as usize;
    let batches = Arc::new((0..exports as u64).map(batch).collect::<Vec<_>>());
    let flood_batches = Arc::new((1_000_000..1_000_200).map(batch).collect::<Vec<_>>());
    println!(
        "{database}: ingest limit {limit} spans/s per organization; paced tenant {} spans/s for {seconds} s; {} flood",
        PACED_RATE as usize * SPANS_PER_BATCH,
        if obey {
            "an SDK-like (Retry-After)"
        } else {
            "a hostile"
        }
    );

    let pid = server.child.id();
    let cpu_before = cpu_seconds(pid);
    let alone = load(&server.base, &paced, batches.clone(), 2, Some(PACED_RATE), None).await;
    paced_report("paced tenant alone", &alone);
    println!(
        "  server CPU {:.0}% of a core",
        (cpu_seconds(pid) - cpu_before) * 100.0 / alone.elapsed.as_secs_f64()
    );

    let later = Arc::new(
        (exports as u64..2 * exports as u64)
            .map(batch)
            .collect::<Vec<_>>(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let cpu_before = cpu_seconds(pid);
    let flooder = tokio::spawn(flood(
        server.base.clone(),
        flooding.clone(),
        flood_batches,
        stop.clone(),
        obey,
    ));
    // Let the flood reach its limit first.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let beside = load(&server.base, &paced, later, 2, Some(PACED_RATE), None).await;
    stop.store(true, Ordering::Relaxed);
    let (flood_accepted, flood_refused) = flooder.await.unwrap();
    let flood_secs = started.elapsed().as_secs_f64();
    paced_report("paced tenant beside the flood", &beside);
    println!(
        "  server CPU {:.0}% of a core (the load generator shares the machine)",
        (cpu_seconds(pid) - cpu_before) * 100.0 / flood_secs
    );
    println!(
        "flooding tenant: {flood_accepted} spans accepted ({:.0} spans/s against a limit of {limit}), {flood_refused} exports refused ({:.0}/s)",
        flood_accepted as f64 / flood_secs,
        flood_refused as f64 / flood_secs,
    );
    assert_eq!(
        alone.refused + beside.refused,
        0,
        "the paced tenant is never refused"
    );
    server.stop();
    if database == "postgres" {
        with_postgres_db(&postgres_db, false).await;
    }
}
