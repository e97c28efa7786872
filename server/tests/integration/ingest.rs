//! OTLP/HTTP ingest against the running server: encodings, answers, partial
//! success, durability and tenant isolation, on SQLite and PostgreSQL.

use crate::common;

use std::io::Write;

use common::{Backend, TestServer, get_with_token, post_otlp, tenant};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    common::v1::{AnyValue, KeyValue, any_value},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span, Status},
};
use prost::Message;
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

on_every_backend!(
    protobuf_and_json_store_the_same_spans,
    gzip_bodies_are_accepted,
    invalid_spans_are_rejected_one_by_one,
    retries_do_not_duplicate,
    a_trace_sent_in_parts_rolls_up_exactly,
    spans_stored_before_compression_survive_the_migration,
    bad_requests_get_otlp_answers,
    tokens_must_allow_ingest,
    tenants_never_see_each_others_traces,
    there_is_no_logs_endpoint,
    grpc_export_shares_the_ingest_path,
    metrics_are_stored_per_point,
    a_full_write_queue_answers_503_and_loses_nothing,
    a_database_failure_answers_503_without_its_message,
    secrets_are_redacted_and_large_values_truncated,
    hashed_capture_keeps_only_digests,
);

const TRACE: &str = "5b8efff798038103d269b633813fc60c";

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn string(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_owned()))
}

fn hex(value: &str) -> Vec<u8> {
    (0..value.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&value[i..i + 2], 16).unwrap())
        .collect()
}

/// An agent trace: the agent span, a model request, a tool result with a diff.
fn agent_trace_protobuf() -> ExportTraceServiceRequest {
    let span = |id: &str, parent: &str, name: &str, start: u64, attributes: Vec<KeyValue>| Span {
        trace_id: hex(TRACE),
        span_id: hex(id),
        parent_span_id: hex(parent),
        name: name.to_owned(),
        kind: 1,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000_000,
        attributes,
        status: Some(Status {
            code: 1,
            message: String::new(),
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string("service.name", "coder")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![
                    span(
                        "1111111111111111",
                        "",
                        "invoke_agent coder",
                        1_700_000_000_000_000_000,
                        vec![string("gen_ai.operation.name", "invoke_agent")],
                    ),
                    span(
                        "2222222222222222",
                        "1111111111111111",
                        "chat gpt-4o",
                        1_700_000_000_100_000_000,
                        vec![
                            string("gen_ai.operation.name", "chat"),
                            string("gen_ai.provider.name", "openai"),
                            string("gen_ai.request.model", "gpt-4o"),
                            kv("gen_ai.usage.input_tokens", any_value::Value::IntValue(1200)),
                            kv("gen_ai.usage.output_tokens", any_value::Value::IntValue(80)),
                            kv("gen_ai.request.temperature", any_value::Value::DoubleValue(0.2)),
                            string(
                                "gen_ai.input.messages",
                                r#"[{"role":"user","parts":[{"type":"text","content":"fix it"}]}]"#,
                            ),
                        ],
                    ),
                    span(
                        "3333333333333333",
                        "1111111111111111",
                        "gen_ai.tool_result",
                        1_700_000_000_200_000_000,
                        vec![
                            string("tool.name", "apply_patch"),
                            string("tool.output.diff", "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"),
                        ],
                    ),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The same trace in OTLP/JSON, as an SDK's JSON exporter writes it.
fn agent_trace_json() -> Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "coder"}}]},
        "scopeSpans": [{"spans": [
            {"traceId": TRACE, "spanId": "1111111111111111", "name": "invoke_agent coder", "kind": 1,
             "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000001000000",
             "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}}],
             "status": {"code": 1}},
            {"traceId": TRACE, "spanId": "2222222222222222", "parentSpanId": "1111111111111111",
             "name": "chat gpt-4o", "kind": "SPAN_KIND_INTERNAL",
             "startTimeUnixNano": 1700000000100000000u64, "endTimeUnixNano": "1700000000101000000",
             "attributes": [
                {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1200"}},
                {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 80}},
                {"key": "gen_ai.request.temperature", "value": {"doubleValue": 0.2}},
                {"key": "gen_ai.input.messages", "value": {"stringValue": "[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"fix it\"}]}]"}}
             ],
             "status": {"code": "STATUS_CODE_OK"}},
            {"traceId": TRACE, "spanId": "3333333333333333", "parentSpanId": "1111111111111111",
             "name": "gen_ai.tool_result", "kind": 1,
             "startTimeUnixNano": "1700000000200000000", "endTimeUnixNano": "1700000000201000000",
             "attributes": [
                {"key": "tool.name", "value": {"stringValue": "apply_patch"}},
                {"key": "tool.output.diff", "value": {"stringValue": "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"}}
             ],
             "status": {"code": 1}}
        ]}]
    }]})
}

/// A signed-up user's organization and a token with the given scopes.
async fn post(server: &TestServer, token: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    post_otlp(server, "/v1/traces", token, content_type, body).await
}

async fn read_trace(server: &TestServer, token: &str, trace_id: &str) -> reqwest::Response {
    server
        .client
        .get(server.url(&format!("/api/v1/traces/{trace_id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn protobuf_and_json_store_the_same_spans(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, proto_token) = tenant(&server, "proto@example.com", &["ingest", "read"]).await;
    let (_, json_token) = tenant(&server, "json@example.com", &["ingest", "read"]).await;

    let response = post(
        &server,
        &proto_token,
        "application/x-protobuf",
        agent_trace_protobuf().encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/x-protobuf");
    let answer = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(answer.partial_success, None, "everything accepted");

    let response = post(
        &server,
        &json_token,
        "application/json",
        agent_trace_json().to_string().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");

    // 200 means committed: the spans are readable right away.
    let from_proto: Value = read_trace(&server, &proto_token, TRACE)
        .await
        .json()
        .await
        .unwrap();
    let from_json: Value = read_trace(&server, &json_token, TRACE)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(from_proto, from_json);

    let trace = &from_proto["trace"];
    assert_eq!(trace["span_count"], 3);
    assert_eq!(trace["root_span_name"], "invoke_agent coder");
    assert_eq!(trace["service_name"], "coder");
    assert_eq!(trace["input_tokens"], 1200);
    assert_eq!(trace["models"], json!(["gpt-4o"]));
    let spans = from_proto["spans"].as_array().unwrap();
    assert_eq!(
        spans
            .iter()
            .map(|s| s["llm_kind"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["agent", "request", "tool_result"]
    );
    let request = &spans[1];
    assert_eq!(request["model"], "gpt-4o");
    assert_eq!(request["provider"], "openai");
    assert_eq!(request["tokens"]["input"], 1200);
    assert_eq!(request["tokens"]["output"], 80);
    // 1200 × 2.50 $/M + 80 × 10 $/M = 0.0038 $ = 3,800,000 nano-dollars.
    assert_eq!(request["cost_nanos"], 3_800_000);
    assert_eq!(request["unpriced"], false);
    assert_eq!(trace["cost_nanos"], 3_800_000);
    assert_eq!(
        spans[0]["cost_nanos"],
        Value::Null,
        "an agent span has nothing to price"
    );
    assert_eq!(request["details"]["parameters"]["temperature"], 0.2);
    assert!(request["prompt"].as_str().unwrap().contains("fix it"));
    assert_eq!(request["parent_span_id"], "1111111111111111");
    assert_eq!(spans[2]["diff"], "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n");
    assert_eq!(spans[2]["tool_name"], "apply_patch");
    server.stop().await;
}

async fn gzip_bodies_are_accepted(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(&agent_trace_protobuf().encode_to_vec())
        .unwrap();
    let response = server
        .client
        .post(server.url("/v1/traces"))
        .bearer_auth(&token)
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(encoder.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let trace: Value = read_trace(&server, &token, TRACE).await.json().await.unwrap();
    assert_eq!(trace["trace"]["span_count"], 3);
    server.stop().await;
}

async fn invalid_spans_are_rejected_one_by_one(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    let mut request = agent_trace_protobuf();
    let spans = &mut request.resource_spans[0].scope_spans[0].spans;
    spans[2].span_id = vec![1, 2, 3];
    let response = post(&server, &token, "application/x-protobuf", request.encode_to_vec()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    let partial = answer.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert_eq!(partial.error_message, "span id must be 8 bytes, got 3");
    let trace: Value = read_trace(&server, &token, TRACE).await.json().await.unwrap();
    assert_eq!(trace["trace"]["span_count"], 2, "the valid spans were stored");

    // JSON: a span with a non-hex id is rejected alone too.
    let mut document = agent_trace_json();
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = json!("not-hex");
    let response = post(
        &server,
        &token,
        "application/json",
        document.to_string().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["partialSuccess"]["rejectedSpans"]
            .to_string()
            .trim_matches('"'),
        "1"
    );
    server.stop().await;
}

async fn retries_do_not_duplicate(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    // First the root alone, then the whole trace: one old span and two new
    // ones in the same statement, then the whole trace again.
    let mut root_only = agent_trace_protobuf();
    root_only.resource_spans[0].scope_spans[0].spans.truncate(1);
    assert_eq!(
        post(
            &server,
            &token,
            "application/x-protobuf",
            root_only.encode_to_vec()
        )
        .await
        .status(),
        StatusCode::OK
    );
    let body = agent_trace_protobuf().encode_to_vec();
    for _ in 0..3 {
        assert_eq!(
            post(&server, &token, "application/x-protobuf", body.clone())
                .await
                .status(),
            StatusCode::OK
        );
    }
    let trace: Value = read_trace(&server, &token, TRACE).await.json().await.unwrap();
    assert_eq!(trace["trace"]["span_count"], 3);
    assert_eq!(trace["spans"].as_array().unwrap().len(), 3);
    assert_eq!(
        trace["trace"]["input_tokens"], 1200,
        "the rollup counted each span once"
    );
    // Each new span's search entry went to its own row.
    let found: Value = get_with_token(&server, &token, "/api/v1/spans?q=fix")
        .await
        .json()
        .await
        .unwrap();
    let found: Vec<&str> = found["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|span| span["span_id"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["2222222222222222"]);
    server.stop().await;
}

/// Each span in its own request, children first: the rollup merges the parts.
async fn a_trace_sent_in_parts_rolls_up_exactly(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    let whole = agent_trace_protobuf();
    let spans = whole.resource_spans[0].scope_spans[0].spans.clone();
    for span in spans.into_iter().rev() {
        let mut part = whole.clone();
        part.resource_spans[0].scope_spans[0].spans = vec![span];
        assert_eq!(
            post(&server, &token, "application/x-protobuf", part.encode_to_vec())
                .await
                .status(),
            StatusCode::OK
        );
    }
    let trace: Value = read_trace(&server, &token, TRACE).await.json().await.unwrap();
    let spans = trace["spans"].as_array().unwrap();
    let rollup = &trace["trace"];
    assert_eq!(rollup["span_count"], 3);
    assert_eq!(rollup["input_tokens"], 1200);
    let span_costs: i64 = spans.iter().filter_map(|span| span["cost_nanos"].as_i64()).sum();
    assert!(span_costs > 0);
    assert_eq!(
        rollup["cost_nanos"], span_costs,
        "every part's cost is in the rollup"
    );
    assert_eq!(rollup["root_span_name"], spans[0]["name"]);
    let first_start = spans
        .iter()
        .map(|span| span["start_time_ns"].as_i64().unwrap())
        .min();
    let last_end = spans
        .iter()
        .map(|span| span["end_time_ns"].as_i64().unwrap())
        .max();
    assert_eq!(rollup["start_time_ns"].as_i64(), first_start);
    assert_eq!(rollup["end_time_ns"].as_i64(), last_end);
    server.stop().await;
}

async fn bad_requests_get_otlp_answers(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        &["--max-body-size=64KiB", "--max-decompressed-size=256KiB"],
    )
    .await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest"]).await;

    let response = post(&server, &token, "text/plain", b"hello".to_vec()).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let response = post(&server, &token, "application/x-protobuf", vec![0xff, 0xff, 0xff]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    let status = RpcStatus::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(status.code, 3, "INVALID_ARGUMENT");
    assert!(
        status.message.contains("invalid OTLP protobuf"),
        "{}",
        status.message
    );

    let response = post(&server, &token, "application/json", b"{not json".to_vec()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let status: Value = response.json().await.unwrap();
    assert!(
        status["message"].as_str().unwrap().contains("invalid JSON"),
        "{status}"
    );

    let response = post(&server, &token, "application/x-protobuf", vec![0; 100 * 1024]).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // 16 MiB of zeros in about 16 KiB of gzip: refused once 256 KiB are out.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![0u8; 16 << 20]).unwrap();
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 64 * 1024);
    let response = server
        .client
        .post(server.url("/v1/traces"))
        .bearer_auth(&token)
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    server.stop().await;
}

async fn tokens_must_allow_ingest(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, read_only) = tenant(&server, "ada@example.com", &["read"]).await;
    let body = agent_trace_protobuf().encode_to_vec();

    let response = server
        .client
        .post(server.url("/v1/traces"))
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");

    let response = post(
        &server,
        "spk_0000000000000000000000000000000A",
        "application/x-protobuf",
        body.clone(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let response = post(&server, &read_only, "application/x-protobuf", body).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        read_trace(&server, &read_only, TRACE).await.status(),
        StatusCode::NOT_FOUND,
        "nothing was stored"
    );
    server.stop().await;
}

async fn tenants_never_see_each_others_traces(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, alice) = tenant(&server, "alice@example.com", &["ingest", "read"]).await;
    let (mallory_org, mallory) = tenant(&server, "mallory@example.com", &["ingest", "read"]).await;
    assert_eq!(
        post(
            &server,
            &alice,
            "application/x-protobuf",
            agent_trace_protobuf().encode_to_vec()
        )
        .await
        .status(),
        StatusCode::OK
    );

    let response = read_trace(&server, &mallory, TRACE).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(!response.text().await.unwrap().contains("coder"));
    // Mallory sending the same ids writes into Mallory's organization only.
    let mut request = agent_trace_protobuf();
    request.resource_spans[0].resource = Some(Resource {
        attributes: vec![string("service.name", "mallory")],
        ..Default::default()
    });
    assert_eq!(
        post(
            &server,
            &mallory,
            "application/x-protobuf",
            request.encode_to_vec()
        )
        .await
        .status(),
        StatusCode::OK
    );
    let alice_view: Value = read_trace(&server, &alice, TRACE).await.json().await.unwrap();
    assert_eq!(alice_view["trace"]["service_name"], "coder");
    assert_eq!(alice_view["trace"]["span_count"], 3);
    let mallory_view: Value = read_trace(&server, &mallory, TRACE).await.json().await.unwrap();
    assert_eq!(mallory_view["trace"]["service_name"], "mallory");
    // A session user reads through their organization.
    let response = server
        .client
        .get(server.url(&format!("/api/v1/traces/{TRACE}?org={mallory_org}")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    let seen: Value = response.json().await.unwrap();
    assert_eq!(
        seen["trace"]["service_name"], "coder",
        "a token reads its own organization whatever it asks"
    );
    server.stop().await;
}

async fn there_is_no_logs_endpoint(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest"]).await;
    for path in ["/v1/logs", "/v1/events"] {
        let response = server
            .client
            .post(server.url(path))
            .bearer_auth(&token)
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .body(Vec::new())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    server.stop().await;
}

async fn grpc_export_shares_the_ingest_path(backend: Backend) {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use tonic::{Code, codec::CompressionEncoding};

    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    let (_, read_only) = tenant(&server, "bob@example.com", &["read"]).await;
    let mut client = TraceServiceClient::connect(format!("http://{}", server.grpc_addr))
        .await
        .unwrap()
        .send_compressed(CompressionEncoding::Gzip);
    let request = |secret: Option<&str>| {
        let mut request = tonic::Request::new(agent_trace_protobuf());
        if let Some(secret) = secret {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {secret}").parse().unwrap());
        }
        request
    };

    let answer = client.export(request(Some(&token))).await.unwrap().into_inner();
    assert_eq!(answer.partial_success, None);
    let trace: Value = read_trace(&server, &token, TRACE).await.json().await.unwrap();
    assert_eq!(trace["trace"]["span_count"], 3);
    assert_eq!(trace["spans"][1]["model"], "gpt-4o");

    assert_eq!(
        client.export(request(None)).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert_eq!(
        client.export(request(Some("spk_nope"))).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert_eq!(
        client.export(request(Some(&read_only))).await.unwrap_err().code(),
        Code::PermissionDenied
    );

    let mut invalid = agent_trace_protobuf();
    invalid.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![7; 3];
    let mut with_token = tonic::Request::new(invalid);
    with_token
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let answer = client.export(with_token).await.unwrap().into_inner();
    assert_eq!(answer.partial_success.unwrap().rejected_spans, 1);
    server.stop().await;
}

fn genai_metrics() -> opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest {
    use opentelemetry_proto::tonic::{
        collector::metrics::v1::ExportMetricsServiceRequest,
        metrics::v1::{
            AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
            ScopeMetrics, Sum, metric::Data, number_data_point,
        },
    };
    let histogram_point = |token_type: &str, sum: f64| HistogramDataPoint {
        attributes: vec![
            string("gen_ai.token.type", token_type),
            string("gen_ai.request.model", "gpt-4o"),
        ],
        start_time_unix_nano: 1_700_000_000_000_000_000,
        time_unix_nano: 1_700_000_060_000_000_000,
        count: 3,
        sum: Some(sum),
        bucket_counts: vec![0, 1, 2, 0],
        explicit_bounds: vec![1.0, 100.0, 1000.0],
        min: Some(10.0),
        max: Some(900.0),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![string("service.name", "coder")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "gen_ai.client.token.usage".into(),
                        unit: "{token}".into(),
                        data: Some(Data::Histogram(Histogram {
                            data_points: vec![
                                histogram_point("input", 1500.0),
                                histogram_point("output", 300.0),
                            ],
                            aggregation_temporality: AggregationTemporality::Delta as i32,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "agent.tool.calls".into(),
                        unit: "1".into(),
                        data: Some(Data::Sum(Sum {
                            data_points: vec![NumberDataPoint {
                                time_unix_nano: 1_700_000_060_000_000_000,
                                value: Some(number_data_point::Value::AsInt(7)),
                                ..Default::default()
                            }],
                            aggregation_temporality: AggregationTemporality::Cumulative as i32,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn metrics_are_stored_per_point(backend: Backend) {
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

    let server = TestServer::start(backend).await;
    let (org, token) = tenant(&server, "ada@example.com", &["ingest"]).await;
    let response = post_otlp(
        &server,
        "/v1/metrics",
        &token,
        "application/x-protobuf",
        genai_metrics().encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let points = entity::metric_point::Entity::find()
        .filter(entity::metric_point::Column::OrgId.eq(org.parse::<uuid::Uuid>().unwrap()))
        .order_by_asc(entity::metric_point::Column::Id)
        .all(&server.state.db)
        .await
        .unwrap();
    assert_eq!(points.len(), 3);
    assert_eq!(points[0].name, "gen_ai.client.token.usage");
    assert_eq!(points[0].kind, "histogram");
    assert_eq!(points[0].count, Some(3));
    assert_eq!(points[0].sum, Some(1500.0));
    assert_eq!(points[0].temporality.as_deref(), Some("delta"));
    let attributes: Value = serde_json::from_str(&points[0].attributes).unwrap();
    assert_eq!(attributes["gen_ai.token.type"], "input");
    assert_eq!(attributes["resource"]["service.name"], "coder");
    let buckets: Value = serde_json::from_str(points[0].buckets.as_deref().unwrap()).unwrap();
    assert_eq!(buckets["bucket_counts"], json!([0, 1, 2, 0]));
    assert_eq!(points[2].kind, "sum");
    assert_eq!(points[2].value, Some(7.0));
    assert_eq!(points[2].monotonic, Some(true));

    let mut client = MetricsServiceClient::connect(format!("http://{}", server.grpc_addr))
        .await
        .unwrap();
    let mut request = tonic::Request::new(genai_metrics());
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    client.export(request).await.unwrap();
    let count = entity::metric_point::Entity::find()
        .all(&server.state.db)
        .await
        .unwrap()
        .len();
    assert_eq!(count, 6);
    server.stop().await;
}

/// The agent trace with a leaked key in the prompt and a 300 KiB diff.
fn leaky_trace() -> ExportTraceServiceRequest {
    let mut request = agent_trace_protobuf();
    let spans = &mut request.resource_spans[0].scope_spans[0].spans;
    spans[1].attributes.retain(|kv| kv.key != "gen_ai.input.messages");
    spans[1].attributes.push(string(
        "gen_ai.input.messages",
        r#"[{"role":"user","parts":[{"type":"text","content":"use OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123 please"}]}]"#,
    ));
    let big_diff = format!(
        "--- a/big.txt\n+++ b/big.txt\n{}",
        "+line of a large generated file\n".repeat(10_000)
    );
    spans[2].attributes = vec![
        string("tool.name", "apply_patch"),
        string("tool.output.diff", &big_diff),
    ];
    request
}

async fn secrets_are_redacted_and_large_values_truncated(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    assert_eq!(
        post(
            &server,
            &token,
            "application/x-protobuf",
            leaky_trace().encode_to_vec()
        )
        .await
        .status(),
        StatusCode::OK
    );
    let body = read_trace(&server, &token, TRACE).await.text().await.unwrap();
    assert!(
        !body.contains("sk-proj-abcdefghijklmnopqrstuvwxyz0123"),
        "the key is stored nowhere"
    );
    let trace: Value = serde_json::from_str(&body).unwrap();
    let request = &trace["spans"][1];
    assert!(
        request["prompt"]
            .as_str()
            .unwrap()
            .contains("[REDACTED:openai_key]")
    );
    assert_eq!(
        request["details"]["policy"]["redactions"]["openai_key"], 1,
        "redacted once, in the attribute the prompt is derived from"
    );
    let tool = &trace["spans"][2];
    let diff = tool["diff"].as_str().unwrap();
    assert!(diff.len() <= 256 * 1024 && diff.starts_with("--- a/big.txt") && diff.contains("…[truncated"));
    let truncated = &tool["details"]["policy"]["truncated"][0];
    assert_eq!(truncated["field"], "attributes.tool.output.diff");
    assert!(truncated["original_bytes"].as_u64().unwrap() > 300_000);
    assert_eq!(truncated["sha256"].as_str().unwrap().len(), 64);
    server.stop().await;
}

async fn hashed_capture_keeps_only_digests(backend: Backend) {
    let server = TestServer::start_with(backend, &["--content-capture=hashed"]).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    assert_eq!(
        post(
            &server,
            &token,
            "application/x-protobuf",
            leaky_trace().encode_to_vec()
        )
        .await
        .status(),
        StatusCode::OK
    );
    let body = read_trace(&server, &token, TRACE).await.text().await.unwrap();
    assert!(
        !body.contains("please") && !body.contains("large generated file"),
        "no content is stored"
    );
    let trace: Value = serde_json::from_str(&body).unwrap();
    assert!(
        trace["spans"][1]["prompt"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(trace["spans"][2]["diff"].as_str().unwrap().starts_with("sha256:"));
    assert!(
        trace["spans"][1]["details"]["attributes"]["gen_ai.input.messages"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "the attribute holds the digest the prompt is derived from"
    );
    assert_eq!(trace["spans"][1]["model"], "gpt-4o", "metadata is kept");
    server.stop().await;
}

/// Spans stored before payloads were compressed (plain JSON `details`, text
/// in `span_contents`) read back the same after the migration.
async fn spans_stored_before_compression_survive_the_migration(backend: Backend) {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{
        ConnectionTrait,
        sea_query::{Alias, Query},
    };

    let database = common::TestDatabase::create(backend).await;
    if let Some(path) = database.sqlite_path() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    }
    let url = match database.sqlite_path() {
        Some(_) => format!("{}?mode=rwc", database.url),
        None => database.url.clone(),
    };
    let db = sea_orm::Database::connect(url).await.unwrap();
    Migrator::up(&db, Some(4)).await.unwrap();
    let org_id = uuid::Uuid::new_v4();
    let details = json!({
        "resource": {"service.name": "coder"}, "scope": {"name": "s", "version": null, "attributes": {}},
        "attributes": {"gen_ai.request.model": "gpt-4o", "gen_ai.input.messages": "sha256:aa"},
        "events": [], "links": [], "parameters": {}, "finish_reasons": [],
        "cost": {"status": "unpriced"},
        "policy": {"capture": "hashed", "redactions": {}, "truncated": []},
    });
    let backend_kind = db.get_database_backend();
    let span = Query::insert()
        .into_table(Alias::new("spans"))
        .columns(
            [
                "id",
                "org_id",
                "trace_id",
                "span_id",
                "name",
                "span_kind",
                "llm_kind",
                "service_name",
                "start_time_ns",
                "end_time_ns",
                "duration_ns",
                "status_code",
                "model",
                "unpriced",
                "details",
                "ingested_at_ns",
            ]
            .map(Alias::new),
        )
        .values_panic([
            7.into(),
            org_id.into(),
            TRACE.into(),
            "00000000000000a1".into(),
            "chat gpt-4o".into(),
            "client".into(),
            "request".into(),
            "coder".into(),
            10i64.into(),
            20i64.into(),
            10i64.into(),
            "ok".into(),
            "gpt-4o".into(),
            true.into(),
            details.to_string().into(),
            30i64.into(),
        ])
        .to_owned();
    let content = Query::insert()
        .into_table(Alias::new("span_contents"))
        .columns(["span_row_id", "prompt"].map(Alias::new))
        .values_panic([7.into(), "sha256:bb".into()])
        .to_owned();
    let trace = Query::insert()
        .into_table(Alias::new("traces"))
        .columns(
            [
                "org_id",
                "trace_id",
                "service_name",
                "start_time_ns",
                "end_time_ns",
                "span_count",
                "error_count",
                "input_tokens",
                "output_tokens",
            ]
            .map(Alias::new),
        )
        .values_panic([
            org_id.into(),
            TRACE.into(),
            "coder".into(),
            10i64.into(),
            20i64.into(),
            1i64.into(),
            0i64.into(),
            0i64.into(),
            0i64.into(),
        ])
        .to_owned();
    for statement in [&span, &content, &trace] {
        db.execute_raw(backend_kind.build(statement)).await.unwrap();
    }
    Migrator::up(&db, None).await.unwrap();

    let read = app::telemetry::services::span_store::get_trace(&db, org_id, TRACE)
        .await
        .unwrap();
    let span = &read.spans[0];
    assert_eq!(span.prompt.as_deref(), Some("sha256:bb"), "the stored text wins");
    assert_eq!(span.summary.model.as_deref(), Some("gpt-4o"));
    assert_eq!(span.details["attributes"]["gen_ai.input.messages"], "sha256:aa");
    assert_eq!(span.details["policy"]["capture"], "hashed");
    assert_eq!(span.details["resource"]["service.name"], "coder");
    db.close().await.ok();
    database.drop_database().await;
}

/// A commit the database refuses (here: the spans table is gone) answers
/// 503 with Retry-After over HTTP and UNAVAILABLE over gRPC, and neither
/// answer carries the database's own message: that stays in the log.
async fn a_database_failure_answers_503_without_its_message(backend: Backend) {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use sea_orm::ConnectionTrait;

    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest"]).await;
    server
        .state
        .db
        .execute_unprepared("ALTER TABLE spans RENAME TO spans_moved_away")
        .await
        .unwrap();

    let refused = post_otlp(
        &server,
        "/v1/traces",
        &token,
        "application/json",
        agent_trace_json().to_string().into_bytes(),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    let body: Value = refused.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert_eq!(message, "the server could not store the data; retry later");

    let mut client = TraceServiceClient::connect(format!("http://{}", server.grpc_addr))
        .await
        .unwrap();
    let mut request = tonic::Request::new(agent_trace_protobuf());
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let status = client.export(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    for answer in [message, status.message()] {
        for detail in ["spans", "table", "relation", "database"] {
            assert!(!answer.contains(detail), "{detail:?} in {answer:?}");
        }
    }
}

/// With the database busy, the writer holds one batch and the queue (one
/// slot here) the next; a third export is refused at once with 503 and
/// Retry-After, whether spans or metric points. Once the database frees up,
/// the two held exports are committed and answered 200.
async fn a_full_write_queue_answers_503_and_loses_nothing(backend: Backend) {
    use sea_orm::{ConnectionTrait, Database, EntityTrait, PaginatorTrait, TransactionTrait};

    let server = TestServer::start_with(backend, &["--ingest-queue=1"]).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest"]).await;
    let blocker = Database::connect(server.database_url()).await.unwrap();
    let hold = blocker.begin().await.unwrap();
    match backend {
        Backend::Sqlite => hold
            .execute_unprepared("INSERT INTO maintenance_jobs (name) VALUES ('test-lock')")
            .await
            .unwrap(),
        Backend::Postgres => hold
            .execute_unprepared("LOCK TABLE spans, metric_points IN EXCLUSIVE MODE")
            .await
            .unwrap(),
    };

    let spawn_export = |path: &str, body: Vec<u8>| {
        let request = server
            .client
            .post(server.url(path))
            .bearer_auth(&token)
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .body(body);
        tokio::spawn(async move { request.send().await.unwrap() })
    };
    let spans = spawn_export("/v1/traces", agent_trace_protobuf().encode_to_vec());
    // The writer takes the spans and waits on the lock.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let queued_points = spawn_export("/v1/metrics", genai_metrics().encode_to_vec());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for path in ["/v1/metrics", "/v1/traces"] {
        let body = if path == "/v1/metrics" {
            genai_metrics().encode_to_vec()
        } else {
            agent_trace_protobuf().encode_to_vec()
        };
        let refused = post_otlp(&server, path, &token, "application/x-protobuf", body).await;
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(refused.headers().contains_key(header::RETRY_AFTER), "{path}");
    }

    hold.rollback().await.unwrap();
    blocker.close().await.unwrap();
    assert_eq!(spans.await.unwrap().status(), StatusCode::OK);
    assert_eq!(queued_points.await.unwrap().status(), StatusCode::OK);
    let stored_spans = entity::span::Entity::find()
        .count(&server.state.db)
        .await
        .unwrap();
    let stored_points = entity::metric_point::Entity::find()
        .count(&server.state.db)
        .await
        .unwrap();
    let sent_spans: usize = agent_trace_protobuf()
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .map(|scope| scope.spans.len())
        .sum();
    assert_eq!(stored_spans, sent_spans as u64);
    assert_eq!(
        stored_points, 3,
        "the points of one export, not of the refused one"
    );
    server.stop().await;
}
