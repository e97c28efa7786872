//! OTLP forwarding: each organization's destinations (an OpenTelemetry
//! Collector, Tempo, Jaeger, another Specula) that its spans are also sent
//! to after the policy step, and how far each has come. The forwarder
//! itself (encoding, HTTP and gRPC clients, the job) is the server's, which
//! owns the OTLP types; it reaches the pages through `state::SpanForwarder`.

#[cfg(feature = "ssr")]
pub mod fragments;
pub mod server_fns;
pub mod types;

#[cfg(feature = "ssr")]
pub mod services;
