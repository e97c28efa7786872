//! `specula admin` from a shell: accounts, instance administrators and
//! tokens made before and while a server runs, organizations listed, and a
//! SQLite database backed up while it serves and restored elsewhere.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{self, ServeProcess, export, span};

fn admin(database_url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_specula"));
    for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("SPECULA_")) {
        command.env_remove(key);
    }
    let mut child = command
        .arg("admin")
        .args(args)
        .env("SPECULA_DATABASE_URL", database_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// Runs an admin command that must succeed; its standard output.
fn admin_ok(database_url: &str, args: &[&str], stdin: Option<&str>) -> String {
    let output = admin(database_url, args, stdin);
    assert!(
        output.status.success(),
        "specula admin {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn accounts_tokens_and_a_backup_from_the_shell() {
    common::runtime().block_on(from_the_shell());
}

async fn from_the_shell() {
    let folder = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", folder.path().join("specula.db").display());

    // Accounts before the first start: the first is the instance's administrator.
    let created = admin_ok(
        &database,
        &[
            "create-user",
            "--email",
            "Ops@Example.com",
            "--organization",
            "Ops",
            "--password-stdin",
        ],
        Some("a long enough passphrase\n"),
    );
    assert!(
        created.contains("created ops@example.com") && created.contains("instance administrator"),
        "{created}"
    );
    let created = admin_ok(&database, &["create-user", "--email", "dev@example.com"], None);
    assert!(!created.contains("instance administrator"), "{created}");
    let made_up = created
        .lines()
        .find_map(|line| line.strip_prefix("password: "))
        .expect("a made-up password is printed");
    assert!(made_up.len() >= 20);
    let duplicate = admin(&database, &["create-user", "--email", "dev@example.com"], None);
    assert_eq!(duplicate.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));
    let promoted = admin_ok(&database, &["make-admin", "--email", "dev@example.com"], None);
    assert!(promoted.contains("is an instance administrator"), "{promoted}");
    admin_ok(
        &database,
        &["reset-password", "--email", "dev@example.com", "--password-stdin"],
        Some("another long passphrase\n"),
    );

    let listed = admin_ok(&database, &["list-orgs", "--json"], None);
    let orgs: Vec<Value> = listed
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(orgs.len(), 2, "{listed}");
    let ops = orgs.iter().find(|org| org["name"] == "Ops").unwrap();
    assert_eq!(ops["members"], 1);
    let ops_id = ops["id"].as_str().unwrap().to_owned();
    let unknown = admin(
        &database,
        &[
            "mint-token",
            "--org",
            &ops_id,
            "--email",
            "ops@example.com",
            "--name",
            "x",
            "--scope",
            "write",
        ],
        None,
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown scope"));
    let outsider = admin(
        &database,
        &[
            "mint-token",
            "--org",
            &ops_id,
            "--email",
            "dev@example.com",
            "--name",
            "x",
            "--scope",
            "read",
        ],
        None,
    );
    assert_eq!(outsider.status.code(), Some(2), "a non-member mints nothing");
    let token = admin_ok(
        &database,
        &[
            "mint-token",
            "--org",
            &ops_id,
            "--email",
            "ops@example.com",
            "--name",
            "ci",
            "--scope",
            "ingest",
            "--scope",
            "read",
            "--expires-in",
            "30d",
        ],
        None,
    )
    .trim()
    .to_owned();

    // The server takes them: the reset password signs in, the token ingests and reads.
    let server = ServeProcess::start(&database, &[]).await;
    let dev = server.browser();
    assert_eq!(
        dev.log_in("dev@example.com", "another long passphrase")
            .await
            .status(),
        StatusCode::OK
    );
    let me: Value = dev.get("/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["user"]["instance_admin"], true, "{me}");
    assert_eq!(
        server.browser().log_in("dev@example.com", made_up).await.status(),
        StatusCode::UNAUTHORIZED,
        "the old password no longer works"
    );
    let trace = "0000000000000000000000000000a11c";
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let sent = server
        .send(
            &token,
            export(
                "shell",
                vec![span(
                    trace,
                    "0000000000000001",
                    None,
                    "backed up",
                    (now, 1_000),
                    false,
                    json!({}),
                )],
            ),
        )
        .await;
    assert_eq!(sent.status(), StatusCode::OK);
    let listed = admin_ok(&database, &["list-orgs"], None);
    assert!(listed.contains("Ops  (1 members, 1 spans)"), "{listed}");

    // A backup while it serves, restored elsewhere, serves the same.
    let backup = folder.path().join("backup.db");
    let backed_up = admin_ok(&database, &["backup", backup.to_str().unwrap()], None);
    assert!(
        backed_up.contains("sealing key"),
        "the key goes with it: {backed_up}"
    );
    assert!(folder.path().join("backup.db.key").exists());
    let again = admin(&database, &["backup", backup.to_str().unwrap()], None);
    assert_eq!(again.status.code(), Some(2), "a backup never overwrites");
    server.stop();
    let in_place = admin(&database, &["restore", backup.to_str().unwrap()], None);
    assert_eq!(in_place.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&in_place.stderr).contains("--force"));
    let restored = format!(
        "sqlite://{}",
        folder.path().join("restored").join("specula.db").display()
    );
    admin_ok(&restored, &["restore", backup.to_str().unwrap()], None);
    let not_a_backup = folder.path().join("notes.txt");
    std::fs::write(&not_a_backup, "not a database").unwrap();
    let refused = admin(
        &restored,
        &["restore", "--force", not_a_backup.to_str().unwrap()],
        None,
    );
    assert_eq!(refused.status.code(), Some(2));
    let server = ServeProcess::start(&restored, &[]).await;
    let read: Value = server
        .get_with_token(&token, &format!("/api/v1/traces/{trace}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["spans"][0]["name"], "backed up", "{read}");
    server.stop();

    // PostgreSQL is backed up with its own tools: the command says how.
    let postgres = admin(
        "postgres://postgres@127.0.0.1/specula",
        &["backup", "specula.dump"],
        None,
    );
    assert_eq!(postgres.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&postgres.stderr).contains("pg_dump"));
}

#[test]
fn an_organization_moves_to_another_installation() {
    common::runtime().block_on(moved_elsewhere());
}

async fn moved_elsewhere() {
    let folder = tempfile::tempdir().unwrap();
    let source = format!("sqlite://{}", folder.path().join("source.db").display());
    let server = ServeProcess::start(&source, &[]).await;
    let owner = server.browser();
    let org = common::first_org(&owner.sign_up("ops@source.example").await);
    let minted: Value = owner
        .post(
            &format!("/api/v1/orgs/{org}/tokens"),
            json!({"name": "sdk", "scopes": ["ingest", "read"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let token = minted["secret"].as_str().unwrap().to_owned();
    let policy = json!({"redaction": {"rules": [
        {"id": "customer", "kind": "regex", "pattern": "CUST-[0-9]{6}", "label": "customer_id"}]}});
    let saved = owner
        .post(
            &format!("/api/v1/governance/policies?org={org}"),
            json!({"document": policy, "comment": "customers"}),
        )
        .await;
    assert_eq!(saved.status(), StatusCode::CREATED);
    let priced = owner
        .put(
            &format!("/api/v1/orgs/{org}/prices"),
            json!({"overrides": [{"model": "house-model", "input_usd_per_mtok": "1", "output_usd_per_mtok": "2"}]}),
        )
        .await;
    assert_eq!(priced.status(), StatusCode::OK);
    let trace = "00000000000000000000000000c0ffee";
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let call = span(
        trace,
        "0000000000000001",
        None,
        "chat house-model",
        (now, 2_000_000),
        false,
        json!({"gen_ai.operation.name": "chat", "gen_ai.request.model": "house-model",
               "gen_ai.usage.input_tokens": 1_000_000, "gen_ai.usage.output_tokens": 1_000_000,
               "prompt": "refund CUST-123456"}),
    );
    let tool = span(
        trace,
        "0000000000000002",
        Some("0000000000000001"),
        "execute_tool search",
        (now, 1_000_000),
        false,
        json!({"gen_ai.operation.name": "execute_tool", "tool.name": "search"}),
    );
    assert_eq!(
        server
            .send(&token, export("agent", vec![call, tool]))
            .await
            .status(),
        StatusCode::OK
    );
    let before: Value = server
        .get_with_token(&token, &format!("/api/v1/traces/{trace}"))
        .await
        .json()
        .await
        .unwrap();
    server.stop();

    let file = folder.path().join("org.jsonl");
    admin_ok(
        &source,
        &["export-org", "--org", &org, file.to_str().unwrap()],
        None,
    );
    let lines: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines[0]["specula_organization_export"], 1);
    assert!(
        lines.iter().any(|line| line.get("resourceSpans").is_some()),
        "spans as OTLP/JSON"
    );

    // Into another installation, owned by an account there.
    let target = format!("sqlite://{}", folder.path().join("target.db").display());
    admin_ok(
        &target,
        &["create-user", "--email", "ops@target.example", "--password-stdin"],
        Some("a long enough passphrase\n"),
    );
    let imported = admin_ok(
        &target,
        &[
            "import-org",
            file.to_str().unwrap(),
            "--owner-email",
            "ops@target.example",
            "--name",
            "Moved",
        ],
        None,
    );
    let new_org = imported.trim().to_owned();
    let again = admin(
        &target,
        &[
            "import-org",
            "--owner-email",
            "ops@target.example",
            "/nonexistent",
        ],
        None,
    );
    assert_eq!(again.status.code(), Some(2));

    let server = ServeProcess::start(&target, &[]).await;
    let browser = server.browser();
    assert_eq!(
        browser
            .log_in("ops@target.example", "a long enough passphrase")
            .await
            .status(),
        StatusCode::OK
    );
    let after: Value = browser
        .get(&format!("/api/v1/traces/{trace}?org={new_org}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["spans"].as_array().unwrap().len(), 2, "{after}");
    assert_eq!(
        after["trace"]["cost_nanos"], before["trace"]["cost_nanos"],
        "priced with the moved prices"
    );
    assert_eq!(
        after["trace"]["cost_nanos"], 3_000_000_000_i64,
        "1 M tokens in at $1, 1 M out at $2"
    );
    let request = after["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|span| span["span_id"] == "0000000000000001")
        .unwrap();
    assert!(
        request["prompt"]
            .as_str()
            .unwrap()
            .contains("[REDACTED:customer_id]"),
        "{request}"
    );
    let current: Value = browser
        .get(&format!("/api/v1/governance/policies?org={new_org}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(current["version"], 1, "{current}");
    assert_eq!(current["document"]["redaction"]["rules"][0]["id"], "customer");
    let prices: Value = browser
        .get(&format!("/api/v1/orgs/{new_org}/prices"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(prices["overrides"][0]["model"], "house-model", "{prices}");
    server.stop();
}
