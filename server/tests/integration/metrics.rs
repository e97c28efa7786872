//! `/metrics`: who may read it, that it counts what ingest did, and that
//! the shipped Grafana dashboard and Prometheus alert rules name only
//! metrics the server exports. Each test runs a `specula serve` process of
//! its own, so the figures are exactly its requests' (the in-process test
//! servers share one recorder).

use std::collections::{BTreeMap, BTreeSet};

use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, trace_service_client::TraceServiceClient},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span},
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{self, Backend, Browser, ServeProcess, TestDatabase, assert_error, first_org};

#[test]
fn only_metrics_tokens_and_instance_admins_read_metrics_and_they_count_ingest() {
    common::runtime().block_on(reading_and_counting());
}

#[test]
fn the_dashboard_and_alert_rules_name_only_exported_metrics() {
    common::runtime().block_on(dashboards_name_exported_metrics());
}

/// The samples of an exposition: `name{labels}` → value (labels as written, sorted).
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            let series = match series.split_once('{') {
                Some((name, labels)) => {
                    let mut labels: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                    labels.sort_unstable();
                    format!("{name}{{{}}}", labels.join(","))
                }
                None => series.to_owned(),
            };
            (series, value.parse::<f64>().expect("a number"))
        })
        .collect()
}

/// The names of the metric families an exposition holds (histograms by their family name).
fn families(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .map(|line| line.split(' ').next().unwrap().to_owned())
        .collect()
}

async fn scrape_open(address: &str) -> String {
    let response = reqwest::get(format!("http://{address}/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    response.text().await.unwrap()
}

async fn mint(browser: &Browser, org: &str, scopes: &[&str]) -> reqwest::Response {
    browser
        .post(
            &format!("/api/v1/orgs/{org}/tokens"),
            json!({"name": "monitoring", "scopes": scopes}),
        )
        .await
}

async fn secret_of(response: reqwest::Response) -> String {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["secret"].as_str().unwrap().to_owned()
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

/// Three good spans and one that ends before it starts, over OTLP/HTTP.
fn http_export() -> Vec<u8> {
    let start = now_ns() - 1_000_000_000;
    let trace = "5b8efff798038103d269b633813fc60c";
    let mut spans: Vec<Value> = ["eee19b7ec3c1b174", "eee19b7ec3c1b175", "eee19b7ec3c1b176"]
        .iter()
        .map(|id| {
            common::span(
                trace,
                id,
                None,
                "chat gpt-4o",
                (start, 1_000_000),
                false,
                json!({}),
            )
        })
        .collect();
    let mut backwards = common::span(
        trace,
        "eee19b7ec3c1b177",
        None,
        "bad",
        (start, 0),
        false,
        json!({}),
    );
    backwards["endTimeUnixNano"] = json!((start - 5).to_string());
    spans.push(backwards);
    common::export("agent", spans)
}

/// Two spans over OTLP/gRPC.
fn grpc_export() -> ExportTraceServiceRequest {
    let start = now_ns() as u64 - 1_000_000_000;
    let span = |id: u8| Span {
        trace_id: vec![7; 16],
        span_id: vec![id; 8],
        name: "tool call".to_owned(),
        start_time_unix_nano: start,
        end_time_unix_nano: start + 2_000_000,
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource::default()),
            scope_spans: vec![ScopeSpans {
                spans: vec![span(1), span(2)],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Exports over both transports, a refused one, a page and an API call.
async fn exercise(process: &ServeProcess, ingest_token: &str) {
    assert_eq!(
        process.send(ingest_token, http_export()).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        process.send(ingest_token, b"{not json".to_vec()).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        process.send("spk_not_a_token", http_export()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let mut client = TraceServiceClient::connect(format!("http://{}", process.grpc_addr))
        .await
        .unwrap();
    let mut request = tonic::Request::new(grpc_export());
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {ingest_token}").parse().unwrap());
    client.export(request).await.unwrap();
    assert_eq!(
        client
            .export(tonic::Request::new(grpc_export()))
            .await
            .unwrap_err()
            .code(),
        tonic::Code::Unauthenticated
    );
    let page = reqwest::get(format!("{}/", process.base)).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}

async fn reading_and_counting() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let metrics_address = format!("127.0.0.1:{}", common::free_port());
    let process = ServeProcess::start(&database.url, &[&format!("--metrics-listen={metrics_address}")]).await;
    // The installation's first user is its administrator; the second is not.
    let admin = process.browser();
    let admin_org = first_org(&admin.sign_up("ada@example.com").await);
    let member = process.browser();
    let member_org = first_org(&member.sign_up("bob@example.com").await);

    assert_error(
        mint(&member, &member_org, &["metrics"]).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let metrics_token = secret_of(mint(&admin, &admin_org, &["metrics"]).await).await;
    let ingest_token = secret_of(mint(&admin, &admin_org, &["ingest", "read"]).await).await;

    let scrape_with = |token: Option<&str>| {
        let mut request = reqwest::Client::new().get(format!("{}/metrics", process.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_error(
        scrape_with(None).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_error(
        scrape_with(Some(&ingest_token)).await.unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(member.get("/metrics").await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(admin.get("/metrics").await.status(), StatusCode::OK);
    let with_token = scrape_with(Some(&metrics_token)).await.unwrap();
    assert_eq!(with_token.status(), StatusCode::OK);
    assert!(with_token.text().await.unwrap().contains("specula_build_info"));

    exercise(&process, &ingest_token).await;
    for path in ["/pkg/nothing-here.js", "/nowhere/0192f3a4"] {
        let missing = reqwest::get(format!("{}{path}", process.base)).await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let text = scrape_open(&metrics_address).await;
    let figures = samples(&text);
    let figure = |series: &str| {
        *figures
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert_eq!(figure(r#"specula_spans_received_total{transport="http"}"#), 4.0);
    assert_eq!(figure(r#"specula_spans_accepted_total{transport="http"}"#), 3.0);
    assert_eq!(
        figure(r#"specula_spans_rejected_total{reason="invalid",transport="http"}"#),
        1.0
    );
    assert_eq!(figure(r#"specula_spans_received_total{transport="grpc"}"#), 2.0);
    assert_eq!(figure(r#"specula_spans_accepted_total{transport="grpc"}"#), 2.0);
    for (series, count) in [
        (r#"signal="traces",status="200",transport="http""#, 1.0),
        (r#"signal="traces",status="400",transport="http""#, 1.0),
        (r#"signal="traces",status="401",transport="http""#, 1.0),
        (r#"signal="traces",status="Ok",transport="grpc""#, 1.0),
        (
            r#"signal="traces",status="Unauthenticated",transport="grpc""#,
            1.0,
        ),
    ] {
        assert_eq!(
            figure(&format!("specula_export_requests_total{{{series}}}")),
            count,
            "{series}"
        );
    }
    assert_eq!(
        figure(r#"specula_grpc_request_duration_seconds_count{code="Ok",method="TraceService/Export"}"#),
        1.0
    );
    assert_eq!(
        figure(
            r#"specula_http_request_duration_seconds_count{method="POST",route="/v1/traces",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        figure(r#"specula_http_request_duration_seconds_count{method="GET",route="/",status="200"}"#),
        1.0
    );
    // Paths no route names are two series, not one per path.
    for route in ["/pkg/{file}", "unmatched"] {
        let series = format!(
            r#"specula_http_request_duration_seconds_count{{method="GET",route="{route}",status="404"}}"#
        );
        assert_eq!(figure(&series), 1.0);
    }
    // Two exports committed (maybe together); the 400 and 401 never reached the writer.
    let commits = figure(r#"specula_ingest_commit_duration_seconds_count{outcome="ok"}"#);
    assert!((1.0..=2.0).contains(&commits), "{commits} commits");
    assert_eq!(figure("specula_ingest_batch_rows_sum"), 5.0);
    assert_eq!(figure("specula_ingest_queue_depth"), 0.0);
    assert_eq!(figure("specula_ingest_queue_capacity"), 256.0);
    assert_eq!(figure("specula_live_tail_listeners"), 0.0);
    assert!(figure("specula_db_pool_max_connections") >= 1.0);
    assert!(figure("process_resident_memory_bytes") > 1_000_000.0);
    assert_eq!(
        figure(&format!(
            r#"specula_build_info{{version="{}"}}"#,
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );
    // The session cleanup passes at start: its lag is seconds, not unset.
    assert!(figure(r#"specula_job_lag_seconds{name="session_cleanup"}"#) < 60.0);
    assert!(figure(r#"specula_job_runs_total{name="session_cleanup",outcome="ok"}"#) >= 1.0);
    // No series carries an organization or a path with an id in it.
    assert!(!text.contains(&admin_org) && !text.contains(&member_org));
    process.stop();
    database.drop_database().await;
}

/// The metric names in `expr` (a PromQL expression): Specula's own and the
/// process collector's; histogram series are named by their family.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = ["specula_", "process_"]
        .iter()
        .filter_map(|prefix| rest.find(prefix))
        .min()
    {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        let family = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(&name);
        names.insert(family.to_owned());
    }
    names
}

/// Every `expr` of the dashboard's panels and variables.
fn dashboard_expressions(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                match (key.as_str(), field) {
                    ("expr" | "definition", Value::String(expr)) => found.push(expr.clone()),
                    _ => dashboard_expressions(field, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| dashboard_expressions(item, found)),
        _ => {}
    }
}

async fn dashboards_name_exported_metrics() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(docs.join("grafana/specula.json")).unwrap()).unwrap();
    let mut expressions = Vec::new();
    dashboard_expressions(&dashboard, &mut expressions);
    let rules = std::fs::read_to_string(docs.join("prometheus/alerts.yml")).unwrap();
    let named: BTreeSet<String> = expressions
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(rules.as_str()))
        .flat_map(metric_names)
        .collect();
    assert!(named.len() >= 15, "{named:?}");

    let database = TestDatabase::create(Backend::Postgres).await;
    let metrics_address = format!("127.0.0.1:{}", common::free_port());
    let process = ServeProcess::start(&database.url, &[&format!("--metrics-listen={metrics_address}")]).await;
    let owner = process.browser();
    let org = first_org(&owner.sign_up("ada@example.com").await);
    let ingest_token = secret_of(mint(&owner, &org, &["ingest"]).await).await;
    exercise(&process, &ingest_token).await;
    let exported = families(&scrape_open(&metrics_address).await);
    let missing: Vec<&String> = named.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "named but not exported: {missing:?}\nexported: {exported:?}"
    );
    process.stop();
    database.drop_database().await;
}

#[test]
fn names_are_read_from_expressions() {
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.99, sum by (le) (rate(specula_ingest_commit_duration_seconds_bucket{x="specula_not"}[5m]))) / process_max_fds"#
        ),
        [
            "process_max_fds",
            "specula_ingest_commit_duration_seconds",
            "specula_not"
        ]
        .map(String::from)
        .into()
    );
}
