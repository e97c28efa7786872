//! Ingest, after decoding: Specula's own span record, the LLM meaning derived
//! from its attributes, and durable storage through one batching writer.
//! OTLP wire types never reach this module; the server's `otlp` module turns
//! them into [`record::SpanRecord`]s.

pub mod demo;
pub mod genai;
pub mod metrics;
pub mod policy;
pub mod pricing;
pub mod record;
pub mod store;
pub mod writer;
