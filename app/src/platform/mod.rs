//! What every domain leans on: the audit log, background-job progress,
//! caches, clocks, write transactions, and the installation's public facts.

#[cfg(feature = "ssr")]
pub mod fragments;
pub mod server_fns;
#[cfg(feature = "ssr")]
pub mod services;
pub mod types;
