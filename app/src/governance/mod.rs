//! Governance: each organization's versioned policy (what ingest keeps, how
//! long data lives, the guardrails a gateway asks about) and its history.

#[cfg(feature = "ssr")]
pub mod fragments;
pub mod server_fns;
#[cfg(feature = "ssr")]
pub mod services;
pub mod types;
