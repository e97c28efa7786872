//! Token-bucket arithmetic, pure: a bucket refills at `per_second` up to
//! `burst`. A request is let in while the bucket holds one unit and takes
//! all it needs, going into debt if it needs more than is there: the size
//! of an export is only known once it is decoded, and refusing a request
//! larger than the burst for ever would be worse. Over time the rate holds
//! exactly; at once, a bucket lets through at most its burst plus one
//! request per caller in flight.

use crate::governance::types::{RateInForce, RateSetting};

/// A bucket's refill rate and size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    pub fn from_setting(setting: RateSetting) -> Self {
        let per_second = setting.per_second.max(1) as f64;
        Self {
            per_second,
            burst: setting
                .burst
                .map_or(per_second * 2.0, |burst| burst.max(1) as f64),
        }
    }

    /// The tighter of two limits on one thing, each part on its own.
    pub fn tighter(self, other: Self) -> Self {
        Self {
            per_second: self.per_second.min(other.per_second),
            burst: self.burst.min(other.burst),
        }
    }

    pub fn in_force(self) -> RateInForce {
        RateInForce {
            per_second: self.per_second as u64,
            burst: self.burst as u64,
        }
    }

    /// Seconds an empty bucket takes to fill: the window the
    /// `RateLimit-Policy` header states its quota (the burst) over.
    pub fn window_secs(self) -> u64 {
        (self.burst / self.per_second).ceil().max(1.0) as u64
    }

    /// Seconds until a bucket at `level` holds `wanted`.
    pub fn secs_until(self, level: f64, wanted: f64) -> f64 {
        ((wanted - level) / self.per_second).max(0.0)
    }
}

/// One bucket's level at a time (seconds on the caller's clock).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    level: f64,
    at: f64,
}

/// What a take found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Take {
    /// Let in; the level after (negative: in debt).
    Admitted { level: f64 },
    /// Less than one unit left: one will be in `wait_secs`.
    Refused { wait_secs: f64 },
}

impl Bucket {
    pub fn full(rate: Rate, now: f64) -> Self {
        Self {
            level: rate.burst,
            at: now,
        }
    }

    /// The level at `now`.
    pub fn level(&self, rate: Rate, now: f64) -> f64 {
        (self.level + (now - self.at).max(0.0) * rate.per_second).min(rate.burst)
    }

    /// Takes `amount` if the bucket holds at least one unit at `now`.
    pub fn take(&mut self, rate: Rate, amount: f64, now: f64) -> Take {
        let level = self.level(rate, now);
        self.at = now.max(self.at);
        self.level = level;
        if level < 1.0 {
            return Take::Refused {
                wait_secs: rate.secs_until(level, 1.0),
            };
        }
        self.level = level - amount;
        Take::Admitted { level: self.level }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        per_second: 100.0,
        burst: 200.0,
    };

    #[test]
    fn a_full_bucket_lets_its_burst_through_then_refuses_until_it_refills() {
        let mut bucket = Bucket::full(RATE, 0.0);
        assert_eq!(bucket.take(RATE, 150.0, 0.0), Take::Admitted { level: 50.0 });
        assert_eq!(bucket.take(RATE, 50.0, 0.0), Take::Admitted { level: 0.0 });
        let Take::Refused { wait_secs } = bucket.take(RATE, 1.0, 0.0) else {
            panic!("an empty bucket refuses");
        };
        assert!((wait_secs - 0.01).abs() < 1e-9, "one unit in 10 ms: {wait_secs}");
        // Half a second later, 50 are back.
        assert_eq!(bucket.take(RATE, 10.0, 0.5), Take::Admitted { level: 40.0 });
    }

    #[test]
    fn a_large_request_goes_into_debt_which_later_requests_wait_out() {
        let mut bucket = Bucket::full(RATE, 0.0);
        assert_eq!(bucket.take(RATE, 500.0, 0.0), Take::Admitted { level: -300.0 });
        let Take::Refused { wait_secs } = bucket.take(RATE, 1.0, 1.0) else {
            panic!("in debt");
        };
        assert!((wait_secs - 2.01).abs() < 1e-9, "{wait_secs}");
        assert!(matches!(bucket.take(RATE, 1.0, 3.02), Take::Admitted { .. }));
    }

    #[test]
    fn over_time_the_rate_holds() {
        let mut bucket = Bucket::full(RATE, 0.0);
        let mut admitted = 0.0;
        // 10 seconds of a caller trying 50 every 10 ms (5,000/s).
        for step in 0..1_000 {
            if let Take::Admitted { .. } = bucket.take(RATE, 50.0, step as f64 * 0.01) {
                admitted += 50.0;
            }
        }
        // The burst plus 10 s at 100/s, plus at most one request of debt.
        assert!(admitted <= 200.0 + 1_000.0 + 50.0, "{admitted}");
        assert!(admitted >= 1_000.0, "{admitted}");
    }

    #[test]
    fn the_level_never_passes_the_burst_and_time_going_back_changes_nothing() {
        let bucket = Bucket::full(RATE, 10.0);
        assert_eq!(bucket.level(RATE, 1_000.0), 200.0);
        assert_eq!(bucket.level(RATE, 5.0), 200.0);
    }

    #[test]
    fn settings_become_rates_with_a_default_burst_of_two_seconds() {
        let rate = Rate::from_setting(RateSetting {
            per_second: 500,
            burst: None,
        });
        assert_eq!(rate.burst, 1_000.0);
        assert_eq!(rate.window_secs(), 2);
        let tighter = rate.tighter(Rate {
            per_second: 100.0,
            burst: 5_000.0,
        });
        assert_eq!((tighter.per_second, tighter.burst), (100.0, 1_000.0));
    }
}
