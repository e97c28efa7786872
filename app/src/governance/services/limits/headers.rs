//! The `RateLimit-Policy` and `RateLimit` fields of the IETF httpapi draft
//! (structured-field lists, one item per limit that applies): each policy
//! with its quota `q` over a window of `w` seconds, and its remaining
//! quota `r` with `t` seconds until it is whole again. A token bucket is
//! stated as its burst over the time it takes to refill from empty.

use super::{
    bucket::Rate,
    calendar::{month_end_ns, month_start_ns},
};

/// One limit that applied to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitState {
    pub name: &'static str,
    /// `qu`: what is counted, when not requests.
    pub unit: Option<&'static str>,
    pub quota: u64,
    pub window_secs: u64,
    pub remaining: u64,
    pub reset_secs: u64,
}

impl LimitState {
    pub fn bucket(name: &'static str, unit: Option<&'static str>, rate: Rate, level: f64) -> Self {
        Self {
            name,
            unit,
            quota: rate.burst as u64,
            window_secs: rate.window_secs(),
            remaining: level.max(0.0).floor() as u64,
            reset_secs: rate.secs_until(level, rate.burst).ceil() as u64,
        }
    }

    pub fn monthly(quota: u64, used: u64, now_ns: i64) -> Self {
        let month_secs = (month_end_ns(now_ns) - month_start_ns(now_ns)) / 1_000_000_000;
        Self {
            name: "monthly-spans",
            unit: Some("span"),
            quota,
            window_secs: u64::try_from(month_secs).unwrap_or(0),
            remaining: quota.saturating_sub(used),
            reset_secs: secs_to_month_end(now_ns),
        }
    }
}

/// The limits that applied to one request, for its answer's headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LimitHeaders {
    pub limits: Vec<LimitState>,
}

impl LimitHeaders {
    pub fn push(&mut self, state: LimitState) {
        self.limits.push(state);
    }

    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// The `RateLimit-Policy` field's value.
    pub fn policy(&self) -> String {
        self.limits
            .iter()
            .map(|limit| {
                let unit = limit
                    .unit
                    .map(|unit| format!(";qu=\"{unit}\""))
                    .unwrap_or_default();
                format!(
                    "\"{}\";q={};w={}{unit}",
                    limit.name, limit.quota, limit.window_secs
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The `RateLimit` field's value.
    pub fn current(&self) -> String {
        self.limits
            .iter()
            .map(|limit| format!("\"{}\";r={};t={}", limit.name, limit.remaining, limit.reset_secs))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Whole seconds to wait, at least 1 (what `Retry-After` can say).
pub fn retry_secs(wait: f64) -> u64 {
    (wait.ceil() as u64).max(1)
}

pub fn secs_to_month_end(now_ns: i64) -> u64 {
    retry_secs((month_end_ns(now_ns) - now_ns) as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_follow_the_drafts_structured_lists() {
        let rate = Rate {
            per_second: 100.0,
            burst: 200.0,
        };
        let mut headers = LimitHeaders::default();
        headers.push(LimitState::bucket("org-ingest", Some("span"), rate, 150.4));
        headers.push(LimitState::bucket("org-api", None, rate, -20.0));
        assert_eq!(
            headers.policy(),
            "\"org-ingest\";q=200;w=2;qu=\"span\", \"org-api\";q=200;w=2"
        );
        assert_eq!(headers.current(), "\"org-ingest\";r=150;t=1, \"org-api\";r=0;t=3");
    }

    #[test]
    fn a_monthly_quota_resets_when_the_month_ends() {
        // 2026-12-31T23:59:00Z: one minute left of a 31-day month.
        let now = 1_798_761_540_000_000_000;
        let state = LimitState::monthly(1_000, 1_200, now);
        assert_eq!(state.remaining, 0);
        assert_eq!(state.reset_secs, 60);
        assert_eq!(state.window_secs, 31 * 86_400);
        assert_eq!(retry_secs(0.01), 1);
    }
}
