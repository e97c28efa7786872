//! Specula's sea-orm entities: one module per table, nothing else.
//!
//! Queries live in the service modules of `app` (its `ssr` side); this crate
//! only describes the shape of the rows so that both the server and the
//! services agree on it.

pub mod api_token;
pub mod audit_entry;
pub mod cost_recompute;
pub mod demo_workload;
pub mod governance_event;
pub mod instance;
pub mod invitation;
pub mod membership;
pub mod metric_point;
pub mod model_price;
pub mod organization;
pub mod policy_version;
pub mod session;
pub mod span;
pub mod trace;
pub mod user;
