//! The read API: span and trace lists with every filter, cursor paging
//! (also while spans keep arriving), single spans, and tenant isolation, on
//! SQLite and PostgreSQL.

use crate::common;

use common::{Backend, TestServer, export, get_json, get_with_token, post_otlp, span, tenant};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    every_span_filter_narrows_the_list,
    bad_filters_are_explained,
    paging_walks_every_span_once,
    paging_is_stable_while_spans_arrive,
    traces_are_listed_filtered_and_paged,
    a_single_span_reads_back_whole,
    other_tenants_see_nothing,
    exports_round_trip_through_otlp,
    pages_render_on_the_server,
    live_tail_delivers_filters_and_resumes,
    spans_stored_before_the_index_are_backfilled,
    spans_are_found_by_the_model_they_asked_for,
    planner_statistics_follow_the_load,
);

const TRACE_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TRACE_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const SECOND: i64 = 1_000_000_000;
/// 2026-01-01T00:00:00Z: all test spans start after it.
const T0: i64 = 1_767_225_600 * SECOND;

/// Trace A (service `coder`): agent → gpt-4o request → apply_patch call →
/// failing apply_patch result. Trace B (service `reviewer`), 20 s later: a
/// Claude request and a read_file call.
async fn ingest_fixture(server: &TestServer, token: &str) {
    let trace_a = export(
        "coder",
        vec![
            span(
                TRACE_A,
                "00000000000000a1",
                None,
                "invoke_agent coder",
                (T0, 10 * SECOND),
                false,
                json!({"gen_ai.operation.name": "invoke_agent"}),
            ),
            span(
                TRACE_A,
                "00000000000000a2",
                Some("00000000000000a1"),
                "chat gpt-4o",
                (T0 + SECOND, 2 * SECOND),
                false,
                json!({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
                       "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100,
                       "gen_ai.conversation.id": "s-1", "user.id": "u-1",
                       "gen_ai.input.messages": "[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"Refactor the tokenizer\"}]}]"}),
            ),
            span(
                TRACE_A,
                "00000000000000a3",
                Some("00000000000000a1"),
                "gen_ai.tool_call",
                (T0 + 3 * SECOND, SECOND / 100),
                false,
                json!({"tool.name": "apply_patch", "tool.arguments": "{\"path\":\"a.rs\"}"}),
            ),
            span(
                TRACE_A,
                "00000000000000a4",
                Some("00000000000000a1"),
                "gen_ai.tool_result",
                (T0 + 4 * SECOND, SECOND / 20),
                true,
                json!({"tool.name": "apply_patch", "tool.output.diff": "--- a/a.rs\n+++ b/a.rs\n@@ -1 +1 @@\n-old\n+new\n"}),
            ),
        ],
    );
    let trace_b = export(
        "reviewer",
        vec![
            span(
                TRACE_B,
                "00000000000000b1",
                None,
                "chat claude",
                (T0 + 20 * SECOND, SECOND / 2),
                false,
                json!({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5",
                       "gen_ai.usage.input_tokens": 200, "gen_ai.usage.output_tokens": 20, "user.id": "u-2"}),
            ),
            span(
                TRACE_B,
                "00000000000000b2",
                Some("00000000000000b1"),
                "gen_ai.tool_call",
                (T0 + 21 * SECOND, SECOND / 100),
                false,
                json!({"tool.name": "read_file"}),
            ),
        ],
    );
    for body in [trace_a, trace_b] {
        let response = post_otlp(server, "/v1/traces", token, "application/json", body).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
}

/// The span ids (last two hex digits) a list answers, in order.
async fn span_ids(server: &TestServer, token: &str, query: &str) -> Vec<String> {
    let page = get_json(server, token, &format!("/api/v1/spans?{query}")).await;
    page["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|span| span["span_id"].as_str().unwrap()[14..].to_owned())
        .collect()
}

async fn every_span_filter_narrows_the_list(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    ingest_fixture(&server, &token).await;

    assert_eq!(
        span_ids(&server, &token, "").await,
        ["b2", "b1", "a4", "a3", "a2", "a1"],
        "newest first"
    );
    assert_eq!(
        span_ids(
            &server,
            &token,
            "limit=&cursor=&q=&kind=&since=&until=&min_cost_usd="
        )
        .await,
        ["b2", "b1", "a4", "a3", "a2", "a1"],
        "empty parameters, as forms and generated clients send them, count as absent"
    );
    let cases = [
        ("kind=request", vec!["b1", "a2"]),
        ("kind=tool_result", vec!["a4"]),
        ("model=gpt-4o", vec!["a2"]),
        ("provider=anthropic", vec!["b1"]),
        ("service=reviewer", vec!["b2", "b1"]),
        ("tool=apply_patch", vec!["a4", "a3"]),
        ("status=error", vec!["a4"]),
        ("status=ok&tool=apply_patch", vec!["a3"]),
        (
            &format!("trace_id={}", TRACE_A.to_uppercase()),
            vec!["a4", "a3", "a2", "a1"],
        ),
        ("session=s-1", vec!["a2"]),
        ("user=u-2", vec!["b1"]),
        (
            &format!("since={}", T0 + 3 * SECOND),
            vec!["b2", "b1", "a4", "a3"],
        ),
        (&format!("until={}", T0 + 3 * SECOND), vec!["a2", "a1"]),
        (
            "since=2026-01-01T00:00:20Z&until=2026-01-01T00:00:21Z",
            vec!["b1"],
        ),
        ("min_duration_ms=1000", vec!["a2", "a1"]),
        ("min_duration_ms=40&kind=tool_result", vec!["a4"]),
        ("model=", vec!["b2", "b1", "a4", "a3", "a2", "a1"]),
        ("q=tokenizer", vec!["a2"]),
        ("q=TOKENIZER", vec!["a2"]),
        ("q=rs", vec!["a4", "a3"]),
        ("q=new&kind=tool_result", vec!["a4"]),
        ("q=tokenizer%20rs", vec![]),
        ("q=user", vec![]),
    ];
    for (query, expected) in cases {
        assert_eq!(span_ids(&server, &token, query).await, expected, "{query}");
    }

    // Costs: the filter keeps exactly the spans at or above the threshold.
    let all = get_json(&server, &token, "/api/v1/spans").await;
    let gpt = all["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|span| span["model"] == "gpt-4o")
        .unwrap();
    let gpt_cost = gpt["cost_nanos"].as_i64().unwrap();
    assert!(gpt_cost > 0);
    let threshold = format!("min_cost_usd={}", gpt_cost as f64 / 1e9);
    assert!(
        span_ids(&server, &token, &threshold)
            .await
            .contains(&"a2".to_owned())
    );
    let above = format!("min_cost_usd={}", (gpt_cost + 1) as f64 / 1e9);
    assert!(!span_ids(&server, &token, &above).await.contains(&"a2".to_owned()));
    assert_eq!(gpt["tokens"]["input"], 1000);
    assert_eq!(gpt["service_name"], "coder");
    assert!(
        gpt.get("payload").is_none() && gpt.get("prompt").is_none(),
        "lists carry no payload"
    );
    server.stop().await;
}

async fn bad_filters_are_explained(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    for (query, hint) in [
        ("kind=bogus", "`kind` must be one of"),
        ("status=maybe", "`status` must be one of"),
        ("since=yesterday", "`since` must be an RFC 3339 time"),
        ("limit=0", "`limit` must be 1 to 500"),
        ("limit=501", "`limit` must be 1 to 500"),
        ("cursor=garbage", "`cursor`"),
        ("trace_id=xyz", "32 hex digits"),
        ("min_duration_ms=-1", "`min_duration_ms`"),
        ("min_cost_usd=lots", "`min_cost_usd`"),
    ] {
        let body = common::assert_error(
            get_with_token(&server, &token, &format!("/api/v1/spans?{query}")).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(body.to_string().contains(hint), "{query}: {body}");
    }
    common::assert_error(
        get_with_token(&server, &token, "/api/v1/traces?status=maybe").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    // A search without a word names nothing to look for: it filters nothing.
    let response = get_with_token(&server, &token, "/api/v1/spans?q=-*-").await;
    assert_eq!(response.status(), StatusCode::OK);
    server.stop().await;
}

/// Follows `next_cursor` from `query` to the end; returns `trace_id/span_id` in order.
async fn walk(
    server: &TestServer,
    token: &str,
    query: &str,
    between_pages: impl AsyncFn(usize),
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for page_number in 0.. {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/spans?{query}&cursor={cursor}"),
            None => format!("/api/v1/spans?{query}"),
        };
        let page = get_json(server, token, &path).await;
        seen.extend(page["spans"].as_array().unwrap().iter().map(|span| {
            format!(
                "{}/{}",
                span["trace_id"].as_str().unwrap(),
                span["span_id"].as_str().unwrap()
            )
        }));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        between_pages(page_number).await;
    }
    seen
}

async fn paging_walks_every_span_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    ingest_fixture(&server, &token).await;
    let all = span_ids(&server, &token, "limit=500").await;
    let walked: Vec<String> = walk(&server, &token, "limit=2", async |_| {})
        .await
        .iter()
        .map(|id| id[47..].to_owned())
        .collect();
    assert_eq!(walked, all);
    let by_attribute = walk(
        &server,
        &token,
        "limit=1&attr.tool.name=apply_patch",
        async |_| {},
    )
    .await;
    assert_eq!(
        by_attribute,
        [
            format!("{TRACE_A}/00000000000000a4"),
            format!("{TRACE_A}/00000000000000a3")
        ],
        "attribute filters page too"
    );
    let tools: Vec<String> = walk(&server, &token, "limit=1&kind=tool_call", async |_| {}).await;
    assert_eq!(
        tools,
        [
            format!("{TRACE_B}/00000000000000b2"),
            format!("{TRACE_A}/00000000000000a3")
        ]
    );
    server.stop().await;
}

/// Spans arriving between pages (newer ones, and one older than the cursor)
/// never repeat a row or hide one of the spans that were there.
async fn paging_is_stable_while_spans_arrive(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    ingest_fixture(&server, &token).await;
    let before = span_ids(&server, &token, "limit=500").await;
    let walked = walk(&server, &token, "limit=2", async |page_number| {
        let trace = format!("{page_number:032x}");
        let newer = span(
            &trace,
            "00000000000000c1",
            None,
            "late",
            (T0 + 100 * SECOND, SECOND),
            false,
            json!({}),
        );
        let older = span(
            &trace,
            "00000000000000c2",
            None,
            "early",
            (T0 - SECOND, SECOND),
            false,
            json!({}),
        );
        let response = post_otlp(
            &server,
            "/v1/traces",
            &token,
            "application/json",
            export("late", vec![newer, older]),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
    })
    .await;
    let mut unique = walked.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), walked.len(), "no span twice: {walked:?}");
    let short: Vec<String> = walked.iter().map(|id| id[47..].to_owned()).collect();
    for id in &before {
        assert!(
            short.contains(id),
            "{id} was there before paging began and must be seen"
        );
    }
    assert!(
        short.iter().filter(|id| *id == "c2").count() >= 1,
        "late spans older than the cursor show up"
    );
    server.stop().await;
}

async fn traces_are_listed_filtered_and_paged(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    ingest_fixture(&server, &token).await;
    let trace_ids = async |query: &str| -> Vec<String> {
        let page = get_json(&server, &token, &format!("/api/v1/traces?{query}")).await;
        page["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|trace| trace["trace_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(trace_ids("").await, [TRACE_B, TRACE_A]);
    assert_eq!(trace_ids("status=error").await, [TRACE_A]);
    assert_eq!(trace_ids("status=ok").await, [TRACE_B]);
    assert_eq!(trace_ids("model=gpt-4o").await, [TRACE_A]);
    assert_eq!(trace_ids("service=reviewer").await, [TRACE_B]);
    assert_eq!(trace_ids("q=tokenizer").await, [TRACE_A]);
    assert_eq!(trace_ids("min_duration_ms=5000").await, [TRACE_A]);
    assert_eq!(trace_ids(&format!("since={}", T0 + 10 * SECOND)).await, [TRACE_B]);

    let first = get_json(&server, &token, "/api/v1/traces?limit=1").await;
    assert_eq!(first["traces"][0]["trace_id"], TRACE_B);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = get_json(
        &server,
        &token,
        &format!("/api/v1/traces?limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(second["traces"][0]["trace_id"], TRACE_A);
    assert_eq!(second["next_cursor"], Value::Null);

    let a = &second["traces"][0];
    assert_eq!(a["span_count"], 4);
    assert_eq!(a["error_count"], 1);
    assert_eq!(a["root_span_name"], "invoke_agent coder");
    assert_eq!(a["models"], json!(["gpt-4o"]));
    server.stop().await;
}

async fn a_single_span_reads_back_whole(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    ingest_fixture(&server, &token).await;
    let result = get_json(
        &server,
        &token,
        &format!("/api/v1/traces/{TRACE_A}/spans/00000000000000A4"),
    )
    .await;
    assert_eq!(result["llm_kind"], "tool_result");
    assert_eq!(result["status_code"], "error");
    assert!(result["diff"].as_str().unwrap().contains("+new"));
    assert_eq!(result["details"]["resource"]["service.name"], "coder");
    common::assert_error(
        get_with_token(
            &server,
            &token,
            &format!("/api/v1/traces/{TRACE_A}/spans/00000000000000ff"),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    common::assert_error(
        get_with_token(&server, &token, &format!("/api/v1/traces/{TRACE_A}/spans/nope")).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    server.stop().await;
}

async fn other_tenants_see_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (alice_org, alice) = tenant(&server, "alice@example.com", &["ingest", "read"]).await;
    let (_, mallory) = tenant(&server, "mallory@example.com", &["ingest", "read"]).await;
    ingest_fixture(&server, &alice).await;

    // A token always reads its own organization, whatever `org` says.
    for path in [
        "/api/v1/spans".to_owned(),
        format!("/api/v1/spans?org={alice_org}"),
        format!("/api/v1/spans?trace_id={TRACE_A}"),
        "/api/v1/traces".to_owned(),
        format!("/api/v1/traces?org={alice_org}"),
    ] {
        let page = get_json(&server, &mallory, &path).await;
        let rows = page.get("spans").or(page.get("traces")).unwrap();
        assert_eq!(rows, &json!([]), "{path}");
    }
    common::assert_error(
        get_with_token(
            &server,
            &mallory,
            &format!("/api/v1/traces/{TRACE_A}/spans/00000000000000a1"),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // A signed-in user naming another organization is refused.
    let browser = server.browser();
    browser.sign_up("eve@example.com").await;
    for path in [
        format!("/api/v1/spans?org={alice_org}"),
        format!("/api/v1/traces?org={alice_org}"),
        format!("/api/v1/traces/{TRACE_A}/spans/00000000000000a1?org={alice_org}"),
    ] {
        let response = browser.get(&path).await;
        assert!(
            matches!(response.status(), StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{path}: {}",
            response.status()
        );
        assert!(!response.text().await.unwrap().contains("gpt-4o"));
    }

    // A token without the read scope cannot list.
    let (_, ingest_only) = tenant(&server, "ingest@example.com", &["ingest"]).await;
    assert_eq!(
        get_with_token(&server, &ingest_only, "/api/v1/spans")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    server.stop().await;
}

/// Exported OTLP/JSON, ingested again elsewhere, gives the same spans:
/// typed attributes, events, links, resources and scopes included.
async fn exports_round_trip_through_otlp(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, source) = tenant(&server, "source@example.com", &["ingest", "read"]).await;
    let (_, copy) = tenant(&server, "copy@example.com", &["ingest", "read"]).await;
    ingest_fixture(&server, &source).await;
    let typed = json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "coder"}},
            {"key": "host.cores", "value": {"intValue": "8"}},
        ]},
        "scopeSpans": [{
            "scope": {"name": "agent-sdk", "version": "1.2.3", "attributes": [{"key": "x", "value": {"boolValue": true}}]},
            "spans": [{
                "traceId": TRACE_A, "spanId": "00000000000000a5", "parentSpanId": "00000000000000a1",
                "name": "typed", "kind": 3,
                "startTimeUnixNano": (T0 + 5 * SECOND).to_string(), "endTimeUnixNano": (T0 + 6 * SECOND).to_string(),
                "attributes": [
                    {"key": "flag", "value": {"boolValue": false}},
                    {"key": "ratio", "value": {"doubleValue": 0.25}},
                    {"key": "whole_double", "value": {"doubleValue": 2.0}},
                    {"key": "list", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "2"}]}}},
                    {"key": "map", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}},
                    {"key": "raw", "value": {"bytesValue": "AQID"}},
                ],
                "events": [{"name": "exception", "timeUnixNano": (T0 + 5 * SECOND + 1).to_string(),
                            "attributes": [{"key": "exception.message", "value": {"stringValue": "boom"}}]}],
                "links": [{"traceId": TRACE_B, "spanId": "00000000000000b1",
                           "attributes": [{"key": "why", "value": {"stringValue": "follows"}}]}],
                "status": {"code": 2, "message": "failed"},
            }],
        }],
    }]});
    let response = post_otlp(
        &server,
        "/v1/traces",
        &source,
        "application/json",
        typed.to_string().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    let original = get_json(&server, &source, &format!("/api/v1/traces/{TRACE_A}")).await;
    let response = get_with_token(
        &server,
        &source,
        &format!("/api/v1/traces/{TRACE_A}/export?format=otlp"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[reqwest::header::CONTENT_DISPOSITION],
        format!("attachment; filename=\"trace-{TRACE_A}.otlp.json\"").as_str()
    );
    let exported = response.bytes().await.unwrap().to_vec();
    let response = post_otlp(&server, "/v1/traces", &copy, "application/json", exported).await;
    assert_eq!(response.status(), StatusCode::OK);
    let copied = get_json(&server, &copy, &format!("/api/v1/traces/{TRACE_A}")).await;
    assert_eq!(
        copied["spans"], original["spans"],
        "the same spans, field for field"
    );
    assert_eq!(copied["trace"], original["trace"]);
    let typed_span = original["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|span| span["name"] == "typed")
        .unwrap();
    assert_eq!(typed_span["details"]["attributes"]["ratio"], 0.25);
    assert_eq!(typed_span["details"]["links"][0]["span_id"], "00000000000000b1");

    let response = get_with_token(&server, &source, &format!("/api/v1/traces/{TRACE_A}/export")).await;
    assert_eq!(
        response.headers()[reqwest::header::CONTENT_DISPOSITION],
        format!("attachment; filename=\"trace-{TRACE_A}.json\"").as_str()
    );
    let specula: Value = response.json().await.unwrap();
    assert_eq!(specula, original);

    // Zipkin v2 and Jaeger JSON carry every span, linked as stored.
    let exported_as = |format: &'static str| {
        let (server, source) = (&server, &source);
        async move {
            let response = get_with_token(
                server,
                source,
                &format!("/api/v1/traces/{TRACE_A}/export?format={format}"),
            )
            .await;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                response.headers()[reqwest::header::CONTENT_DISPOSITION],
                format!("attachment; filename=\"trace-{TRACE_A}.{format}.json\"").as_str()
            );
            response.json::<Value>().await.unwrap()
        }
    };
    let stored = original["spans"].as_array().unwrap();
    let zipkin = exported_as("zipkin").await;
    let zipkin = zipkin.as_array().unwrap();
    assert_eq!(zipkin.len(), stored.len());
    for (span, zipkin) in stored.iter().zip(zipkin) {
        assert_eq!(zipkin["traceId"], TRACE_A);
        assert_eq!(zipkin["id"], span["span_id"]);
        assert_eq!(zipkin["name"], span["name"]);
        assert_eq!(zipkin["localEndpoint"]["serviceName"], span["service_name"]);
        assert_eq!(
            zipkin["timestamp"],
            span["start_time_ns"].as_i64().unwrap() / 1_000
        );
    }
    let typed_zipkin = zipkin.iter().find(|span| span["name"] == "typed").unwrap();
    assert_eq!(typed_zipkin["tags"]["ratio"], "0.25");
    assert_eq!(typed_zipkin["tags"]["list"], "[\"a\",2]");
    assert_eq!(typed_zipkin["tags"]["error"], "failed");
    assert_eq!(
        typed_zipkin["annotations"][0]["value"],
        "\"exception\":{\"exception.message\":\"boom\"}"
    );
    let jaeger = exported_as("jaeger").await;
    let trace = &jaeger["data"][0];
    assert_eq!(trace["traceID"], TRACE_A);
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), stored.len());
    for (span, jaeger) in stored.iter().zip(spans) {
        assert_eq!(jaeger["spanID"], span["span_id"]);
        let process = &trace["processes"][jaeger["processID"].as_str().unwrap()];
        assert_eq!(process["serviceName"], span["service_name"]);
        match span["parent_span_id"].as_str() {
            Some(parent) => assert_eq!(jaeger["references"][0]["spanID"], parent),
            None => assert!(
                jaeger["references"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|reference| reference["refType"] != "CHILD_OF")
            ),
        }
    }
    let typed_jaeger = spans
        .iter()
        .find(|span| span["operationName"] == "typed")
        .unwrap();
    assert!(
        typed_jaeger["tags"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"key": "ratio", "type": "float64", "value": 0.25}))
    );
    assert_eq!(
        typed_jaeger["references"].as_array().unwrap().last().unwrap()["refType"],
        "FOLLOWS_FROM"
    );
    common::assert_error(
        get_with_token(
            &server,
            &source,
            &format!("/api/v1/traces/{TRACE_A}/export?format=csv"),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    common::assert_error(
        get_with_token(&server, &copy, &format!("/api/v1/traces/{TRACE_B}/export")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    server.stop().await;
}

/// The Spans, Traces and trace pages arrive rendered: rows, the waterfall
/// and the coloured diff are in the HTML before any script runs.
async fn pages_render_on_the_server(backend: Backend) {
    let server = TestServer::start(backend).await;
    let browser = server.browser();
    let org = common::first_org(&browser.sign_up("ada@example.com").await);
    let minted: Value = browser
        .post(
            &format!("/api/v1/orgs/{org}/tokens"),
            json!({"name": "sdk", "scopes": ["ingest"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    ingest_fixture(&server, minted["secret"].as_str().unwrap()).await;

    let spans = browser.get("/spans?tool=apply_patch").await.text().await.unwrap();
    assert!(spans.contains(r#"data-testid="span-table""#), "{spans}");
    assert_eq!(
        spans.matches("<tr class=").count() + spans.matches("<tr data-kind").count(),
        2,
        "two apply_patch spans"
    );
    assert!(!spans.contains(">gpt-4o<"), "filtered out");

    // The page's attribute filter (`attr=<key>=<value>`) and custom window.
    let by_attribute = browser
        .get("/spans?attr=gen_ai.operation.name%3Dinvoke_agent&range=custom&since=2026-01-01T00:00&until=2026-01-02T00:00")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(by_attribute.matches("<tr data-kind").count(), 1, "{by_attribute}");
    assert!(by_attribute.contains(r#"data-testid="attribute-filter""#));
    assert!(
        by_attribute
            .contains(r#"<input type="hidden" name="attr" value="gen_ai.operation.name=invoke_agent""#)
    );
    let before = browser
        .get("/spans?range=custom&since=2025-12-01T00:00&until=2026-01-01T00:00")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        before.contains(r#"data-testid="no-match""#),
        "nothing before the window's end"
    );

    let traces = browser.get("/traces").await.text().await.unwrap();
    assert!(traces.contains("invoke_agent coder") && traces.contains("chat claude"));

    let trace = browser
        .get(&format!("/traces/{TRACE_A}?span=00000000000000a4"))
        .await
        .text()
        .await
        .unwrap();
    assert!(trace.contains(r#"data-testid="waterfall""#));
    assert!(
        trace.contains(r#"class="diff-add""#) && trace.contains("+new"),
        "the diff is rendered"
    );
    assert!(trace.contains("00000000000000a1"), "the parent id is shown");
    assert!(
        !trace.contains("truncated:"),
        "a diff within the size cap carries no truncation note"
    );
    server.stop().await;
}

/// Reads Server-Sent Events from `response` until `count` span events have
/// arrived; returns their ids and data.
async fn read_events(response: &mut reqwest::Response, count: usize) -> Vec<(i64, Value)> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = std::time::Duration::from_secs(20);
    tokio::time::timeout(deadline, async {
        while events.len() < count {
            let chunk = response.chunk().await.unwrap().expect("the stream stays open");
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|line| line.strip_prefix(name).map(|rest| rest.trim().to_owned()))
                };
                if field("event:").as_deref() == Some("span") {
                    let id = field("id:").unwrap().parse().unwrap();
                    let data = serde_json::from_str(&field("data:").unwrap()).unwrap();
                    events.push((id, data));
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {} of {count} live events arrived", events.len()));
    events
}

async fn open_live(
    server: &TestServer,
    token: &str,
    query: &str,
    last_event_id: Option<i64>,
) -> reqwest::Response {
    let mut request = server
        .client
        .get(server.url(&format!("/api/v1/live?{query}")))
        .bearer_auth(token);
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[reqwest::header::CONTENT_TYPE],
        "text/event-stream"
    );
    response
}

/// Spans stored after a live tail opens arrive on it (filtered, this tenant
/// only); a reconnect with `Last-Event-ID` gets what came after that event;
/// on PostgreSQL a span stored by another replica arrives too.
async fn live_tail_delivers_filters_and_resumes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (ada_org, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    let (_, other) = tenant(&server, "eve@example.com", &["ingest", "read"]).await;
    for refused in ["kind=bogus", "limit=0", "limit=501", "cursor=nonsense"] {
        common::assert_error(
            get_with_token(&server, &token, &format!("/api/v1/live?{refused}")).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }

    let mut live = open_live(&server, &token, "kind=request", None).await;
    ingest_fixture(&server, &other).await;
    ingest_fixture(&server, &token).await;
    let events = read_events(&mut live, 2).await;
    let ids: Vec<&str> = events
        .iter()
        .map(|(_, span)| span["span_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["00000000000000a2", "00000000000000b1"],
        "requests only, in storage order"
    );
    assert!(events[0].0 < events[1].0);

    // Eve's identical spans went to Eve: nothing else is pending for Ada.
    let late = span(
        TRACE_B,
        "00000000000000b3",
        None,
        "chat late",
        (T0 + 30 * SECOND, SECOND),
        false,
        json!({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}),
    );
    assert_eq!(
        post_otlp(
            &server,
            "/v1/traces",
            &token,
            "application/json",
            export("reviewer", vec![late])
        )
        .await
        .status(),
        StatusCode::OK
    );
    let next = read_events(&mut live, 1).await;
    assert_eq!(next[0].1["span_id"], "00000000000000b3");
    drop(live);

    let mut resumed = open_live(&server, &token, "kind=request", Some(events[0].0)).await;
    let replayed = read_events(&mut resumed, 2).await;
    assert_eq!(replayed[0].1["span_id"], "00000000000000b1");
    assert_eq!(replayed[1].1["span_id"], "00000000000000b3");
    drop(resumed);

    if backend == Backend::Postgres {
        let replica = server.replica().await;
        // The replica's own writer stores nothing: what it hears came by NOTIFY.
        let mut heard = replica.state.live.subscribe();
        let mut on_replica = open_live(&replica, &token, "", None).await;
        let elsewhere = span(
            TRACE_B,
            "00000000000000b4",
            None,
            "from the other replica",
            (T0 + 40 * SECOND, SECOND),
            false,
            json!({}),
        );
        let response = post_otlp(
            &server,
            "/v1/traces",
            &token,
            "application/json",
            export("reviewer", vec![elsewhere]),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let org_id = tokio::time::timeout(std::time::Duration::from_secs(20), heard.recv())
            .await
            .expect("the notification reaches the replica")
            .unwrap();
        assert_eq!(org_id.to_string(), ada_org);
        let arrived = read_events(&mut on_replica, 1).await;
        assert_eq!(arrived[0].1["span_id"], "00000000000000b4");
        drop(on_replica);
        replica.stop_keeping_database().await;
    }
    server.stop().await;
}

/// Spans missing from the full-text index (stored before it existed) are
/// indexed by the backfill job, once; spans already indexed are left alone.
async fn spans_stored_before_the_index_are_backfilled(backend: Backend) {
    use sea_orm::ConnectionTrait;

    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    ingest_fixture(&server, &token).await;
    let db = &server.state.db;
    let stop = tokio_util::sync::CancellationToken::new();
    // The job already ran at startup, on an empty database.
    assert_eq!(
        app::telemetry::services::span_store::backfill_index(db, &stop)
            .await
            .unwrap(),
        0
    );

    // As before the index existed: a2's and a3's entries gone, the job not done.
    let (column, a2_and_a3) = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => (
            "span_row_id",
            "span_id IN ('00000000000000a2', '00000000000000a3')",
        ),
        _ => ("rowid", "span_id IN ('00000000000000a2', '00000000000000a3')"),
    };
    db.execute_unprepared(&format!(
        "DELETE FROM span_search WHERE {column} IN (SELECT id FROM spans WHERE {a2_and_a3})"
    ))
    .await
    .unwrap();
    db.execute_unprepared(
        "UPDATE maintenance_jobs SET position = 0, finished = false WHERE name = 'search_backfill'",
    )
    .await
    .unwrap();
    assert_eq!(
        span_ids(&server, &token, "q=tokenizer").await,
        Vec::<String>::new()
    );

    // Only the two missing entries are written; spans still indexed are skipped.
    assert_eq!(
        app::telemetry::services::span_store::backfill_index(db, &stop)
            .await
            .unwrap(),
        2
    );
    assert_eq!(span_ids(&server, &token, "q=tokenizer").await, ["a2"]);
    assert_eq!(span_ids(&server, &token, "q=rs").await, ["a4", "a3"]);
    assert_eq!(
        app::telemetry::services::span_store::backfill_index(db, &stop)
            .await
            .unwrap(),
        0,
        "finished"
    );
    server.stop().await;
}

/// A filter by the model a request asked for finds the spans a dated
/// snapshot answered (as the OpenAI SDK reports them), in the span and trace
/// lists; spans stored before the request model was kept get it from the
/// backfill job; the Model box suggests both names.
async fn spans_are_found_by_the_model_they_asked_for(backend: Backend) {
    use sea_orm::ConnectionTrait;

    let server = TestServer::start(backend).await;
    let (org, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    ingest_fixture(&server, &token).await;
    let snapshot = span(
        TRACE_B,
        "00000000000000b9",
        None,
        "chat gpt-4o",
        (T0 + 30 * SECOND, SECOND),
        false,
        json!({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
               "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
               "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5}),
    );
    let body = export("reviewer", vec![snapshot]);
    let response = post_otlp(&server, "/v1/traces", &token, "application/json", body).await;
    assert_eq!(response.status(), StatusCode::OK);

    assert_eq!(span_ids(&server, &token, "model=gpt-4o").await, ["b9", "a2"]);
    assert_eq!(span_ids(&server, &token, "model=gpt-4o-2024-08-06").await, ["b9"]);
    let traces = get_json(&server, &token, "/api/v1/traces?model=gpt-4o").await;
    let trace_ids: Vec<&str> = traces["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|trace| trace["trace_id"].as_str().unwrap())
        .collect();
    assert_eq!(trace_ids, [TRACE_B, TRACE_A]);

    let db = &server.state.db;
    let org_id: uuid::Uuid = org.parse().unwrap();
    let known = app::telemetry::services::span_store::known_models(db, org_id)
        .await
        .unwrap();
    assert!(
        known.contains(&"gpt-4o".to_owned()) && known.contains(&"gpt-4o-2024-08-06".to_owned()),
        "{known:?}"
    );

    // As before the column existed: the value gone, the job not done.
    db.execute_unprepared("UPDATE spans SET request_model = NULL")
        .await
        .unwrap();
    db.execute_unprepared(
        "UPDATE maintenance_jobs SET position = 0, finished = false WHERE name = 'request_model_backfill'",
    )
    .await
    .unwrap();
    assert_eq!(span_ids(&server, &token, "model=gpt-4o").await, ["a2"]);
    let stop = tokio_util::sync::CancellationToken::new();
    let backfill = || app::telemetry::services::span_store::backfill_request_models(db, &stop);
    assert_eq!(
        backfill().await.unwrap(),
        1,
        "only the span answered by another model"
    );
    assert_eq!(span_ids(&server, &token, "model=gpt-4o").await, ["b9", "a2"]);
    assert_eq!(backfill().await.unwrap(), 0, "finished");
    server.stop().await;
}

/// On PostgreSQL the server refreshes the planner's statistics once enough
/// spans have arrived, rather than waiting for autovacuum.
async fn planner_statistics_follow_the_load(backend: Backend) {
    use sea_orm::ConnectionTrait;

    if backend != Backend::Postgres {
        return;
    }
    let server = TestServer::start(backend).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    let db = server.state.db.clone();
    let last_analyze = |db: sea_orm::DatabaseConnection| async move {
        db.query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT last_analyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relname = 'spans'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<bool>("", "analyzed")
        .unwrap()
    };
    assert!(
        !last_analyze(db.clone()).await,
        "a new database was never analyzed"
    );
    // Runs as the server itself (the holder of the job's lease), more often
    // and with a lower threshold.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let holder = loop {
        let holder = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT lease_owner FROM job_leases WHERE name = 'statistics_upkeep'",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<Option<String>>("", "lease_owner")
            .unwrap();
        if let Some(holder) = holder {
            break holder;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server never took the upkeep's lease"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let upkeep = tokio::spawn(server::db::run_statistics_upkeep(
        db.clone(),
        std::time::Duration::from_millis(20),
        3,
        holder,
        stop.clone(),
    ));
    ingest_fixture(&server, &token).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !last_analyze(db.clone()).await {
        assert!(
            std::time::Instant::now() < deadline,
            "statistics were not refreshed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.cancel();
    upkeep.await.unwrap();
    server.stop().await;
}
