//! Alerts end to end: rules evaluated by the background job against real
//! spans, notifications delivered to a real HTTP receiver in the test that
//! checks the webhook signature itself, Slack's Block Kit body, the
//! history, silences, retries with backoff after a receiver's 5xx, "Send
//! test", the network guard (loopback refused unless allowed), tenants
//! kept apart, every change audited, and one evaluation across replicas.

use crate::common;

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{body::Bytes, extract::State, http::HeaderMap, routing::post};
use common::{Backend, Browser, TestServer, assert_error, send_spans, signed_in_tenant, span};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

on_every_backend!(
    a_rule_fires_and_resolves_with_signed_notifications,
    silences_retries_and_the_test_button,
);

#[test]
fn loopback_receivers_are_refused_unless_the_installation_allows_them() {
    common::runtime().block_on(network_guard());
}

#[test]
fn email_goes_out_over_starttls_and_tls_to_a_real_smtp_server() {
    common::runtime().block_on(email_channels());
}

#[test]
fn a_pending_delivery_is_sent_after_a_restart() {
    common::runtime().block_on(delivery_across_restart());
}

#[test]
fn two_replicas_evaluate_a_rule_once() {
    common::runtime().block_on(evaluated_once_across_replicas());
}

const SEALING_KEY: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8M=";

fn alert_args() -> Vec<String> {
    vec![
        "--alert-interval=1s".to_owned(),
        "--alerts-allow-private-networks=true".to_owned(),
        format!("--secrets-key={SEALING_KEY}"),
    ]
}

async fn start(backend: Backend, args: &[String]) -> TestServer {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    TestServer::start_with(backend, &args).await
}

/// One request a receiver got.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Inbox {
    received: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer with, in turn; 200 once they run out.
    answers: Arc<Mutex<VecDeque<u16>>>,
}

/// A real HTTP server standing in for a webhook or Slack receiver.
struct Receiver {
    addr: SocketAddr,
    inbox: Inbox,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(answers: &[u16]) -> Self {
        let inbox = Inbox::default();
        inbox.answers.lock().unwrap().extend(answers.iter().copied());
        let app = axum::Router::new()
            .route("/{*path}", post(receive))
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, inbox, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn received(&self, path: &str) -> Vec<Received> {
        self.inbox
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|request| request.path == path)
            .cloned()
            .collect()
    }

    /// Waits up to 30 s until `path` got `count` requests.
    async fn wait_for(&self, path: &str, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.received(path);
            if got.len() >= count {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{path} got {} of {count} requests",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(inbox): State<Inbox>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::http::StatusCode {
    inbox.received.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        headers,
        body,
    });
    let status = inbox.answers.lock().unwrap().pop_front().unwrap_or(200);
    axum::http::StatusCode::from_u16(status).unwrap()
}

/// Checks `X-Specula-Signature` as a receiver would: the HMAC-SHA256 of
/// `<t>.<body>` under the channel's secret, and `t` within five minutes.
fn verify_signature(request: &Received, secret: &str) {
    let header = request.headers["x-specula-signature"].to_str().unwrap();
    let (mut time, mut signature) = (None, None);
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => time = Some(value.to_owned()),
            Some(("v1", value)) => signature = Some(value.to_owned()),
            _ => {}
        }
    }
    let (time, signature) = (time.expect("t="), signature.expect("v1="));
    let sent: i64 = time.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - sent).abs() < 300, "signed at {sent}, now {now}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(time.as_bytes());
    mac.update(b".");
    mac.update(&request.body);
    mac.verify_slice(&hex::decode(signature).unwrap())
        .expect("the signature matches the body and the channel's secret");
    // The same body under another secret does not verify.
    let mut other = Hmac::<Sha256>::new_from_slice(b"whsec_other").unwrap();
    other.update(time.as_bytes());
    other.update(b".");
    other.update(&request.body);
    assert!(
        other
            .verify_slice(&hex::decode(header.rsplit("v1=").next().unwrap()).unwrap())
            .is_err()
    );
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

/// `count` chat calls of one trace, the first `errors` of them failed.
fn chat_calls(trace: u32, count: u32, errors: u32) -> Vec<Value> {
    // Seconds ago, so that they fall in the current hour (but for an hour's first seconds).
    let start = now_ns() - 5_000_000_000;
    (0..count)
        .map(|i| {
            span(
                &format!("{trace:032x}"),
                &format!("{:016x}", i + 1),
                None,
                "chat gpt-4o",
                (start + i64::from(i) * 1_000_000, 250_000_000),
                i < errors,
                json!({
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o",
                }),
            )
        })
        .collect()
}

async fn created(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn ok_json(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn add_channel(browser: &Browser, org: &str, name: &str, settings: Value) -> Value {
    created(
        browser
            .post(
                &format!("/api/v1/orgs/{org}/alerts/channels"),
                json!({"name": name, "settings": settings}),
            )
            .await,
    )
    .await
}

async fn add_rule(browser: &Browser, org: &str, rule: Value) -> Value {
    created(
        browser
            .post(&format!("/api/v1/orgs/{org}/alerts/rules"), rule)
            .await,
    )
    .await
}

/// Waits up to 30 s until the organization's history holds `count` events.
async fn wait_for_events(browser: &Browser, org: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = ok_json(browser.get(&format!("/api/v1/orgs/{org}/alerts/events")).await).await;
        let events = page["events"].as_array().unwrap().clone();
        if events.len() >= count {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} events: {page}",
            events.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn a_rule_fires_and_resolves_with_signed_notifications(backend: Backend) {
    let server = start(backend, &alert_args()).await;
    let (browser, org, token) = signed_in_tenant(&server, "alerts@example.com", &["ingest", "read"]).await;
    let receiver = Receiver::start(&[]).await;

    let hook = add_channel(
        &browser,
        &org,
        "ops hook",
        json!({"kind": "webhook", "url": receiver.url("/hook")}),
    )
    .await;
    let secret = hook["signing_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 30, "{hook}");
    assert_eq!(hook["target"], "127.0.0.1");
    let slack = add_channel(
        &browser,
        &org,
        "team slack",
        json!({"kind": "slack", "url": receiver.url("/slack")}),
    )
    .await;
    assert!(slack["signing_secret"].is_null());
    // The list shows no secret and no URL.
    let listed = ok_json(browser.get(&format!("/api/v1/orgs/{org}/alerts/channels")).await).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(
        !listed.to_string().contains("whsec_") && !listed.to_string().contains("/hook"),
        "{listed}"
    );

    let rule = add_rule(
        &browser,
        &org,
        json!({
            "name": "checkout errors",
            "condition": {"kind": "error_rate", "window_minutes": 60, "percent": 20, "min_requests": 5, "service": "checkout"},
            "channel_ids": [hook["id"], slack["id"]],
            "quiet_minutes": 0,
        }),
    )
    .await;
    assert_eq!(rule["state"], "ok");
    assert_eq!(rule["enabled"], true);

    // Half of ten calls fail: 50% > 20%.
    send_spans(&server, &token, "checkout", chat_calls(1, 10, 5)).await;
    let hooks = receiver.wait_for("/hook", 1).await;
    verify_signature(&hooks[0], &secret);
    assert_eq!(hooks[0].headers["content-type"], "application/json");
    let body: Value = serde_json::from_slice(&hooks[0].body).unwrap();
    assert_eq!(body["type"], "specula.alerts");
    assert_eq!(body["organization"]["id"], org.as_str());
    assert_eq!(body["events"].as_array().unwrap().len(), 1, "{body}");
    let notice = &body["events"][0];
    assert_eq!(notice["kind"], "firing");
    assert_eq!(notice["rule_name"], "checkout errors");
    assert_eq!(notice["value"], 50.0);
    assert_eq!(notice["threshold"], 20.0);
    let link = notice["url"].as_str().unwrap();
    assert!(
        link.starts_with(&format!(
            "{}/spans?status=error&service=checkout&since=",
            server.url("").trim_end_matches('/')
        )),
        "{link}"
    );
    let slacks = receiver.wait_for("/slack", 1).await;
    let message: Value = serde_json::from_slice(&slacks[0].body).unwrap();
    assert_eq!(message["blocks"][0]["type"], "header");
    assert!(
        message["text"]
            .as_str()
            .unwrap()
            .starts_with("Firing: checkout errors"),
        "{message}"
    );
    assert!(
        message["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("Error rate of checkout 50.0%"),
        "{message}"
    );
    assert!(slacks[0].headers.get("x-specula-signature").is_none());

    let events = wait_for_events(&browser, &org, 1).await;
    assert_eq!(events[0]["kind"], "firing");
    assert_eq!(events[0]["notice"], "sent");
    assert_eq!(events[0]["value"], 50.0);
    assert!(
        events[0]["link"]
            .as_str()
            .unwrap()
            .starts_with("/spans?status=error&service=checkout")
    );
    let rules = ok_json(browser.get(&format!("/api/v1/orgs/{org}/alerts/rules")).await).await;
    assert_eq!(rules["rules"][0]["state"], "firing");
    assert_eq!(rules["rules"][0]["last_value"], 50.0);
    assert!(rules["evaluator"]["last_pass_finished_at"].is_string(), "{rules}");
    assert_eq!(rules["evaluator"]["interval_seconds"], 1);

    // Still firing: no second notice.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(receiver.received("/hook").len(), 1);

    // A hundred good calls bring it to 5 of 110: resolved, notified once.
    send_spans(&server, &token, "checkout", chat_calls(2, 100, 0)).await;
    let hooks = receiver.wait_for("/hook", 2).await;
    verify_signature(&hooks[1], &secret);
    let body: Value = serde_json::from_slice(&hooks[1].body).unwrap();
    assert_eq!(body["events"][0]["kind"], "resolved", "{body}");
    assert!(
        body["title"]
            .as_str()
            .unwrap()
            .starts_with("Resolved: checkout errors")
    );
    let events = wait_for_events(&browser, &org, 2).await;
    assert_eq!(events[0]["kind"], "resolved");
    let rule = ok_json(
        browser
            .get(&format!(
                "/api/v1/orgs/{org}/alerts/rules/{}",
                rule["id"].as_str().unwrap()
            ))
            .await,
    )
    .await;
    assert_eq!(rule["state"], "resolved");

    // Both deliveries recorded on the channel.
    let deliveries = ok_json(
        browser
            .get(&format!(
                "/api/v1/orgs/{org}/alerts/channels/{}/deliveries",
                hook["id"].as_str().unwrap()
            ))
            .await,
    )
    .await;
    let deliveries = deliveries.as_array().unwrap();
    assert_eq!(deliveries.len(), 2);
    assert!(
        deliveries
            .iter()
            .all(|d| d["status"] == "delivered" && d["response_code"] == 200 && d["attempts"] == 1)
    );

    // Read with a token too; another tenant sees none of it.
    let by_token = common::get_json(&server, &token, &format!("/api/v1/orgs/{org}/alerts/events")).await;
    assert_eq!(by_token["events"].as_array().unwrap().len(), 2);
    let (stranger, _, stranger_token) = signed_in_tenant(&server, "stranger@example.com", &["read"]).await;
    for path in ["rules", "events", "channels", "silences"] {
        let response = stranger.get(&format!("/api/v1/orgs/{org}/alerts/{path}")).await;
        assert!(
            matches!(response.status(), StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
            "{path}: {}",
            response.status()
        );
        let response = common::get_with_token(
            &server,
            &stranger_token,
            &format!("/api/v1/orgs/{org}/alerts/{path}"),
        )
        .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let response = stranger
        .delete(&format!(
            "/api/v1/orgs/{org}/alerts/rules/{}",
            rule["id"].as_str().unwrap()
        ))
        .await;
    assert!(matches!(
        response.status(),
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
    ));

    // Every change is in the audit log.
    let audit = ok_json(browser.get(&format!("/api/v1/orgs/{org}/audit")).await).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry["action"].as_str())
        .collect();
    for action in ["alerts.channel.create", "alerts.rule.create"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    server.stop().await;
}

async fn silences_retries_and_the_test_button(backend: Backend) {
    let server = start(backend, &alert_args()).await;
    let (browser, org, token) = signed_in_tenant(&server, "silence@example.com", &["ingest", "read"]).await;
    // The first attempt meets a 503, the retry a 200.
    let receiver = Receiver::start(&[503]).await;
    let hook = add_channel(
        &browser,
        &org,
        "flaky",
        json!({"kind": "webhook", "url": receiver.url("/hook")}),
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();

    // "Send test" answers at once with how it went (here, the scripted 503).
    let tested = ok_json(
        browser
            .post(
                &format!("/api/v1/orgs/{org}/alerts/channels/{hook_id}/test"),
                json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(tested["status"], "failed", "{tested}");
    assert_eq!(tested["response_code"], 503);
    assert_eq!(tested["test"], true);
    let body: Value = serde_json::from_slice(&receiver.received("/hook")[0].body).unwrap();
    assert_eq!(body["test"], true);
    verify_signature(
        &receiver.received("/hook")[0],
        hook["signing_secret"].as_str().unwrap(),
    );
    let channel = ok_json(
        browser
            .get(&format!("/api/v1/orgs/{org}/alerts/channels/{hook_id}"))
            .await,
    )
    .await;
    assert_eq!(channel["last_status"], "failed");
    assert_eq!(channel["failures_in_a_row"], 1);
    receiver.inbox.answers.lock().unwrap().push_back(503);

    // A silenced rule and a loud one; no spans from either service, so both fire.
    let silenced = add_rule(
        &browser,
        &org,
        json!({"name": "ghost silent", "condition": {"kind": "silent_service", "service": "ghost", "minutes": 1},
               "channel_ids": [hook_id]}),
    )
    .await;
    let ends_at = chrono::Utc::now() + chrono::Duration::hours(1);
    let silence = created(
        browser
            .post(
                &format!("/api/v1/orgs/{org}/alerts/silences"),
                json!({"rule_id": silenced["id"], "ends_at": ends_at.to_rfc3339(), "comment": "maintenance"}),
            )
            .await,
    )
    .await;
    assert_eq!(silence["active"], true);
    add_rule(
        &browser,
        &org,
        json!({"name": "worker silent", "condition": {"kind": "silent_service", "service": "worker", "minutes": 1},
               "channel_ids": [hook_id]}),
    )
    .await;
    // Rules on spend and latency, notifying no channel: their history records them.
    // Ten gpt-4o calls of 250 ms, each 20,000 input and 1,000 output tokens ($0.06).
    let calls: Vec<Value> = chat_calls(7, 10, 0)
        .into_iter()
        .map(|mut call| {
            let attributes = call["attributes"].as_array_mut().unwrap();
            attributes.push(json!({"key": "gen_ai.usage.input_tokens", "value": {"intValue": "20000"}}));
            attributes.push(json!({"key": "gen_ai.usage.output_tokens", "value": {"intValue": "1000"}}));
            call
        })
        .collect();
    send_spans(&server, &token, "support-bot", calls).await;
    let policy = browser
        .post(
            &format!("/api/v1/governance/policies?org={org}"),
            json!({"document": {"budgets": [{"id": "team", "monthly_usd": "0.50"}]}, "comment": "a budget"}),
        )
        .await;
    assert_eq!(
        policy.status(),
        StatusCode::CREATED,
        "{}",
        policy.text().await.unwrap()
    );
    for rule in [
        json!({"name": "team budget", "condition": {"kind": "budget", "budget_id": "team", "percent": 50}}),
        json!({"name": "hourly spend", "condition": {"kind": "hourly_cost", "usd": 0.25, "service": "support-bot"}}),
        json!({"name": "slow gpt-4o", "condition": {"kind": "latency_p95", "model": "gpt-4o", "window_minutes": 15, "milliseconds": 100}}),
    ] {
        add_rule(&browser, &org, rule).await;
    }

    let events = wait_for_events(&browser, &org, 5).await;
    let event_of = |name: &str| {
        events
            .iter()
            .find(|event| event["rule_name"] == name)
            .unwrap_or_else(|| panic!("{name} in {events:?}"))
            .clone()
    };
    assert_eq!(event_of("ghost silent")["notice"], "silenced");
    assert_eq!(event_of("worker silent")["notice"], "sent");
    let budget = event_of("team budget");
    assert_eq!(budget["notice"], "no_channels");
    assert!(
        (budget["value"].as_f64().unwrap() - 120.0).abs() < 0.01,
        "$0.60 of $0.50: {budget}"
    );
    assert_eq!(budget["link"], "/costs");
    let spend = event_of("hourly spend");
    assert!((spend["value"].as_f64().unwrap() - 0.6).abs() < 0.01, "{spend}");
    let slow = event_of("slow gpt-4o");
    let p95 = slow["value"].as_f64().unwrap();
    assert!(
        (200.0..=320.0).contains(&p95),
        "p95 of 250 ms calls within their bucket: {slow}"
    );
    assert!(slow["summary"].as_str().unwrap().contains("gpt-4o"), "{slow}");

    // The delivery meets a 503: pending, retried after its backoff, then delivered.
    let deadline = Instant::now() + Duration::from_secs(30);
    let first = loop {
        let list = ok_json(
            browser
                .get(&format!(
                    "/api/v1/orgs/{org}/alerts/channels/{hook_id}/deliveries"
                ))
                .await,
        )
        .await;
        let newest = list[0].clone();
        if newest["test"] == false && newest["attempts"] == 1 {
            break newest;
        }
        assert!(Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(first["status"], "pending", "{first}");
    assert_eq!(first["response_code"], 503);
    assert!(first["next_attempt_at"].is_string());
    let delivered = receiver.wait_for("/hook", 3).await;
    let body: Value = serde_json::from_slice(&delivered[2].body).unwrap();
    let names: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["rule_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["worker silent"], "the silenced rule is not sent");
    assert_eq!(
        delivered[1].headers["x-specula-delivery"],
        delivered[2].headers["x-specula-delivery"]
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = ok_json(
            browser
                .get(&format!(
                    "/api/v1/orgs/{org}/alerts/channels/{hook_id}/deliveries"
                ))
                .await,
        )
        .await;
        if list[0]["status"] == "delivered" {
            assert_eq!(list[0]["attempts"], 2);
            assert_eq!(list[0]["response_code"], 200);
            break;
        }
        assert!(Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let channel = ok_json(
        browser
            .get(&format!("/api/v1/orgs/{org}/alerts/channels/{hook_id}"))
            .await,
    )
    .await;
    assert_eq!(channel["last_status"], "delivered");
    assert_eq!(channel["failures_in_a_row"], 0);

    // Ending the silence lets the silenced rule's firing out.
    let response = browser
        .delete(&format!(
            "/api/v1/orgs/{org}/alerts/silences/{}",
            silence["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let delivered = receiver.wait_for("/hook", 4).await;
    let body: Value = serde_json::from_slice(&delivered[3].body).unwrap();
    assert_eq!(body["events"][0]["rule_name"], "ghost silent", "{body}");

    // Bad input is refused with the reason; unknown channels and budgets too.
    for (rule, needle) in [
        (
            json!({"name": "x", "condition": {"kind": "error_rate", "window_minutes": 2, "percent": 5}}),
            "window_minutes",
        ),
        (
            json!({"name": "x", "condition": {"kind": "budget", "budget_id": "nope", "percent": 80}}),
            "budget",
        ),
        (
            json!({"name": "x", "condition": {"kind": "flagged_prompts", "count": 1}, "channel_ids": [uuid::Uuid::new_v4()]}),
            "channel",
        ),
        (
            json!({"name": " ", "condition": {"kind": "flagged_prompts", "count": 1}}),
            "name",
        ),
        (
            json!({"name": "x", "condition": {"kind": "flagged_prompts", "count": 1, "extra": true}}),
            "extra",
        ),
    ] {
        let body = assert_error(
            browser
                .post(&format!("/api/v1/orgs/{org}/alerts/rules"), rule)
                .await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(
            body["error"]["message"].as_str().unwrap().contains(needle),
            "{needle}: {body}"
        );
    }
    server.stop().await;
}

async fn network_guard() {
    let server = start(Backend::Sqlite, &[format!("--secrets-key={SEALING_KEY}")]).await;
    let (browser, org, _) = signed_in_tenant(&server, "guard@example.com", &["read"]).await;
    let receiver = Receiver::start(&[]).await;
    for url in [
        receiver.url("/hook"),
        "http://[::1]/hook".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://10.0.0.7/hook".to_owned(),
    ] {
        let body = assert_error(
            browser
                .post(
                    &format!("/api/v1/orgs/{org}/alerts/channels"),
                    json!({"name": "probe", "settings": {"kind": "webhook", "url": url}}),
                )
                .await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not a public address"),
            "{body}"
        );
    }
    // A name that resolves to loopback passes the URL check, but nothing connects to it.
    let sneaky = add_channel(
        &browser,
        &org,
        "sneaky",
        json!({"kind": "slack", "url": format!("http://localhost:{}/hook", receiver.addr.port())}),
    )
    .await;
    let tested = ok_json(
        browser
            .post(
                &format!(
                    "/api/v1/orgs/{org}/alerts/channels/{}/test",
                    sneaky["id"].as_str().unwrap()
                ),
                json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(tested["status"], "failed");
    assert!(
        tested["last_error"]
            .as_str()
            .unwrap()
            .contains("not a public address"),
        "{tested}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        receiver.received("/hook").is_empty(),
        "nothing reached the receiver"
    );
    server.stop().await;
}

async fn evaluated_once_across_replicas() {
    let first = start(Backend::Postgres, &alert_args()).await;
    let args = alert_args();
    let second = first
        .replica_with(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    let (browser, org, _) = signed_in_tenant(&first, "replicas@example.com", &["read"]).await;
    let receiver = Receiver::start(&[]).await;
    let hook = add_channel(
        &browser,
        &org,
        "hook",
        json!({"kind": "webhook", "url": receiver.url("/hook")}),
    )
    .await;
    add_rule(
        &browser,
        &org,
        json!({"name": "nobody home", "condition": {"kind": "silent_service", "service": "ghost", "minutes": 1},
               "channel_ids": [hook["id"]]}),
    )
    .await;
    receiver.wait_for("/hook", 1).await;
    // Several intervals later, on both replicas: still one event, one delivery.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(receiver.received("/hook").len(), 1);
    let events = ok_json(browser.get(&format!("/api/v1/orgs/{org}/alerts/events")).await).await;
    assert_eq!(events["events"].as_array().unwrap().len(), 1, "{events}");
    second.stop().await;
    first.stop().await;
}

/// A certificate authority and a `localhost` certificate it signed, as PEM:
/// (CA certificate, server certificate, server key).
fn mail_server_certificates() -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Specula test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_certificate = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let mut server = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    let server_key = KeyPair::generate().unwrap();
    let server_certificate = server.signed_by(&server_key, &issuer).unwrap();
    (
        ca_certificate.pem(),
        server_certificate.pem(),
        server_key.serialize_pem(),
    )
}

/// The Python with `aiosmtpd` that `scripts/test.sh` prepares.
fn test_python() -> std::path::PathBuf {
    if let Some(python) = std::env::var_os("SPECULA_TEST_PYTHON") {
        return python.into();
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-venv/bin/python");
    assert!(
        venv.exists(),
        "the email tests need Python with aiosmtpd: run scripts/test.sh once (it makes target/test-venv) \
         or set SPECULA_TEST_PYTHON"
    );
    venv
}

/// `aiosmtpd` serving on a free port until dropped.
struct MailServer {
    port: u16,
    messages: std::path::PathBuf,
    _process: tokio::process::Child,
}

impl MailServer {
    async fn start(mode: &str, folder: &std::path::Path, certificate: &str, key: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (certificate_path, key_path) = (
            folder.join(format!("{mode}.crt")),
            folder.join(format!("{mode}.key")),
        );
        std::fs::write(&certificate_path, certificate).unwrap();
        std::fs::write(&key_path, key).unwrap();
        let messages = folder.join(format!("{mode}.jsonl"));
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let mut process = tokio::process::Command::new(test_python())
            .arg(script)
            .args([mode, &port.to_string()])
            .arg(&certificate_path)
            .arg(&key_path)
            .arg(&messages)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the test SMTP server starts");
        let mut ready = String::new();
        let stdout = process.stdout.take().unwrap();
        tokio::time::timeout(
            Duration::from_secs(20),
            tokio::io::AsyncBufReadExt::read_line(&mut tokio::io::BufReader::new(stdout), &mut ready),
        )
        .await
        .expect("the SMTP server gets ready in time")
        .unwrap();
        assert_eq!(ready.trim(), "ready");
        Self {
            port,
            messages,
            _process: process,
        }
    }

    fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.messages)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

async fn email_channels() {
    let folder = tempfile::tempdir().unwrap();
    let (ca, certificate, key) = mail_server_certificates();
    let ca_file = folder.path().join("ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    let starttls = MailServer::start("starttls", folder.path(), &certificate, &key).await;
    let implicit = MailServer::start("tls", folder.path(), &certificate, &key).await;
    let mut args = alert_args();
    args.push(format!("--smtp-ca-file={}", ca_file.display()));
    let server = start(Backend::Sqlite, &args).await;
    let (browser, org, _) = signed_in_tenant(&server, "mail@example.com", &["read"]).await;

    let settings = |port: u16, security: &str, password: &str| {
        json!({"kind": "email", "host": "localhost", "port": port, "security": security,
               "username": "alerts", "password": password,
               "from": "Specula <specula@example.com>", "to": ["oncall@example.com", "lead@example.com"]})
    };
    let channel = add_channel(
        &browser,
        &org,
        "on-call mail",
        settings(starttls.port, "starttls", "secret"),
    )
    .await;
    let channel_id = channel["id"].as_str().unwrap().to_owned();
    assert_eq!(channel["kind"], "email");
    assert_eq!(
        channel["target"],
        format!(
            "localhost:{} → oncall@example.com, lead@example.com",
            starttls.port
        )
    );
    // The password is kept sealed: neither the API nor the database shows it.
    let listed = ok_json(browser.get(&format!("/api/v1/orgs/{org}/alerts/channels")).await).await;
    assert!(!listed.to_string().contains("secret"), "{listed}");
    let stored: Vec<String> = {
        use sea_orm::{ConnectionTrait, Statement};
        let db = &server.state.db;
        db.query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT settings, sealed_secrets FROM alert_channels",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            format!(
                "{}{}",
                row.try_get::<String>("", "settings").unwrap(),
                row.try_get::<String>("", "sealed_secrets").unwrap()
            )
        })
        .collect()
    };
    assert!(
        stored
            .iter()
            .all(|row| !row.contains("secret") && row.contains("v1:")),
        "{stored:?}"
    );

    let tested = ok_json(
        browser
            .post(
                &format!("/api/v1/orgs/{org}/alerts/channels/{channel_id}/test"),
                json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(tested["status"], "delivered", "{tested}");
    assert_eq!(tested["response_code"], 250);
    let messages = starttls.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(message["tls"], true, "sent after STARTTLS");
    assert_eq!(message["login"], "alerts");
    assert_eq!(message["from"], "specula@example.com");
    assert_eq!(message["to"], json!(["oncall@example.com", "lead@example.com"]));
    let data = message["data"].as_str().unwrap();
    assert!(
        data.contains("Subject: [Specula] [test] Firing: Test notification"),
        "{data}"
    );
    assert!(
        data.contains("multipart/alternative") && data.contains("text/plain") && data.contains("text/html"),
        "{data}"
    );

    // A wrong password: refused by the server with its code, not retried.
    let replaced = browser
        .put(
            &format!("/api/v1/orgs/{org}/alerts/channels/{channel_id}"),
            json!({"name": "on-call mail", "settings": settings(starttls.port, "starttls", "wrong")}),
        )
        .await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let tested = ok_json(
        browser
            .post(
                &format!("/api/v1/orgs/{org}/alerts/channels/{channel_id}/test"),
                json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(tested["status"], "failed", "{tested}");
    assert_eq!(tested["response_code"], 535, "{tested}");
    assert_eq!(starttls.messages().len(), 1);

    // TLS from the first byte, on the other server; a channel changed without a password keeps its own.
    let tls = add_channel(
        &browser,
        &org,
        "tls mail",
        settings(implicit.port, "tls", "secret"),
    )
    .await;
    let mut without_password = settings(implicit.port, "tls", "");
    without_password.as_object_mut().unwrap().remove("password");
    let replaced = browser
        .put(
            &format!(
                "/api/v1/orgs/{org}/alerts/channels/{}",
                tls["id"].as_str().unwrap()
            ),
            json!({"name": "tls mail", "settings": without_password}),
        )
        .await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let tested = ok_json(
        browser
            .post(
                &format!(
                    "/api/v1/orgs/{org}/alerts/channels/{}/test",
                    tls["id"].as_str().unwrap()
                ),
                json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(tested["status"], "delivered", "{tested}");
    assert_eq!(implicit.messages()[0]["tls"], true);
    server.stop().await;
}

async fn delivery_across_restart() {
    let args = alert_args();
    let server = start(Backend::Postgres, &args).await;
    let (browser, org, _) = signed_in_tenant(&server, "restart@example.com", &["read"]).await;
    // The receiver fails the first attempt; the retry is due 10 s later.
    let receiver = Receiver::start(&[503]).await;
    let hook = add_channel(
        &browser,
        &org,
        "hook",
        json!({"kind": "webhook", "url": receiver.url("/hook")}),
    )
    .await;
    add_rule(
        &browser,
        &org,
        json!({"name": "nobody home", "condition": {"kind": "silent_service", "service": "ghost", "minutes": 1},
               "channel_ids": [hook["id"]]}),
    )
    .await;
    receiver.wait_for("/hook", 1).await;
    let database = server.stop_keeping_database().await;

    // Another process on the same database sends it: the outbox outlived the first.
    let restarted =
        TestServer::start_on(database, &args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let delivered = receiver.wait_for("/hook", 2).await;
    assert_eq!(
        delivered[0].headers["x-specula-delivery"],
        delivered[1].headers["x-specula-delivery"]
    );
    let body: Value = serde_json::from_slice(&delivered[1].body).unwrap();
    assert_eq!(body["events"][0]["rule_name"], "nobody home");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        receiver.received("/hook").len(),
        2,
        "sent once, not again by the new process"
    );
    restarted.stop().await;
}
