//! Test harness: the real server, in-process, on a random port, against a
//! fresh SQLite file or a fresh PostgreSQL database that is dropped afterwards.

#![allow(dead_code)]

mod process;

pub use process::{ServeProcess, free_port};

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Parser;
use sea_orm::{ConnectionTrait, Database};
use server::{
    Server,
    config::{Cli, Command, ServeConfig},
};
use tempfile::TempDir;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

/// The PostgreSQL server tests create their databases on (trust auth).
fn postgres_admin_url() -> String {
    std::env::var("SPECULA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: String,
    postgres_name: Option<String>,
    _dir: TempDir,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                // A nested folder checks that the server creates it.
                let path = dir.path().join("nested").join("specula.db");
                Self {
                    url: format!("sqlite://{}", path.display()),
                    postgres_name: None,
                    _dir: dir,
                }
            }
            Backend::Postgres => {
                let name = format!("specula_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(format!("{}/postgres", postgres_admin_url()))
                    .await
                    .expect("PostgreSQL must run on 127.0.0.1:5432 for the tests");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create database");
                admin.close().await.ok();
                Self {
                    url: format!("{}/{name}", postgres_admin_url()),
                    postgres_name: Some(name),
                    _dir: dir,
                }
            }
        }
    }

    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.url.strip_prefix("sqlite://").map(PathBuf::from)
    }

    pub async fn drop_database(self) {
        if let Some(name) = self.postgres_name {
            let admin = Database::connect(format!("{}/postgres", postgres_admin_url()))
                .await
                .expect("connect");
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await
                .expect("drop database");
            admin.close().await.ok();
        }
    }
}

/// Parses `specula serve` arguments exactly as the binary does.
pub fn serve_config(args: &[String]) -> ServeConfig {
    let argv = ["specula".to_owned(), "serve".to_owned()]
        .into_iter()
        .chain(args.iter().cloned());
    match Cli::try_parse_from(argv)
        .expect("valid test configuration")
        .command
    {
        Command::Serve(config) => config,
        Command::Config(_) | Command::Admin(_) => unreachable!("parsed `serve`"),
    }
}

/// A site root with a minimal bundle, so static serving can be checked
/// without building the real wasm.
fn fake_site_root(dir: &TempDir) -> PathBuf {
    let root = dir.path().join("site");
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(root.join("bundle-name.txt"), format!("{FAKE_BUNDLE}\n")).unwrap();
    std::fs::write(
        pkg.join(format!("{FAKE_BUNDLE}.js")),
        "export default function init() {}\n",
    )
    .unwrap();
    // The wasm magic number and version: an empty but valid module.
    std::fs::write(
        pkg.join(format!("{FAKE_BUNDLE}_bg.wasm")),
        [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    )
    .unwrap();
    std::fs::write(pkg.join(format!("{FAKE_BUNDLE}.css")), "body{}\n").unwrap();
    // What the build writes beside the bundle (see tools/compress.mjs); the
    // bytes only need to tell the variants apart.
    std::fs::write(pkg.join(format!("{FAKE_BUNDLE}_bg.wasm.br")), FAKE_BROTLI_WASM).unwrap();
    std::fs::write(pkg.join(format!("{FAKE_BUNDLE}_bg.wasm.gz")), FAKE_GZIP_WASM).unwrap();
    root
}

/// The fake site's bundle name, as the build would hash it.
pub const FAKE_BUNDLE: &str = "specula-0123456789ab";

/// The fake site's precompressed copies of its wasm.
pub const FAKE_BROTLI_WASM: &[u8] = b"brotli copy";
pub const FAKE_GZIP_WASM: &[u8] = b"gzip copy";

pub struct TestServer {
    pub addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub client: reqwest::Client,
    pub state: app::state::AppState,
    shutdown: CancellationToken,
    handle: JoinHandle<anyhow::Result<()>>,
    database: TestDatabase,
    _site: TempDir,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, &[]).await
    }

    pub async fn start_with(backend: Backend, extra_args: &[&str]) -> Self {
        let database = TestDatabase::create(backend).await;
        Self::start_on(database, extra_args).await
    }

    /// Starts a server on an existing test database.
    pub async fn start_on(database: TestDatabase, extra_args: &[&str]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let grpc_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc_addr = grpc_listener.local_addr().unwrap();
        let site = tempfile::tempdir().unwrap();
        let mut args = vec![
            format!("--listen={addr}"),
            format!("--grpc-listen={grpc_addr}"),
            format!("--database-url={}", database.url),
            format!("--site-root={}", fake_site_root(&site).display()),
            "--shutdown-grace=10s".to_owned(),
        ];
        args.extend(extra_args.iter().map(|arg| (*arg).to_owned()));
        let server = Server::prepare(serve_config(&args)).await.expect("server starts");
        let state = server.state().clone();
        let shutdown = CancellationToken::new();
        let listeners = server::Listeners {
            http: listener,
            grpc: grpc_listener,
            metrics: None,
        };
        let handle = tokio::spawn(server.run(listeners, shutdown.clone()));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            addr,
            grpc_addr,
            client,
            state,
            shutdown,
            handle,
            database,
            _site: site,
        }
    }

    /// The URL of the server's database.
    pub fn database_url(&self) -> &str {
        &self.database.url
    }

    /// A client with its own cookie jar: one browser, one user.
    pub fn browser(&self) -> Browser {
        Browser {
            base: format!("http://{}", self.addr),
            client: reqwest::Client::builder()
                .cookie_store(true)
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    /// Signals shutdown without waiting for it.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// A second server on the same database, as another replica would be;
    /// stopping it leaves the database to this one.
    pub async fn replica(&self) -> TestServer {
        self.replica_with(&[]).await
    }

    /// A replica started with `extra_args`.
    pub async fn replica_with(&self, extra_args: &[&str]) -> TestServer {
        let shared = TestDatabase {
            url: self.database.url.clone(),
            postgres_name: None,
            _dir: tempfile::tempdir().expect("temp dir"),
        };
        Self::start_on(shared, extra_args).await
    }

    /// Stops the server and returns its database, still existing.
    pub async fn stop_keeping_database(self) -> TestDatabase {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(15), self.handle)
            .await
            .expect("server stops within its grace period")
            .expect("server task")
            .expect("server exits cleanly");
        self.database
    }

    /// Stops the server and drops its database.
    pub async fn stop(self) {
        self.stop_keeping_database().await.drop_database().await;
    }
}

/// One runtime for every test of the binary, as in production: Leptos spawns
/// rendering work on "the current runtime", and a runtime per test would let
/// one test's page work land on a runtime another test is dropping.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .expect("test runtime")
    })
}

/// Runs each listed `async fn(Backend)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $test() {
                    $crate::common::runtime().block_on(super::$test($crate::common::Backend::Sqlite));
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $test() {
                    $crate::common::runtime().block_on(super::$test($crate::common::Backend::Postgres));
                }
            )*
        }
    };
}

/// One user's HTTP client, keeping its session cookie between requests.
pub struct Browser {
    pub base: String,
    pub client: reqwest::Client,
}

/// A strong password for test accounts.
pub const PASSWORD: &str = "correct horse battery staple";

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn patch(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn put(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client.delete(self.url(path)).send().await.expect("request")
    }

    /// Signs up and returns the `Me` document; panics unless it succeeds.
    pub async fn sign_up(&self, email: &str) -> serde_json::Value {
        let response = self
            .post(
                "/api/v1/auth/signup",
                serde_json::json!({"email": email, "password": PASSWORD}),
            )
            .await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, reqwest::StatusCode::CREATED, "sign-up of {email}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    pub async fn log_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.post(
            "/api/v1/auth/login",
            serde_json::json!({"email": email, "password": password}),
        )
        .await
    }
}

/// Invites `email` with `role` into `org` and signs them up through the invitation.
pub async fn add_member(
    server: &TestServer,
    owner: &Browser,
    org: &str,
    email: &str,
    role: &str,
) -> (Browser, String) {
    let invitation: serde_json::Value = owner
        .post(
            &format!("/api/v1/orgs/{org}/members"),
            serde_json::json!({"email": email, "role": role}),
        )
        .await
        .json()
        .await
        .unwrap();
    let browser = server.browser();
    let token = invitation["token"].as_str().unwrap();
    let me: serde_json::Value = browser
        .post(
            "/api/v1/auth/signup",
            serde_json::json!({"email": email, "password": PASSWORD, "invitation": token}),
        )
        .await
        .json()
        .await
        .unwrap();
    let user_id = me["user"]["id"].as_str().unwrap().to_owned();
    (browser, user_id)
}

/// The id of the first organization in a `Me` document.
pub fn first_org(me: &serde_json::Value) -> String {
    me["organizations"][0]["id"]
        .as_str()
        .expect("an organization")
        .to_owned()
}

/// Asserts the status and the error code of an API error response.
pub async fn assert_error(
    response: reqwest::Response,
    status: reqwest::StatusCode,
    code: &str,
) -> serde_json::Value {
    let url = response.url().clone();
    assert_eq!(response.status(), status, "{url}");
    let text = response.text().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{url}: not a JSON error body ({err}): {text}"));
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}

/// Signs up `email` and mints a token with `scopes` in their organization;
/// returns the organization id and the token's secret.
pub async fn tenant(server: &TestServer, email: &str, scopes: &[&str]) -> (String, String) {
    let (_, org, secret) = signed_in_tenant(server, email, scopes).await;
    (org, secret)
}

/// As [`tenant`], with the new owner's signed-in browser first.
pub async fn signed_in_tenant(
    server: &TestServer,
    email: &str,
    scopes: &[&str],
) -> (Browser, String, String) {
    let browser = server.browser();
    let org = first_org(&browser.sign_up(email).await);
    let minted: serde_json::Value = browser
        .post(
            &format!("/api/v1/orgs/{org}/tokens"),
            serde_json::json!({"name": "sdk", "scopes": scopes}),
        )
        .await
        .json()
        .await
        .unwrap();
    (browser, org, minted["secret"].as_str().unwrap().to_owned())
}

/// Posts an OTLP/HTTP body to `path` with a bearer token.
pub async fn post_otlp(
    server: &TestServer,
    path: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    server
        .client
        .post(server.url(path))
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Sends `spans` as one OTLP/JSON export from `service`; panics unless 200.
pub async fn send_spans(server: &TestServer, token: &str, service: &str, spans: Vec<serde_json::Value>) {
    let response = post_otlp(
        server,
        "/v1/traces",
        token,
        "application/json",
        export(service, spans),
    )
    .await;
    let status = response.status();
    assert_eq!(
        status,
        reqwest::StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
}

/// GETs an API path with a bearer token.
pub async fn get_with_token(server: &TestServer, token: &str, path: &str) -> reqwest::Response {
    server
        .client
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// GETs an API path with a bearer token; panics unless it answers 200 with JSON.
pub async fn get_json(server: &TestServer, token: &str, path: &str) -> serde_json::Value {
    let response = get_with_token(server, token, path).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, reqwest::StatusCode::OK, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// OTLP/JSON attributes from a JSON object of strings and integers.
pub fn attributes(pairs: serde_json::Value) -> serde_json::Value {
    serde_json::Value::Array(
        pairs
            .as_object()
            .unwrap()
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    serde_json::Value::String(text) => serde_json::json!({"stringValue": text}),
                    serde_json::Value::Number(number) => serde_json::json!({"intValue": number.to_string()}),
                    other => panic!("unsupported test attribute {other}"),
                };
                serde_json::json!({"key": key, "value": value})
            })
            .collect(),
    )
}

/// One OTLP/JSON span.
pub fn span(
    trace: &str,
    id: &str,
    parent: Option<&str>,
    name: &str,
    (start, duration): (i64, i64),
    error: bool,
    attrs: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "traceId": trace,
        "spanId": id,
        "parentSpanId": parent.unwrap_or(""),
        "name": name,
        "kind": 1,
        "startTimeUnixNano": start.to_string(),
        "endTimeUnixNano": (start + duration).to_string(),
        "attributes": attributes(attrs),
        "status": {"code": if error { 2 } else { 1 }},
    })
}

/// An OTLP/JSON export of `spans` from `service`.
pub fn export(service: &str, spans: Vec<serde_json::Value>) -> Vec<u8> {
    serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": attributes(serde_json::json!({"service.name": service}))},
        "scopeSpans": [{"spans": spans}],
    }]})
    .to_string()
    .into_bytes()
}

/// The CSV documents of the `data:` download links in `html`.
pub fn csv_downloads(html: &str) -> Vec<String> {
    html.split("href=\"data:text/csv;charset=utf-8,")
        .skip(1)
        .map(|rest| {
            let encoded = rest.split('"').next().unwrap().as_bytes();
            let mut bytes = Vec::new();
            let mut index = 0;
            while index < encoded.len() {
                if encoded[index] == b'%' {
                    let hex = std::str::from_utf8(&encoded[index + 1..index + 3]).unwrap();
                    bytes.push(u8::from_str_radix(hex, 16).unwrap());
                    index += 3;
                } else {
                    bytes.push(encoded[index]);
                    index += 1;
                }
            }
            String::from_utf8(bytes).unwrap()
        })
        .collect()
}
