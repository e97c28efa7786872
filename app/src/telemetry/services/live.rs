//! Live tail: who has new spans. The writer announces each organization
//! whose spans it just committed; live listeners then read what is new for
//! them from the database, through the same filters as the explorer. On
//! PostgreSQL the announcement is also a `NOTIFY` sent in the commit, so
//! listeners on every replica hear of spans any replica stored.

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The PostgreSQL channel new-span announcements travel on.
pub const NOTIFY_CHANNEL: &str = "specula_new_spans";

/// Announcements per process; a listener that falls this far behind
/// re-reads from the database anyway, so lagging loses nothing.
const CAPACITY: usize = 1024;

/// The in-process announcement bus; cheap to clone.
#[derive(Clone, Debug)]
pub struct LiveHub {
    sender: broadcast::Sender<Uuid>,
    /// Cancelled when the server shuts down: live streams end instead of
    /// holding the shutdown grace period open.
    closed: CancellationToken,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            closed: CancellationToken::new(),
        }
    }
}

impl LiveHub {
    /// Tells listeners that `org_id` has new spans.
    pub fn announce(&self, org_id: Uuid) {
        // No listener is not an error.
        let _ = self.sender.send(org_id);
    }

    /// Live-tail streams open now.
    pub fn listeners(&self) -> usize {
        self.sender.receiver_count()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.sender.subscribe()
    }

    /// Ends every live stream (at shutdown).
    pub fn close(&self) {
        self.closed.cancel();
    }

    pub fn closed(&self) -> &CancellationToken {
        &self.closed
    }
}
