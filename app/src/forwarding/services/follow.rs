//! The horizon the forwarder reads up to: the highest span row id below
//! which the span table has no gap that may still fill. On PostgreSQL with
//! several replicas, ids are taken when a row is inserted and seen when its
//! transaction commits, so a lower id can appear after a higher one; a
//! destination that passed it would never send that span. A missing id
//! holds the horizon back until it has been missing for [`GAP_WAIT_NS`]
//! (then it was rolled back, or removed before it was read), as the
//! similarity worker's cursor does.

use sea_orm::ConnectionTrait;

use crate::{error::Result, telemetry::services::span_store};

/// How long a missing span id holds the horizon back.
pub const GAP_WAIT_NS: i64 = 10_000_000_000;
/// Ids read per step.
const STEP_IDS: u64 = 50_000;

/// Where the horizon stands, and the gap holding it, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Horizon {
    position: i64,
    /// The first missing id above the position, and since when.
    gap: Option<(i64, i64)>,
}

impl Horizon {
    /// A horizon at `position`: every id up to it has been settled.
    pub fn at(position: i64) -> Self {
        Self { position, gap: None }
    }

    pub fn position(&self) -> i64 {
        self.position
    }

    /// Moves the horizon as far as the stored ids allow at `now`.
    pub async fn advance(&mut self, db: &impl ConnectionTrait, now: i64) -> Result<i64> {
        loop {
            let ids = span_store::span_ids_after(db, self.position, STEP_IDS).await?;
            let read = ids.len() as u64;
            if !self.pass(&ids, now) || read < STEP_IDS {
                return Ok(self.position);
            }
        }
    }

    /// Passes `ids` (in order, all above the position) up to the first gap
    /// younger than [`GAP_WAIT_NS`]; false when one held it.
    fn pass(&mut self, ids: &[i64], now: i64) -> bool {
        for &id in ids {
            let expected = self.position + 1;
            if id != expected {
                let since = match self.gap {
                    Some((missing, since)) if missing == expected => since,
                    _ => {
                        self.gap = Some((expected, now));
                        now
                    }
                };
                if now - since < GAP_WAIT_NS {
                    return false;
                }
            }
            self.position = id;
            self.gap = None;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_holds_the_horizon_until_it_has_waited() {
        let mut horizon = Horizon::at(10);
        assert!(horizon.pass(&[11, 12], 0));
        assert_eq!(horizon.position(), 12);
        // 13 is missing: a transaction still writing it.
        assert!(!horizon.pass(&[14, 15], 1_000));
        assert_eq!(horizon.position(), 12);
        // It commits: the horizon passes it.
        assert!(horizon.pass(&[13, 14, 15], 2_000));
        assert_eq!(horizon.position(), 15);
        // 16 never comes (rolled back): passed once it has waited.
        assert!(!horizon.pass(&[17], 3_000));
        assert!(!horizon.pass(&[17], 3_000 + GAP_WAIT_NS - 1));
        assert!(horizon.pass(&[17], 3_000 + GAP_WAIT_NS));
        assert_eq!(horizon.position(), 17);
    }
}
