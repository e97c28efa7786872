//! Domain services: the queries and rules that server functions and REST
//! handlers share. Each takes a `&DatabaseConnection` (or the state it needs)
//! and returns plain types; none knows about HTTP.

pub mod accounts;
pub mod audit;
pub mod cost_dashboard;
pub mod cost_logs;
pub mod expiring_cache;
pub mod genai_metrics;
pub mod ingest;
pub mod instance;
pub mod live;
pub mod maintenance;
pub mod orgs;
pub mod passwords;
pub mod prices;
pub mod recompute;
pub mod search;
pub mod secrets;
pub mod sessions;
pub mod spans;
pub mod throttle;
pub mod tokens;
pub mod traces;
pub mod usage;

/// Now, in Unix nanoseconds (the unit every stored time uses).
pub fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Unix nanoseconds as RFC 3339 in UTC, to the second.
pub fn rfc3339(nanos: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(nanos).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
