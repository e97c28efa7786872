//! Cross-cutting shapes shared with the browser: what the UI knows about
//! this installation (its version, where SDKs send telemetry) and the
//! audit log's entries.

use serde::{Deserialize, Serialize};

/// Public facts about this Specula installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfo {
    pub version: String,
    /// Base URL of the UI, REST API and OTLP/HTTP receiver.
    pub public_url: String,
    /// `{public_url}/v1/traces`: where OTLP/HTTP exporters post spans.
    pub otlp_http_traces_url: String,
    /// The OTLP/gRPC endpoint.
    pub otlp_grpc_url: String,
}

/// One entry of the organization's audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub summary: String,
}
