//! Alert rules and their evaluator, silences, history, channels and the
//! outbox their notifications go through.

use std::{sync::Arc, time::Duration};

use crate::platform::services::sealed::SealingKey;

pub mod channels;
pub mod deliveries;
pub mod email;
pub mod evaluator;
pub mod events;
pub mod measure;
pub mod notify;
pub mod rules;
pub mod silences;

use crate::platform::services::outbound::Outbound;

/// The installation's alert settings (cheap to clone).
#[derive(Clone, Debug)]
pub struct AlertSettings {
    /// How often the evaluator checks every rule.
    pub interval: Duration,
    /// The guarded HTTP client for webhooks and Slack.
    pub outbound: Outbound,
    /// Seals channels' secrets; without it, channels cannot be added.
    pub sealing: Option<SealingKey>,
    /// PEM certificates trusted beside the public roots for SMTP (an internal relay's CA).
    pub smtp_roots: Option<Arc<[u8]>>,
    /// Links in notifications start with it.
    pub public_url: String,
}
