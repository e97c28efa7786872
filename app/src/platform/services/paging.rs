//! Reads a page at a time that can also answer as CSV: the `format` and
//! `limit` every such API takes, read the same way everywhere.

use crate::error::{AppError, Result};

pub const DEFAULT_PAGE: u64 = 100;
/// Rows of one JSON page; a `cursor` leads on.
pub const MAX_PAGE: u64 = 1_000;
/// Rows of one CSV download.
pub const MAX_CSV_ROWS: u64 = 10_000;

/// Whether the caller asked for CSV (or JSON, the default).
pub fn wants_csv(format: Option<&str>) -> Result<bool> {
    match format.unwrap_or("json") {
        "json" | "" => Ok(false),
        "csv" => Ok(true),
        other => Err(AppError::BadRequest(format!(
            "`format` must be json or csv, got {other:?}"
        ))),
    }
}

/// The rows to read for `limit`: 1 to 10,000 (default 100, or 10,000 as
/// CSV), a JSON page holding at most [`MAX_PAGE`].
pub fn page_rows(limit: Option<u64>, csv: bool) -> Result<u64> {
    let limit = limit.unwrap_or(if csv { MAX_CSV_ROWS } else { DEFAULT_PAGE });
    if !(1..=MAX_CSV_ROWS).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "`limit` must be 1 to {MAX_CSV_ROWS}"
        )));
    }
    Ok(if csv { limit } else { limit.min(MAX_PAGE) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_limits_are_read_alike() {
        assert!(!wants_csv(None).unwrap());
        assert!(wants_csv(Some("csv")).unwrap());
        assert!(wants_csv(Some("xml")).is_err());
        assert_eq!(page_rows(None, false).unwrap(), 100);
        assert_eq!(page_rows(None, true).unwrap(), 10_000);
        assert_eq!(page_rows(Some(5_000), false).unwrap(), 1_000);
        assert_eq!(page_rows(Some(5_000), true).unwrap(), 5_000);
        assert!(page_rows(Some(0), false).is_err());
        assert!(page_rows(Some(10_001), true).is_err());
    }
}
