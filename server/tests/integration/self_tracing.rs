//! Self-tracing: a `specula serve` with `OTEL_EXPORTER_OTLP_ENDPOINT` set
//! sends its request spans to another `specula serve` (any OTLP receiver
//! would do), continuing the caller's trace, and its JSON log lines carry
//! the trace and span they were written in.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{self, Backend, ServeProcess, TestDatabase};

#[test]
fn a_server_traces_itself_into_another_and_its_logs_name_the_traces() {
    common::runtime().block_on(traced_into_another());
}

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

async fn traced_into_another() {
    let receiver_database = TestDatabase::create(Backend::Sqlite).await;
    let receiver = ServeProcess::start(&receiver_database.url, &[]).await;
    let (_, _, token) = receiver.tenant("ops@example.com", &["ingest", "read"]).await;

    let traced_database = TestDatabase::create(Backend::Sqlite).await;
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("specula.json.log");
    let headers = format!("authorization=Bearer%20{token}");
    let traced = ServeProcess::start_with(
        &traced_database.url,
        &["--log=info", "--log-format=json"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.base),
            ("OTEL_EXPORTER_OTLP_HEADERS", &headers),
            ("OTEL_SERVICE_NAME", "specula-under-test"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
        Some(&log),
    )
    .await;
    let answer = reqwest::Client::new()
        .get(format!("{}/api/v1/openapi.json", traced.base))
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);

    // The receiver has the request's span, in the caller's trace, under the caller's span.
    let deadline = Instant::now() + Duration::from_secs(30);
    let span = loop {
        let response = receiver
            .get_with_token(&token, &format!("/api/v1/traces/{CALLER_TRACE}"))
            .await;
        if response.status() == StatusCode::OK {
            let trace: Value = response.json().await.unwrap();
            break trace["spans"][0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "no span arrived: {}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(span["name"], "GET /api/v1/openapi.json");
    assert_eq!(span["service_name"], "specula-under-test");
    assert_eq!(span["span_kind"], "server");
    assert_eq!(span["parent_span_id"], CALLER_SPAN);
    assert_eq!(
        span["details"]["attributes"]["http.route"],
        "/api/v1/openapi.json"
    );
    assert_eq!(span["details"]["attributes"]["http.response.status_code"], 200);
    let span_id = span["span_id"].as_str().unwrap().to_owned();
    traced.stop();

    // The log line the request wrote carries its trace and span.
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let finished = lines
        .iter()
        .find(|line| line["message"] == "finished processing request" && line["trace_id"] == CALLER_TRACE)
        .unwrap_or_else(|| panic!("no log line of the request in {lines:#?}"));
    assert_eq!(finished["span_id"], span_id.as_str());
    assert!(lines.iter().any(|line| line["message"] == "self-tracing on"));
    receiver.stop();
    receiver_database.drop_database().await;
    traced_database.drop_database().await;
}

#[test]
fn a_server_traces_itself_over_grpc() {
    common::runtime().block_on(traced_over_grpc());
}

async fn traced_over_grpc() {
    let receiver_database = TestDatabase::create(Backend::Sqlite).await;
    let receiver = ServeProcess::start(&receiver_database.url, &[]).await;
    let (_, _, token) = receiver.tenant("ops@example.com", &["ingest", "read"]).await;
    let traced_database = TestDatabase::create(Backend::Sqlite).await;
    let headers = format!("authorization=Bearer%20{token}");
    let endpoint = format!("http://{}", receiver.grpc_addr);
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("specula.log");
    let traced = ServeProcess::start_with(
        &traced_database.url,
        &["--log=info"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_HEADERS", &headers),
            ("OTEL_SERVICE_NAME", "specula-over-grpc"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
        Some(&log),
    )
    .await;
    let trace = "5b8efff798038103d269b633813fc60c";
    let answer = reqwest::Client::new()
        .get(format!("{}/api/v1/openapi.json", traced.base))
        .header("traceparent", format!("00-{trace}-{CALLER_SPAN}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = receiver
            .get_with_token(&token, &format!("/api/v1/traces/{trace}"))
            .await;
        if response.status() == StatusCode::OK {
            let trace: Value = response.json().await.unwrap();
            assert_eq!(trace["spans"][0]["name"], "GET /api/v1/openapi.json");
            assert_eq!(trace["spans"][0]["service_name"], "specula-over-grpc");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no span arrived over gRPC: {}\n{}",
            response.status(),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    traced.stop();
    receiver.stop();
    receiver_database.drop_database().await;
    traced_database.drop_database().await;
}
