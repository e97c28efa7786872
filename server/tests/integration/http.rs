//! The HTTP surface of a running server: probes, pages, assets, limits,
//! server functions and graceful shutdown, on SQLite and PostgreSQL.

use crate::common;

use std::time::Duration;

use common::{Backend, TestServer};
use leptos::server_fn::ServerFn;
use reqwest::{StatusCode, header};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_every_backend!(
    healthz_reports_alive,
    readyz_reports_database_and_instance,
    readyz_is_503_when_the_database_is_gone,
    home_page_is_server_rendered_with_the_shell,
    section_pages_render_their_empty_state,
    unknown_route_renders_the_404_page,
    wasm_bundle_is_served_as_application_wasm,
    the_bundle_is_sent_precompressed_and_revalidated,
    server_function_returns_instance_info,
    oversized_body_is_refused_with_413,
    migrations_are_idempotent_and_keep_the_instance,
    shutdown_finishes_in_flight_requests,
    responses_carry_a_request_id,
    openapi_document_describes_every_route,
    openapi_document_states_what_the_server_accepts,
    empty_and_wordless_parameters_filter_nothing,
);

#[test]
fn sqlite_commits_sync_as_configured() {
    common::runtime().block_on(sqlite_synchronous());
}

/// SQLite's `synchronous` on the server's connections: 1 (NORMAL) unless
/// `--sqlite-synchronous=full` asks for 2 (FULL), and the writer's commits
/// with FULL are stored alike.
async fn sqlite_synchronous() {
    use sea_orm::{ConnectionTrait, Statement};

    for (args, expected) in [(&[][..], 1), (&["--sqlite-synchronous=full"][..], 2)] {
        let server = TestServer::start_with(Backend::Sqlite, args).await;
        let backend = server.state.db.get_database_backend();
        for _ in 0..3 {
            // Each read may take another of the pool's connections.
            let row = server
                .state
                .db
                .query_one_raw(Statement::from_string(backend, "PRAGMA synchronous"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.try_get_by_index::<i32>(0).unwrap(), expected, "{args:?}");
        }
        let (_, token) = common::tenant(&server, "ada@example.com", &["ingest", "read"]).await;
        let trace = "0af7651916cd43dd8448eb211c80319c";
        let span = common::span(
            trace,
            "b7ad6b7169203331",
            None,
            "chat",
            (1_700_000_000_000_000_000, 1_000),
            false,
            serde_json::json!({}),
        );
        common::send_spans(&server, &token, "agent", vec![span]).await;
        let stored = common::get_json(&server, &token, &format!("/api/v1/traces/{trace}")).await;
        assert_eq!(stored["trace"]["span_count"], 1, "{args:?}");
        server.stop().await;
    }
}

async fn healthz_reports_alive(backend: Backend) {
    let server = TestServer::start(backend).await;
    let response = server.get("/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    server.stop().await;
}

async fn readyz_reports_database_and_instance(backend: Backend) {
    let server = TestServer::start(backend).await;
    let response = server.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["instance_id"], server.state.instance.instance_id.to_string());
    server.stop().await;
}

async fn readyz_is_503_when_the_database_is_gone(backend: Backend) {
    let server = TestServer::start(backend).await;
    // Closing a clone closes the shared pool: every later query fails.
    server.state.db.clone().close().await.unwrap();
    let response = server.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(body["error"]["message"], "database unreachable");
    // Liveness does not depend on the database.
    assert_eq!(server.get("/healthz").await.status(), StatusCode::OK);
    server.stop().await;
}

async fn home_page_is_server_rendered_with_the_shell(backend: Backend) {
    let server = TestServer::start(backend).await;
    let response = server.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<title>Specula</title>"), "{html}");
    // Text may be followed by a hydration marker (`<!>`) before the tag closes.
    assert!(html.contains(r#"class="brand-name">Specula"#));
    for section in ["Spans", "Traces", "Costs", "Policies", "Settings"] {
        assert!(html.contains(&format!(">{section}<")), "nav lacks {section}");
    }
    assert!(html.contains(r#"data-testid="theme-toggle""#));
    let bundle = common::FAKE_BUNDLE;
    assert!(
        html.contains(&format!("/pkg/{bundle}.js")),
        "hydration script missing"
    );
    assert!(html.contains(&format!("/pkg/{bundle}_bg.wasm")), "wasm missing");
    assert!(html.contains(&format!("/pkg/{bundle}.css")), "stylesheet missing");
    // The endpoints card was resolved on the server, not left loading.
    let endpoint = format!("http://{}/v1/traces", server.addr);
    assert!(html.contains(&endpoint), "endpoint {endpoint} missing");
    server.stop().await;
}

async fn section_pages_render_their_empty_state(backend: Backend) {
    let server = TestServer::start(backend).await;
    for (path, title, expected) in [
        ("/spans", "Spans", "Sign in to continue"),
        ("/traces", "Traces", "Sign in to continue"),
        ("/costs", "Costs", "Sign in to continue"),
        ("/policies", "Policies", "Sign in to continue"),
        ("/settings/audit", "Audit log", "Sign in to continue"),
        ("/settings", "Settings", "Sign in to continue"),
        ("/login", "Log in", "name=\"password\""),
        ("/signup", "Sign up", "name=\"organization_name\""),
    ] {
        let response = server.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains(&format!("<title>{title} · Specula</title>")),
            "{path}"
        );
        assert!(html.contains(expected), "{path}: {expected}");
    }
    let html = server.get("/costs").await.text().await.unwrap();
    assert!(html.contains(r#"aria-current="page""#), "active nav link");
    server.stop().await;
}

async fn unknown_route_renders_the_404_page(backend: Backend) {
    let server = TestServer::start(backend).await;
    let response = server.get("/no/such/page").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"data-testid="not-found""#), "{html}");
    assert!(html.contains("Page not found"));
    assert!(html.contains("/no/such/page"));
    // The shell is still there: the user can navigate away.
    // Text may be followed by a hydration marker (`<!>`) before the tag closes.
    assert!(html.contains(r#"class="brand-name">Specula"#));
    // A missing asset is a plain 404 too, and not kept by the browser.
    let missing = server.get("/pkg/missing.js").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.headers().get(header::CACHE_CONTROL).is_none());
    server.stop().await;
}

async fn wasm_bundle_is_served_as_application_wasm(backend: Backend) {
    let server = TestServer::start(backend).await;
    let bundle = common::FAKE_BUNDLE;
    let response = server.get(&format!("/pkg/{bundle}_bg.wasm")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/wasm");
    assert_eq!(&response.bytes().await.unwrap()[..4], b"\0asm");
    let css = server.get(&format!("/pkg/{bundle}.css")).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(
        css.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    server.stop().await;
}

/// The build's brotli and gzip copies go to browsers that accept them, the
/// plain file to the others; every asset is named by its content, so the
/// browser keeps it for good (`immutable`), and a revalidation answers 304.
async fn the_bundle_is_sent_precompressed_and_revalidated(backend: Backend) {
    let server = TestServer::start(backend).await;
    let wasm = format!("/pkg/{}_bg.wasm", common::FAKE_BUNDLE);
    let fetch = |accept: &'static str| {
        server
            .client
            .get(server.url(&wasm))
            .header(header::ACCEPT_ENCODING, accept)
            .send()
    };
    let brotli = fetch("gzip, deflate, br, zstd").await.unwrap();
    assert_eq!(brotli.status(), StatusCode::OK);
    assert_eq!(brotli.headers()[header::CONTENT_ENCODING], "br");
    assert_eq!(brotli.headers()[header::CONTENT_TYPE], "application/wasm");
    assert_eq!(
        brotli.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let last_modified = brotli.headers()[header::LAST_MODIFIED].clone();
    assert_eq!(&brotli.bytes().await.unwrap()[..], common::FAKE_BROTLI_WASM);

    let gzip = fetch("gzip").await.unwrap();
    assert_eq!(gzip.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(&gzip.bytes().await.unwrap()[..], common::FAKE_GZIP_WASM);

    let plain = fetch("identity").await.unwrap();
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(&plain.bytes().await.unwrap()[..4], b"\0asm");

    let again = server
        .client
        .get(server.url(&wasm))
        .header(header::ACCEPT_ENCODING, "br")
        .header(header::IF_MODIFIED_SINCE, last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        StatusCode::NOT_MODIFIED,
        "an unchanged bundle is not sent again"
    );
    server.stop().await;
}

async fn server_function_returns_instance_info(backend: Backend) {
    let server = TestServer::start(backend).await;
    let response = server
        .client
        .post(server.url(app::platform::server_fns::GetInstanceInfo::PATH))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let info: app::platform::types::InstanceInfo = response.json().await.unwrap();
    assert_eq!(info.public_url, format!("http://{}", server.addr));
    assert_eq!(
        info.otlp_http_traces_url,
        format!("http://{}/v1/traces", server.addr)
    );
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    server.stop().await;
}

async fn oversized_body_is_refused_with_413(backend: Backend) {
    let server = TestServer::start_with(backend, &["--max-body-size=1KiB"]).await;
    let response = server
        .client
        .post(server.url(app::platform::server_fns::GetInstanceInfo::PATH))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(vec![b'a'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    server.stop().await;
}

async fn migrations_are_idempotent_and_keep_the_instance(backend: Backend) {
    let first = TestServer::start(backend).await;
    let instance_id = first.state.instance.instance_id;
    let database = first.stop_keeping_database().await;
    if let Some(path) = database.sqlite_path() {
        assert!(path.is_file(), "SQLite file and its folder were created");
    }
    // Second start on the same database: migrations are a no-op and the
    // installation keeps its identity.
    let second = TestServer::start_on(database, &[]).await;
    assert_eq!(second.state.instance.instance_id, instance_id);
    assert_eq!(second.get("/readyz").await.status(), StatusCode::OK);
    second.stop().await;
}

async fn shutdown_finishes_in_flight_requests(backend: Backend) {
    let server = TestServer::start(backend).await;
    let body = b"x=1&";
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        app::platform::server_fns::GetInstanceInfo::PATH,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..2]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    server.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !server.is_finished(),
        "the server waits for the in-flight request"
    );

    stream.write_all(&body[2..]).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 "), "got {response:?}");

    let addr = server.addr;
    let database = server.stop_keeping_database().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections after shutdown"
    );
    database.drop_database().await;
}

async fn responses_carry_a_request_id(backend: Backend) {
    let server = TestServer::start(backend).await;
    let generated = server.get("/healthz").await;
    let id = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let echoed = server
        .client
        .get(server.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123");
    server.stop().await;
}

/// The OpenAPI document lists the API, and every operation it lists is a
/// real route: called with placeholder ids and no credentials, none answers
/// "unknown endpoint" (404 from the API's fallback) or 405.
async fn openapi_document_describes_every_route(backend: Backend) {
    let server = TestServer::start(backend).await;
    let response = server.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    for expected in [
        "/api/v1/spans",
        "/api/v1/live",
        "/api/v1/traces",
        "/api/v1/traces/{trace_id}",
        "/api/v1/traces/{trace_id}/spans/{span_id}",
        "/api/v1/traces/{trace_id}/export",
        "/api/v1/orgs/{org}/tokens",
        "/api/v1/auth/login",
        "/api/v1/token",
        "/v1/traces",
        "/v1/metrics",
    ] {
        assert!(paths.contains_key(expected), "{expected} is not documented");
    }
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for schema in [
        "SpanPage",
        "SpanSummary",
        "TraceDetail",
        "ErrorBody",
        "MintedToken",
    ] {
        assert!(schemas.contains_key(schema), "schema {schema} is missing");
    }
    let spans = &paths["/api/v1/spans"]["get"];
    let parameters: Vec<&str> = spans["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|parameter| parameter["name"].as_str().unwrap())
        .collect();
    for name in ["kind", "model", "tool", "q", "cursor", "org"] {
        assert!(parameters.contains(&name), "spans lacks parameter {name}");
    }
    assert!(
        !parameters.contains(&"attributes"),
        "attr.* is not a named parameter"
    );

    let client = reqwest::Client::new();
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{org}", "00000000-0000-0000-0000-000000000000")
            .replace("{user}", "00000000-0000-0000-0000-000000000000")
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{trace_id}", "0af7651916cd43dd8448eb211c80319c")
            .replace("{span_id}", "b7ad6b7169203331")
            .replace("{token}", "no-such-invitation")
            .replace("{version}", "1");
        assert!(!concrete.contains('{'), "unhandled placeholder in {path}");
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = client
                .request(method.clone(), server.url(&concrete))
                .header(header::CONTENT_TYPE, "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = response.status();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            let body = response.text().await.unwrap();
            assert!(
                !body.contains("API endpoint not found"),
                "{method} {path} is documented but not routed"
            );
            operations += 1;
        }
    }
    assert!(operations >= 26, "only {operations} operations documented");

    let page = server.get("/api/docs/").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("swagger-ui"));
    let initializer = server.get("/api/docs/swagger-initializer.js").await;
    assert_eq!(initializer.status(), StatusCode::OK);
    assert!(initializer.text().await.unwrap().contains("/api/v1/openapi.json"));
    server.stop().await;
}

/// The document's parameters and answers are the server's: patterns where
/// the server checks text, every error a route can give, unique operation ids.
async fn openapi_document_states_what_the_server_accepts(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = common::tenant(&server, "document@example.com", &["read"]).await;
    let document: Value = server.get("/api/v1/openapi.json").await.json().await.unwrap();
    let paths = &document["paths"];
    let parameter = |path: &str, name: &str| -> Value {
        paths[path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|parameter| parameter["name"] == name)
            .unwrap_or_else(|| panic!("{path} lacks {name}"))["schema"]
            .clone()
    };
    assert_eq!(
        parameter("/api/v1/traces/{trace_id}/spans/{span_id}", "trace_id")["pattern"],
        "^[0-9a-fA-F]{32}$"
    );
    assert_eq!(
        parameter("/api/v1/traces/{trace_id}/spans/{span_id}", "span_id")["pattern"],
        "^[0-9a-fA-F]{16}$"
    );
    let kinds = parameter("/api/v1/spans", "kind")["enum"].clone();
    assert!(
        kinds.as_array().unwrap().contains(&Value::from("tool_call")),
        "{kinds}"
    );
    assert_eq!(
        parameter("/api/v1/spans", "limit")["pattern"],
        "^(\\+?0*([1-9][0-9]?|[1-4][0-9]{2}|500))?$"
    );
    // What that pattern admits is what the server takes.
    for (limit, status) in [
        ("", StatusCode::OK),
        ("+7", StatusCode::OK),
        ("007", StatusCode::OK),
        ("500", StatusCode::OK),
        ("0", StatusCode::BAD_REQUEST),
        ("501", StatusCode::BAD_REQUEST),
        ("5.0", StatusCode::BAD_REQUEST),
    ] {
        let response = common::get_with_token(
            &server,
            &token,
            &format!("/api/v1/spans?limit={}", limit.replace('+', "%2B")),
        )
        .await;
        assert_eq!(response.status(), status, "limit={limit}");
    }
    let login = &paths["/api/v1/auth/login"]["post"]["responses"];
    for status in ["400", "401", "403", "413", "415", "429"] {
        assert!(login.get(status).is_some(), "login does not document {status}");
    }
    // Signing out without a session is allowed: the security requirement is optional.
    let logout_security = &paths["/api/v1/auth/logout"]["post"]["security"];
    assert!(
        logout_security
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({}))
    );
    let mut ids = std::collections::HashSet::new();
    for (path, operations) in paths.as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}"));
            assert!(ids.insert(id.to_owned()), "operation id {id} is used twice");
        }
    }
    server.stop().await;
}

/// Empty filters are absent ones, and a search without a word searches
/// for nothing, on every read route.
async fn empty_and_wordless_parameters_filter_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (_, token) = common::tenant(&server, "empty@example.com", &["read"]).await;
    for path in [
        "/api/v1/usage?model=&provider=&service=&agent=&token=&group_by=&granularity=",
        "/api/v1/spans?q=%21%3F%20-&limit=&cursor=&kind=&status=&since=&until=",
        "/api/v1/traces?q=...&limit=&cursor=&status=",
        "/api/v1/cost-logs?format=&unpriced=&limit=&cursor=&trace_id=",
    ] {
        common::get_json(&server, &token, path).await;
    }
    // An empty `format` is the default one: the trace is looked for, and is not there.
    let response = common::get_with_token(
        &server,
        &token,
        "/api/v1/traces/0123456789abcdef0123456789abcdef/export?format=",
    )
    .await;
    common::assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    server.stop().await;
}
