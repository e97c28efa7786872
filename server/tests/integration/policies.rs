//! Organization policies: every kind that governs ingest (content capture
//! per service, built-in detectors off, the organization's own rules, diff
//! and span size limits, sampling with errors kept and drops counted)
//! applies to the next span after a save; versions keep every save with
//! what it changed, and a restore is a new version; viewers read but cannot
//! edit; a save on one replica governs the next span on another. On SQLite
//! and PostgreSQL.

use crate::common;

use std::time::{Duration, Instant};

use common::{
    Backend, Browser, TestServer, add_member, assert_error, get_json, send_spans, signed_in_tenant, span,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    every_policy_kind_applies_to_the_next_span,
    a_dry_run_foresees_what_a_save_then_does,
    versions_keep_every_save_and_restores_are_new_versions,
    viewers_read_but_cannot_edit_and_tenants_stay_apart,
);

#[test]
fn a_save_on_one_replica_governs_the_next_span_on_another() {
    common::runtime().block_on(save_on_one_replica_governs_another());
}

const NOW: i64 = 1_780_000_000_000_000_000;
const SECOND: i64 = 1_000_000_000;

async fn save(browser: &Browser, org: &str, document: Value, comment: &str) -> Value {
    let response = browser
        .post(
            &format!("/api/v1/governance/policies?org={org}"),
            json!({"document": document, "comment": comment}),
        )
        .await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn trace_id(n: u32) -> String {
    format!("{n:032x}")
}

/// A trace id whose low 64 bits spread as SDKs' random ids do (sampling reads them).
fn spread_trace_id(n: u32) -> String {
    format!(
        "{n:016x}{:016x}",
        u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    )
}

async fn read_span(server: &TestServer, token: &str, trace: &str, span_id: &str) -> reqwest::Response {
    common::get_with_token(server, token, &format!("/api/v1/traces/{trace}/spans/{span_id}")).await
}

fn policy() -> Value {
    json!({
        "capture": {"services": {"billing-bot": "none"}},
        "redaction": {
            "detectors": {"openai_key": false},
            "rules": [
                {"id": "customer", "kind": "regex", "pattern": "CUST-[0-9]{6}", "label": "customer_id"},
                {"id": "codename", "kind": "literal", "pattern": "Project Falcon", "label": "codename", "case_insensitive": true},
            ],
        },
        "limits": {"max_diff_bytes": 512},
        "sampling": {"services": {"noisy": 0}, "keep_errors": true},
    })
}

async fn every_policy_kind_applies_to_the_next_span(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (owner, org, token) = signed_in_tenant(&server, "owner@policy.example", &["ingest", "read"]).await;
    let prompt = "Refund CUST-123456 about project falcon; key sk-abcdefghijklmnopqrstuvwx";
    let request = |trace: &str, id: &str| {
        span(
            trace,
            id,
            None,
            "chat gpt-4o",
            (NOW, SECOND),
            false,
            json!({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "prompt": prompt}),
        )
    };

    // Before any policy: the installation's defaults.
    send_spans(
        &server,
        &token,
        "agent",
        vec![request(&trace_id(1), "0000000000000001")],
    )
    .await;
    let before: Value = read_span(&server, &token, &trace_id(1), "0000000000000001")
        .await
        .json()
        .await
        .unwrap();
    assert!(before["prompt"].as_str().unwrap().contains("CUST-123456"));
    assert!(
        before["prompt"]
            .as_str()
            .unwrap()
            .contains("[REDACTED:openai_key]")
    );

    let saved = save(&owner, &org, policy(), "own rules").await;
    assert_eq!(saved["version"], 1);

    // The organization's rules apply; the detector it turned off does not.
    let diff = format!("--- a/x\n+++ b/x\n{}", "+line\n".repeat(400));
    send_spans(&server,
        &token,
        "agent",
        vec![
            request(&trace_id(2), "0000000000000002"),
            span(
                &trace_id(2),
                "0000000000000003",
                Some("0000000000000002"),
                "execute_tool apply_patch",
                (NOW, SECOND),
                false,
                json!({"gen_ai.operation.name": "execute_tool", "tool.name": "apply_patch", "tool.output.diff": diff}),
            ),
        ],
    )
    .await;
    let after: Value = read_span(&server, &token, &trace_id(2), "0000000000000002")
        .await
        .json()
        .await
        .unwrap();
    let text = after["prompt"].as_str().unwrap();
    assert!(
        text.contains("[REDACTED:customer_id]") && !text.contains("CUST-123456"),
        "{text}"
    );
    assert!(
        text.contains("[REDACTED:codename]") && !text.to_lowercase().contains("falcon"),
        "{text}"
    );
    assert!(
        text.contains("sk-abcdefghijklmnopqrstuvwx"),
        "the detector is off: {text}"
    );
    assert_eq!(
        after["details"]["policy"]["redactions"]["customer_id"], 1,
        "{}",
        after["details"]["policy"]
    );
    let tool: Value = read_span(&server, &token, &trace_id(2), "0000000000000003")
        .await
        .json()
        .await
        .unwrap();
    assert!(tool["diff"].as_str().unwrap().len() <= 512);
    assert_eq!(
        tool["details"]["policy"]["truncated"][0]["original_bytes"],
        diff.len()
    );

    // Content capture per service.
    send_spans(
        &server,
        &token,
        "billing-bot",
        vec![request(&trace_id(3), "0000000000000004")],
    )
    .await;
    let billing: Value = read_span(&server, &token, &trace_id(3), "0000000000000004")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(billing["prompt"], Value::Null, "{billing}");
    assert!(
        !billing.to_string().contains("CUST"),
        "nothing of the content is kept"
    );
    assert_eq!(billing["details"]["policy"]["capture"], "none");

    // Sampling: the noisy service's spans are left out and counted, its error kept.
    let noisy: Vec<Value> = (0..4)
        .map(|n| {
            span(
                &trace_id(10 + n),
                &format!("{:016x}", 100 + n),
                None,
                "poll",
                (NOW, SECOND),
                n == 3,
                json!({"http.method": "GET"}),
            )
        })
        .collect();
    send_spans(&server, &token, "noisy", noisy).await;
    assert_eq!(
        read_span(&server, &token, &trace_id(10), "0000000000000064")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        read_span(&server, &token, &trace_id(13), "0000000000000067")
            .await
            .status(),
        StatusCode::OK
    );
    let dropped = get_json(&server, &token, "/api/v1/governance/dropped-spans").await;
    assert_eq!(dropped[0]["reason"], "sampled_out", "{dropped}");
    assert_eq!(dropped[0]["spans"], 3);

    // The span size limit cuts the longest values until the span fits.
    let limited = json!({"limits": {"max_span_bytes": 4096}});
    save(&owner, &org, limited, "small spans").await;
    let long = "word ".repeat(4000);
    send_spans(
        &server,
        &token,
        "agent",
        vec![span(
            &trace_id(20),
            "0000000000000020",
            None,
            "chat gpt-4o",
            (NOW, SECOND),
            false,
            json!({"gen_ai.operation.name": "chat", "prompt": long.clone(), "completion": long}),
        )],
    )
    .await;
    let cut: Value = read_span(&server, &token, &trace_id(20), "0000000000000020")
        .await
        .json()
        .await
        .unwrap();
    let kept = cut["details"]["attributes"].to_string().len();
    assert!(kept < 6_000, "about 4 KiB of attributes kept, not {kept}");
    assert_eq!(cut["details"]["policy"]["truncated"].as_array().unwrap().len(), 2);

    // The page says what is in force.
    let page = owner.get("/policies").await.text().await.unwrap();
    assert!(
        page.contains("Version 2"),
        "the Policies page shows the version in force"
    );
    server.stop().await;
}

async fn versions_keep_every_save_and_restores_are_new_versions(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (owner, org, token) = signed_in_tenant(&server, "owner@versions.example", &["ingest", "read"]).await;
    let current = get_json(&server, &token, "/api/v1/governance/policies").await;
    assert_eq!(current["version"], 0);
    assert_eq!(current["document"]["sampling"]["percent"], 100.0);

    save(&owner, &org, json!({"sampling": {"percent": 50}}), "half").await;
    let second = save(
        &owner,
        &org,
        json!({"sampling": {"percent": 10}, "retention": {"spans_days": 30}}),
        "a tenth",
    )
    .await;
    assert_eq!(second["version"], 2);
    let paths: Vec<&str> = second["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["retention.spans_days", "sampling.percent"], "{second}");
    assert_eq!(second["changes"][1]["before"], 50.0);
    assert_eq!(second["changes"][1]["after"], 10.0);

    let restored = owner
        .post(
            &format!("/api/v1/governance/policies/versions/1/restore?org={org}"),
            json!({}),
        )
        .await;
    assert_eq!(restored.status(), StatusCode::CREATED);
    let restored: Value = restored.json().await.unwrap();
    assert_eq!(restored["version"], 3);
    assert_eq!(restored["restored_from"], 1);
    assert_eq!(restored["document"]["sampling"]["percent"], 50.0);
    assert_eq!(restored["document"]["retention"]["spans_days"], Value::Null);

    let versions = get_json(&server, &token, "/api/v1/governance/policies/versions").await;
    let numbers: Vec<i64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2, 1]);
    assert_eq!(versions[2]["comment"], "half");
    assert_eq!(versions[2]["author"], "owner@versions.example");
    let first = get_json(&server, &token, "/api/v1/governance/policies/versions/1").await;
    assert_eq!(first["document"]["sampling"]["percent"], 50.0);
    assert_error(
        common::get_with_token(&server, &token, "/api/v1/governance/policies/versions/9").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let audit: Value = owner
        .get(&format!("/api/v1/orgs/{org}/audit?action=policy."))
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["policy.restored", "policy.saved", "policy.saved"]);
    assert_eq!(
        audit["entries"][1]["detail"]["changes"][1]["path"],
        "sampling.percent"
    );
    server.stop().await;
}

async fn viewers_read_but_cannot_edit_and_tenants_stay_apart(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (owner, org, _) = signed_in_tenant(&server, "owner@rights.example", &["read"]).await;
    let (viewer, _) = add_member(&server, &owner, &org, "viewer@rights.example", "viewer").await;
    let policies = format!("/api/v1/governance/policies?org={org}");
    assert_eq!(viewer.get(&policies).await.status(), StatusCode::OK);
    let body = json!({"document": {"sampling": {"percent": 1}}});
    assert_error(
        viewer.post(&policies, body.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        viewer
            .post(
                &format!("/api/v1/governance/policies/versions/0/restore?org={org}"),
                json!({}),
            )
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let stranger = server.browser();
    stranger.sign_up("stranger@rights.example").await;
    assert_error(stranger.get(&policies).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(
        stranger.post(&policies, body).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    for (document, named) in [
        (json!({"sampling": {"percent": 150}}), "sampling.percent"),
        (
            json!({"redaction": {"rules": [{"id": "x", "kind": "regex", "pattern": "(", "label": "x"}]}}),
            "redaction.rules[0]",
        ),
        (
            json!({"redaction": {"detectors": {"nope": false}}}),
            "unknown field `nope`",
        ),
        (
            json!({"limits": {"max_value_bytes": 1}}),
            "limits.max_value_bytes",
        ),
        (json!({"retentoin": {}}), "unknown field"),
    ] {
        let response = owner.post(&policies, json!({"document": document})).await;
        let error = assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{message}");
    }
    let current: Value = owner.get(&policies).await.json().await.unwrap();
    assert_eq!(current["version"], 0, "nothing refused was saved");

    // The page's own form (a plain post, as without JavaScript) comes back
    // to the page with the error shown, not to a bare error document.
    let page = owner.get("/policies").await.text().await.unwrap();
    let action = page
        .split("action=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .find(|action| action.contains("save_policy"))
        .expect("the editor posts to save_policy")
        .to_owned();
    let refused = owner
        .client
        .post(owner.url(&action))
        .header(reqwest::header::ACCEPT, "text/html")
        .header(reqwest::header::REFERER, owner.url("/policies"))
        .header(reqwest::header::ORIGIN, owner.url(""))
        .form(&[
            ("org_id", org.as_str()),
            ("document", r#"{"sampling": {"percent": 250}}"#),
            ("comment", ""),
        ])
        .send()
        .await
        .unwrap();
    assert!(refused.url().path().ends_with("/policies"), "{}", refused.url());
    assert!(
        refused
            .url()
            .query()
            .is_some_and(|query| query.contains("__err="))
    );
    let shown = refused.text().await.unwrap();
    assert!(
        shown.contains("form-error") && shown.contains("sampling.percent must be 0 to 100"),
        "{shown}"
    );
    server.stop().await;
}

async fn save_on_one_replica_governs_another() {
    let server = TestServer::start(Backend::Postgres).await;
    let replica = server.replica().await;
    let (owner, org, token) = signed_in_tenant(&server, "owner@replicas.example", &["ingest", "read"]).await;
    let org_id: uuid::Uuid = org.parse().unwrap();
    let prompt_span = |trace: &str| {
        span(
            trace,
            "00000000000000aa",
            None,
            "chat",
            (NOW, SECOND),
            false,
            json!({"gen_ai.operation.name": "chat", "prompt": "order CUST-654321"}),
        )
    };
    // The replica has the defaults in memory.
    send_spans(&replica, &token, "agent", vec![prompt_span(&trace_id(1))]).await;
    assert_eq!(
        replica
            .state
            .policies
            .for_org(&replica.state.db, org_id)
            .await
            .unwrap()
            .version,
        0
    );

    save(&owner, &org, policy(), "rules").await;
    // Told by NOTIFY, not by a timer: the replica's book has no expiry.
    let deadline = Instant::now() + Duration::from_secs(10);
    while replica
        .state
        .policies
        .for_org(&replica.state.db, org_id)
        .await
        .unwrap()
        .version
        != 1
    {
        assert!(Instant::now() < deadline, "the replica never heard of the save");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    send_spans(&replica, &token, "agent", vec![prompt_span(&trace_id(2))]).await;
    let stored: Value = read_span(&server, &token, &trace_id(2), "00000000000000aa")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        stored["prompt"]
            .as_str()
            .unwrap()
            .contains("[REDACTED:customer_id]"),
        "{stored}"
    );
    replica.stop().await;
    server.stop().await;
}

async fn a_dry_run_foresees_what_a_save_then_does(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (owner, org, token) = signed_in_tenant(&server, "owner@dryrun.example", &["ingest", "read"]).await;
    let spans = |suffix: u32| -> Vec<Value> {
        (0..20u32)
            .map(|n| {
                let prompt = if n % 2 == 0 {
                    format!("refund CUST-{n:06} please")
                } else {
                    "hello there".to_owned()
                };
                span(
                    &spread_trace_id(n + 1),
                    &format!("{n:08x}{suffix:08x}"),
                    None,
                    "chat",
                    (NOW + i64::from(n) * SECOND, SECOND),
                    n == 7,
                    json!({"gen_ai.operation.name": "chat", "prompt": prompt}),
                )
            })
            .collect()
    };
    send_spans(&server, &token, "agent", spans(1)).await;
    let draft = json!({
        "redaction": {"rules": [{"id": "customer", "kind": "regex", "pattern": "CUST-[0-9]{6}", "label": "customer_id"}]},
        "sampling": {"percent": 50, "keep_errors": true},
        "guardrails": {"blocked_patterns": [{"id": "refunds", "kind": "literal", "pattern": "refund", "reason": "no refunds"}]},
    });
    let response = owner
        .post(
            &format!("/api/v1/governance/policies/dry-run?org={org}"),
            json!({"document": draft}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let dry: Value = response.json().await.unwrap();
    assert_eq!(dry["spans_checked"], 20, "{dry}");
    assert_eq!(dry["would_redact"], 10);
    assert_eq!(dry["would_flag"], 10);
    let sampled_out = dry["would_sample_out"].as_u64().unwrap();
    assert!((3..=17).contains(&sampled_out), "about half: {sampled_out}");
    let listed: std::collections::BTreeMap<String, Value> = dry["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|span| (span["trace_id"].as_str().unwrap().to_owned(), span.clone()))
        .collect();
    assert_eq!(
        get_json(&server, &token, "/api/v1/governance/policies").await["version"],
        0,
        "a dry run saves nothing"
    );

    // Saved, the draft does to the same traces' new spans what the dry run said.
    save(&owner, &org, draft, "as tried").await;
    send_spans(&server, &token, "agent", spans(2)).await;
    for n in 0..20u32 {
        let trace = spread_trace_id(n + 1);
        let foreseen = listed.get(&trace);
        let out = foreseen.is_some_and(|span| span["sampled_out"] == true);
        let response = read_span(&server, &token, &trace, &format!("{n:08x}{:08x}", 2)).await;
        if out {
            assert_eq!(
                response.status(),
                StatusCode::NOT_FOUND,
                "span {n} was foreseen sampled out"
            );
            continue;
        }
        assert_eq!(response.status(), StatusCode::OK, "span {n} was foreseen kept");
        let stored: Value = response.json().await.unwrap();
        let redacted = stored["details"]["policy"]["redactions"]["customer_id"]
            .as_u64()
            .unwrap_or(0);
        let foreseen_redactions =
            foreseen.map_or(0, |span| span["redactions"]["customer_id"].as_u64().unwrap_or(0));
        assert_eq!(redacted, foreseen_redactions, "span {n}");
    }
    let bad = owner
        .post(
            &format!("/api/v1/governance/policies/dry-run?org={org}"),
            json!({"document": {"sampling": {"percent": -1}}}),
        )
        .await;
    assert_error(bad, StatusCode::BAD_REQUEST, "bad_request").await;
    server.stop().await;
}
