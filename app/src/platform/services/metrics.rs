//! The metrics the server exports on `/metrics` (Prometheus), named in one
//! place, and the record background jobs keep of their passes.
//!
//! Everything is recorded through the `metrics` facade: until the server
//! installs its Prometheus recorder (the CLI and most tests never do) a
//! record costs an atomic load and keeps nothing. No metric carries an
//! organization: `/metrics` is the installation's, never a tenant's.

use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
    time::Instant,
};

/// Spans in decoded trace exports, kept or not; label `transport`.
pub const SPANS_RECEIVED: &str = "specula_spans_received_total";
/// Spans acknowledged to the client (committed, or sampled out by policy); label `transport`.
pub const SPANS_ACCEPTED: &str = "specula_spans_accepted_total";
/// Spans not kept; labels `transport` and `reason` (`invalid`, `rate_limited`,
/// `quota`, `overloaded`, `unavailable`, `shutting_down`).
pub const SPANS_REJECTED: &str = "specula_spans_rejected_total";
/// OTLP export requests answered; labels `transport`, `signal` and `status`
/// (the HTTP status, or the gRPC code's name).
pub const EXPORT_REQUESTS: &str = "specula_export_requests_total";
/// Export batches waiting for the writer.
pub const INGEST_QUEUE_DEPTH: &str = "specula_ingest_queue_depth";
/// How many export batches the writer's queue holds before it answers 503.
pub const INGEST_QUEUE_CAPACITY: &str = "specula_ingest_queue_capacity";
/// Rows (spans and metric points) per commit of the writer.
pub const INGEST_BATCH_ROWS: &str = "specula_ingest_batch_rows";
/// How long the writer's commits take; label `outcome` (`ok`, `error`).
pub const INGEST_COMMIT_SECONDS: &str = "specula_ingest_commit_duration_seconds";
/// HTTP requests by `method`, `route` (the matched pattern) and `status`.
pub const HTTP_REQUEST_SECONDS: &str = "specula_http_request_duration_seconds";
/// OTLP/gRPC calls by `method` and `code`.
pub const GRPC_REQUEST_SECONDS: &str = "specula_grpc_request_duration_seconds";
/// Database connections by `pool` (`main`, `writer`) and `state` (`idle`, `in_use`).
pub const DB_POOL_CONNECTIONS: &str = "specula_db_pool_connections";
/// The most connections each `pool` opens.
pub const DB_POOL_MAX_CONNECTIONS: &str = "specula_db_pool_max_connections";
/// Live-tail streams open on this replica.
pub const LIVE_TAIL_LISTENERS: &str = "specula_live_tail_listeners";
/// Background job passes by `name` (not `job`: Prometheus gives every
/// series the `job` of its scrape) and `outcome` (`ok`; `error`; `standby`:
/// another replica holds the job's lease; `behind`: a batch done, more waiting).
pub const JOB_RUNS: &str = "specula_job_runs_total";
/// When each job (`name`) last finished a pass on this replica (Unix seconds).
pub const JOB_LAST_SUCCESS: &str = "specula_job_last_success_timestamp_seconds";
/// Seconds since each job (`name`) last finished a pass on this replica (for a job
/// that follows a backlog, since it last caught up); across replicas the
/// job's lag is the smallest (only one runs it at a time).
pub const JOB_LAG_SECONDS: &str = "specula_job_lag_seconds";
/// Spans the OTLP forwarder finished with, by `outcome`: `forwarded` (the
/// destination acknowledged them), `refused` (it refused them: a 400, or
/// its partial success), `dropped` (not delivered within the retry budget).
pub const FORWARDED_SPANS: &str = "specula_forwarded_spans_total";
/// The forwarder's export requests by `protocol` and `status` (the HTTP
/// status, the gRPC code's name, or `unreachable`).
pub const FORWARD_REQUESTS: &str = "specula_forward_requests_total";
/// Always 1; label `version`.
pub const BUILD_INFO: &str = "specula_build_info";

/// Every metric Specula itself names (the process collector adds the
/// standard `process_*` ones), with its help text, which the server
/// describes at start.
pub const DESCRIPTIONS: [(&str, &str); 19] = [
    (SPANS_RECEIVED, "Spans in decoded OTLP trace exports."),
    (SPANS_ACCEPTED, "Spans acknowledged to the client."),
    (SPANS_REJECTED, "Spans not kept, by reason."),
    (EXPORT_REQUESTS, "OTLP export requests answered, by status."),
    (INGEST_QUEUE_DEPTH, "Export batches waiting for the writer."),
    (INGEST_QUEUE_CAPACITY, "Export batches the writer's queue holds."),
    (INGEST_BATCH_ROWS, "Rows per commit of the ingest writer."),
    (INGEST_COMMIT_SECONDS, "Duration of the ingest writer's commits."),
    (HTTP_REQUEST_SECONDS, "HTTP request latency by route and status."),
    (GRPC_REQUEST_SECONDS, "OTLP/gRPC call latency by method and code."),
    (DB_POOL_CONNECTIONS, "Database connections by pool and state."),
    (
        DB_POOL_MAX_CONNECTIONS,
        "Most database connections each pool opens.",
    ),
    (LIVE_TAIL_LISTENERS, "Live-tail streams open on this replica."),
    (JOB_RUNS, "Background job passes by outcome."),
    (
        JOB_LAST_SUCCESS,
        "When each background job last finished a pass here.",
    ),
    (
        JOB_LAG_SECONDS,
        "Seconds since each background job last finished a pass here.",
    ),
    (
        FORWARDED_SPANS,
        "Spans the OTLP forwarder finished with, by outcome.",
    ),
    (
        FORWARD_REQUESTS,
        "The OTLP forwarder's export requests by protocol and status.",
    ),
    (BUILD_INFO, "The running version."),
];

/// How a background job's pass went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    Ok,
    Error,
    /// Another replica holds the job's lease; this one waits.
    Standby,
    /// A batch done with more waiting: a job that follows a backlog has
    /// not caught up, and its lag goes on growing.
    Behind,
}

impl JobOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Standby => "standby",
            Self::Behind => "behind",
        }
    }
}

/// Where a job stands in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    /// Last finished a pass then.
    PassedAt(Instant),
    /// A one-off job (a backfill) that has done all it had to.
    Complete,
}

fn standings() -> &'static Mutex<HashMap<&'static str, Standing>> {
    static STANDINGS: OnceLock<Mutex<HashMap<&'static str, Standing>>> = OnceLock::new();
    STANDINGS.get_or_init(Default::default)
}

fn set_standing(job: &'static str, standing: Standing) {
    standings()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(job, standing);
}

/// Records a pass of `job`: counted by outcome, and a finished one moves
/// the job's last success (and so its lag) forward.
pub fn job_pass(job: &'static str, outcome: JobOutcome) {
    metrics::counter!(JOB_RUNS, "name" => job, "outcome" => outcome.label()).increment(1);
    if outcome == JobOutcome::Ok {
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        metrics::gauge!(JOB_LAST_SUCCESS, "name" => job).set(now);
        set_standing(job, Standing::PassedAt(Instant::now()));
    }
}

/// Records the pass of `job` a result stands for.
pub fn job_result<T, E>(job: &'static str, result: &Result<T, E>) {
    let outcome = if result.is_ok() {
        JobOutcome::Ok
    } else {
        JobOutcome::Error
    };
    job_pass(job, outcome);
}

/// Records the end of a one-off job (a backfill): done, its lag stays 0.
pub fn job_completed<T, E>(job: &'static str, result: &Result<T, E>) {
    job_result(job, result);
    if result.is_ok() {
        set_standing(job, Standing::Complete);
    }
}

/// Sets every job's lag to the time since its last finished pass (called
/// when `/metrics` is read, so the figure is the scrape's).
pub fn record_job_lags() {
    let standings = standings()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for (job, standing) in standings.iter() {
        let lag = match standing {
            Standing::PassedAt(at) => at.elapsed().as_secs_f64(),
            Standing::Complete => 0.0,
        };
        metrics::gauge!(JOB_LAG_SECONDS, "name" => *job).set(lag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        for (name, help) in DESCRIPTIONS {
            assert!(
                name.bytes().all(|byte| byte.is_ascii_lowercase() || byte == b'_'),
                "{name}"
            );
            assert!(!help.is_empty());
        }
        let counters = [
            SPANS_RECEIVED,
            SPANS_ACCEPTED,
            SPANS_REJECTED,
            EXPORT_REQUESTS,
            JOB_RUNS,
            FORWARDED_SPANS,
            FORWARD_REQUESTS,
        ];
        assert!(counters.iter().all(|name| name.ends_with("_total")));
        let mut names: Vec<&str> = DESCRIPTIONS.iter().map(|(name, _)| *name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DESCRIPTIONS.len(), "a name is described twice");
    }

    #[test]
    fn a_finished_pass_starts_the_lag_again() {
        let standing = || standings().lock().unwrap().get("unit test job").copied();
        job_pass("unit test job", JobOutcome::Error);
        assert_eq!(standing(), None);
        job_pass("unit test job", JobOutcome::Ok);
        let Some(Standing::PassedAt(first)) = standing() else {
            panic!("no pass recorded")
        };
        std::thread::sleep(std::time::Duration::from_millis(5));
        job_pass("unit test job", JobOutcome::Standby);
        job_pass("unit test job", JobOutcome::Behind);
        assert_eq!(standing(), Some(Standing::PassedAt(first)));
        job_result("unit test job", &Ok::<(), ()>(()));
        assert!(matches!(standing(), Some(Standing::PassedAt(later)) if later > first));
        job_completed("unit test job", &Err::<(), ()>(()));
        assert!(matches!(standing(), Some(Standing::PassedAt(_))));
        job_completed("unit test job", &Ok::<(), ()>(()));
        assert_eq!(standing(), Some(Standing::Complete));
    }
}
