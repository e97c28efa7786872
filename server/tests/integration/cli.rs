//! The `specula` binary as a user runs it: settings from flags and
//! environment, clear errors with exit code 2, the default SQLite database,
//! and a clean exit on SIGTERM.

use std::{
    net::TcpListener,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

fn specula() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_specula"));
    // Start from a clean slate: the developer's own settings must not leak in.
    for (key, _) in std::env::vars() {
        if key.starts_with("SPECULA_") {
            command.env_remove(key);
        }
    }
    command
}

fn effective_config(command: &mut Command) -> Value {
    let output = command.arg("config").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn config_shows_the_defaults() {
    let config = effective_config(&mut specula());
    assert_eq!(config["listen"], "127.0.0.1:4318");
    assert_eq!(config["grpc_listen"], "127.0.0.1:4317");
    assert_eq!(config["database_url"], "sqlite://data/specula.db");
    assert_eq!(config["public_url"], "http://127.0.0.1:4318");
    assert_eq!(config["public_grpc_url"], "http://127.0.0.1:4317");
    assert_eq!(config["log"], "info");
    assert_eq!(config["log_format"], "pretty");
    assert_eq!(config["max_body_size"], 16 * 1024 * 1024);
    assert_eq!(config["shutdown_grace"], "30s");
}

#[test]
fn environment_variables_override_defaults_and_flags_override_both() {
    let config = effective_config(
        specula()
            .env("SPECULA_LISTEN", "0.0.0.0:9999")
            .env(
                "SPECULA_DATABASE_URL",
                "postgres://specula:pw@db.internal/specula",
            )
            .env("SPECULA_PUBLIC_URL", "https://specula.example.com")
            .env("SPECULA_LOG", "debug")
            .env("SPECULA_LOG_FORMAT", "json"),
    );
    assert_eq!(config["listen"], "0.0.0.0:9999");
    assert_eq!(config["public_url"], "https://specula.example.com");
    assert_eq!(config["public_grpc_url"], "https://specula.example.com:4317");
    assert_eq!(config["log_format"], "json");
    assert_eq!(
        config["database_url"],
        "postgres://specula:*****@db.internal/specula"
    );

    let output = specula()
        .env("SPECULA_LOG", "debug")
        .args(["config", "--log=warn"])
        .output()
        .unwrap();
    let config: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(config["log"], "warn");
}

fn assert_usage_error(output: Output, expected: &str) {
    assert_eq!(output.status.code(), Some(2), "exit code 2 for a bad setting");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(expected),
        "stderr should mention {expected:?}: {stderr}"
    );
}

#[test]
fn bad_settings_exit_with_code_2_and_the_reason() {
    assert_usage_error(
        specula()
            .env("SPECULA_LISTEN", "not-an-address")
            .arg("serve")
            .output()
            .unwrap(),
        "--listen",
    );
    assert_usage_error(
        specula()
            .env("SPECULA_DATABASE_URL", "mysql://localhost/x")
            .arg("serve")
            .output()
            .unwrap(),
        "expected a `sqlite://…` or `postgres://…` URL",
    );
    assert_usage_error(
        specula().args(["serve", "--log-format=xml"]).output().unwrap(),
        "possible values: pretty, json",
    );
    assert_usage_error(
        specula()
            .args(["serve", "--max-body-size=huge"])
            .output()
            .unwrap(),
        "invalid size",
    );
    assert_usage_error(
        specula().arg("launch").output().unwrap(),
        "unrecognized subcommand",
    );
}

#[test]
fn unreachable_database_fails_startup_clearly() {
    let port = free_port();
    let output = specula()
        .args(["serve", "--listen=127.0.0.1:0", "--grpc-listen=127.0.0.1:0"])
        .env(
            "SPECULA_DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{port}/none"),
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot connect to the database"), "{stderr}");
}

#[test]
fn serve_creates_the_default_sqlite_database_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = specula()
        .arg("serve")
        .current_dir(dir.path())
        .env("SPECULA_LISTEN", format!("127.0.0.1:{port}"))
        .env("SPECULA_GRPC_LISTEN", "127.0.0.1:0")
        .env("SPECULA_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    let healthy = loop {
        if let Ok(body) = http_get(port, "/healthz") {
            break body;
        }
        assert!(Instant::now() < deadline, "server did not come up");
        assert!(child.try_wait().unwrap().is_none(), "server exited early");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(healthy.starts_with("HTTP/1.1 200"), "{healthy}");
    assert!(
        dir.path().join("data/specula.db").is_file(),
        "default SQLite file created"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "clean exit on SIGTERM: {:?}",
        output.status
    );
    let logs = String::from_utf8_lossy(&output.stderr);
    // JSON logs on stderr: every line is an object, and shutdown was logged.
    for line in logs.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"));
    }
    assert!(logs.contains("received SIGTERM"), "{logs}");
    assert!(logs.contains("\"stopped\""), "{logs}");
    assert!(output.stdout.is_empty(), "stdout is left to command output");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP/1.1 GET, enough to probe the server without a client crate.
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}
