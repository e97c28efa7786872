//! Failed-login throttling, per email and per client address.
//!
//! Only failures count, in fixed windows: after too many failures the key is
//! refused until its window ends. Kept in memory, per replica: a restart
//! forgives, which is acceptable for a brake on password guessing.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

#[derive(Clone, Copy, Debug)]
pub struct ThrottleLimits {
    pub failures_per_email: u32,
    pub failures_per_address: u32,
    pub window: Duration,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        Self {
            failures_per_email: 5,
            failures_per_address: 30,
            window: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Entries kept before expired ones are swept out.
const SWEEP_THRESHOLD: usize = 10_000;

#[derive(Debug, Default)]
pub struct LoginThrottle {
    limits: ThrottleLimits,
    windows: Mutex<HashMap<String, Window>>,
}

impl LoginThrottle {
    pub fn new(limits: ThrottleLimits) -> Self {
        Self {
            limits,
            windows: Mutex::default(),
        }
    }

    fn keys(email: &str, address: Option<IpAddr>) -> [(Option<String>, u32); 2] {
        [
            (Some(format!("email:{email}")), 0),
            (address.map(|ip| format!("ip:{ip}")), 1),
        ]
    }

    fn limit(&self, kind: u32) -> u32 {
        if kind == 0 {
            self.limits.failures_per_email
        } else {
            self.limits.failures_per_address
        }
    }

    /// `Err(wait)` when this email or address must wait before trying again.
    pub fn check(&self, email: &str, address: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        let windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut wait = Duration::ZERO;
        for (key, kind) in Self::keys(email, address) {
            let Some(window) = key.and_then(|key| windows.get(&key).copied()) else {
                continue;
            };
            let ends = window.started + self.limits.window;
            if window.failures >= self.limit(kind) && ends > now {
                wait = wait.max(ends - now);
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    pub fn record_failure(&self, email: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() > SWEEP_THRESHOLD {
            windows.retain(|_, window| window.started + self.limits.window > now);
        }
        for (key, _) in Self::keys(email, address) {
            let Some(key) = key else { continue };
            let window = windows.entry(key).or_insert(Window {
                started: now,
                failures: 0,
            });
            if window.started + self.limits.window <= now {
                *window = Window {
                    started: now,
                    failures: 0,
                };
            }
            window.failures += 1;
        }
    }

    /// A successful login clears the email's failures (not the address's).
    pub fn record_success(&self, email: &str) {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        windows.remove(&format!("email:{email}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(per_email: u32, per_address: u32) -> LoginThrottle {
        LoginThrottle::new(ThrottleLimits {
            failures_per_email: per_email,
            failures_per_address: per_address,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn email_is_locked_after_its_limit_and_cleared_by_success() {
        let throttle = throttle(3, 100);
        let ip = Some("10.0.0.1".parse().unwrap());
        for _ in 0..3 {
            assert!(throttle.check("a@x.io", ip).is_ok());
            throttle.record_failure("a@x.io", ip);
        }
        let wait = throttle.check("a@x.io", ip).unwrap_err();
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(50));
        assert!(
            throttle.check("b@x.io", ip).is_ok(),
            "other emails are not affected"
        );
        throttle.record_success("a@x.io");
        assert!(throttle.check("a@x.io", ip).is_ok());
    }

    #[test]
    fn address_is_locked_across_emails() {
        let throttle = throttle(100, 4);
        let ip = Some("10.0.0.2".parse().unwrap());
        for n in 0..4 {
            throttle.record_failure(&format!("user{n}@x.io"), ip);
        }
        assert!(throttle.check("new@x.io", ip).is_err());
        assert!(
            throttle
                .check("new@x.io", Some("10.0.0.3".parse().unwrap()))
                .is_ok()
        );
    }
}
