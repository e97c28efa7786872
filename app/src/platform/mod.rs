//! What every domain leans on: the server's state, the server functions'
//! request context, the audit log, background-job progress, caches and
//! clocks, and the installation's public facts.

#[cfg(feature = "ssr")]
pub mod server_context;
pub mod server_fns;
#[cfg(feature = "ssr")]
pub mod services;
#[cfg(feature = "ssr")]
pub mod state;
pub mod types;
