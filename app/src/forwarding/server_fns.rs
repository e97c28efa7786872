//! The Forwarding page's server functions. The body is HTML rendered on
//! the server; its forms post to the functions below, which answer with a
//! redirect back (with an error, if any, in the URL).

use leptos::prelude::*;
use uuid::Uuid;

use crate::error::ApiError;

/// Where the page's forms post.
#[cfg(feature = "ssr")]
fn form_actions() -> super::fragments::FormActions {
    use leptos::server_fn::ServerFn;

    super::fragments::FormActions {
        add: AddForwardDestination::url(),
        toggle: SetForwardDestinationEnabled::url(),
        delete: DeleteForwardDestination::url(),
        test: TestForwardDestination::url(),
    }
}

/// The Forwarding page's body as HTML; `tested` (the destination's id and
/// what "Send test span" did, as JSON) shows the last test's outcome.
#[server]
pub async fn forwarding_html(
    org_id: Uuid,
    tested: Option<String>,
    error: Option<String>,
) -> Result<String, ApiError> {
    use crate::{
        accounts::{
            services::orgs,
            types::{Action, role_allows},
        },
        forwarding::{fragments, services::destinations, types::ForwardTest},
        server_context::{display_zone, member},
    };
    use leptos::server_fn::error::ServerFnUrlError;

    /// The test's outcome as the redirect after it carries it.
    #[derive(serde::Deserialize)]
    struct Tested {
        id: Uuid,
        #[serde(flatten)]
        test: ForwardTest,
    }

    let (state, user) = member(org_id, Action::Read).await?;
    let can_manage = orgs::role_of(&state.db, org_id, user.id)
        .await?
        .is_some_and(|role| role_allows(role, Action::ManagePolicies));
    let tested = tested
        .and_then(|json| serde_json::from_str::<Tested>(&json).ok())
        .map(|tested| (tested.id, tested.test));
    let error = error
        .filter(|encoded| !encoded.is_empty())
        .map(|encoded| ServerFnUrlError::<ApiError>::decode_err(&encoded).message);
    Ok(fragments::page(
        fragments::PageData {
            org_id,
            destinations: destinations::list(&state.db, org_id).await?,
            can_manage,
            tested,
            private_networks: state.forwarding.outbound.allows_private(),
        },
        form_actions(),
        error,
        &display_zone(&user).await,
    ))
}

/// Adds a destination from the page's form: headers one per line as
/// `Name: value`, services comma-separated.
#[server]
pub async fn add_forward_destination(
    org_id: Uuid,
    name: String,
    protocol: String,
    endpoint: String,
    headers: Option<String>,
    services: Option<String>,
    retry_budget_secs: Option<String>,
) -> Result<(), ApiError> {
    use crate::{
        error::AppError,
        forwarding::{
            services::destinations,
            types::{DestinationInput, ForwardHeader, ForwardProtocol},
        },
    };

    let (state, _, user) = crate::server_context::signed_in().await?;
    let protocol = ForwardProtocol::parse(&protocol)
        .ok_or_else(|| AppError::BadRequest(format!("Unknown protocol {protocol:?}")))?;
    let headers = headers
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            line.split_once(':')
                .map(|(name, value)| ForwardHeader {
                    name: name.trim().to_owned(),
                    value: value.trim().to_owned(),
                })
                .ok_or_else(|| AppError::BadRequest(format!("A header is `Name: value`, not {line:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let retry_budget_secs = match retry_budget_secs.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(text.replace(',', "").parse::<u64>().map_err(|_| {
            AppError::BadRequest(format!("The retry budget {text:?} is not a number of seconds"))
        })?),
    };
    let input = DestinationInput {
        name: Some(name),
        protocol: Some(protocol),
        endpoint: Some(endpoint),
        headers: Some(headers),
        services: Some(
            services
                .unwrap_or_default()
                .split(',')
                .map(|service| service.trim().to_owned())
                .collect(),
        ),
        retry_budget_secs,
        enabled: Some(true),
    };
    let actor = crate::server_context::actor(&state, &user).await;
    destinations::create(&state.db, &state.forwarding, org_id, &actor, &input).await?;
    Ok(())
}

/// Pauses or resumes a destination.
#[server]
pub async fn set_forward_destination_enabled(
    org_id: Uuid,
    destination_id: Uuid,
    enabled: bool,
) -> Result<(), ApiError> {
    use crate::forwarding::{services::destinations, types::DestinationInput};

    let (state, _, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    let input = DestinationInput {
        enabled: Some(enabled),
        ..DestinationInput::default()
    };
    destinations::update(
        &state.db,
        &state.forwarding,
        org_id,
        &actor,
        destination_id,
        &input,
    )
    .await?;
    Ok(())
}

#[server]
pub async fn delete_forward_destination(org_id: Uuid, destination_id: Uuid) -> Result<(), ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    Ok(crate::forwarding::services::destinations::delete(&state.db, org_id, &actor, destination_id).await?)
}

/// "Send test span": the page shows how it went.
#[server]
pub async fn test_forward_destination(org_id: Uuid, destination_id: Uuid) -> Result<(), ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    let test =
        crate::forwarding::services::test_span::send_test(&state, org_id, &actor, destination_id).await?;
    let mut tested = serde_json::to_value(&test).unwrap_or_default();
    tested["id"] = serde_json::json!(destination_id);
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("tested", &tested.to_string())
        .finish();
    leptos_axum::redirect(&format!("/settings/forwarding?{query}"));
    Ok(())
}
