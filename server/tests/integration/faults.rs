//! Faults, bounded in time: a server killed with SIGKILL under ingest load
//! keeps every span it acknowledged (SQLite and PostgreSQL); PostgreSQL
//! unreachable for ten seconds under load answers 503 with `Retry-After`
//! and `/readyz` 503, then recovers without a restart and keeps what it
//! acknowledged; an overload far above what the writer commits is refused
//! with 503 and `Retry-After` while memory stays bounded, and the server
//! goes on; SQLite's disk filling up (a small tmpfs) is answered with 503,
//! corrupts nothing, and ingest resumes once space is freed.

use std::{
    collections::BTreeSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::common::{self, Backend, ServeProcess, TestDatabase, export, free_port, span};

const SPANS_PER_EXPORT: usize = 50;

#[test]
fn a_killed_server_keeps_every_acknowledged_span_on_sqlite() {
    common::runtime().block_on(killed_under_load(Backend::Sqlite));
}

#[test]
fn a_killed_server_keeps_every_acknowledged_span_on_postgres() {
    common::runtime().block_on(killed_under_load(Backend::Postgres));
}

#[test]
fn postgres_unreachable_for_ten_seconds_is_survived() {
    common::runtime().block_on(database_outage());
}

#[test]
fn a_full_disk_is_refused_and_survived_on_sqlite() {
    common::runtime().block_on(disk_full());
}

#[test]
fn an_overload_is_refused_with_bounded_memory() {
    common::runtime().block_on(overload());
}

/// An organization's ingest token on `server`.
async fn ingest_token(server: &ServeProcess) -> String {
    server.tenant("ops@faults.example", &["ingest", "read"]).await.2
}

/// An export of one new trace's spans; its trace id.
fn one_trace(n: u64) -> (String, Vec<u8>) {
    let trace = format!("{:032x}", 0xfa17_0000_0000_u128 + u128::from(n));
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let spans = (1..=SPANS_PER_EXPORT)
        .map(|s| {
            span(
                &trace,
                &format!("{s:016x}"),
                None,
                "load",
                (now, 1_000_000),
                false,
                json!({"gen_ai.request.model": "gpt-4o", "prompt": "x".repeat(200)}),
            )
        })
        .collect();
    (trace, export("load", spans))
}

/// What a load run saw.
#[derive(Default)]
struct Load {
    acknowledged: Mutex<BTreeSet<String>>,
    refused_with_retry_after: AtomicU64,
    refused_without_retry_after: AtomicU64,
    failed: AtomicU64,
}

/// `clients` senders posting new traces to `base` until `stop`.
fn start_load(
    base: &str,
    token: &str,
    clients: u64,
    stop: Arc<AtomicBool>,
) -> (Arc<Load>, Vec<tokio::task::JoinHandle<()>>) {
    let load = Arc::new(Load::default());
    let counter = Arc::new(AtomicU64::new(0));
    let tasks = (0..clients)
        .map(|_| {
            let (base, token, stop, load, counter) = (
                base.to_owned(),
                token.to_owned(),
                stop.clone(),
                load.clone(),
                counter.clone(),
            );
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(15))
                    .build()
                    .unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let (trace, body) = one_trace(counter.fetch_add(1, Ordering::Relaxed));
                    let answer = client
                        .post(format!("{base}/v1/traces"))
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    match answer {
                        Ok(answer) if answer.status() == StatusCode::OK => {
                            load.acknowledged.lock().unwrap().insert(trace);
                        }
                        Ok(answer)
                            if matches!(answer.status().as_u16(), 429 | 503)
                                && answer.headers().contains_key("retry-after") =>
                        {
                            load.refused_with_retry_after.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {
                            load.refused_without_retry_after.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            load.failed.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            })
        })
        .collect();
    (load, tasks)
}

async fn stop_load(stop: &AtomicBool, tasks: Vec<tokio::task::JoinHandle<()>>) {
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
}

/// How many spans each trace of `traces` has in the database.
async fn stored_spans(database_url: &str, traces: &BTreeSet<String>) -> Vec<(String, i64)> {
    let db = Database::connect(database_url).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT trace_id, COUNT(*) AS n FROM spans GROUP BY trace_id",
        ))
        .await
        .unwrap();
    db.close().await.unwrap();
    let stored: std::collections::HashMap<String, i64> = rows
        .iter()
        .map(|row| {
            (
                row.try_get("", "trace_id").unwrap(),
                row.try_get("", "n").unwrap(),
            )
        })
        .collect();
    traces
        .iter()
        .map(|trace| (trace.clone(), stored.get(trace).copied().unwrap_or(0)))
        .collect()
}

fn assert_all_kept(stored: &[(String, i64)]) {
    let lost: Vec<&(String, i64)> = stored
        .iter()
        .filter(|(_, count)| *count != SPANS_PER_EXPORT as i64)
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged traces incomplete: {:?}",
        lost.len(),
        stored.len(),
        &lost[..lost.len().min(5)]
    );
}

async fn killed_under_load(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let ports = (free_port(), free_port());
    let server = ServeProcess::start_at(&database.url, ports, &[], &[], None).await;
    let token = ingest_token(&server).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (load, tasks) = start_load(&server.base, &token, 8, stop.clone());
    // Let it run until a good number of exports were acknowledged.
    let deadline = Instant::now() + Duration::from_secs(30);
    while load.acknowledged.lock().unwrap().len() < 200 {
        assert!(Instant::now() < deadline, "the load never got going");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill();
    stop_load(&stop, tasks).await;
    let acknowledged = load.acknowledged.lock().unwrap().clone();

    // It starts again on the same database, which holds every acknowledged span.
    let server = ServeProcess::start_at(&database.url, ports, &[], &[], None).await;
    let stored = stored_spans(&database.url, &acknowledged).await;
    assert_all_kept(&stored);
    let (trace, body) = one_trace(1_000_000);
    assert_eq!(
        server.send(&token, body).await.status(),
        StatusCode::OK,
        "{trace}"
    );
    server.stop();
    database.drop_database().await;
}

/// A TCP proxy to `target` that can be taken down (every connection cut,
/// new ones refused) and brought back.
struct Proxy {
    port: u16,
    down: Arc<AtomicBool>,
    cut: Arc<tokio::sync::Notify>,
}

impl Proxy {
    async fn start(target: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(tokio::sync::Notify::new());
        let (is_down, cutting) = (down.clone(), cut.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if is_down.load(Ordering::Relaxed) {
                    drop(client);
                    continue;
                }
                let cutting = cutting.clone();
                tokio::spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                        () = cutting.notified() => {}
                    }
                });
            }
        });
        Self { port, down, cut }
    }

    fn take_down(&self) {
        self.down.store(true, Ordering::Relaxed);
        self.cut.notify_waiters();
    }

    fn bring_back(&self) {
        self.down.store(false, Ordering::Relaxed);
    }
}

async fn database_outage() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let proxy = Proxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let proxied = database
        .url
        .replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port), 1);
    assert_ne!(proxied, database.url, "the test database is on 127.0.0.1:5432");
    let server = ServeProcess::start(&proxied, &[]).await;
    let token = ingest_token(&server).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (load, tasks) = start_load(&server.base, &token, 4, stop.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Ten seconds without the database.
    proxy.take_down();
    let down_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ready = reqwest::get(format!("{}/readyz", server.base)).await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let (_, body) = one_trace(2_000_000);
    let refused = server.send(&token, body).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        refused.headers().contains_key("retry-after"),
        "{:?}",
        refused.headers()
    );
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(down_at.elapsed())).await;
    proxy.bring_back();

    // It recovers without a restart.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = reqwest::get(format!("{}/readyz", server.base)).await.unwrap();
        if ready.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "not ready again: {}", ready.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let before = load.acknowledged.lock().unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(60);
    while load.acknowledged.lock().unwrap().len() < before + 20 {
        assert!(Instant::now() < deadline, "ingest did not resume");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_load(&stop, tasks).await;
    assert!(
        load.refused_with_retry_after.load(Ordering::Relaxed) > 0,
        "the load saw the outage as 503 with Retry-After"
    );
    assert_eq!(
        load.refused_without_retry_after.load(Ordering::Relaxed),
        0,
        "every refusal says when to retry"
    );
    let acknowledged = load.acknowledged.lock().unwrap().clone();
    let stored = stored_spans(&database.url, &acknowledged).await;
    assert_all_kept(&stored);
    server.stop();
    database.drop_database().await;
}

/// The process's peak resident memory, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The stated bound: a server with the default queue (256 exports) keeps
/// under this much memory however many clients it refuses.
const RSS_BOUND_KIB: u64 = 768 * 1024;

async fn overload() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    // A queue of four exports, so that 48 clients are far more than it takes.
    let server = ServeProcess::start(&database.url, &["--ingest-queue=4"]).await;
    let token = ingest_token(&server).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (load, tasks) = start_load(&server.base, &token, 48, stop.clone());
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop_load(&stop, tasks).await;
    let refused = load.refused_with_retry_after.load(Ordering::Relaxed);
    let acknowledged = load.acknowledged.lock().unwrap().clone();
    assert!(
        refused > 0,
        "an overload is refused (acknowledged {})",
        acknowledged.len()
    );
    assert!(!acknowledged.is_empty(), "and what fits is taken");
    assert_eq!(load.refused_without_retry_after.load(Ordering::Relaxed), 0);
    assert_eq!(load.failed.load(Ordering::Relaxed), 0, "no connection failed");
    let peak = peak_rss_kib(server.pid());
    assert!(peak < RSS_BOUND_KIB, "peak RSS {peak} KiB");
    // Still serving, and everything acknowledged is stored.
    let ready = reqwest::get(format!("{}/readyz", server.base)).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_all_kept(&stored_spans(&database.url, &acknowledged).await);
    eprintln!(
        "overload: {} acknowledged, {refused} refused with Retry-After, peak RSS {} MiB",
        acknowledged.len(),
        peak / 1024
    );
    server.stop();
    database.drop_database().await;
}

/// A small tmpfs, unmounted when dropped.
struct SmallDisk {
    folder: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Self {
        let folder = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(folder.path())
            .status()
            .unwrap();
        assert!(
            mounted.success(),
            "mounting a tmpfs needs root (the test suite runs as root)"
        );
        Self { folder }
    }

    fn path(&self) -> &std::path::Path {
        self.folder.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.folder.path())
            .status();
    }
}

async fn disk_full() {
    let disk = SmallDisk::mount(32);
    let database_url = format!("sqlite://{}", disk.path().join("specula.db").display());
    let server = ServeProcess::start(&database_url, &[]).await;
    let token = ingest_token(&server).await;
    // Ballast leaves the database about two megabytes to grow in.
    let ballast = disk.path().join("ballast");
    let free = {
        let stat = free_bytes(disk.path());
        stat.saturating_sub(2 * 1024 * 1024)
    };
    std::fs::write(&ballast, vec![0_u8; free as usize]).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let (load, tasks) = start_load(&server.base, &token, 2, stop.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    while load.refused_with_retry_after.load(Ordering::Relaxed) < 5 {
        assert!(
            Instant::now() < deadline,
            "the disk never filled ({} acknowledged)",
            load.acknowledged.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = reqwest::get(format!("{}/healthz", server.base)).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK, "the process goes on");

    // Space freed: ingest resumes without a restart.
    std::fs::remove_file(&ballast).unwrap();
    let before = load.acknowledged.lock().unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(60);
    while load.acknowledged.lock().unwrap().len() < before + 10 {
        assert!(
            Instant::now() < deadline,
            "ingest did not resume once space was freed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_load(&stop, tasks).await;
    assert_eq!(
        load.refused_without_retry_after.load(Ordering::Relaxed),
        0,
        "every refusal says when to retry"
    );
    server.stop();

    // Nothing corrupt, and everything acknowledged is there.
    let db = Database::connect(&database_url).await.unwrap();
    let check: String = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "PRAGMA integrity_check",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    assert_eq!(check, "ok");
    db.close().await.unwrap();
    let acknowledged = load.acknowledged.lock().unwrap().clone();
    assert_all_kept(&stored_spans(&database_url, &acknowledged).await);
}

/// Free bytes on the file system of `path` (`df`'s figure).
fn free_bytes(path: &std::path::Path) -> u64 {
    let output = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .nth(1)
        .and_then(|line| line.trim().parse().ok())
        .unwrap()
}
