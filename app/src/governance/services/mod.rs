//! Server-side governance: policy versions and the per-replica book of
//! compiled policies that ingest applies.

pub mod book;
pub mod dry_run;
pub mod evaluate;
pub mod events;
pub mod guardrails;
pub mod limits;
pub mod limits_report;
pub mod policies;
pub mod retention;
pub mod rules;
