//! How a policy writes its rules: patterns (regex or literal, case folded
//! on request) and dollar amounts, read the same way by ingest, the dry
//! run and the guardrails.

use crate::governance::types::MatchKind;

/// A rule's pattern as a regular expression: literal text escaped, case
/// folded on request.
pub fn rule_regex(kind: MatchKind, pattern: &str, case_insensitive: bool) -> String {
    let body = match kind {
        MatchKind::Regex => pattern.to_owned(),
        MatchKind::Literal => regex::escape(pattern),
    };
    if case_insensitive {
        format!("(?i:{body})")
    } else {
        body
    }
}

/// US dollars (a decimal string) as nano-dollars.
pub fn usd_nanos(text: &str) -> Option<i64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|usd| usd.is_finite() && *usd >= 0.0 && *usd < 9.0e9)
        .map(|usd| (usd * 1e9).round() as i64)
}
