//! Organization prices and cost recomputes: overrides price spans from their
//! effective time (exact names and patterns), a recompute re-prices stored
//! spans in batches and corrects the traces' and rollups' sums exactly,
//! viewers see prices but cannot change them, and no tenant reads or
//! changes another's. On SQLite and PostgreSQL.

use crate::common;

use std::time::Duration;

use common::{
    Backend, Browser, TestServer, add_member, assert_error, get_json, send_spans, signed_in_tenant, span,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    overrides_price_spans_from_their_effective_time,
    a_recompute_reprices_spans_traces_and_rollups,
    viewers_see_prices_but_cannot_change_them,
    prices_stay_in_their_tenant,
    bad_prices_are_explained,
    replicas_running_overlapping_recomputes_add_each_difference_once,
);

const SECOND: i64 = 1_000_000_000;
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600 * SECOND;
const HOUR: i64 = 3600 * SECOND;
const RANGE: &str = "since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z";

/// 1000 input and 100 output tokens at gpt-4o's built-in 2.50 / 10 USD per Mtok.
const BUILTIN_GPT_4O: i64 = 2_500_000 + 1_000_000;
/// The same call at an override of 1 / 2 USD per Mtok.
const OVERRIDE_GPT_4O: i64 = 1_000_000 + 200_000;
/// The same call at the `acme-llm-*` pattern's 0.5 / 1.5 USD per Mtok.
const ACME: i64 = 500_000 + 150_000;

/// Signs up `email`; returns their browser, organization and an ingest + read token.
async fn owner(server: &TestServer, email: &str) -> (Browser, String, String) {
    signed_in_tenant(server, email, &["ingest", "read"]).await
}

fn call(trace: &str, id: &str, model: &str, start: i64) -> Value {
    span(
        trace,
        id,
        None,
        &format!("chat {model}"),
        (start, SECOND),
        false,
        json!({
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 100,
        }),
    )
}

fn prices_path(org: &str) -> String {
    format!("/api/v1/orgs/{org}/prices")
}

/// gpt-4o at 1 / 2 from an hour after T0, and `acme-llm-*` at 0.5 / 1.5 always.
fn overrides() -> Value {
    json!({"overrides": [
        {"model": "gpt-4o", "input_usd_per_mtok": "1", "output_usd_per_mtok": 2,
         "effective_from": "2026-01-01T01:00:00Z", "note": "negotiated"},
        {"model": "acme-llm-*", "provider": "acme", "input_usd_per_mtok": 0.5, "output_usd_per_mtok": "1.5"},
    ]})
}

async fn put_prices(browser: &Browser, org: &str, body: Value) -> Value {
    let response = browser.put(&prices_path(org), body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// (span id, cost, unpriced) of every span in the cost log, by span id.
async fn span_costs(server: &TestServer, token: &str) -> Vec<(String, Option<i64>, bool)> {
    let mut costs = Vec::new();
    let mut cursor = String::new();
    loop {
        let log = get_json(
            server,
            token,
            &format!("/api/v1/cost-logs?{RANGE}&limit=500{cursor}"),
        )
        .await;
        costs.extend(log["entries"].as_array().unwrap().iter().map(|entry| {
            (
                entry["span_id"].as_str().unwrap().to_owned(),
                entry["cost_nanos"].as_i64(),
                entry["unpriced"].as_bool().unwrap(),
            )
        }));
        match log["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    costs.sort();
    costs
}

async fn usage_totals(server: &TestServer, token: &str) -> Value {
    let usage = get_json(server, token, &format!("/api/v1/usage?{RANGE}&granularity=total")).await;
    usage["totals"].clone()
}

async fn overrides_price_spans_from_their_effective_time(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (browser, org, token) = owner(&server, "owner@example.com").await;
    let list = put_prices(&browser, &org, overrides()).await;
    let stored = list["overrides"].as_array().unwrap();
    assert_eq!(stored.len(), 2, "{list}");
    assert_eq!(stored[0]["model"], "acme-llm-*");
    assert_eq!(stored[0]["is_pattern"], true);
    assert_eq!(stored[1]["input_usd_per_mtok"], "1");
    assert_eq!(stored[1]["effective_from"], "2026-01-01T01:00:00Z");
    assert_eq!(stored[1]["updated_by"], "owner@example.com");
    let builtin = list["builtin"].as_array().unwrap();
    let gpt_4o = builtin.iter().find(|price| price["model"] == "gpt-4o").unwrap();
    assert_eq!(gpt_4o["input_usd_per_mtok"], "2.5");
    assert!(!gpt_4o["source"].as_str().unwrap().is_empty() && !gpt_4o["date"].as_str().unwrap().is_empty());
    // A `read` token sees the same list.
    assert_eq!(get_json(&server, &token, &prices_path(&org)).await, list);

    let trace = "1".repeat(32);
    send_spans(
        &server,
        &token,
        "coder",
        vec![
            call(&trace, "0000000000000001", "gpt-4o", T0),
            call(&trace, "0000000000000002", "gpt-4o-2024-08-06", T0 + HOUR),
            call(&trace, "0000000000000003", "acme-llm-7b", T0),
            call(&trace, "0000000000000004", "local-llama", T0),
        ],
    )
    .await;
    assert_eq!(
        span_costs(&server, &token).await,
        [
            ("0000000000000001".to_owned(), Some(BUILTIN_GPT_4O), false),
            ("0000000000000002".to_owned(), Some(OVERRIDE_GPT_4O), false),
            ("0000000000000003".to_owned(), Some(ACME), false),
            ("0000000000000004".to_owned(), None, true),
        ],
        "before its effective time gpt-4o keeps the built-in price; dated snapshots use the override"
    );
    let total = usage_totals(&server, &token).await;
    assert_eq!(total["cost_nanos"], BUILTIN_GPT_4O + OVERRIDE_GPT_4O + ACME);
    assert_eq!(total["unpriced"], 1);
    let detail = get_json(&server, &token, &format!("/api/v1/traces/{trace}")).await;
    let acme = detail["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|span| span["span_id"] == "0000000000000003")
        .unwrap();
    assert_eq!(
        acme["details"]["cost"]["model"], "acme-llm-*",
        "which price matched: {acme}"
    );
    server.stop().await;
}

async fn wait_for_job(server: &TestServer, token: &str, org: &str, id: i64) -> Value {
    let mut job = Value::Null;
    for _ in 0..300 {
        job = get_json(server, token, &format!("/api/v1/orgs/{org}/cost-recomputes/{id}")).await;
        if job["status"] == "done" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("recompute job {id} did not finish: {job}");
}

async fn recompute(browser: &Browser, server: &TestServer, token: &str, org: &str) -> Value {
    let response = browser
        .post(
            &format!("/api/v1/orgs/{org}/cost-recomputes"),
            json!({"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["status"], "queued");
    assert_eq!(job["progress"], 0.0);
    wait_for_job(server, token, org, job["id"].as_i64().unwrap()).await
}

async fn a_recompute_reprices_spans_traces_and_rollups(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (browser, org, token) = owner(&server, "owner@example.com").await;
    // Stored before any override: gpt-4o at the built-in price, and 1,200
    // unpriced acme spans starting at the same instant, so the batches
    // (500 spans each) must page by row id within one start time.
    let trace_a = "a".repeat(32);
    let trace_b = "b".repeat(32);
    send_spans(
        &server,
        &token,
        "coder",
        vec![
            call(&trace_a, "00000000000000a1", "gpt-4o", T0),
            call(&trace_a, "00000000000000a2", "gpt-4o", T0 + 2 * HOUR),
        ],
    )
    .await;
    for chunk in 0..3 {
        let spans = (0..400)
            .map(|index| {
                call(
                    &trace_b,
                    &format!("{:016x}", 0xb000 + chunk * 400 + index),
                    "acme-llm-7b",
                    T0 + HOUR,
                )
            })
            .collect();
        send_spans(&server, &token, "coder", spans).await;
    }
    let before = usage_totals(&server, &token).await;
    assert_eq!(before["cost_nanos"], 2 * BUILTIN_GPT_4O);
    assert_eq!(before["unpriced"], 1200);

    put_prices(&browser, &org, overrides()).await;
    assert_eq!(
        usage_totals(&server, &token).await,
        before,
        "stored spans keep their cost until a recompute"
    );
    let job = recompute(&browser, &server, &token, &org).await;
    assert_eq!(job["scanned_spans"], 1202, "{job}");
    assert_eq!(
        job["repriced_spans"], 1201,
        "the first gpt-4o call predates its override: {job}"
    );
    let delta = (OVERRIDE_GPT_4O - BUILTIN_GPT_4O) + 1200 * ACME;
    assert_eq!(job["cost_delta_nanos"], delta);
    assert_eq!(job["progress"], 1.0);
    assert_eq!(job["requested_by"], "owner@example.com");

    let costs = span_costs(&server, &token).await;
    assert_eq!(costs.len(), 1202);
    assert!(
        costs
            .iter()
            .filter(|(id, ..)| id.starts_with("0000000000000b"))
            .all(|(_, cost, unpriced)| *cost == Some(ACME) && !unpriced)
    );
    assert!(costs.contains(&("00000000000000a1".to_owned(), Some(BUILTIN_GPT_4O), false)));
    assert!(costs.contains(&("00000000000000a2".to_owned(), Some(OVERRIDE_GPT_4O), false)));
    let sum_of_spans: i64 = costs.iter().filter_map(|(_, cost, _)| *cost).sum();

    let after = usage_totals(&server, &token).await;
    assert_eq!(
        after["cost_nanos"], sum_of_spans,
        "the rollups add up to the spans again"
    );
    assert_eq!(after["cost_nanos"], 2 * BUILTIN_GPT_4O + delta);
    assert_eq!(after["unpriced"], 0);
    assert_eq!(
        after["requests"], before["requests"],
        "only cost and unpriced change"
    );
    assert_eq!(after["input_tokens"], before["input_tokens"]);
    for (trace, expected) in [
        (&trace_a, BUILTIN_GPT_4O + OVERRIDE_GPT_4O),
        (&trace_b, 1200 * ACME),
    ] {
        let detail = get_json(&server, &token, &format!("/api/v1/traces/{trace}")).await;
        assert_eq!(detail["trace"]["cost_nanos"], expected, "{}", detail["trace"]);
    }
    let by_model = get_json(
        &server,
        &token,
        &format!("/api/v1/usage?{RANGE}&granularity=total&group_by=model"),
    )
    .await;
    let acme_row = by_model["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["model"] == "acme-llm-7b")
        .unwrap_or_else(|| panic!("{by_model}"));
    assert_eq!(acme_row["usage"]["cost_nanos"], 1200 * ACME);

    // Nothing changed since: a second recompute re-prices nothing.
    let again = recompute(&browser, &server, &token, &org).await;
    assert_eq!(again["repriced_spans"], 0);
    assert_eq!(again["cost_delta_nanos"], 0);
    assert_eq!(usage_totals(&server, &token).await, after);

    // The Prices page shows the jobs and the audit log.
    let page = browser.get("/costs/prices").await.text().await.unwrap();
    assert!(
        page.contains("Recomputed costs from 2026-01-01T00:00:00Z"),
        "the audit entry"
    );
    assert!(page.contains("Set 2 prices"), "the price change's audit entry");
    assert!(page.contains("negotiated"), "the override's note");
    server.stop().await;
}

async fn viewers_see_prices_but_cannot_change_them(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (owner_browser, org, token) = owner(&server, "owner@example.com").await;
    put_prices(&owner_browser, &org, overrides()).await;
    let (viewer, _) = add_member(&server, &owner_browser, &org, "viewer@example.com", "viewer").await;
    let (member, _) = add_member(&server, &owner_browser, &org, "member@example.com", "member").await;
    let (admin, _) = add_member(&server, &owner_browser, &org, "admin@example.com", "admin").await;
    let recomputes = format!("/api/v1/orgs/{org}/cost-recomputes");
    for browser in [&viewer, &member] {
        let list: Value = browser.get(&prices_path(&org)).await.json().await.unwrap();
        assert_eq!(list["overrides"].as_array().unwrap().len(), 2);
        assert_error(
            browser.put(&prices_path(&org), json!({"overrides": []})).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        assert_error(
            browser
                .post(
                    &recomputes,
                    json!({"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"}),
                )
                .await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        let page = browser.get("/costs/prices").await.text().await.unwrap();
        assert!(page.contains("negotiated"), "viewers see the prices");
        assert!(
            !page.contains("data-testid=\"save-price\""),
            "but get no form to change them"
        );
    }
    // A token reads prices but never changes them.
    let response = server
        .client
        .put(server.url(&prices_path(&org)))
        .bearer_auth(&token)
        .json(&json!({"overrides": []}))
        .send()
        .await
        .unwrap();
    assert!(
        matches!(
            response.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ),
        "{}",
        response.status()
    );
    assert_eq!(
        get_json(&server, &token, &prices_path(&org)).await["overrides"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Admins may.
    let list = put_prices(&admin, &org, json!({"overrides": []})).await;
    assert_eq!(list["overrides"], json!([]));
    let page = admin.get("/costs/prices").await.text().await.unwrap();
    assert!(page.contains("data-testid=\"save-price\""));
    server.stop().await;
}

async fn prices_stay_in_their_tenant(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (browser_a, org_a, token_a) = owner(&server, "a@example.com").await;
    let (browser_b, org_b, token_b) = owner(&server, "b@example.com").await;
    put_prices(&browser_a, &org_a, overrides()).await;
    let job = browser_a
        .post(
            &format!("/api/v1/orgs/{org_a}/cost-recomputes"),
            json!({"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let job_id = job["id"].as_i64().unwrap();

    // B can neither read nor change A's prices or jobs, by session or token.
    assert_error(
        browser_b.get(&prices_path(&org_a)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        browser_b
            .put(&prices_path(&org_a), json!({"overrides": []}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let response = common::get_with_token(&server, &token_b, &prices_path(&org_a)).await;
    assert!(
        matches!(response.status(), StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{}",
        response.status()
    );
    assert_error(
        browser_b
            .post(
                &format!("/api/v1/orgs/{org_a}/cost-recomputes"),
                json!({"since": "0", "until": "1"}),
            )
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        browser_b
            .get(&format!("/api/v1/orgs/{org_b}/cost-recomputes/{job_id}"))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // A's prices do not price B's spans.
    let trace = "c".repeat(32);
    send_spans(
        &server,
        &token_b,
        "coder",
        vec![
            call(&trace, "0000000000000001", "gpt-4o", T0 + 2 * HOUR),
            call(&trace, "0000000000000002", "acme-llm-7b", T0),
        ],
    )
    .await;
    assert_eq!(
        span_costs(&server, &token_b).await,
        [
            ("0000000000000001".to_owned(), Some(BUILTIN_GPT_4O), false),
            ("0000000000000002".to_owned(), None, true),
        ]
    );
    let b_prices = get_json(&server, &token_b, &prices_path(&org_b)).await;
    assert_eq!(b_prices["overrides"], json!([]));
    // A's recompute touched nothing of B's.
    wait_for_job(&server, &token_a, &org_a, job_id).await;
    assert_eq!(span_costs(&server, &token_b).await.len(), 2);
    assert_eq!(usage_totals(&server, &token_b).await["unpriced"], 1);
    let page = browser_b.get("/costs/prices").await.text().await.unwrap();
    assert!(
        page.contains("data-testid=\"no-overrides\""),
        "B's Prices page shows none of A's prices"
    );
    assert!(
        !page.contains("negotiated") && !page.contains("Set 2 prices"),
        "nor A's audit log"
    );
    server.stop().await;
}

async fn bad_prices_are_explained(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (browser, org, _) = owner(&server, "owner@example.com").await;
    for (body, needle) in [
        (
            json!({"overrides": [{"model": "", "input_usd_per_mtok": "1", "output_usd_per_mtok": "1"}]}),
            "model",
        ),
        (
            json!({"overrides": [{"model": "m", "input_usd_per_mtok": "-1", "output_usd_per_mtok": "1"}]}),
            "input_usd_per_mtok",
        ),
        (
            json!({"overrides": [{"model": "m", "input_usd_per_mtok": "1", "output_usd_per_mtok": "1", "effective_from": "soon"}]}),
            "effective_from",
        ),
        (
            json!({"overrides": [
                {"model": "m", "input_usd_per_mtok": "1", "output_usd_per_mtok": "1"},
                {"model": "M", "input_usd_per_mtok": "2", "output_usd_per_mtok": "2"},
            ]}),
            "two prices",
        ),
    ] {
        let error = assert_error(
            browser.put(&prices_path(&org), body).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(
            error["error"]["message"].as_str().unwrap().contains(needle),
            "{error}"
        );
    }
    let error = assert_error(
        browser
            .post(
                &format!("/api/v1/orgs/{org}/cost-recomputes"),
                json!({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert!(
        error["error"]["message"].as_str().unwrap().contains("before"),
        "{error}"
    );
    // Nothing was stored by the refused requests.
    let list: Value = browser.get(&prices_path(&org)).await.json().await.unwrap();
    assert_eq!(list["overrides"], json!([]));
    server.stop().await;
}

async fn replicas_running_overlapping_recomputes_add_each_difference_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let replica = server.replica().await;
    let (browser, org, token) = owner(&server, "owner@example.com").await;
    let trace = "d".repeat(32);
    for chunk in 0..3 {
        let spans = (0..400)
            .map(|index| {
                call(
                    &trace,
                    &format!("{:016x}", 0xd000 + chunk * 400 + index),
                    "acme-llm-7b",
                    T0 + index * SECOND,
                )
            })
            .collect();
        send_spans(&server, &token, "coder", spans).await;
    }
    put_prices(&browser, &org, overrides()).await;
    // Two jobs over the same spans, queued together: each replica's worker
    // takes one, and they re-price the same rows at the same time.
    let mut ids = Vec::new();
    for until in ["2026-01-02T00:00:00Z", "2026-01-01T12:00:00Z"] {
        let job: Value = browser
            .post(
                &format!("/api/v1/orgs/{org}/cost-recomputes"),
                json!({"since": "2026-01-01T00:00:00Z", "until": until}),
            )
            .await
            .json()
            .await
            .unwrap();
        ids.push(job["id"].as_i64().unwrap());
    }
    let mut repriced = 0;
    for id in ids {
        repriced += wait_for_job(&server, &token, &org, id).await["repriced_spans"]
            .as_i64()
            .unwrap();
    }
    assert_eq!(repriced, 1200, "every span re-priced by exactly one of the jobs");
    let totals = usage_totals(&server, &token).await;
    assert_eq!(totals["cost_nanos"], 1200 * ACME);
    assert_eq!(totals["unpriced"], 0);
    let detail = get_json(&server, &token, &format!("/api/v1/traces/{trace}")).await;
    assert_eq!(detail["trace"]["cost_nanos"], 1200 * ACME);
    assert_eq!(detail["trace"]["unpriced_spans"], 0);
    replica.stop().await;
    server.stop().await;
}
