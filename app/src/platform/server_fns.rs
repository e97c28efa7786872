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

/// The Audit page's body as HTML (owners and admins): a page of the log,
/// newest first, filtered by kind of change and actor, and with `verify`
/// the state of its hash chain.
#[server]
pub async fn audit_html(
    org_id: uuid::Uuid,
    action: Option<String>,
    actor: Option<String>,
    cursor: Option<String>,
    verify: bool,
) -> Result<String, ApiError> {
    use crate::{
        accounts::types::Action,
        platform::{
            fragments::{self, AuditFilters},
            services::audit,
            types::AuditLogQuery,
        },
        server_context::{display_zone, member},
    };

    let (state, user) = member(org_id, Action::ReadAudit).await?;
    let query = AuditLogQuery {
        action: action.clone(),
        actor: actor.clone(),
        limit: Some(50),
        cursor: cursor.clone(),
        ..Default::default()
    };
    let page = audit::page(&state.db, org_id, &query).await?;
    let chain = match verify {
        true => Some(audit::verify(&state.db, org_id).await?),
        false => None,
    };
    let paged = cursor.is_some_and(|cursor| !cursor.is_empty());
    let filters = AuditFilters { action, actor };
    Ok(fragments::audit_page(
        org_id,
        page,
        chain,
        &filters,
        paged,
        &display_zone(&user).await,
    ))
}
