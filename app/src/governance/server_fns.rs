//! The Policies page's server functions. The page's body is HTML rendered
//! on the server; its forms post to `save_policy` and `restore_policy`,
//! which answer with a redirect back (and an error, if any, in the URL).

use leptos::prelude::*;
use uuid::Uuid;

use crate::error::ApiError;

/// Where the page's forms post.
#[cfg(feature = "ssr")]
fn form_actions() -> super::fragments::FormActions {
    use leptos::server_fn::ServerFn;

    super::fragments::FormActions {
        save: SavePolicy::url(),
        restore: RestorePolicy::url(),
    }
}

/// The Policies page's body as HTML: the version in force, the editor
/// (owners and admins), what was left out, and the history.
#[server]
pub async fn policies_html(org_id: Uuid, error: Option<String>) -> Result<String, ApiError> {
    use crate::{
        accounts::{
            services::orgs,
            types::{Action, role_allows},
        },
        error::AppError,
        governance::{
            fragments,
            services::{events, policies, retention},
            types::GovernanceEventQuery,
        },
        server_context::{display_zone, member},
    };
    use leptos::server_fn::error::ServerFnUrlError;

    let (state, user) = member(org_id, Action::Read).await?;
    let role = orgs::role_of(&state.db, org_id, user.id)
        .await?
        .ok_or(AppError::NotFound("organization"))?;
    let current = policies::current(&state.db, org_id).await?;
    let versions = policies::versions(&state.db, org_id).await?;
    let dropped = policies::dropped_spans(&state.db, org_id, 30).await?;
    let recent = GovernanceEventQuery {
        limit: Some(20),
        ..Default::default()
    };
    let decisions = events::page(&state.db, org_id, &recent).await?.events;
    let retention = retention::status(&state.db, org_id).await?;
    let error = error
        .filter(|encoded| !encoded.is_empty())
        .map(|encoded| ServerFnUrlError::<ApiError>::decode_err(&encoded).message);
    Ok(fragments::page(
        fragments::PageData {
            org_id,
            current,
            versions,
            dropped,
            decisions,
            retention,
            can_manage: role_allows(role, Action::ManagePolicies),
        },
        form_actions(),
        error,
        &display_zone(&user).await,
    ))
}

/// Saves the posted document (JSON) as a new version.
#[server]
pub async fn save_policy(org_id: Uuid, document: String, comment: String) -> Result<(), ApiError> {
    use crate::{error::AppError, governance::services::policies};

    let (state, _, user) = crate::server_context::signed_in().await?;
    let document = serde_json::from_str(&document)
        .map_err(|err| AppError::BadRequest(format!("the policy is not a valid document: {err}")))?;
    let request = crate::governance::types::NewPolicyVersion { document, comment };
    let actor = crate::server_context::actor(&state, &user).await;
    policies::save(&state.db, &state.policies, org_id, &actor, request).await?;
    Ok(())
}

/// Saves version `version`'s document again as the newest version.
#[server]
pub async fn restore_policy(org_id: Uuid, version: i64) -> Result<(), ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    crate::governance::services::policies::restore(&state.db, &state.policies, org_id, &actor, version)
        .await?;
    Ok(())
}

/// What `text` becomes under the policy in force (redaction and size
/// limits), as HTML: the result and what was found.
#[server]
pub async fn preview_redaction(org_id: Uuid, text: String) -> Result<String, ApiError> {
    use crate::{accounts::types::Action, governance::fragments, server_context::member};

    let (state, _) = member(org_id, Action::Read).await?;
    let policy = state.policies.for_org(&state.db, org_id).await?;
    let mut found = std::collections::BTreeMap::new();
    let redacted = policy.redact(&text, &mut found).unwrap_or_else(|| text.clone());
    Ok(fragments::redaction_preview(&redacted, &found, policy.version))
}

/// A draft (the editor's JSON) tried on the newest 1,000 stored spans, as HTML.
#[server]
pub async fn dry_run_html(org_id: Uuid, document: String) -> Result<String, ApiError> {
    use crate::{
        accounts::types::Action,
        error::AppError,
        governance::{fragments, services::dry_run, types::DryRunRequest},
        server_context::member,
    };

    let (state, _) = member(org_id, Action::Read).await?;
    let document = serde_json::from_str(&document)
        .map_err(|err| AppError::BadRequest(format!("the policy is not a valid document: {err}")))?;
    let request = DryRunRequest {
        document,
        spans: None,
    };
    let outcome = dry_run::dry_run(&state.db, &state.policies, &state.prices, org_id, &request).await?;
    Ok(fragments::dry_run(&outcome))
}

/// The Costs page's limits and budgets card as HTML.
#[server]
pub async fn limits_html(org_id: Uuid) -> Result<String, ApiError> {
    use crate::{
        accounts::{
            services::orgs,
            types::{Action, role_allows},
        },
        governance::{fragments, services::limits_report},
        server_context::member,
    };

    let (state, user) = member(org_id, Action::Read).await?;
    let can_edit = orgs::role_of(&state.db, org_id, user.id)
        .await?
        .is_some_and(|role| role_allows(role, Action::ManagePolicies));
    let report = limits_report::report_for(&state, org_id).await?;
    Ok(fragments::limits_card(&report, can_edit))
}
