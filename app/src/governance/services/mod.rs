//! Server-side governance: policy versions and the per-replica book of
//! compiled policies that ingest applies.

pub mod book;
pub mod dry_run;
pub mod policies;
