//! What ingest tells `/metrics`: spans received, accepted and rejected by
//! reason and transport; export requests by status; gRPC latency.

use std::time::Instant;

use app::{governance::services::limits::RefusedFor, platform::services::metrics as names};
use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
};

use super::error::IngestError;

/// How an export reached the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Http,
    Grpc,
    /// The demo workload, which Specula sends itself.
    Demo,
}

impl Transport {
    fn label(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Grpc => "grpc",
            Self::Demo => "demo",
        }
    }
}

pub fn spans_received(transport: Transport, count: u64) {
    metrics::counter!(names::SPANS_RECEIVED, "transport" => transport.label()).increment(count);
}

pub fn spans_accepted(transport: Transport, count: u64) {
    metrics::counter!(names::SPANS_ACCEPTED, "transport" => transport.label()).increment(count);
}

/// Spans not kept: `invalid` ones of a partial success, or all of an
/// export refused after decoding.
pub fn spans_rejected(transport: Transport, reason: &'static str, count: u64) {
    if count > 0 {
        metrics::counter!(names::SPANS_REJECTED, "transport" => transport.label(), "reason" => reason)
            .increment(count);
    }
}

/// The reason label of spans an export failure took.
pub fn rejection_reason(err: &IngestError) -> &'static str {
    match err {
        IngestError::Refused(refusal) => match refusal.reason {
            RefusedFor::Rate => "rate_limited",
            RefusedFor::Quota => "quota",
        },
        IngestError::Overloaded => "overloaded",
        IngestError::ShuttingDown => "shutting_down",
        IngestError::Unavailable(_) => "unavailable",
        IngestError::Malformed(_)
        | IngestError::TooLarge(_)
        | IngestError::UnsupportedMediaType(_)
        | IngestError::Forbidden(_) => "invalid",
    }
}

/// The signal a route or gRPC method exports.
fn signal_of(route: &str) -> &'static str {
    match route {
        "/v1/traces" | "TraceService/Export" => "traces",
        "/v1/metrics" | "MetricsService/Export" => "metrics",
        _ => "unknown",
    }
}

/// Counts OTLP/HTTP export answers by status, the token check's included.
pub async fn track_http_export(request: Request, next: Next) -> Response {
    let signal = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unknown", |path| signal_of(path.as_str()));
    let response = next.run(request).await;
    metrics::counter!(
        names::EXPORT_REQUESTS,
        "transport" => "http",
        "signal" => signal,
        "status" => response.status().as_u16().to_string(),
    )
    .increment(1);
    response
}

/// Counts OTLP/gRPC calls by code and times them, refusals before the
/// service (a missing token, a message over the size limit) included. A
/// failed unary call answers with its status in the headers; a call that
/// succeeded has none there (it follows in the trailers).
pub async fn track_grpc(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = grpc_method(request.uri().path());
    let signal = signal_of(method);
    let response = next.run(request).await;
    let code = response
        .headers()
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from);
    let code = format!("{code:?}");
    metrics::histogram!(names::GRPC_REQUEST_SECONDS, "method" => method, "code" => code.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        names::EXPORT_REQUESTS,
        "transport" => "grpc",
        "signal" => signal,
        "status" => code,
    )
    .increment(1);
    response
}

/// `Service/Method` of a gRPC path, from the two services served; any
/// other path is one series.
fn grpc_method(path: &str) -> &'static str {
    match path {
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export" => "TraceService/Export",
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export" => "MetricsService/Export",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_signals_are_named_from_a_fixed_set() {
        assert_eq!(
            grpc_method("/opentelemetry.proto.collector.trace.v1.TraceService/Export"),
            "TraceService/Export"
        );
        assert_eq!(grpc_method("/x.Y/Z"), "unknown");
        assert_eq!(signal_of("TraceService/Export"), "traces");
        assert_eq!(signal_of("/v1/traces"), "traces");
        assert_eq!(signal_of("/v1/metrics"), "metrics");
        assert_eq!(signal_of("unknown"), "unknown");
    }
}
