//! Telemetry: spans and traces, from the OTLP payload the server decodes to
//! the pages that read them: the ingest pipeline, the span store, search,
//! live tail and export.

pub mod server_fns;
#[cfg(feature = "ssr")]
pub mod services;
pub mod types;
