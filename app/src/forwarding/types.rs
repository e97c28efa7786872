//! Forwarding destinations as the API and the settings page show them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How spans go to a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ForwardProtocol {
    /// OTLP/HTTP with a protobuf body (gzip), to `…/v1/traces`.
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    /// OTLP/gRPC (`TraceService/Export`), plaintext for `http://`, TLS for `https://`.
    #[serde(rename = "grpc")]
    Grpc,
}

impl ForwardProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HttpProtobuf => "http/protobuf",
            Self::Grpc => "grpc",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "http/protobuf" | "http" => Some(Self::HttpProtobuf),
            "grpc" => Some(Self::Grpc),
            _ => None,
        }
    }
}

/// A new destination, or a change to one (absent fields keep their value;
/// `headers`, when given, replaces them all).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DestinationInput {
    pub name: Option<String>,
    pub protocol: Option<ForwardProtocol>,
    /// For `http/protobuf`, the traces URL; a URL without a path gets
    /// `/v1/traces`. For `grpc`, the server's `http://` or `https://` address.
    pub endpoint: Option<String>,
    /// Sent with every request (an `Authorization` token, a tenant id);
    /// kept encrypted, never shown again.
    pub headers: Option<Vec<ForwardHeader>>,
    /// Only spans of these services (by `service.name`); empty or absent: all.
    pub services: Option<Vec<String>>,
    /// How long after it was stored a span may still be retried while the
    /// destination fails (seconds, 1 to 604,800; 600 unless given). Spans
    /// older than that when a send fails are dropped and counted.
    pub retry_budget_secs: Option<u64>,
    pub enabled: Option<bool>,
}

/// One header sent to a destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ForwardHeader {
    pub name: String,
    pub value: String,
}

/// A destination as listed: where it sends (header values left out) and
/// how it is going.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Destination {
    pub id: Uuid,
    pub name: String,
    pub protocol: ForwardProtocol,
    pub endpoint: String,
    /// The names of the headers it sends (their values are not shown).
    pub header_names: Vec<String>,
    /// Only spans of these services; empty: all.
    pub services: Vec<String>,
    pub retry_budget_secs: u64,
    pub enabled: bool,
    /// Spans the destination acknowledged.
    pub forwarded_spans: u64,
    /// Spans given up on: not delivered within the retry budget.
    pub dropped_spans: u64,
    /// Spans the destination refused (a 400, or its partial success).
    pub rejected_spans: u64,
    /// Spans stored and not yet forwarded (counted up to 100,000).
    pub pending_spans: u64,
    pub last_success_at: Option<String>,
    pub last_attempt_at: Option<String>,
    /// Why the last send failed; absent once one succeeds.
    pub last_error: Option<String>,
    /// Since when sends fail, while they do.
    pub failing_since: Option<String>,
    pub created_at: String,
}

/// What "Send test span" did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ForwardTest {
    pub delivered: bool,
    /// The test span's trace id, to look it up at the destination.
    pub trace_id: String,
    /// The HTTP status or gRPC code the destination answered.
    pub answer: Option<String>,
    pub error: Option<String>,
}
