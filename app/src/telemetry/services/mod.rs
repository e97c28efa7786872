//! The telemetry services: ingest (decoded spans to committed rows), the
//! span reads of the REST API and the pages, full-text search and live tail.

pub mod demo_workload;
pub mod ingest;
pub mod live;
pub mod span;
pub mod span_store;
