//! Two `specula serve` processes started together on one new PostgreSQL
//! database, as replicas behind a load balancer: spans sent to either are read from either, a
//! session made on one is valid on the other, a live tail on one sees
//! spans ingested on the other, and every background job runs on one of
//! them at a time (the forwarder, sending each span once; the cleanup and
//! upkeep jobs, the other replica standing by; every lease held by one of
//! the two).

use std::time::{Duration, Instant};

use app::platform::services::sealed::SealingKey;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

use crate::common::{self, Backend, ServeProcess, TestDatabase, export, first_org, span};

#[test]
fn two_replicas_share_spans_sessions_live_tails_and_jobs() {
    common::runtime().block_on(two_replicas());
}

const SECOND: i64 = 1_000_000_000;

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap()
}

fn trace_id(n: u32) -> String {
    format!("{:032x}", 0x5e91_1ca5_0000_u128 + u128::from(n))
}

/// A job's passes on a replica, by outcome, from its `/metrics`.
fn job_runs(metrics: &str, job: &str, outcome: &str) -> f64 {
    let prefix = format!("specula_job_runs_total{{name=\"{job}\",outcome=\"{outcome}\"}}");
    metrics
        .lines()
        .find(|line| line.starts_with(&prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0)
}

async fn two_replicas() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let key = format!("--secrets-key={}", SealingKey::generate_base64());
    let args = [
        key.as_str(),
        "--forwarding-allow-private-networks=true",
        "--retention-interval=1s",
        "--alert-interval=1s",
    ];
    // Started together on a new database: one migrates while the other waits.
    let (first, second) = tokio::join!(
        ServeProcess::start(&database.url, &args),
        ServeProcess::start(&database.url, &args)
    );

    // An account made on the first replica; its session is good on the second.
    let browser = first.browser();
    let me = browser.sign_up("ops@replicas.example").await;
    let org = first_org(&me);
    let on_second: Value = browser
        .client
        .get(format!("{}/api/v1/me", second.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(on_second["user"]["email"], "ops@replicas.example", "{on_second}");
    let minted: Value = browser
        .client
        .post(format!("{}/api/v1/orgs/{org}/tokens", second.base))
        .json(&json!({"name": "sdk", "scopes": ["ingest", "read"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = minted["secret"].as_str().unwrap().to_owned();

    // A receiver, and a destination forwarding every span of the organization to it.
    let receiver_database = TestDatabase::create(Backend::Sqlite).await;
    let receiver = ServeProcess::start(&receiver_database.url, &[]).await;
    let (_, _, receiver_token) = receiver.tenant("ops@receiver.example", &["ingest", "read"]).await;
    let created = browser
        .post(
            &format!("/api/v1/orgs/{org}/forwarding/destinations"),
            json!({"name": "receiver", "protocol": "http/protobuf", "endpoint": receiver.base,
                   "headers": [{"name": "authorization", "value": format!("Bearer {receiver_token}")}]}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);

    // A live tail on the second replica.
    let tail = second
        .get_with_token(&token, &format!("/api/v1/live?org={org}"))
        .await;
    assert_eq!(tail.status(), StatusCode::OK);

    // One trace's spans sent half to each replica, and more traces to both at once.
    let shared = trace_id(0);
    let root = span(
        &shared,
        "0000000000000001",
        None,
        "checkout",
        (now_ns() - SECOND, SECOND / 2),
        false,
        json!({}),
    );
    let child = span(
        &shared,
        "0000000000000002",
        Some("0000000000000001"),
        "charge card",
        (now_ns() - SECOND, SECOND / 4),
        false,
        json!({}),
    );
    assert_eq!(
        first.send(&token, export("shop", vec![root])).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        second
            .send(&token, export("payments", vec![child]))
            .await
            .status(),
        StatusCode::OK
    );
    let mut sends = Vec::new();
    for n in 1..=20_u32 {
        let replica = if n % 2 == 0 { &first } else { &second };
        let spans: Vec<Value> = (1..=5_u32)
            .map(|s| {
                span(
                    &trace_id(n),
                    &format!("{s:016x}"),
                    None,
                    "step",
                    (now_ns() - SECOND, SECOND / 10),
                    false,
                    json!({"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10}),
                )
            })
            .collect();
        sends.push(replica.send(&token, export("agent", spans)));
    }
    for answer in futures_util::future::join_all(sends).await {
        assert_eq!(answer.status(), StatusCode::OK);
    }
    let stored = 2 + 20 * 5;

    // Either replica reads the whole trace, and every trace.
    for replica in [&first, &second] {
        let trace: Value = replica
            .get_with_token(&token, &format!("/api/v1/traces/{shared}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(trace["trace"]["span_count"], 2, "{trace}");
        assert_eq!(trace["spans"].as_array().unwrap().len(), 2);
        let spans: Value = replica
            .get_with_token(&token, "/api/v1/spans?limit=500")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(spans["spans"].as_array().unwrap().len(), stored);
    }

    // The live tail on the second replica saw the span ingested on the first.
    let mut tail = tail;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    while !(seen.contains("\"charge card\"") && seen.contains("\"checkout\"")) {
        assert!(Instant::now() < deadline, "the live tail saw: {seen}");
        if let Ok(Ok(Some(chunk))) = tokio::time::timeout(Duration::from_secs(5), tail.chunk()).await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    drop(tail);

    // The forwarder runs on one replica: the receiver gets every span once.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let received: Value = receiver
            .get_with_token(&receiver_token, "/api/v1/spans?limit=500")
            .await
            .json()
            .await
            .unwrap();
        let count = received["spans"].as_array().unwrap().len();
        if count >= stored {
            let mut ids: Vec<String> = received["spans"]
                .as_array()
                .unwrap()
                .iter()
                .map(|span| format!("{}/{}", span["trace_id"], span["span_id"]))
                .collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), stored, "each span forwarded once");
            assert_eq!(count, stored, "each span forwarded once");
            break;
        }
        assert!(Instant::now() < deadline, "{count} of {stored} spans forwarded");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Jobs with a lease: one replica runs them, the other stands by.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut metrics = Vec::new();
    for replica in [&first, &second] {
        let answer = browser
            .client
            .get(format!("{}/metrics", replica.base))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        metrics.push(answer.text().await.unwrap());
    }
    for job in ["forwarder", "session_cleanup", "statistics_upkeep"] {
        let running: Vec<bool> = metrics
            .iter()
            .map(|text| job_runs(text, job, "ok") + job_runs(text, job, "behind") > 0.0)
            .collect();
        let standing_by: Vec<bool> = metrics
            .iter()
            .map(|text| job_runs(text, job, "standby") > 0.0)
            .collect();
        assert_eq!(
            running.iter().filter(|running| **running).count(),
            1,
            "{job} runs on exactly one replica: {running:?}"
        );
        let runner = running.iter().position(|running| *running).unwrap();
        assert!(standing_by[1 - runner], "{job}: the other replica stands by");
        assert!(!standing_by[runner], "{job}: the runner never stood by");
    }

    // Every lease is held by one of the two processes (owners are `<pid>/<uuid>`).
    let pids = [first.pid().to_string(), second.pid().to_string()];
    let db = Database::connect(&database.url).await.unwrap();
    for table in [
        "job_leases",
        "forward_job",
        "alert_job",
        "retention_job",
        "similarity_worker",
    ] {
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT name, lease_owner FROM {table} WHERE lease_owner IS NOT NULL"),
            ))
            .await
            .unwrap();
        assert!(
            !rows.is_empty() || table == "job_leases",
            "{table}: no lease held"
        );
        for row in rows {
            let name: String = row.try_get("", "name").unwrap();
            let owner: String = row.try_get("", "lease_owner").unwrap();
            let pid = owner.split('/').next().unwrap_or_default();
            assert!(
                pids.iter().any(|known| known == pid),
                "{table}/{name} held by {owner}"
            );
        }
    }
    db.close().await.unwrap();

    first.stop();
    second.stop();
    receiver.stop();
    database.drop_database().await;
    receiver_database.drop_database().await;
}
