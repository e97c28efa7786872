//! The official OpenTelemetry Rust SDK (`opentelemetry-otlp`) exporting to a
//! running Specula over OTLP/HTTP (protobuf) and OTLP/gRPC (gzip), unchanged.

use crate::common;

use std::collections::HashMap;

use common::{Backend, TestServer, runtime, tenant};
use opentelemetry::{
    KeyValue,
    trace::{TraceContextExt, Tracer, TracerProvider as _},
};
use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use serde_json::Value;

/// Records an agent span with a model request inside; returns the trace id.
fn record_agent_run(provider: &SdkTracerProvider) -> String {
    let tracer = provider.tracer("sdk-e2e");
    tracer.in_span("invoke_agent coder", |cx| {
        let trace_id = cx.span().span_context().trace_id().to_string();
        tracer.in_span("chat gpt-4o", |cx| {
            let span = cx.span();
            span.set_attribute(KeyValue::new("gen_ai.operation.name", "chat"));
            span.set_attribute(KeyValue::new("gen_ai.provider.name", "openai"));
            span.set_attribute(KeyValue::new("gen_ai.request.model", "gpt-4o"));
            span.set_attribute(KeyValue::new("gen_ai.usage.input_tokens", 640_i64));
            span.set_attribute(KeyValue::new("gen_ai.usage.output_tokens", 32_i64));
        });
        trace_id
    })
}

fn sign_up_with_token(server: &TestServer) -> String {
    runtime().block_on(async { tenant(server, "sdk@example.com", &["ingest", "read"]).await.1 })
}

fn read_trace(server: &TestServer, token: &str, trace_id: &str) -> Value {
    runtime().block_on(async {
        let response = server
            .client
            .get(server.url(&format!("/api/v1/traces/{trace_id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            reqwest::StatusCode::OK,
            "trace {trace_id} stored"
        );
        response.json().await.unwrap()
    })
}

fn assert_agent_run(trace: &Value, service: &str) {
    assert_eq!(trace["trace"]["span_count"], 2);
    assert_eq!(trace["trace"]["service_name"], service);
    assert_eq!(trace["trace"]["root_span_name"], "invoke_agent coder");
    let request = &trace["spans"][1];
    assert_eq!(request["llm_kind"], "request");
    assert_eq!(request["model"], "gpt-4o");
    assert_eq!(request["tokens"]["input"], 640);
}

#[test]
fn rust_sdk_exports_over_http_and_grpc() {
    let server = runtime().block_on(TestServer::start(Backend::Sqlite));
    let token = sign_up_with_token(&server);

    // OTLP/HTTP with the SDK's blocking client, built outside any async runtime.
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("http://{}/v1/traces", server.addr))
        .with_headers(HashMap::from([(
            "Authorization".to_owned(),
            format!("Bearer {token}"),
        )]))
        .build()
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("sdk-http").build())
        .build();
    let http_trace = record_agent_run(&provider);
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
    assert_agent_run(&read_trace(&server, &token, &http_trace), "sdk-http");

    // OTLP/gRPC with tonic, which needs a Tokio runtime for its connection.
    let grpc_runtime = tokio::runtime::Runtime::new().unwrap();
    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let exporter = grpc_runtime
        .block_on(async {
            SpanExporter::builder()
                .with_tonic()
                .with_endpoint(format!("http://{}", server.grpc_addr))
                .with_metadata(metadata)
                .with_compression(opentelemetry_otlp::Compression::Gzip)
                .build()
        })
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("sdk-grpc").build())
        .build();
    let grpc_trace = record_agent_run(&provider);
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
    assert_agent_run(&read_trace(&server, &token, &grpc_trace), "sdk-grpc");

    runtime().block_on(server.stop());
}
