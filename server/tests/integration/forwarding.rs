//! OTLP forwarding: an organization's spans, after the policy step, reach
//! a real OTLP receiver (a second `specula serve`) over OTLP/HTTP and
//! OTLP/gRPC, filtered by service; what was acknowledged while the
//! receiver was down arrives once it is back, across a restart of the
//! forwarding server; spans older than the retry budget while it fails are
//! dropped and counted; "Send test span" reaches it; other organizations
//! see none of it.

use std::time::{Duration, Instant};

use app::platform::services::sealed::SealingKey;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{
    self, Backend, Browser, PASSWORD, ServeProcess, TestDatabase, TestServer, free_port, send_spans,
    signed_in_tenant, span,
};

const SECOND: i64 = 1_000_000_000;
const OPENAI_KEY: &str = "sk-abcdefghijklmnopqrstuvwx";

#[test]
fn spans_reach_a_receiver_through_its_outage_on_sqlite() {
    common::runtime().block_on(forwarded_through_an_outage(Backend::Sqlite));
}

#[test]
fn spans_reach_a_receiver_through_its_outage_on_postgres() {
    common::runtime().block_on(forwarded_through_an_outage(Backend::Postgres));
}

fn trace_id(n: u8) -> String {
    format!("{:032x}", 0xf0f0_0000_u128 + u128::from(n))
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap()
}

/// The receiver: another Specula, restartable on the same ports, with an
/// organization and a token that may ingest and read.
struct Receiver {
    database: TestDatabase,
    ports: (u16, u16),
    process: Option<ServeProcess>,
    token: String,
}

impl Receiver {
    async fn start() -> Self {
        let database = TestDatabase::create(Backend::Sqlite).await;
        let ports = (free_port(), free_port());
        let process = ServeProcess::start_at(&database.url, ports, &[], &[], None).await;
        let (_, _, token) = process.tenant("ops@receiver.example", &["ingest", "read"]).await;
        Self {
            database,
            ports,
            process: Some(process),
            token,
        }
    }

    fn http_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.0)
    }

    fn grpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.1)
    }

    fn stop(&mut self) {
        self.process.take().expect("running").stop();
    }

    async fn restart(&mut self) {
        assert!(self.process.is_none());
        self.process = Some(ServeProcess::start_at(&self.database.url, self.ports, &[], &[], None).await);
    }

    /// The trace's spans as the receiver stored them (none while it has no such trace).
    async fn spans(&self, trace: &str) -> Vec<Value> {
        let response = reqwest::Client::new()
            .get(format!("{}/api/v1/traces/{trace}", self.http_endpoint()))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::NOT_FOUND {
            return Vec::new();
        }
        assert_eq!(response.status(), StatusCode::OK);
        let trace: Value = response.json().await.unwrap();
        trace["spans"].as_array().unwrap().clone()
    }

    /// Waits until the receiver holds `count` spans of `trace`.
    async fn await_spans(&self, trace: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let spans = self.spans(trace).await;
            if spans.len() >= count {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "trace {trace}: {} of {count} spans arrived",
                spans.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Waits until the destination at `path` satisfies `ready`; returns it.
async fn await_destination(admin: &Browser, path: &str, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let destination: Value = admin.get(path).await.json().await.unwrap();
        if ready(&destination) {
            return destination;
        }
        assert!(Instant::now() < deadline, "{what}: {destination:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn request_span(trace: &str, id: &str, prompt: &str) -> Value {
    span(
        trace,
        id,
        None,
        "chat gpt-4o",
        (now_ns() - SECOND, SECOND / 2),
        false,
        json!({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "prompt": prompt}),
    )
}

fn child_span(trace: &str, id: &str, name: &str) -> Value {
    span(
        trace,
        id,
        Some("0000000000000001"),
        name,
        (now_ns() - SECOND, SECOND / 4),
        false,
        json!({}),
    )
}

async fn forwarded_through_an_outage(backend: Backend) {
    let mut receiver = Receiver::start().await;
    let secrets_key = format!("--secrets-key={}", SealingKey::generate_base64());
    let args = ["--forwarding-allow-private-networks=true", secrets_key.as_str()];
    let sender = TestServer::start_with(backend, &args).await;
    let (admin, org, ingest) = signed_in_tenant(&sender, "admin@sender.example", &["ingest", "read"]).await;
    let destinations = format!("/api/v1/orgs/{org}/forwarding/destinations");
    let authorization = json!([{"name": "Authorization", "value": format!("Bearer {}", receiver.token)}]);

    // One destination per protocol, each for one service.
    let created = admin
        .post(
            &destinations,
            json!({"name": "receiver over HTTP", "protocol": "http/protobuf", "endpoint": receiver.http_endpoint(),
                   "headers": authorization, "services": ["checkout"]}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let text = created.text().await.unwrap();
    assert!(
        !text.contains(&receiver.token),
        "header values are never shown: {text}"
    );
    let http: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        http["endpoint"],
        format!("{}/v1/traces", receiver.http_endpoint())
    );
    assert_eq!(http["header_names"], json!(["authorization"]));
    let http_path = format!("{destinations}/{}", http["id"].as_str().unwrap());
    let grpc: Value = admin
        .post(
            &destinations,
            json!({"name": "receiver over gRPC", "protocol": "grpc", "endpoint": receiver.grpc_endpoint(),
                   "headers": authorization, "services": ["search"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let grpc_path = format!("{destinations}/{}", grpc["id"].as_str().unwrap());

    // "Send test span" reaches the receiver over either protocol.
    for path in [&http_path, &grpc_path] {
        let test: Value = admin
            .post(&format!("{path}/test"), json!({}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(test["delivered"], true, "{test}");
        let arrived = receiver.await_spans(test["trace_id"].as_str().unwrap(), 1).await;
        assert_eq!(arrived[0]["name"], server::otlp::TEST_SPAN_NAME);
        assert_eq!(arrived[0]["service_name"], "specula");
    }

    // Spans go to the destination of their service, as the policy left them.
    let first = trace_id(1);
    send_spans(
        &sender,
        &ingest,
        "checkout",
        vec![request_span(
            &first,
            "0000000000000001",
            &format!("refund with {OPENAI_KEY}"),
        )],
    )
    .await;
    send_spans(
        &sender,
        &ingest,
        "search",
        vec![child_span(&first, "0000000000000002", "search")],
    )
    .await;
    send_spans(
        &sender,
        &ingest,
        "billing",
        vec![child_span(&first, "0000000000000003", "invoice")],
    )
    .await;
    let arrived = receiver.await_spans(&first, 2).await;
    let mut services: Vec<&str> = arrived
        .iter()
        .map(|span| span["service_name"].as_str().unwrap())
        .collect();
    services.sort_unstable();
    assert_eq!(services, ["checkout", "search"], "billing is forwarded nowhere");
    let request = arrived
        .iter()
        .find(|span| span["service_name"] == "checkout")
        .unwrap();
    let prompt = request["prompt"].as_str().unwrap();
    assert!(
        prompt.contains("[REDACTED:openai_key]") && !prompt.contains(OPENAI_KEY),
        "forwarded after the policy step: {prompt}"
    );
    assert_eq!(request["model"], "gpt-4o");
    await_destination(
        &admin,
        &http_path,
        "one span forwarded over HTTP",
        |destination| destination["forwarded_spans"] == 1 && destination["pending_spans"] == 0,
    )
    .await;
    await_destination(
        &admin,
        &grpc_path,
        "one span forwarded over gRPC",
        |destination| destination["forwarded_spans"] == 1,
    )
    .await;

    // The receiver goes down: what is acknowledged meanwhile waits, through
    // a restart of the forwarding server too, and arrives once it is back.
    receiver.stop();
    let second = trace_id(2);
    send_spans(
        &sender,
        &ingest,
        "checkout",
        vec![
            request_span(&second, "0000000000000001", "first while down"),
            request_span(&second, "0000000000000004", "second while down"),
        ],
    )
    .await;
    let failing = await_destination(
        &admin,
        &http_path,
        "failing while the receiver is down",
        |destination| !destination["failing_since"].is_null() && destination["pending_spans"] == 2,
    )
    .await;
    assert_eq!(failing["dropped_spans"], 0, "{failing:#}");
    assert!(
        failing["last_error"]
            .as_str()
            .unwrap()
            .contains("could not reach"),
        "{failing:#}"
    );
    let database = sender.stop_keeping_database().await;
    let sender = TestServer::start_on(database, &args).await;
    let admin = sender.browser();
    assert_eq!(
        admin.log_in("admin@sender.example", PASSWORD).await.status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    receiver.restart().await;
    let arrived = receiver.await_spans(&second, 2).await;
    assert!(arrived.iter().all(|span| span["service_name"] == "checkout"));
    let recovered = await_destination(&admin, &http_path, "recovered", |destination| {
        destination["forwarded_spans"] == 3 && destination["failing_since"].is_null()
    })
    .await;
    assert_eq!(recovered["dropped_spans"], 0);
    assert!(recovered["last_error"].is_null(), "{recovered:#}");

    // With a one-second retry budget, what waits longer while the receiver
    // is down is dropped and counted, on the page's figures and in /metrics.
    let changed = admin.patch(&http_path, json!({"retry_budget_secs": 1})).await;
    assert_eq!(changed.status(), StatusCode::OK);
    receiver.stop();
    let third = trace_id(3);
    send_spans(
        &sender,
        &ingest,
        "checkout",
        vec![request_span(&third, "0000000000000001", "dropped")],
    )
    .await;
    let dropped = await_destination(
        &admin,
        &http_path,
        "dropped after the retry budget",
        |destination| destination["dropped_spans"] == 1 && destination["pending_spans"] == 0,
    )
    .await;
    assert_eq!(dropped["forwarded_spans"], 3);
    let metrics = admin.get("/metrics").await.text().await.unwrap();
    let dropped_total: f64 = metrics
        .lines()
        .find(|line| line.starts_with("specula_forwarded_spans_total{outcome=\"dropped\"}"))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no dropped count in\n{metrics}"));
    assert!(dropped_total >= 1.0, "{dropped_total}");
    receiver.restart().await;
    let fourth = trace_id(4);
    send_spans(
        &sender,
        &ingest,
        "checkout",
        vec![request_span(&fourth, "0000000000000001", "after the outage")],
    )
    .await;
    receiver.await_spans(&fourth, 1).await;
    assert!(
        receiver.spans(&third).await.is_empty(),
        "the dropped span never arrives"
    );

    // A paused destination sends nothing; its spans wait for it.
    let paused = admin.patch(&http_path, json!({"enabled": false})).await;
    assert_eq!(paused.status(), StatusCode::OK);
    let fifth = trace_id(5);
    send_spans(
        &sender,
        &ingest,
        "checkout",
        vec![request_span(&fifth, "0000000000000001", "while paused")],
    )
    .await;
    await_destination(&admin, &http_path, "waiting while paused", |destination| {
        destination["pending_spans"] == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(receiver.spans(&fifth).await.is_empty());
    admin.patch(&http_path, json!({"enabled": true})).await;
    receiver.await_spans(&fifth, 1).await;

    // Every change is in the audit log, without the header values.
    let audit = admin
        .get(&format!("/api/v1/orgs/{org}/audit?action=forwarding."))
        .await
        .text()
        .await
        .unwrap();
    assert!(!audit.contains(&receiver.token), "{audit}");
    let audit: Value = serde_json::from_str(&audit).unwrap();
    let mut actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    actions.sort_unstable();
    actions.dedup();
    assert_eq!(
        actions,
        [
            "forwarding.destination.create",
            "forwarding.destination.test",
            "forwarding.destination.update"
        ]
    );

    // Another organization sees and changes none of it; a member's read token lists it.
    let (stranger, stranger_org, _) = signed_in_tenant(&sender, "stranger@sender.example", &["read"]).await;
    let foreign = stranger.get(&destinations).await.status();
    assert!(
        foreign == StatusCode::FORBIDDEN || foreign == StatusCode::NOT_FOUND,
        "{foreign}"
    );
    let id = http["id"].as_str().unwrap();
    let theirs = format!("/api/v1/orgs/{stranger_org}/forwarding/destinations/{id}");
    assert_eq!(stranger.get(&theirs).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        stranger.patch(&theirs, json!({"enabled": false})).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(stranger.delete(&theirs).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        stranger.post(&format!("{theirs}/test"), json!({})).await.status(),
        StatusCode::NOT_FOUND
    );
    let listed = common::get_json(&sender, &ingest, &destinations).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let by_token = sender
        .client
        .post(sender.url(&destinations))
        .bearer_auth(&ingest)
        .json(&json!({"name": "x", "protocol": "grpc", "endpoint": "http://127.0.0.1:1"}))
        .send()
        .await
        .unwrap();
    assert!(by_token.status().is_client_error(), "{}", by_token.status());

    // Removed, a destination is gone for good.
    assert_eq!(admin.delete(&grpc_path).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(admin.get(&grpc_path).await.status(), StatusCode::NOT_FOUND);

    sender.stop().await;
    receiver.stop();
    receiver.database.drop_database().await;
}
