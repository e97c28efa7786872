//! Alert evaluation benchmark: passes of the evaluator over 1,000 rules of
//! every kind, with 30 days of hourly rollups behind them (each
//! organization: 3 models × 4 services × 720 hours of usage, 720 hours of
//! ingest counts, flagged prompts, two budgets). Runs the evaluator in
//! process against a real database, the way the background job does: a
//! cold first pass (every rule changes state and writes its event), then
//! warm passes; prints the time per pass and per rule.
//!
//! `cargo bench -p server --bench alerts` (SQLite), with
//! `SPECULA_BENCH_DATABASE=postgres` for PostgreSQL on 127.0.0.1:5432;
//! `SPECULA_BENCH_ORGS` (default 10) spreads the 1,000 rules
//! (`SPECULA_BENCH_RULES`) over that many organizations.

mod support;

use std::time::{Duration, Instant};

use app::{
    alerts::{
        services::{AlertSettings, evaluator},
        types::AlertCondition,
    },
    governance::services::{book::PolicyBook, limits::Limits},
    platform::services::{now_ns, outbound::Outbound, transaction::value_groups},
    telemetry::services::ingest::usage::{LATENCY_BUCKETS, latency_column},
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, Statement, Value};
use support::{env_or, with_postgres_db};
use uuid::Uuid;

const HOUR_NS: i64 = 3_600 * 1_000_000_000;
const MODELS: [&str; 3] = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5"];
const SERVICES: [&str; 4] = ["checkout", "search", "support-bot", "nightly-job"];
const WARM_PASSES: usize = 10;

#[tokio::main]
async fn main() {
    let database = std::env::var("SPECULA_BENCH_DATABASE").unwrap_or_else(|_| "sqlite".to_owned());
    let organizations: usize = env_or("SPECULA_BENCH_ORGS", 10);
    let rules: usize = env_or("SPECULA_BENCH_RULES", 1_000);
    let folder = tempfile::tempdir().unwrap();
    let postgres_db = format!("specula_bench_alerts_{}", std::process::id());
    let url = if database == "postgres" {
        with_postgres_db(&postgres_db, true).await;
        format!("postgres://postgres@127.0.0.1:5432/{postgres_db}")
    } else {
        format!("sqlite://{}/specula.db", folder.path().display())
    };
    let db = server::db::connect(&url.parse().unwrap(), 8, Default::default())
        .await
        .unwrap();
    server::db::migrate(&db).await.unwrap();

    let now = now_ns();
    let started = Instant::now();
    let mut orgs = Vec::new();
    for index in 0..organizations {
        let org_id = add_organization(&db, index).await;
        add_rollups(&db, org_id, now).await;
        orgs.push(org_id);
    }
    for index in 0..rules {
        add_rule(&db, orgs[index % orgs.len()], index).await;
    }
    println!(
        "== {database}: {rules} rules over {organizations} organizations, 30 days of rollups (set up in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    for table in ["usage_rollups", "ingest_counts", "prompt_sim_logs", "alert_rules"] {
        println!("{table}: {} rows", count(&db, table).await);
    }

    let evaluator = evaluator::Evaluator {
        db: db.clone(),
        settings: AlertSettings {
            interval: Duration::from_secs(60),
            outbound: Outbound::new(false),
            sealing: None,
            smtp_roots: None,
            public_url: "http://specula.example".to_owned(),
        },
        policies: PolicyBook::new(Default::default(), Default::default()),
        limits: Limits::new(&db),
    };
    let cold = Instant::now();
    let figures = evaluator::pass(&evaluator, now_ns()).await.unwrap();
    let cold = cold.elapsed();
    println!(
        "cold pass: {:.1} ms ({} rules, {} firing, {} events written)",
        cold.as_secs_f64() * 1e3,
        figures.rules,
        figures.firing,
        figures.events
    );
    assert_eq!(figures.rules as usize, rules, "every rule was evaluated");
    let mut timings = Vec::new();
    for _ in 0..WARM_PASSES {
        let pass = Instant::now();
        let figures = evaluator::pass(&evaluator, now_ns()).await.unwrap();
        timings.push(pass.elapsed());
        assert_eq!(figures.rules as usize, rules);
    }
    timings.sort();
    let mean = timings.iter().sum::<Duration>() / timings.len() as u32;
    println!(
        "warm passes ({WARM_PASSES}): mean {:.1} ms, p50 {:.1} ms, max {:.1} ms; {:.0} µs per rule",
        mean.as_secs_f64() * 1e3,
        timings[timings.len() / 2].as_secs_f64() * 1e3,
        timings[timings.len() - 1].as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e6 / rules as f64
    );
    drop(evaluator);
    db.close().await.unwrap();
    if database == "postgres" {
        with_postgres_db(&postgres_db, false).await;
    }
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        format!("SELECT COUNT(*) AS n FROM {table}"),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get("", "n")
    .unwrap()
}

async fn add_organization(db: &DatabaseConnection, index: usize) -> Uuid {
    let id = Uuid::now_v7();
    entity::organization::ActiveModel {
        id: Set(id),
        name: Set(format!("Bench {index}")),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(db)
    .await
    .unwrap();
    let document = serde_json::json!({"budgets": [
        {"id": "team", "monthly_usd": "500"},
        {"id": "checkout", "monthly_usd": "50", "service": "checkout"},
    ]});
    execute(
        db,
        "INSERT INTO policy_versions (org_id, version, document, comment, author, created_at_ns) VALUES",
        6,
        vec![vec![
            id.into(),
            1i64.into(),
            document.to_string().into(),
            "bench".into(),
            "bench".into(),
            now_ns().into(),
        ]],
    )
    .await;
    id
}

/// 30 days of hourly rollups: usage by model and service, ingest counts, flagged prompts.
async fn add_rollups(db: &DatabaseConnection, org_id: Uuid, now: i64) {
    let this_hour = now - now.rem_euclid(HOUR_NS);
    let latency: Vec<String> = (0..LATENCY_BUCKETS).map(latency_column).collect();
    let columns = format!(
        "org_id, hour_ns, model, provider, service_name, agent, token_id, requests, errors, input_tokens, \
         output_tokens, cost_nanos, duration_ns, {}",
        latency.join(", ")
    );
    let width = 13 + LATENCY_BUCKETS;
    let mut rows = Vec::new();
    for hour in 0..720i64 {
        for (m, model) in MODELS.iter().enumerate() {
            for (s, service) in SERVICES.iter().enumerate() {
                let requests = 50 + (hour * 7 + m as i64 * 13 + s as i64 * 29) % 200;
                let mut row: Vec<Value> = vec![
                    org_id.into(),
                    (this_hour - hour * HOUR_NS).into(),
                    (*model).into(),
                    "openai".into(),
                    (*service).into(),
                    "".into(),
                    Uuid::nil().into(),
                    requests.into(),
                    (requests / 20).into(),
                    (requests * 1_500).into(),
                    (requests * 300).into(),
                    (requests * 4_000_000).into(),
                    (requests * 800_000_000).into(),
                ];
                row.extend((0..LATENCY_BUCKETS).map(|bucket| {
                    Value::from(if (18..26).contains(&bucket) {
                        requests / 8
                    } else {
                        0
                    })
                }));
                rows.push(row);
            }
        }
    }
    for chunk in rows.chunks(300) {
        execute(
            db,
            &format!("INSERT INTO usage_rollups ({columns}) VALUES"),
            width,
            chunk.to_vec(),
        )
        .await;
    }
    let counts: Vec<Vec<Value>> = (0..720i64)
        .map(|hour| {
            vec![
                org_id.into(),
                (this_hour - hour * HOUR_NS).into(),
                10_000i64.into(),
                (hour % 5).into(),
                0i64.into(),
                (hour % 3).into(),
                0i64.into(),
            ]
        })
        .collect();
    for chunk in counts.chunks(500) {
        execute(
            db,
            "INSERT INTO ingest_counts (org_id, hour_ns, accepted_spans, rate_limited_exports, over_quota_exports, \
             invalid_exports, rate_limited_requests) VALUES",
            7,
            chunk.to_vec(),
        )
        .await;
    }
    let flags: Vec<Vec<Value>> = (0..200i64)
        .map(|index| {
            vec![
                org_id.into(),
                format!("{index:064x}").into(),
                format!("{:064x}", index + 1).into(),
                0.95f64.into(),
                true.into(),
                "pattern".into(),
                format!("{index:032x}").into(),
                format!("{index:016x}").into(),
                (now - index * 60_000_000_000).into(),
            ]
        })
        .collect();
    execute(
        db,
        "INSERT INTO prompt_sim_logs (org_id, prompt_hash, matched_prompt_hash, score, flagged, reason, trace_id, \
         span_id, time_ns) VALUES",
        9,
        flags,
    )
    .await;
}

async fn add_rule(db: &DatabaseConnection, org_id: Uuid, index: usize) {
    let service = || Some(SERVICES[index % SERVICES.len()].to_owned());
    let model = MODELS[index % MODELS.len()].to_owned();
    let window = [15, 60, 240, 1_440][index / 7 % 4];
    let condition = match index % 7 {
        0 => AlertCondition::ErrorRate {
            window_minutes: window,
            percent: 4.0,
            min_requests: None,
            service: service(),
            model: Some(model),
        },
        1 => AlertCondition::LatencyP95 {
            model,
            window_minutes: window,
            milliseconds: 500.0,
        },
        2 => AlertCondition::HourlyCost {
            usd: 1.0,
            service: service(),
        },
        3 => AlertCondition::Budget {
            budget_id: if index.is_multiple_of(2) {
                "team"
            } else {
                "checkout"
            }
            .to_owned(),
            percent: 80.0,
        },
        4 => AlertCondition::FlaggedPrompts { count: 5 },
        5 => AlertCondition::IngestRejections {
            window_minutes: window,
            count: 3,
        },
        _ => AlertCondition::SilentService {
            service: SERVICES[index % SERVICES.len()].to_owned(),
            minutes: 10,
        },
    };
    let now = now_ns();
    execute(
        db,
        "INSERT INTO alert_rules (id, org_id, name, condition, channel_ids, quiet_minutes, enabled, created_at_ns, \
         updated_at_ns) VALUES",
        9,
        vec![vec![
            Uuid::now_v7().into(),
            org_id.into(),
            format!("rule {index}").into(),
            serde_json::to_string(&condition).unwrap().into(),
            "[]".into(),
            10i64.into(),
            true.into(),
            now.into(),
            now.into(),
        ]],
    )
    .await;
}

async fn execute(db: &DatabaseConnection, insert: &str, width: usize, rows: Vec<Vec<Value>>) {
    let backend = db.get_database_backend();
    let count = rows.len();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!("{insert} {}", value_groups(backend, count, width)),
        rows.into_iter().flatten(),
    ))
    .await
    .unwrap();
}
