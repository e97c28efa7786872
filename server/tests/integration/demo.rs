//! "Run demo" and "Remove demo data": the demo workload goes in through
//! OTLP ingest and shows on every page (spans, traces, search, costs by
//! model and token, GenAI metrics), and its removal deletes exactly what it
//! added, leaving the organization's own telemetry as it was. Only admins
//! may do either, and only in their own organization. On SQLite and
//! PostgreSQL.

use crate::common;

use common::{
    Backend, TestServer, add_member, assert_error, export, get_json, post_otlp, signed_in_tenant, span,
};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

on_every_backend!(
    the_demo_shows_everywhere_and_its_removal_leaves_only_the_rest,
    only_admins_of_the_organization_run_or_remove_the_demo,
);

const SECOND: i64 = 1_000_000_000;

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

/// Rows of `table` the organization has.
async fn rows(db: &DatabaseConnection, table: &str, org: &str) -> i64 {
    let backend = db.get_database_backend();
    let (sql, org_value): (String, sea_orm::Value) = match backend {
        sea_orm::DatabaseBackend::Postgres => (
            format!("SELECT COUNT(*) AS n FROM {table} WHERE org_id = $1"),
            uuid::Uuid::parse_str(org).unwrap().into(),
        ),
        _ => (
            format!("SELECT COUNT(*) AS n FROM {table} WHERE org_id = ?"),
            uuid::Uuid::parse_str(org).unwrap().into(),
        ),
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [org_value]))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

const TABLES: [&str; 9] = [
    "spans",
    "traces",
    "metric_points",
    "metric_rollups",
    "usage_rollups",
    "usage_daily_rollups",
    "api_tokens",
    "prompts",
    "prompt_spans",
];

/// Waits until the similarity worker has looked at every stored span.
async fn similarity_caught_up(db: &DatabaseConnection) {
    let sql = "SELECT CASE WHEN position >= (SELECT COALESCE(MAX(id), 0) FROM spans) THEN 1 ELSE 0 END AS n \
               FROM similarity_worker";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned()))
            .await
            .unwrap()
            .unwrap();
        if row.try_get::<i32>("", "n").unwrap() == 1 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the similarity worker did not catch up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn table_counts(db: &DatabaseConnection, org: &str) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for table in TABLES {
        counts.push((table, rows(db, table, org).await));
    }
    counts
}

/// The organization's own telemetry: one priced model call and one GenAI metric point.
async fn own_telemetry(server: &TestServer, token: &str) {
    let start = now_ns() - 3600 * SECOND;
    let call = span(
        "0123456789abcdef0123456789abcdef",
        "0123456789abcdef",
        None,
        "chat gpt-4o",
        (start, SECOND),
        false,
        json!({
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 100,
            "gen_ai.input.messages": "why is the parser so slow",
        }),
    );
    let response = post_otlp(
        server,
        "/v1/traces",
        token,
        "application/json",
        export("mine", vec![call]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let metrics = json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "mine"}}]},
        "scopeMetrics": [{"metrics": [{
            "name": "gen_ai.client.token.usage", "unit": "{token}",
            "histogram": {"aggregationTemporality": 1, "dataPoints": [{
                "attributes": [{"key": "gen_ai.token.type", "value": {"stringValue": "input"}},
                               {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}}],
                "startTimeUnixNano": start.to_string(), "timeUnixNano": (start + 60 * SECOND).to_string(),
                "count": "1", "sum": 1000.0, "bucketCounts": ["0", "1"], "explicitBounds": [500.0],
            }]},
        }]}],
    }]});
    let response = post_otlp(
        server,
        "/v1/metrics",
        token,
        "application/json",
        metrics.to_string().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn the_demo_shows_everywhere_and_its_removal_leaves_only_the_rest(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (browser, org, token) = signed_in_tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    let demo_path = format!("/api/v1/orgs/{org}/demo");
    own_telemetry(&server, &token).await;
    let db = Database::connect(server.database_url()).await.unwrap();
    similarity_caught_up(&db).await;
    // A second replica, whose prompt index must forget what the first deletes.
    let replica = server.replica().await;
    let before = table_counts(&db, &org).await;
    assert_error(browser.get(&demo_path).await, StatusCode::NOT_FOUND, "not_found").await;

    let response = browser.post(&demo_path, json!({})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let added: Value = response.json().await.unwrap();
    assert_eq!(added["traces"], 300);
    let spans = added["spans"].as_i64().unwrap();
    assert!(spans > 1500, "{added}");
    assert!(added["metric_points"].as_i64().unwrap() > 100, "{added}");
    assert_eq!(added["added_by"], "ada@example.com");
    let marker = added["marker"].as_str().unwrap().to_owned();
    assert_eq!(
        browser.get(&demo_path).await.json::<Value>().await.unwrap(),
        added
    );
    assert_error(
        browser.post(&demo_path, json!({})).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    similarity_caught_up(&db).await;
    let during = table_counts(&db, &org).await;
    assert_eq!(during[0].1, before[0].1 + spans, "every demo span is stored");
    assert!(during[7].1 > before[7].1, "the demo's prompts are compared too");

    // Spans and traces: three demo services, errors, tool diffs, sessions.
    let listed = get_json(&server, &token, "/api/v1/spans?limit=500&service=demo-code-agent").await;
    let listed = listed["spans"].as_array().unwrap();
    assert!(!listed.is_empty());
    assert!(
        listed
            .iter()
            .all(|span| span["trace_id"].as_str().unwrap().starts_with(&marker))
    );
    let errors = get_json(&server, &token, "/api/v1/spans?status=error&limit=500").await;
    assert!(errors["spans"].as_array().unwrap().len() > 10);
    assert!(
        listed
            .iter()
            .any(|span| span["session_id"].is_string() && span["end_user_id"].is_string()),
        "sessions and end users"
    );
    let traces = get_json(&server, &token, "/api/v1/traces?limit=500").await;
    assert_eq!(traces["traces"].as_array().unwrap().len(), 301);
    let patched = listed
        .iter()
        .find(|span| span["tool_name"] == "apply_patch")
        .expect("a patch");
    let detail = get_json(
        &server,
        &token,
        &format!(
            "/api/v1/traces/{}/spans/{}",
            patched["trace_id"].as_str().unwrap(),
            patched["span_id"].as_str().unwrap()
        ),
    )
    .await;
    assert!(
        detail["diff"].as_str().unwrap().starts_with("diff --git"),
        "{detail}"
    );
    let found = get_json(&server, &token, "/api/v1/spans?q=parser&limit=500").await;
    let found = found["spans"].as_array().unwrap();
    assert!(found.len() > 1, "the demo's prompts are searchable");

    // Costs: four models from two providers, priced, and the demo's token.
    let since = format!(
        "since={}",
        (chrono::Utc::now() - chrono::Duration::days(10)).format("%Y-%m-%dT%H:%M:%SZ")
    );
    let since = since.as_str();
    let by_model = get_json(&server, &token, &format!("/api/v1/usage?group_by=model&{since}")).await;
    let models: std::collections::BTreeSet<&str> = by_model["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["usage"]["cost_nanos"].as_i64().unwrap() > 0)
        .filter_map(|row| row["model"].as_str())
        .collect();
    for model in [
        "gpt-4o-2024-08-06",
        "o4-mini-2025-04-16",
        "claude-sonnet-4-5-20250929",
        "claude-haiku-4-5-20251001",
    ] {
        assert!(models.contains(model), "{model} priced in {models:?}");
    }
    let by_token = get_json(&server, &token, &format!("/api/v1/usage?group_by=token&{since}")).await;
    let usage_of = |name: &str| -> Vec<Value> {
        by_token["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|row| row["token_name"] == name)
            .cloned()
            .collect()
    };
    let demo_usage = usage_of("Demo data");
    assert!(!demo_usage.is_empty());
    assert!(
        demo_usage
            .iter()
            .any(|row| row["usage"]["reasoning_tokens"].as_i64().unwrap() > 0)
    );
    assert!(
        demo_usage
            .iter()
            .any(|row| row["usage"]["cache_read_tokens"].as_i64().unwrap() > 0)
    );
    let costs_page = browser.get("/costs?range=7d").await.text().await.unwrap();
    assert!(
        costs_page.contains("claude-sonnet-4-5"),
        "the Costs page charts the demo"
    );
    assert!(
        costs_page.contains("data-testid=\"chart-metric-tokens-by-model\""),
        "the Costs page charts the demo's GenAI metrics"
    );

    let response = browser.delete(&demo_path).await;
    assert_eq!(response.status(), StatusCode::OK);
    let removed: Value = response.json().await.unwrap();
    assert_eq!(removed["traces"], 300);
    assert_eq!(removed["spans"], spans);
    assert_eq!(removed["metric_points"], added["metric_points"]);
    assert_eq!(
        table_counts(&db, &org).await,
        before,
        "exactly what the demo added is gone"
    );
    // Every replica's index forgets the demo's prompts, not only the one
    // that removed them.
    let org_id: uuid::Uuid = org.parse().unwrap();
    let prompts_left = before[7].1 as usize;
    for replica in [&server, &replica] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while replica.state.prompts.len(org_id) != prompts_left {
            assert!(
                std::time::Instant::now() < deadline,
                "an index still holds {} prompts, not {prompts_left}",
                replica.state.prompts.len(org_id)
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    assert_error(browser.get(&demo_path).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(
        browser.delete(&demo_path).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let found = get_json(&server, &token, "/api/v1/spans?q=parser&limit=500").await;
    let found = found["spans"].as_array().unwrap();
    assert_eq!(found.len(), 1, "only the organization's own span is still found");
    assert!(usage_of_after(&server, &token, since).await);
    let audit: Vec<String> = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT action FROM audit_log WHERE action LIKE 'demo.%' ORDER BY id".to_owned(),
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "action").unwrap())
        .collect();
    assert_eq!(audit, ["demo.add", "demo.remove"]);

    // The demo can be run again once removed.
    assert_eq!(
        browser.post(&demo_path, json!({})).await.status(),
        StatusCode::CREATED
    );
    drop(replica.stop_keeping_database().await);
    server.stop().await;
}

/// True when the usage by token holds only the organization's own token.
async fn usage_of_after(server: &TestServer, token: &str, since: &str) -> bool {
    let by_token = get_json(server, token, &format!("/api/v1/usage?group_by=token&{since}")).await;
    let rows = by_token["rows"].as_array().unwrap();
    !rows.is_empty() && rows.iter().all(|row| row["token_name"] == "sdk")
}

async fn only_admins_of_the_organization_run_or_remove_the_demo(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (owner, org, _) = signed_in_tenant(&server, "ada@example.com", &["read"]).await;
    let (other_owner, other_org, _) = signed_in_tenant(&server, "eve@example.com", &["read"]).await;
    let (member, _) = add_member(&server, &owner, &org, "bob@example.com", "member").await;
    let demo_path = format!("/api/v1/orgs/{org}/demo");

    assert_error(
        member.post(&demo_path, json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        other_owner.post(&demo_path, json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        owner.post(&demo_path, json!({})).await.status(),
        StatusCode::CREATED
    );
    // Members see that there is demo data, but cannot remove it; strangers see nothing.
    assert_eq!(member.get(&demo_path).await.status(), StatusCode::OK);
    assert_error(
        member.delete(&demo_path).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        other_owner.get(&demo_path).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        other_owner.delete(&demo_path).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // The other organization's own demo is its own.
    assert_error(
        other_owner.get(&format!("/api/v1/orgs/{other_org}/demo")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let removed = owner.delete(&demo_path).await;
    let status = removed.status();
    assert_eq!(status, StatusCode::OK, "{}", removed.text().await.unwrap());
    server.stop().await;
}
