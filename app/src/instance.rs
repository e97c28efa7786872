//! What the UI needs to know about this installation: its version and the
//! endpoints SDKs should send telemetry to.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

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

#[server]
pub async fn get_instance_info() -> Result<InstanceInfo, ApiError> {
    let state = expect_context::<crate::state::AppState>();
    let public_url = state.instance.public_url.clone();
    Ok(InstanceInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        otlp_http_traces_url: format!("{public_url}/v1/traces"),
        otlp_grpc_url: state.instance.public_grpc_url.clone(),
        public_url,
    })
}
