//! The retention job: it deletes exactly what an organization's policy
//! says has expired (spans with their traces, the similarity log,
//! governance decisions) and nothing newer and nothing of another
//! organization; it deletes the audit log's oldest entries past 400 days
//! by default, leaving a chain that still verifies; it records what it
//! deleted in the audit log and shows its progress. On SQLite and
//! PostgreSQL, with passes every second.

use crate::common;

use std::time::{Duration, Instant};

use common::{Backend, TestServer, get_json, send_spans, span};
use entity::{audit_entry, governance_event, organization};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

on_every_backend!(retention_deletes_exactly_what_expired,);

const SECOND: i64 = 1_000_000_000;
const DAY: i64 = 86_400 * SECOND;

fn now() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap()
}

/// A trace of a request span (with a prompt) and a tool span, starting at `start`.
fn trace(number: u32, start: i64, prompt: &str) -> Vec<Value> {
    let trace_id = format!("{number:032x}");
    vec![
        span(
            &trace_id,
            "0000000000000001",
            None,
            "chat gpt-4o",
            (start, SECOND),
            false,
            json!({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "prompt": prompt}),
        ),
        span(
            &trace_id,
            "0000000000000002",
            Some("0000000000000001"),
            "execute_tool read_file",
            (start + SECOND / 10, SECOND / 2),
            false,
            json!({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "read_file"}),
        ),
    ]
}

/// `SELECT {what} FROM {table} WHERE org_id = … {and}` as a number.
async fn figure(db: &DatabaseConnection, what: &str, table: &str, org_id: Uuid, and: &str) -> i64 {
    let backend = db.get_database_backend();
    let placeholder = match backend {
        sea_orm::DatabaseBackend::Postgres => "$1",
        _ => "?",
    };
    let sql = format!("SELECT {what} AS n FROM {table} WHERE org_id = {placeholder} {and}");
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [org_id.into()]))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<Option<i64>>("", "n").unwrap().unwrap_or(0)
}

async fn rows(db: &DatabaseConnection, table: &str, org_id: Uuid) -> i64 {
    figure(db, "COUNT(*)", table, org_id, "").await
}

fn event(org_id: Uuid, at_ns: i64) -> governance_event::ActiveModel {
    governance_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org_id),
        created_at_ns: Set(at_ns),
        event_type: Set("evaluation".to_owned()),
        policy_version: Set(0),
        action: Set("allow".to_owned()),
        reasons: Set("[]".to_owned()),
        model: Set(Some("gpt-4o".to_owned())),
        routed_model: Set(Some("gpt-4o".to_owned())),
        end_user: Set(None),
        region: Set(None),
        service: Set(None),
        token_id: Set(None),
        user_id: Set(None),
        prompt_chars: Set(5),
        prompt_sha256: Set("0".repeat(64)),
        estimated_cost_nanos: Set(None),
    }
}

async fn similarity_log(db: &DatabaseConnection, org_id: Uuid, at_ns: i64) {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "INSERT INTO prompt_sim_logs (org_id, prompt_hash, matched_prompt_hash, score, flagged, reason, \
             trace_id, span_id, time_ns) VALUES ($1, 'a', 'b', 0.9, TRUE, 'pattern', 't', 's', $2)"
        }
        _ => {
            "INSERT INTO prompt_sim_logs (org_id, prompt_hash, matched_prompt_hash, score, flagged, reason, \
             trace_id, span_id, time_ns) VALUES (?, 'a', 'b', 0.9, TRUE, 'pattern', 't', 's', ?)"
        }
    };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [org_id.into(), at_ns.into()],
    ))
    .await
    .unwrap();
}

/// An organization made in the database with an audit log whose first
/// three entries are 500 days old and whose fourth is a day old, chained.
async fn organization_with_an_old_audit_log(db: &DatabaseConnection) -> Uuid {
    let org_id = Uuid::new_v4();
    organization::ActiveModel {
        id: Set(org_id),
        name: Set("Old Co".to_owned()),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(db)
    .await
    .unwrap();
    let mut prev_hash = String::new();
    for seq in 1..=4 {
        let at_ns = if seq < 4 {
            now() - 500 * DAY + seq
        } else {
            now() - DAY
        };
        let mut entry = audit_entry::Model {
            id: 0,
            org_id,
            seq,
            actor_user_id: None,
            actor_token_id: None,
            actor: "Specula".to_owned(),
            action: "prices.updated".to_owned(),
            summary: format!("change {seq}"),
            detail: "{}".to_owned(),
            at_ns,
            client_address: None,
            user_agent: None,
            prev_hash: prev_hash.clone(),
            hash: String::new(),
        };
        entry.hash = entry.chain_hash();
        prev_hash = entry.hash.clone();
        let mut row: audit_entry::ActiveModel = entry.into();
        row.id = sea_orm::ActiveValue::NotSet;
        row.insert(db).await.unwrap();
    }
    org_id
}

async fn retention_deletes_exactly_what_expired(backend: Backend) {
    let server = TestServer::start_with(backend, &["--retention-interval=1s"]).await;
    let db = Database::connect(server.database_url()).await.unwrap();
    let (owner, org, token) =
        common::signed_in_tenant(&server, "owner@retention.example", &["ingest", "read"]).await;
    let (_, other_org, other_token) =
        common::signed_in_tenant(&server, "owner@kept.example", &["ingest", "read"]).await;
    let org_id: Uuid = org.parse().unwrap();
    let other_id: Uuid = other_org.parse().unwrap();
    let now = now();

    // Three traces from 40 days ago and two from an hour ago; the other
    // organization has old traces too, and no retention.
    let mut spans = Vec::new();
    for number in 1..=3 {
        spans.extend(trace(
            number,
            now - 40 * DAY + i64::from(number) * SECOND,
            "an old question, asked once",
        ));
    }
    for number in 4..=5 {
        spans.extend(trace(
            number,
            now - 3_600 * SECOND + i64::from(number) * SECOND,
            "a recent question",
        ));
    }
    send_spans(&server, &token, "agent", spans).await;
    send_spans(
        &server,
        &other_token,
        "agent",
        (6..=7)
            .flat_map(|number| trace(number, now - 40 * DAY, "the other organization's question"))
            .collect(),
    )
    .await;
    for at_ns in [now - 40 * DAY, now - 31 * DAY, now - DAY] {
        event(org_id, at_ns).insert(&db).await.unwrap();
        event(other_id, at_ns).insert(&db).await.unwrap();
        similarity_log(&db, org_id, at_ns).await;
        similarity_log(&db, other_id, at_ns).await;
    }
    let old_org = organization_with_an_old_audit_log(&db).await;

    let saved = owner
        .post(
            &format!("/api/v1/governance/policies?org={org}"),
            json!({"document": {"retention": {"spans_days": 30, "similarity_logs_days": 30, "governance_events_days": 30}}}),
        )
        .await;
    assert_eq!(saved.status(), StatusCode::CREATED);
    let saved_at = now;

    // Wait for a pass that started after the save and finished.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let status = get_json(&server, &token, "/api/v1/governance/retention").await;
        let started = status["pass_started_at"].as_str().map(|at| {
            chrono::DateTime::parse_from_rfc3339(at)
                .unwrap()
                .timestamp_nanos_opt()
                .unwrap()
        });
        let done = started.is_some_and(|started| started >= saved_at - SECOND)
            && !status["running"].as_bool().unwrap();
        if (done && status["deleted"]["spans"] == 6) || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status["spans_days"], 30, "{status}");
    assert_eq!(status["audit_days"], 400);
    assert_eq!(
        status["deleted"],
        json!({"spans": 6, "traces": 3, "similarity_logs": 2, "governance_events": 2, "audit_entries": 0}),
        "{status}"
    );
    assert_eq!(status["total_spans_deleted"], 6);

    // Exactly the old spans and traces went; the recent ones and the other organization's stay.
    assert_eq!(rows(&db, "spans", org_id).await, 4);
    assert_eq!(rows(&db, "spans", other_id).await, 4);
    assert_eq!(rows(&db, "traces", org_id).await, 2);
    assert_eq!(rows(&db, "traces", other_id).await, 2);
    let gone = common::get_with_token(&server, &token, &format!("/api/v1/traces/{:032x}", 1)).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    get_json(&server, &token, &format!("/api/v1/traces/{:032x}", 4)).await;
    // Full-text search no longer finds the old spans (SQLite's index is a table of its own).
    let found = get_json(&server, &token, "/api/v1/spans?q=old").await;
    assert_eq!(found["spans"].as_array().unwrap().len(), 0, "{found}");
    let recent = get_json(&server, &token, "/api/v1/spans?q=recent").await;
    assert_eq!(recent["spans"].as_array().unwrap().len(), 2, "{recent}");
    // Governance decisions and similarity log entries: those older than 30 days.
    for table in ["governance_events", "prompt_sim_logs"] {
        assert_eq!(rows(&db, table, org_id).await, 1, "{table}");
        assert_eq!(rows(&db, table, other_id).await, 3, "{table}");
    }

    // The pass is in the audit log, whose chain still verifies.
    let audit = get_json(
        &server,
        &token,
        &format!("/api/v1/orgs/{org}/audit?action=retention."),
    )
    .await;
    let entry = &audit["entries"][0];
    assert_eq!(entry["action"], "retention.applied", "{audit}");
    assert_eq!(entry["actor"], "Specula");
    assert_eq!(entry["detail"]["deleted"]["spans"], 6);
    let verified = get_json(&server, &token, &format!("/api/v1/orgs/{org}/audit/verify")).await;
    assert_eq!(verified["intact"], true, "{verified}");

    // The audit log's own default: entries older than 400 days go, from the start of the chain.
    let deadline = Instant::now() + Duration::from_secs(30);
    while figure(&db, "COUNT(*)", "audit_log", old_org, "AND seq < 4").await > 0 && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let left = figure(&db, "MIN(seq)", "audit_log", old_org, "").await;
    assert_eq!(left, 4);
    let report = app::platform::services::audit::verify(&db, old_org)
        .await
        .unwrap();
    assert!(report.intact, "{report:?}");
    assert_eq!(report.first_seq, Some(4));

    // The Policies page shows the latest pass.
    let page = owner.get("/policies").await.text().await.unwrap();
    assert!(
        page.contains("Retention") && page.contains("6 spans, 3 traces"),
        "the Policies page shows the pass"
    );
    server.stop().await;
    db.close().await.ok();
}
