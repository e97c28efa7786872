//! Read-path benchmark: loads a million spans (the ingest bench's agent
//! traces) plus one 200-span trace into the release server, then times the
//! explorer's reads over HTTP: the first page of spans unfiltered and with a
//! model or tool filter, full-text search (a common and a rare word), an
//! attribute filter, the 200-span trace through the API and as the
//! server-rendered trace page, and live-tail delivery from the ingest
//! acknowledgement to the event.
//!
//! `cargo bench -p server --bench explorer` (SQLite), with
//! `SPECULA_BENCH_DATABASE=postgres` for PostgreSQL on 127.0.0.1:5432;
//! `SPECULA_BENCH_SPANS` (default 1000000) sizes the load;
//! on PostgreSQL, timing starts once the server's own statistics upkeep has
//! caught up with the load (it refreshes them every 20,000 new spans, within
//! 15 s), and the wait is reported; `SPECULA_BENCH_ANALYZE=1` runs a full
//! `VACUUM ANALYZE` first instead.

mod support;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use support::*;

/// Timed requests per measurement.
const SAMPLES: usize = 60;

/// From the 200 of an ingest request to its span's event on an open live tail.
async fn live_latency(base: &str, token: &str) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let mut stream = client
        .get(format!("{base}/api/v1/live?service=live-bench"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(stream.status().is_success());
    let mut timings = Vec::new();
    let mut buffer = String::new();
    for index in 0..20u64 {
        let response = post_traces(&client, base, token, live_export(index)).await;
        assert!(response.status().is_success());
        let acknowledged = Instant::now();
        loop {
            if let Some(end) = buffer.find("event: span") {
                buffer.drain(..end + 11);
                break;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(30), stream.chunk())
                .await
                .expect("a live event within 30 s")
                .unwrap()
                .unwrap();
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
        timings.push(acknowledged.elapsed());
    }
    timings.sort();
    timings
}

/// One single-span export for the live measurement, service `live-bench`.
fn live_export(index: u64) -> Vec<u8> {
    use opentelemetry_proto::tonic::trace::v1::Span;
    let start = 1_900_000_000_000_000_000u64 + index;
    export_request(
        "live-bench",
        vec![Span {
            trace_id: [0xee; 8].into_iter().chain(index.to_be_bytes()).collect(),
            span_id: (0xee00 + index).to_be_bytes().to_vec(),
            name: "live".to_owned(),
            start_time_unix_nano: start,
            end_time_unix_nano: start + 1000,
            ..Default::default()
        }],
    )
}

#[tokio::main]
async fn main() {
    let database = std::env::var("SPECULA_BENCH_DATABASE").unwrap_or_else(|_| "sqlite".to_owned());
    let total_spans: usize = env_or("SPECULA_BENCH_SPANS", 1_000_000);
    let postgres_db = format!("specula_bench_read_{}", std::process::id());
    let batch_count = total_spans.div_ceil(SPANS_PER_BATCH);
    println!("building {batch_count} batches of {SPANS_PER_BATCH} spans…");
    let batches = Arc::new((0..batch_count as u64).map(batch).collect::<Vec<_>>());

    if database == "postgres" {
        with_postgres_db(&postgres_db, true).await;
    }
    let server = start_server(&database, &postgres_db);
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    wait_ready(&browser, &server.base).await;
    let token = signed_up_token(&browser, &server.base, &["ingest", "read"]).await;
    let loaded = load(&server.base, &token, batches, 8, None, None).await;
    let (long_trace_id, long_trace_body) = long_trace(200);
    let response = post_traces(&browser, &server.base, &token, long_trace_body).await;
    assert!(response.status().is_success());
    println!(
        "== {database}: {} spans loaded in {:.1} s, then {SAMPLES} sequential requests per read",
        loaded.acknowledged_spans + 200,
        loaded.elapsed.as_secs_f64()
    );

    if database == "postgres" {
        use sea_orm::{ConnectionTrait, Database, Statement};
        let db = Database::connect(&server.database_url).await.unwrap();
        let started = Instant::now();
        if std::env::var("SPECULA_BENCH_ANALYZE").is_ok_and(|value| value == "1") {
            db.execute_unprepared("VACUUM ANALYZE").await.unwrap();
            println!("VACUUM ANALYZE took {:.1} s", started.elapsed().as_secs_f64());
        } else {
            // The upkeep has caught up when fewer spans than its threshold
            // changed since the last ANALYZE (its own or autovacuum's).
            let stale = || async {
                db.query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'spans'",
                ))
                .await
                .unwrap()
                .unwrap()
                .try_get::<i64>("", "n_mod_since_analyze")
                .unwrap()
            };
            while stale().await >= 20_000 {
                assert!(
                    started.elapsed() < Duration::from_secs(120),
                    "statistics never refreshed"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            println!(
                "the server refreshed planner statistics {:.1} s after the load",
                started.elapsed().as_secs_f64()
            );
        }
        db.close().await.ok();
    }
    let client = reqwest::Client::new();
    let base = &server.base;
    let api = |query: &str| format!("{base}/api/v1/spans?limit=50{query}");
    for (label, url) in [
        ("spans, first page, unfiltered", api("")),
        ("spans, first page, model=gpt-4o", api("&model=gpt-4o")),
        ("spans, first page, tool=apply_patch", api("&tool=apply_patch")),
        ("spans, full text, common word (parser)", api("&q=parser")),
        (
            "spans, full text, rare word (module 4242)",
            api("&q=module%204242"),
        ),
        (
            "spans, attribute filter (tool.status=ok)",
            api("&attr.tool.status=ok"),
        ),
        (
            "trace of 200 spans, API",
            format!("{base}/api/v1/traces/{long_trace_id}"),
        ),
        ("traces, first page", format!("{base}/api/v1/traces?limit=50")),
    ] {
        report(label, &time_get(&client, &url, Some(&token), 0, SAMPLES).await);
    }
    report(
        "trace of 200 spans, server-rendered page",
        &time_get(
            &browser,
            &format!("{base}/traces/{long_trace_id}"),
            None,
            0,
            SAMPLES,
        )
        .await,
    );
    report(
        "live tail, ingest acknowledged to event",
        &live_latency(base, &token).await,
    );

    let mut child = server.child;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    if database == "postgres" {
        with_postgres_db(&postgres_db, false).await;
    }
}
