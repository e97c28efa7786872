//! Rate limits under a flood: every organization gets the installation's
//! ingest limit (`SPECULA_INGEST_RATE`, 5,000 spans/s by default here). A
//! paced tenant sends 100-span exports at 10 a second (1,000 spans/s, well
//! inside its limit) for `SPECULA_BENCH_SECONDS`, first alone and then
//! while a flooding tenant sends as fast as 8 connections can. Reports the
//! paced tenant's latency (p50, p99, refusals) in both runs, and the flood's
//! accepted rate (which should be its limit) and refusals.
//!
//! `cargo bench -p server --bench limits` (SQLite), with
//! `SPECULA_BENCH_DATABASE=postgres` for PostgreSQL on 127.0.0.1:5432
//! (buckets shared through the database).

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

async fn tenant(base: &str) -> String {
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    signed_up_token(&client, base, &["ingest"]).await
}

/// Exports as fast as `connections` allow until `stop`; (accepted spans, refused exports).
async fn flood(base: String, token: String, batches: Arc<Vec<Vec<u8>>>, stop: Arc<AtomicBool>) -> (u64, u64) {
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
                match response.map(|response| response.status().as_u16()) {
                    Ok(200) => {
                        accepted.fetch_add(SPANS_PER_BATCH as u64, Ordering::Relaxed);
                    }
                    _ => {
                        refused.fetch_add(1, Ordering::Relaxed);
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
    let limit: u64 = env_or("SPECULA_BENCH_LIMIT", 5_000);
    let postgres_db = format!("specula_bench_limits_{}", std::process::id());
    if database == "postgres" {
        with_postgres_db(&postgres_db, true).await;
    }
    let limit_text = limit.to_string();
    let server = start_server_with(&database, &postgres_db, &[("SPECULA_INGEST_RATE", &limit_text)]);
    let client = reqwest::Client::new();
    wait_ready(&client, &server.base).await;
    let paced = tenant(&server.base).await;
    let flooding = tenant(&server.base).await;
    let exports = (PACED_RATE * seconds as f64) as usize;
    let batches = Arc::new((0..exports as u64).map(batch).collect::<Vec<_>>());
    let flood_batches = Arc::new((1_000_000..1_000_200).map(batch).collect::<Vec<_>>());
    println!(
        "{database}: ingest limit {limit} spans/s per organization; paced tenant {} spans/s for {seconds} s",
        PACED_RATE as usize * SPANS_PER_BATCH
    );

    let alone = load(&server.base, &paced, batches.clone(), 2, Some(PACED_RATE), None).await;
    paced_report("paced tenant alone", &alone);

    let later = Arc::new(
        (exports as u64..2 * exports as u64)
            .map(batch)
            .collect::<Vec<_>>(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let flooder = tokio::spawn(flood(
        server.base.clone(),
        flooding.clone(),
        flood_batches,
        stop.clone(),
    ));
    // Let the flood reach its limit first.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let beside = load(&server.base, &paced, later, 2, Some(PACED_RATE), None).await;
    stop.store(true, Ordering::Relaxed);
    let (flood_accepted, flood_refused) = flooder.await.unwrap();
    let flood_secs = started.elapsed().as_secs_f64();
    paced_report("paced tenant beside the flood", &beside);
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
