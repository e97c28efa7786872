//! Rate limits, the monthly span quota and budgets: an organization over
//! its ingest rate gets 429 with `Retry-After` and the `RateLimit` fields
//! over OTLP/HTTP, `RESOURCE_EXHAUSTED` with retry info over gRPC, and
//! nothing it was told was accepted is lost; another organization is not
//! touched; a token's own limits and the REST API's rate; the quota; usage
//! against all of it; a hard budget denying evaluate calls; a limit held
//! across two replicas on one PostgreSQL.

use crate::common;

use std::time::{Duration, Instant};

use common::{
    Backend, Browser, ServeProcess, TestServer, attributes, export, first_org, get_json, get_with_token,
    post_otlp, span,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    ingest_over_the_rate_is_refused_and_nothing_acknowledged_is_lost,
    the_monthly_quota_refuses_trace_exports_once_spent,
    token_limits_and_the_api_rate_apply_to_their_own_requests,
    budgets_report_their_month_and_a_spent_hard_budget_denies,
);

#[test]
fn a_limit_holds_across_two_replicas_on_postgresql() {
    common::runtime().block_on(limit_across_replicas());
}

const SECOND: i64 = 1_000_000_000;

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

async fn save_policy(browser: &Browser, org: &str, document: Value) {
    let response = browser
        .post(
            &format!("/api/v1/governance/policies?org={org}"),
            json!({"document": document, "comment": "limits"}),
        )
        .await;
    let status = response.status();
    assert_eq!(status, StatusCode::CREATED, "{}", response.text().await.unwrap());
}

async fn owner_with_token(server: &TestServer, email: &str) -> (Browser, String, String, String) {
    let browser = server.browser();
    let org = first_org(&browser.sign_up(email).await);
    let (token_id, secret) = mint(&browser, &org, "sdk").await;
    (browser, org, token_id, secret)
}

async fn mint(browser: &Browser, org: &str, name: &str) -> (String, String) {
    let minted: Value = browser
        .post(
            &format!("/api/v1/orgs/{org}/tokens"),
            json!({"name": name, "scopes": ["ingest", "read", "evaluate"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    (
        minted["token"]["id"].as_str().unwrap().to_owned(),
        minted["secret"].as_str().unwrap().to_owned(),
    )
}

/// `count` plain spans of one new trace, `n` numbering the trace.
fn spans(n: u32, count: u32) -> Vec<u8> {
    let start = now_ns();
    let spans = (0..count)
        .map(|i| {
            span(
                &format!("{n:016x}{:016x}", 1),
                &format!("{:08x}{i:08x}", n),
                None,
                "step",
                (start + i64::from(i) * SECOND / 1000, SECOND / 1000),
                false,
                json!({}),
            )
        })
        .collect();
    export("agent", spans)
}

async fn send(server: &TestServer, token: &str, body: Vec<u8>) -> reqwest::Response {
    post_otlp(server, "/v1/traces", token, "application/json", body).await
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
}

async fn stored_spans(server: &TestServer, token: &str) -> usize {
    get_json(server, token, "/api/v1/spans?limit=500").await["spans"]
        .as_array()
        .unwrap()
        .len()
}

/// The usage report's `limits` once this replica has written its counts.
async fn limits_report(server: &TestServer, token: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let report = get_json(server, token, "/api/v1/usage").await["limits"].clone();
        if ready(&report) || Instant::now() > deadline {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn ingest_over_the_rate_is_refused_and_nothing_acknowledged_is_lost(backend: Backend) {
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, trace_service_client::TraceServiceClient,
    };
    use tonic_types::StatusExt;

    let server = TestServer::start(backend).await;
    let (browser, org, _, token) = owner_with_token(&server, "ada@example.com").await;
    let (_, _, _, other) = owner_with_token(&server, "bob@example.com").await;
    save_policy(
        &browser,
        &org,
        json!({"rate_limits": {"ingest": {"per_second": 4, "burst": 20}}}),
    )
    .await;

    // 15 of 20 at once, then 15 more while 5 are left (a request in debt).
    let first = send(&server, &token, spans(1, 15)).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(
        header(&first, "ratelimit-policy").as_deref(),
        Some("\"org-ingest\";q=20;w=5;qu=\"span\"")
    );
    let current = header(&first, "ratelimit").unwrap();
    assert!(current.starts_with("\"org-ingest\";r=5;t="), "{current}");
    assert_eq!(send(&server, &token, spans(2, 15)).await.status(), StatusCode::OK);

    // Now the bucket is in debt: refused, told when to come back.
    let refused = send(&server, &token, spans(3, 5)).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    assert!((1..=4).contains(&retry_after), "{retry_after}");
    assert!(
        header(&refused, "ratelimit")
            .unwrap()
            .starts_with("\"org-ingest\";r=0;")
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], 8, "RESOURCE_EXHAUSTED: {body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("ingest rate limit (4 spans/s, burst 20)"),
        "{body}"
    );

    // The same over gRPC, with the RetryInfo OTLP clients retry by.
    let mut client = TraceServiceClient::connect(format!("http://{}", server.grpc_addr))
        .await
        .unwrap();
    let mut request = tonic::Request::new(
        <ExportTraceServiceRequest as prost::Message>::decode(&*protobuf_of(4, 3)).unwrap(),
    );
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let status = client.export(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    let retry = status.get_details_retry_info().expect("RetryInfo");
    assert!(
        retry
            .retry_delay
            .is_some_and(|delay| delay >= Duration::from_secs(1))
    );
    assert!(status.metadata().get("ratelimit").is_some());

    // Another organization sends as much as it likes.
    for n in 10..14 {
        let response = send(&server, &other, spans(n, 50)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(header(&response, "ratelimit").is_none(), "no limit, no fields");
    }

    // Once the debt is paid, the next export is let in.
    tokio::time::sleep(Duration::from_secs(retry_after + 1)).await;
    assert_eq!(send(&server, &token, spans(5, 2)).await.status(), StatusCode::OK);

    // Exactly what was acknowledged is stored.
    assert_eq!(stored_spans(&server, &token).await, 32);
    assert_eq!(stored_spans(&server, &other).await, 200);
    let report = limits_report(&server, &token, |report| report["spans_this_month"] == 32).await;
    assert_eq!(report["spans_this_month"], 32, "{report}");
    assert_eq!(report["refused"]["rate_limited_exports"], 2, "{report}");
    assert_eq!(report["ingest"], json!({"per_second": 4, "burst": 20}));
    assert_eq!(report["monthly_spans"], Value::Null);
    server.stop().await;
}

/// The spans of [`spans`] as an OTLP protobuf body.
fn protobuf_of(n: u32, count: u32) -> Vec<u8> {
    use opentelemetry_proto::tonic::{
        collector::trace::v1::ExportTraceServiceRequest,
        trace::v1::{ResourceSpans, ScopeSpans, Span},
    };
    let start = now_ns() as u64;
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..count)
                    .map(|i| Span {
                        trace_id: format!("{n:016x}{:016x}", 2).into_bytes()[..16].to_vec(),
                        span_id: (u64::from(n) << 32 | u64::from(i) | 1).to_be_bytes().to_vec(),
                        name: "step".into(),
                        start_time_unix_nano: start,
                        end_time_unix_nano: start + 1_000,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    prost::Message::encode_to_vec(&request)
}

async fn the_monthly_quota_refuses_trace_exports_once_spent(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (browser, org, _, token) = owner_with_token(&server, "ada@example.com").await;
    save_policy(&browser, &org, json!({"rate_limits": {"monthly_spans": 25}})).await;

    assert_eq!(send(&server, &token, spans(1, 20)).await.status(), StatusCode::OK);
    // 20 of 25 used: let in, and then the quota is spent.
    let last = send(&server, &token, spans(2, 10)).await;
    assert_eq!(last.status(), StatusCode::OK);
    assert!(
        header(&last, "ratelimit")
            .unwrap()
            .starts_with("\"monthly-spans\";r=0;t=")
    );
    let refused = send(&server, &token, spans(3, 1)).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    assert!(
        retry_after > 1 && retry_after <= 31 * 86_400,
        "until the month ends: {retry_after}"
    );
    let policy = header(&refused, "ratelimit-policy").unwrap();
    assert!(policy.starts_with("\"monthly-spans\";q=25;w="), "{policy}");
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("monthly quota of 25 spans"),
        "{body}"
    );

    // Metric points are not spans: the quota does not hold them back.
    let metrics = json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{
        "name": "gen_ai.client.token.usage", "unit": "{token}",
        "sum": {"aggregationTemporality": 1, "isMonotonic": true, "dataPoints": [
            {"asInt": "5", "timeUnixNano": now_ns().to_string(), "startTimeUnixNano": (now_ns() - SECOND).to_string()}
        ]}
    }]}]}]});
    let response = post_otlp(
        &server,
        "/v1/metrics",
        &token,
        "application/json",
        metrics.to_string().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    assert_eq!(stored_spans(&server, &token).await, 30);
    let report = limits_report(&server, &token, |report| {
        report["refused"]["over_quota_exports"] == 1
    })
    .await;
    assert_eq!(report["spans_this_month"], 30, "{report}");
    assert_eq!(report["monthly_spans"], 25);
    assert_eq!(report["refused"]["over_quota_exports"], 1);

    // The Costs page shows the month against the quota.
    let page = browser.get("/costs").await.text().await.unwrap();
    assert!(page.contains("Limits and budgets"), "the card is rendered");
    assert!(page.contains("30 of 25 spans this month"), "the quota's figure");
    server.stop().await;
}

async fn token_limits_and_the_api_rate_apply_to_their_own_requests(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (browser, org, limited_id, limited) = owner_with_token(&server, "ada@example.com").await;
    let (_, free) = mint(&browser, &org, "batch").await;
    save_policy(
        &browser,
        &org,
        json!({"rate_limits": {
            "api": {"per_second": 1, "burst": 2},
            "tokens": [{"token_id": limited_id, "ingest": {"per_second": 1, "burst": 5}}],
        }}),
    )
    .await;

    // The limited token's own bucket: 6 spans go (debt), the next export waits.
    let first = send(&server, &limited, spans(1, 6)).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(
        header(&first, "ratelimit")
            .unwrap()
            .starts_with("\"token-ingest\";r=0;")
    );
    assert_eq!(
        send(&server, &limited, spans(2, 1)).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Its sibling token has no limit of its own and the organization none.
    for n in 3..6 {
        assert_eq!(send(&server, &free, spans(n, 10)).await.status(), StatusCode::OK);
    }

    // The REST API: two requests at once, then 429 with the fields.
    for _ in 0..2 {
        let response = get_with_token(&server, &free, "/api/v1/spans?limit=1").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            header(&response, "ratelimit-policy")
                .unwrap()
                .starts_with("\"org-api\";q=2;w=2")
        );
    }
    let refused = get_with_token(&server, &free, "/api/v1/spans?limit=1").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&refused, "retry-after").is_some());
    assert!(
        header(&refused, "ratelimit")
            .unwrap()
            .starts_with("\"org-api\";r=0;")
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    // People in the browser are not counted.
    for _ in 0..5 {
        let response = browser.get(&format!("/api/v1/spans?org={org}&limit=1")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(header(&response, "ratelimit").is_none());
    }
    // A bad token is refused as before, not counted against anyone.
    assert_eq!(
        get_with_token(&server, "spk_nope", "/api/v1/spans")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // Bad limits are refused with the setting named.
    for (document, named) in [
        (
            json!({"rate_limits": {"ingest": {"per_second": 0}}}),
            "rate_limits.ingest.per_second",
        ),
        (
            json!({"rate_limits": {"tokens": [{"token_id": "nope"}]}}),
            "rate_limits.tokens[0].token_id",
        ),
        (
            json!({"budgets": [{"id": "a", "monthly_usd": "ten"}]}),
            "budgets[0].monthly_usd",
        ),
        (
            json!({"budgets": [{"id": "a", "monthly_usd": "1", "thresholds": [0]}]}),
            "budgets[0].thresholds",
        ),
    ] {
        let response = browser
            .post(
                &format!("/api/v1/governance/policies?org={org}"),
                json!({"document": document, "comment": ""}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{document}");
        let body = response.text().await.unwrap();
        assert!(body.contains(named), "{named}: {body}");
    }
    server.stop().await;
}

async fn budgets_report_their_month_and_a_spent_hard_budget_denies(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (browser, org, _, token) = owner_with_token(&server, "ada@example.com").await;
    save_policy(
        &browser,
        &org,
        json!({"budgets": [
            {"id": "team", "monthly_usd": "0.01", "hard": true},
            {"id": "bot", "service": "support-bot", "monthly_usd": "100", "thresholds": [50]},
        ]}),
    )
    .await;
    let evaluate = |request: Value| {
        let server = &server;
        let token = token.clone();
        async move {
            let response = server
                .client
                .post(server.url("/api/v1/governance/evaluate"))
                .bearer_auth(token)
                .json(&request)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };
    let allowed = evaluate(json!({"model": "gpt-4o", "prompt": "hello"})).await;
    assert_eq!(allowed["action"], "allow", "{allowed}");

    // gpt-4o: 20,000 input tokens at $2.50/M and 1,000 output at $10/M = $0.06.
    let chat = span(
        "00000000000000000000000000000b01",
        "0000000000000b01",
        None,
        "chat gpt-4o",
        (now_ns() - SECOND, SECOND / 2),
        false,
        json!({
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.provider.name": "openai",
            "gen_ai.usage.input_tokens": 20_000,
            "gen_ai.usage.output_tokens": 1_000,
        }),
    );
    let body = json!({"resourceSpans": [{
        "resource": {"attributes": attributes(json!({"service.name": "support-bot"}))},
        "scopeSpans": [{"spans": [chat]}],
    }]});
    assert_eq!(
        post_otlp(
            &server,
            "/v1/traces",
            &token,
            "application/json",
            body.to_string().into_bytes()
        )
        .await
        .status(),
        StatusCode::OK
    );

    let report = limits_report(&server, &token, |report| {
        report["budgets"][0]["spent_usd"] != "0.000000000"
    })
    .await;
    let team = &report["budgets"][0];
    assert_eq!(team["id"], "team");
    assert_eq!(team["spent_usd"], "0.060000000", "{report}");
    assert_eq!(team["percent"], 600.0);
    assert_eq!(team["crossed"], 100);
    assert_eq!(team["hard"], true);
    let bot = &report["budgets"][1];
    assert_eq!(bot["service"], "support-bot");
    assert_eq!(bot["crossed"], Value::Null);
    assert!(bot["projected_usd"].as_str().unwrap().parse::<f64>().unwrap() >= 0.06);

    // The hard budget is spent: calls are denied, with the budget named.
    let denied = evaluate(json!({"model": "gpt-4o", "prompt": "hello"})).await;
    assert_eq!(denied["action"], "deny", "{denied}");
    let reason = &denied["reasons"][0];
    assert_eq!(
        (reason["kind"].as_str(), reason["rule_id"].as_str()),
        (Some("budget"), Some("team"))
    );
    assert!(reason["detail"].as_str().unwrap().contains("$0.01"), "{reason}");

    let page = browser.get("/costs").await.text().await.unwrap();
    assert!(page.contains("data-testid=\"budget\""), "budgets are listed");
    assert!(page.contains("projected"), "with their projection");
    // Another tenant's usage report says nothing of this one's budgets.
    let (_, _, _, other) = owner_with_token(&server, "bob@example.com").await;
    let theirs = get_json(&server, &other, &format!("/api/v1/usage?org={org}")).await;
    assert_eq!(
        theirs["limits"]["budgets"],
        json!([]),
        "a token reads its own organization"
    );
    server.stop().await;
}

/// Two `specula serve` processes on one PostgreSQL share one bucket: 60
/// spans through each of a 100-span burst leave both refusing; buckets of
/// their own would let both go on.
async fn limit_across_replicas() {
    let database = common::TestDatabase::create(Backend::Postgres).await;
    let first = ServeProcess::start(&database.url, &[]).await;
    let second = ServeProcess::start(&database.url, &[]).await;
    let owner = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let me: Value = owner
        .post(format!("{}/api/v1/auth/signup", first.base))
        .header("origin", &first.base)
        .json(&json!({"email": "ada@example.com", "password": "correct horse battery staple"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let org = first_org(&me);
    let minted: Value = owner
        .post(format!("{}/api/v1/orgs/{org}/tokens", first.base))
        .header("origin", &first.base)
        .json(&json!({"name": "sdk", "scopes": ["ingest"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = minted["secret"].as_str().unwrap().to_owned();
    let saved = owner
        .post(format!("{}/api/v1/governance/policies?org={org}", first.base))
        .header("origin", &first.base)
        .json(
            &json!({"document": {"rate_limits": {"ingest": {"per_second": 1, "burst": 100}}}, "comment": ""}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::CREATED);

    // The save reaches the second process by NOTIFY; wait until it applies it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = second.send(&token, spans(1, 1)).await;
        if header(&response, "ratelimit").is_some() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(first.send(&token, spans(2, 60)).await.status(), StatusCode::OK);
    assert_eq!(second.send(&token, spans(3, 60)).await.status(), StatusCode::OK);
    // (5 spans: more than the one span either process may hold over.)
    assert_eq!(
        first.send(&token, spans(4, 5)).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        second.send(&token, spans(5, 5)).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    first.stop();
    second.stop();
    database.drop_database().await;
}
