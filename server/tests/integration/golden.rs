//! Golden OTLP payloads captured from real OpenTelemetry SDKs and GenAI
//! instrumentations (see `tests/fixtures/README.md`; regenerate with
//! `bash scripts/fixtures/capture.sh`), ingested as they are, then read back
//! to check the LLM fields Specula derives from each dialect.
//!
//! The Python fixtures are one agent turn through the real `openai` client
//! against a fake server: a plain parent span "agent turn", a chat completion
//! answered with a `read_file` tool call, and a chat completion carrying the
//! tool result, answered with [`ANSWER`]. The JS fixtures are one hand-made
//! agent trace exported by the JS SDK in both OTLP/JSON and OTLP/protobuf.

use crate::common;

use common::{Backend, TestServer, post_otlp, tenant};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    python_otel_genai_latest_conventions,
    python_otel_genai_without_content,
    python_openinference,
    python_openllmetry,
    python_openllmetry_indexed_attributes,
    js_agent_trace_json_and_protobuf_agree,
    tool_calls_in_indexed_messages_are_kept,
);

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// One captured export request, byte for byte.
struct Fixture {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! fixture {
    ($name:literal, $content_type:expr) => {
        Fixture {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../fixtures/", $name)),
        }
    };
}

/// `opentelemetry-instrumentation-openai-v2` with
/// `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental` and content on spans.
const PYTHON_OTEL_GENAI: Fixture = fixture!("python-otel-genai.pb", PROTOBUF);
/// The same instrumentation with only `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`,
/// which its new code path rejects ("not a valid option"): no content on spans.
const PYTHON_OTEL_GENAI_NO_CONTENT: Fixture = fixture!("python-otel-genai-no-content.pb", PROTOBUF);
/// `openinference-instrumentation-openai`.
const PYTHON_OPENINFERENCE: Fixture = fixture!("python-openinference.pb", PROTOBUF);
/// `opentelemetry-instrumentation-openai` (OpenLLMetry), current release.
const PYTHON_TRACELOOP: Fixture = fixture!("python-traceloop.pb", PROTOBUF);
/// OpenLLMetry's last release with indexed `gen_ai.prompt.N.*` attributes.
const PYTHON_TRACELOOP_LEGACY: Fixture = fixture!("python-traceloop-legacy.pb", PROTOBUF);
/// The JS SDK's agent trace, OTLP/protobuf and OTLP/JSON, same spans.
const JS_AGENT_PROTOBUF: Fixture = fixture!("js-otel-agent.pb", PROTOBUF);
const JS_AGENT_JSON: Fixture = fixture!("js-otel-agent.json", JSON);

/// What the fake OpenAI server (`scripts/fixtures/servers.py`) answers.
const RESPONSE_MODEL: &str = "gpt-4o-mini-2024-07-18";
const USER_TEXT: &str = "Why does parse_range drop the last element?";
const ANSWER: &str =
    "parse_range uses an exclusive range: write (start..=end).collect() to keep the last element.";
const TOOL_NAME: &str = "read_file";
/// (input, output) tokens of the tool-calling and of the answering completion.
const TOOL_CALL_USAGE: (i64, i64) = (52, 18);
const ANSWER_USAGE: (i64, i64) = (81, 23);
/// gpt-4o-mini (dated snapshots price as the base model): 0.15 $/M input,
/// 0.60 $/M output, that is 150 and 600 nano-dollars per token.
fn gpt_4o_mini_nanos((input, output): (i64, i64)) -> i64 {
    input * 150 + output * 600
}

/// Posts the fixture as it was captured and checks every span was accepted.
async fn ingest(server: &TestServer, token: &str, fixture: &Fixture) {
    let response = post_otlp(
        server,
        "/v1/traces",
        token,
        fixture.content_type,
        fixture.body.to_vec(),
    )
    .await;
    let status = response.status();
    let body = response.bytes().await.unwrap();
    assert_eq!(
        status,
        StatusCode::OK,
        "{}: {}",
        fixture.name,
        String::from_utf8_lossy(&body)
    );
    if fixture.content_type == PROTOBUF {
        let answer = ExportTraceServiceResponse::decode(body).unwrap();
        assert_eq!(
            answer.partial_success, None,
            "{}: all spans accepted",
            fixture.name
        );
    } else {
        let answer: Value = serde_json::from_slice(&body).unwrap();
        let rejected = &answer["partialSuccess"]["rejectedSpans"];
        assert!(
            rejected.is_null() || rejected == 0 || rejected == "0",
            "{}: {answer}",
            fixture.name
        );
    }
}

/// The distinct trace ids in a fixture, in lowercase hex, in order of appearance.
fn trace_ids(fixture: &Fixture) -> Vec<String> {
    let mut ids: Vec<String> = if fixture.content_type == PROTOBUF {
        let request = ExportTraceServiceRequest::decode(fixture.body).unwrap();
        request
            .resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .flat_map(|scope| &scope.spans)
            .map(|span| span.trace_id.iter().map(|byte| format!("{byte:02x}")).collect())
            .collect()
    } else {
        let document: Value = serde_json::from_slice(fixture.body).unwrap();
        document["resourceSpans"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|resource| resource["scopeSpans"].as_array().unwrap())
            .flat_map(|scope| scope["spans"].as_array().unwrap())
            .map(|span| span["traceId"].as_str().unwrap().to_ascii_lowercase())
            .collect()
    };
    let mut seen = Vec::new();
    ids.retain(|id| {
        let new = !seen.contains(id);
        seen.push(id.clone());
        new
    });
    ids
}

/// The one trace of a fixture.
fn the_trace_id(fixture: &Fixture) -> String {
    let ids = trace_ids(fixture);
    assert_eq!(ids.len(), 1, "{}: one trace, got {ids:?}", fixture.name);
    ids.into_iter().next().unwrap()
}

async fn read_trace(server: &TestServer, token: &str, org: &str, trace_id: &str) -> Value {
    let response = server
        .client
        .get(server.url(&format!("/api/v1/traces/{trace_id}?org={org}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "trace {trace_id}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Ingests a fixture into a fresh tenant and reads its one trace back.
async fn ingest_and_read(server: &TestServer, email: &str, fixture: &Fixture) -> Value {
    let (org, token) = tenant(server, email, &["ingest", "read"]).await;
    ingest(server, &token, fixture).await;
    read_trace(server, &token, &org, &the_trace_id(fixture)).await
}

fn text<'a>(span: &'a Value, field: &str) -> &'a str {
    span[field]
        .as_str()
        .unwrap_or_else(|| panic!("span {:?} has no {field}: {span:#}", span["name"]))
}

/// Checks the Python agent turn every Python fixture holds; returns the two
/// chat spans (tool-calling, answering) for dialect-specific checks.
fn check_python_turn(detail: &Value, service: &str, with_content: bool) -> (Value, Value) {
    let trace = &detail["trace"];
    assert_eq!(trace["span_count"], 3, "{detail:#}");
    assert_eq!(trace["root_span_name"], "agent turn");
    assert_eq!(trace["service_name"], service);
    assert_eq!(trace["error_count"], 0);
    assert_eq!(trace["input_tokens"], TOOL_CALL_USAGE.0 + ANSWER_USAGE.0);
    assert_eq!(trace["output_tokens"], TOOL_CALL_USAGE.1 + ANSWER_USAGE.1);
    assert_eq!(trace["models"], json!([RESPONSE_MODEL]));
    assert_eq!(
        trace["cost_nanos"],
        gpt_4o_mini_nanos(TOOL_CALL_USAGE) + gpt_4o_mini_nanos(ANSWER_USAGE)
    );
    assert_eq!(trace["unpriced_spans"], 0);

    let spans = detail["spans"].as_array().unwrap();
    let kinds: Vec<&str> = spans.iter().map(|s| text(s, "llm_kind")).collect();
    assert_eq!(kinds, ["other", "request", "request"], "{detail:#}");
    let root = &spans[0];
    assert_eq!(root["name"], "agent turn");
    assert_eq!(root["cost_nanos"], Value::Null);

    for (span, usage) in [(&spans[1], TOOL_CALL_USAGE), (&spans[2], ANSWER_USAGE)] {
        let name = &span["name"];
        assert_eq!(span["parent_span_id"], root["span_id"], "{name}");
        assert_eq!(span["model"], RESPONSE_MODEL, "{name}");
        assert_eq!(span["provider"], "openai", "{name}");
        assert_eq!(span["tokens"]["input"], usage.0, "{name}");
        assert_eq!(span["tokens"]["output"], usage.1, "{name}");
        assert_eq!(span["cost_nanos"], gpt_4o_mini_nanos(usage), "{name}");
        assert_eq!(span["unpriced"], false, "{name}");
        assert_eq!(span["details"]["parameters"]["temperature"], 0.2, "{name}");
        assert_eq!(span["details"]["parameters"]["max_tokens"], 256, "{name}");
        if with_content {
            let prompt = text(span, "prompt");
            assert!(prompt.contains(USER_TEXT), "{name} prompt: {prompt}");
            assert!(prompt.contains("careful coding agent"), "{name} prompt: {prompt}");
        }
    }
    assert_eq!(spans[1]["details"]["finish_reasons"].as_array().unwrap().len(), 1);
    assert_eq!(spans[2]["details"]["finish_reasons"], json!(["stop"]));
    if with_content {
        let completion = text(&spans[2], "completion");
        assert!(completion.contains(ANSWER), "completion: {completion}");
        let prompt = text(&spans[2], "prompt");
        assert!(
            prompt.contains("(start..end).collect()"),
            "the tool result is in the follow-up prompt: {prompt}"
        );
    }
    (spans[1].clone(), spans[2].clone())
}

async fn python_otel_genai_latest_conventions(backend: Backend) {
    let server = TestServer::start(backend).await;
    let detail = ingest_and_read(&server, "otel@example.com", &PYTHON_OTEL_GENAI).await;
    let (tool_call, answer) = check_python_turn(&detail, "golden-otel-genai", true);
    for span in [&tool_call, &answer] {
        assert_eq!(span["operation"], "chat");
        assert_eq!(span["details"]["request_model"], "gpt-4o-mini");
    }
    assert_eq!(tool_call["details"]["finish_reasons"], json!(["tool_calls"]));
    assert_eq!(tool_call["details"]["response_id"], "chatcmpl-golden-1");
    // gen_ai.output.messages carries the tool call as a `tool_call` part.
    let completion: Value = serde_json::from_str(text(&tool_call, "completion")).unwrap();
    assert_eq!(completion[0]["parts"][0]["type"], "tool_call");
    assert_eq!(completion[0]["parts"][0]["name"], TOOL_NAME);
    // Structured messages (OTel parts) stay structured.
    let prompt: Value = serde_json::from_str(text(&answer, "prompt")).unwrap();
    assert_eq!(prompt[1]["parts"][0]["content"], USER_TEXT);
    assert_eq!(prompt[3]["parts"][0]["type"], "tool_call_response");
    server.stop().await;
}

async fn python_otel_genai_without_content(backend: Backend) {
    let server = TestServer::start(backend).await;
    let detail = ingest_and_read(&server, "no-content@example.com", &PYTHON_OTEL_GENAI_NO_CONTENT).await;
    // No message content was captured: the trace has everything but the text.
    let (tool_call, answer) = check_python_turn(&detail, "golden-otel-genai", false);
    for span in [&tool_call, &answer] {
        assert_eq!(span["prompt"], Value::Null, "{span:#}");
        assert_eq!(span["completion"], Value::Null, "{span:#}");
    }
    assert_eq!(tool_call["details"]["finish_reasons"], json!(["tool_calls"]));
    server.stop().await;
}

async fn python_openinference(backend: Backend) {
    let server = TestServer::start(backend).await;
    let detail = ingest_and_read(&server, "oi@example.com", &PYTHON_OPENINFERENCE).await;
    let (tool_call, answer) = check_python_turn(&detail, "golden-openinference", true);
    // llm.model_name is the response's model; llm.system the provider.
    assert_eq!(tool_call["details"]["finish_reasons"], json!(["tool_calls"]));
    // llm.input_messages.N.message.{role,content} become role/content messages.
    let prompt: Value = serde_json::from_str(text(&answer, "prompt")).unwrap();
    assert_eq!(
        prompt[0],
        json!({"role": "system", "content": "You are a careful coding agent."})
    );
    assert_eq!(prompt[1], json!({"role": "user", "content": USER_TEXT}));
    assert_eq!(prompt[3]["role"], "tool");
    server.stop().await;
}

async fn python_openllmetry(backend: Backend) {
    let server = TestServer::start(backend).await;
    let detail = ingest_and_read(&server, "tl@example.com", &PYTHON_TRACELOOP).await;
    let (tool_call, answer) = check_python_turn(&detail, "golden-traceloop", true);
    for span in [&tool_call, &answer] {
        assert_eq!(span["operation"], "chat");
        assert_eq!(span["name"], "openai.chat");
    }
    // OpenLLMetry ≥ 0.55 writes OTel GenAI messages, and "tool_call" as the finish reason.
    assert_eq!(tool_call["details"]["finish_reasons"], json!(["tool_call"]));
    let completion = text(&tool_call, "completion");
    assert!(completion.contains(TOOL_NAME), "completion: {completion}");
    server.stop().await;
}

async fn python_openllmetry_indexed_attributes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let detail = ingest_and_read(&server, "tl-legacy@example.com", &PYTHON_TRACELOOP_LEGACY).await;
    let (tool_call, answer) = check_python_turn(&detail, "golden-traceloop", true);
    for span in [&tool_call, &answer] {
        // llm.request.type = "chat" is the operation.
        assert_eq!(span["operation"], "chat");
    }
    // gen_ai.completion.0.finish_reason, indexed.
    assert_eq!(tool_call["details"]["finish_reasons"], json!(["tool_calls"]));
    // gen_ai.prompt.N.{role,content} become role/content messages.
    let prompt: Value = serde_json::from_str(text(&answer, "prompt")).unwrap();
    assert_eq!(prompt[1], json!({"role": "user", "content": USER_TEXT}));
    let completion: Value = serde_json::from_str(text(&answer, "completion")).unwrap();
    assert_eq!(completion, json!([{"role": "assistant", "content": ANSWER}]));
    server.stop().await;
}

async fn js_agent_trace_json_and_protobuf_agree(backend: Backend) {
    let server = TestServer::start(backend).await;
    let trace_id = the_trace_id(&JS_AGENT_PROTOBUF);
    assert_eq!(
        the_trace_id(&JS_AGENT_JSON),
        trace_id,
        "both exports are of the same spans (capture them in one run)"
    );
    let (proto_org, proto_token) = tenant(&server, "js-proto@example.com", &["ingest", "read"]).await;
    let (json_org, json_token) = tenant(&server, "js-json@example.com", &["ingest", "read"]).await;
    ingest(&server, &proto_token, &JS_AGENT_PROTOBUF).await;
    ingest(&server, &json_token, &JS_AGENT_JSON).await;
    let from_proto = read_trace(&server, &proto_token, &proto_org, &trace_id).await;
    let from_json = read_trace(&server, &json_token, &json_org, &trace_id).await;
    assert_eq!(from_proto, from_json, "the two encodings store identical spans");

    let trace = &from_proto["trace"];
    assert_eq!(trace["span_count"], 3);
    assert_eq!(trace["root_span_name"], "invoke_agent coder");
    assert_eq!(trace["service_name"], "golden-js-agent");
    assert_eq!(trace["models"], json!(["gpt-4o"]));
    // 120 × 2.50 $/M + 30 × 10 $/M = 0.0006 $.
    assert_eq!(trace["cost_nanos"], 600_000);

    let spans = from_proto["spans"].as_array().unwrap();
    let by_name = |name: &str| {
        spans
            .iter()
            .find(|span| span["name"] == name)
            .unwrap_or_else(|| panic!("no span {name}: {from_proto:#}"))
    };
    let agent = by_name("invoke_agent coder");
    let chat = by_name("chat gpt-4o");
    let tool = by_name("execute_tool apply_patch");

    assert_eq!(agent["llm_kind"], "agent");
    assert_eq!(agent["parent_span_id"], Value::Null);
    assert_eq!(agent["cost_nanos"], Value::Null);

    assert_eq!(chat["llm_kind"], "request");
    assert_eq!(chat["span_kind"], "client");
    assert_eq!(chat["parent_span_id"], agent["span_id"]);
    assert_eq!(chat["operation"], "chat");
    assert_eq!(chat["model"], "gpt-4o");
    assert_eq!(chat["provider"], "openai");
    assert_eq!(chat["tokens"]["input"], 120);
    assert_eq!(chat["tokens"]["output"], 30);
    assert_eq!(chat["cost_nanos"], 600_000);
    assert_eq!(chat["unpriced"], false);
    assert_eq!(chat["details"]["parameters"]["temperature"], 0.2);
    assert_eq!(chat["details"]["finish_reasons"], json!(["tool_call"]));
    let prompt: Value = serde_json::from_str(text(chat, "prompt")).unwrap();
    assert_eq!(
        prompt[1]["parts"][0]["content"],
        "Rename the helper in src/util.rs to parse_range."
    );
    assert!(text(chat, "completion").contains("I will apply a patch."));

    // execute_tool is the tool's invocation: a tool call, with its output diff.
    assert_eq!(tool["llm_kind"], "tool_call");
    assert_eq!(tool["parent_span_id"], agent["span_id"]);
    assert_eq!(tool["tool_name"], "apply_patch");
    assert_eq!(tool["tool_call_id"], "call_patch_1");
    assert_eq!(tool["cost_nanos"], Value::Null);
    let diff = text(tool, "diff");
    assert!(diff.starts_with("--- a/src/util.rs\n+++ b/src/util.rs\n@@ -1,3 +1,3 @@\n"));
    assert!(diff.contains("+fn parse_range(start: u32, end: u32) -> Vec<u32> {\n"));
    server.stop().await;
}

/// A completion that is a tool call keeps the call when the dialect writes
/// messages as indexed attributes. OpenInference writes
/// `llm.output_messages.0.message.tool_calls.0.tool_call.function.name = "read_file"`
/// (and `.function.arguments`, `.id`), OpenLLMetry ≤ 0.54
/// `gen_ai.completion.0.tool_calls.0.name = "read_file"` (and `.arguments`,
/// `.id`); both have no `.content` for that message. The assistant's tool
/// call must also appear in the next request's prompt (`llm.input_messages.2.message.tool_calls.0.…`,
/// `gen_ai.prompt.2.tool_calls.0.…`).
async fn tool_calls_in_indexed_messages_are_kept(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut gaps = Vec::new();
    for (email, fixture) in [
        ("oi-gap@example.com", &PYTHON_OPENINFERENCE),
        ("tl-gap@example.com", &PYTHON_TRACELOOP_LEGACY),
    ] {
        let detail = ingest_and_read(&server, email, fixture).await;
        let spans = detail["spans"].as_array().unwrap();
        let completion = spans[1]["completion"].as_str().unwrap_or_default();
        if !(completion.contains(TOOL_NAME) && completion.contains("src/range.rs")) {
            gaps.push(format!(
                "{}: the tool call is missing from the completion: {completion}",
                fixture.name
            ));
        }
        let prompt = spans[2]["prompt"].as_str().unwrap_or_default();
        if !prompt.contains(TOOL_NAME) {
            gaps.push(format!(
                "{}: the assistant's tool call is missing from the follow-up prompt: {prompt}",
                fixture.name
            ));
        }
    }
    server.stop().await;
    assert!(gaps.is_empty(), "{}", gaps.join("\n"));
}
