//! Forwarding destinations (`destinations`), "Send test span"
//! (`test_span`), and the reading side of the forwarder: the horizon below
//! which the span table holds no more gaps (`follow`).

pub mod destinations;
pub mod follow;
pub mod test_span;

use crate::platform::services::{outbound::Outbound, sealed::SealingKey};

/// The installation's forwarding settings (cheap to clone).
#[derive(Clone, Debug)]
pub struct ForwardSettings {
    /// Checks destinations' addresses (and connects through its resolver):
    /// private networks only with `SPECULA_FORWARDING_ALLOW_PRIVATE_NETWORKS`.
    pub outbound: Outbound,
    /// Seals destinations' header values; without it, headers cannot be set.
    pub sealing: Option<SealingKey>,
}
