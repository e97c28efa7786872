//! The span store: the only module that names the span tables (`spans`,
//! their payloads, the `traces` rollups and the `span_search` index). Ingest
//! writes through [`write_spans`]; the REST API, the pages and the cost
//! services read through the functions re-exported here.
//!
//! No trait stands in front of it while one store exists. A column store
//! (ClickHouse, as the largest peers use for spans) would be a second module
//! with these functions, chosen where the state is built; rollups, accounts
//! and policies stay in the relational database.

pub mod query;
mod row;
pub mod search;
pub mod spans;
pub mod traces;
mod views;
mod write;

pub use row::{SpanBatch, SpanRow};
pub use write::{StoredSpan, write_spans};
