//! Costs: usage rollups read as reports and charts, the per-span cost log,
//! prices (built in and per organization), cost recomputes and the GenAI
//! metrics.

#[cfg(feature = "ssr")]
pub mod fragments;
pub mod server_fns;
#[cfg(feature = "ssr")]
pub mod services;
pub mod types;
