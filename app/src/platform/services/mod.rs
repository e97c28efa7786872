//! Services every domain uses: the audit log, background-job progress, an
//! expiring cache, secrets and hashes, the installation's identity, and
//! the clock in the unit every stored time uses.

pub mod audit;
pub mod expiring_cache;
pub mod instance;
pub mod maintenance;
pub mod secrets;
pub mod sqlite_connection;
pub mod transaction;

/// Now, in Unix nanoseconds (the unit every stored time uses).
pub fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Unix nanoseconds as RFC 3339 in UTC, to the second.
pub fn rfc3339(nanos: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(nanos).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
