//! What every page may ask about the installation itself.

use leptos::prelude::*;

use crate::{error::ApiError, platform::types::InstanceInfo};

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
