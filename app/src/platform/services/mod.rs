//! Services every domain uses: the audit log, background-job progress, an
//! expiring cache, the guarded outbound HTTP client, secrets and hashes, the installation's identity, and
//! the clock in the unit every stored time uses.

pub mod audit;
pub mod expiring_cache;
pub mod instance;
pub mod lease;
pub mod maintenance;
pub mod metrics;
pub mod outbound;
pub mod paging;
pub mod sealed;
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

/// A time as RFC 3339, Unix nanoseconds, or a date and time without a zone
/// (`2026-01-31T09:30[:15]`, what a browser's date-time field sends), read as UTC.
pub fn parse_time(name: &str, value: &str) -> crate::error::Result<i64> {
    if let Ok(nanos) = value.parse::<i64>() {
        return Ok(nanos);
    }
    let zoned = chrono::DateTime::parse_from_rfc3339(value).map(|time| time.to_utc());
    let utc = zoned.ok().or_else(|| {
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|format| chrono::NaiveDateTime::parse_from_str(value, format).ok())
            .map(|naive| naive.and_utc())
    });
    utc.and_then(|time| time.timestamp_nanos_opt()).ok_or_else(|| {
        crate::error::AppError::BadRequest(format!(
            "`{name}` must be an RFC 3339 time, a UTC date and time (2026-01-31T09:30) or Unix nanoseconds, got {value:?}"
        ))
    })
}
