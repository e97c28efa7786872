//! The Alerts page's server functions. The body is HTML rendered on the
//! server; its forms post to the functions below, which answer with a
//! redirect back (with an error, if any, in the URL).

// A server function takes one argument per form field; the generated
// browser-side stubs do not carry an item-level allow.
#![allow(clippy::too_many_arguments)]

use std::collections::BTreeMap;

use leptos::prelude::*;
use uuid::Uuid;

use crate::error::ApiError;

/// Where the page's forms post.
#[cfg(feature = "ssr")]
fn form_actions() -> super::fragments::FormActions {
    use leptos::server_fn::ServerFn;

    super::fragments::FormActions {
        add_rule: AddAlertRule::url(),
        delete_rule: DeleteAlertRule::url(),
        toggle_rule: SetAlertRuleEnabled::url(),
        add_silence: AddAlertSilence::url(),
        end_silence: EndAlertSilence::url(),
        add_channel: AddAlertChannel::url(),
        delete_channel: DeleteAlertChannel::url(),
        test_channel: TestAlertChannel::url(),
    }
}

/// The Alerts page's body as HTML; `secret_of` reveals a webhook's signing
/// secret to owners and admins.
#[server]
pub async fn alerts_html(
    org_id: Uuid,
    secret_of: Option<String>,
    error: Option<String>,
) -> Result<String, ApiError> {
    use crate::{
        accounts::{
            services::orgs,
            types::{Action, role_allows},
        },
        alerts::{
            fragments,
            services::{channels, events, rules, silences},
        },
        server_context::{display_zone, member},
    };
    use leptos::server_fn::error::ServerFnUrlError;

    let (state, user) = member(org_id, Action::Read).await?;
    let can_manage = orgs::role_of(&state.db, org_id, user.id)
        .await?
        .is_some_and(|role| role_allows(role, Action::ManagePolicies));
    let policy = state.policies.policy_for(&state.db, org_id).await?;
    let revealed = match (can_manage, secret_of.and_then(|id| id.parse::<Uuid>().ok())) {
        (true, Some(channel_id)) => channels::signing_secret(&state.db, &state.alerts, org_id, channel_id)
            .await?
            .map(|secret| (channel_id, secret)),
        _ => None,
    };
    let error = error
        .filter(|encoded| !encoded.is_empty())
        .map(|encoded| ServerFnUrlError::<ApiError>::decode_err(&encoded).message);
    Ok(fragments::page(
        fragments::PageData {
            org_id,
            rules: rules::list(&state.db, &state.alerts, org_id).await?,
            events: events::page(&state.db, org_id, None, None, Some(50))
                .await?
                .events,
            silences: silences::list(&state.db, org_id).await?,
            channels: channels::list(&state.db, org_id).await?,
            budget_ids: policy.budgets.iter().map(|budget| budget.id.clone()).collect(),
            can_manage,
            revealed,
        },
        form_actions(),
        error,
        &display_zone(&user).await,
    ))
}

/// A form field left empty is absent.
#[cfg(feature = "ssr")]
fn given(value: Option<String>) -> Option<String> {
    value
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
}

#[cfg(feature = "ssr")]
fn number<T: std::str::FromStr>(
    field: &str,
    value: Option<String>,
) -> Result<Option<T>, crate::error::AppError> {
    given(value)
        .map(|text| {
            text.replace(',', "")
                .parse::<T>()
                .map_err(|_| crate::error::AppError::BadRequest(format!("{field}: {text:?} is not a number")))
        })
        .transpose()
}

/// Adds a rule from the page's form.
#[server]
pub async fn add_alert_rule(
    org_id: Uuid,
    name: String,
    kind: String,
    threshold: String,
    window_minutes: Option<String>,
    service: Option<String>,
    model: Option<String>,
    budget_id: Option<String>,
    quiet_minutes: Option<String>,
    channels: Option<BTreeMap<String, String>>,
) -> Result<(), ApiError> {
    use crate::{
        alerts::{
            services::rules,
            types::{AlertCondition, AlertRuleInput},
        },
        error::AppError,
    };

    let (state, _, user) = crate::server_context::signed_in().await?;
    let threshold: f64 = number("The threshold", Some(threshold))?
        .ok_or_else(|| AppError::BadRequest("The threshold is needed".into()))?;
    let whole = |value: f64| {
        (value.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&value))
            .then_some(value as u32)
            .ok_or_else(|| {
                AppError::BadRequest(format!("The threshold must be a whole number here, got {value}"))
            })
    };
    let window = |default: u32| {
        number::<u32>("The window", window_minutes.clone()).map(|window| window.unwrap_or(default))
    };
    let required = |field: &str, value: &Option<String>| {
        given(value.clone()).ok_or_else(|| AppError::BadRequest(format!("This kind of rule needs a {field}")))
    };
    let condition = match kind.as_str() {
        "error_rate" => AlertCondition::ErrorRate {
            window_minutes: window(15)?,
            percent: threshold,
            min_requests: None,
            service: given(service),
            model: given(model),
        },
        "latency_p95" => AlertCondition::LatencyP95 {
            model: required("model", &model)?,
            window_minutes: window(15)?,
            milliseconds: threshold,
        },
        "hourly_cost" => AlertCondition::HourlyCost {
            usd: threshold,
            service: given(service),
        },
        "budget" => AlertCondition::Budget {
            budget_id: required("budget", &budget_id)?,
            percent: threshold,
        },
        "flagged_prompts" => AlertCondition::FlaggedPrompts {
            count: whole(threshold)?,
        },
        "ingest_rejections" => AlertCondition::IngestRejections {
            window_minutes: window(60)?,
            count: whole(threshold)?,
        },
        "silent_service" => AlertCondition::SilentService {
            service: required("service", &service)?,
            minutes: whole(threshold)?,
        },
        other => return Err(AppError::BadRequest(format!("Unknown kind of rule {other:?}")).into()),
    };
    let channel_ids = channels
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, on)| on == "on")
        // Keyed `channel_<id>`: the form decoder reads a key starting with a digit as a list index.
        .map(|(key, _)| {
            key.strip_prefix("channel_")
                .and_then(|id| id.parse::<Uuid>().ok())
                .ok_or_else(|| AppError::BadRequest(format!("Unknown channel {key}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let input = AlertRuleInput {
        name,
        condition,
        channel_ids,
        quiet_minutes: number("The quiet period", quiet_minutes)?,
        enabled: Some(true),
    };
    let actor = crate::server_context::actor(&state, &user).await;
    rules::create(&state.db, &state.policies, org_id, &actor, &input).await?;
    Ok(())
}

/// Turns a rule off (`enabled` = "false") or on.
#[server]
pub async fn set_alert_rule_enabled(org_id: Uuid, rule_id: Uuid, enabled: String) -> Result<(), ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    crate::alerts::services::rules::set_enabled(&state.db, org_id, &actor, rule_id, enabled == "true")
        .await?;
    Ok(())
}

#[server]
pub async fn delete_alert_rule(org_id: Uuid, rule_id: Uuid) -> Result<(), ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    Ok(crate::alerts::services::rules::delete(&state.db, org_id, &actor, rule_id).await?)
}

/// Silences a rule (or all, with no `rule_id`) for `hours`.
#[server]
pub async fn add_alert_silence(
    org_id: Uuid,
    rule_id: Option<String>,
    hours: String,
    comment: Option<String>,
) -> Result<(), ApiError> {
    use crate::{alerts::types::SilenceInput, error::AppError};

    let (state, _, user) = crate::server_context::signed_in().await?;
    let hours: i64 = hours
        .parse()
        .ok()
        .filter(|hours| (1..=24 * 90).contains(hours))
        .ok_or_else(|| AppError::BadRequest("Silence for 1 hour to 90 days".into()))?;
    let rule_id = given(rule_id)
        .map(|id| {
            id.parse::<Uuid>()
                .map_err(|_| AppError::BadRequest(format!("Unknown rule {id}")))
        })
        .transpose()?;
    let input = SilenceInput {
        rule_id,
        ends_at: crate::platform::services::rfc3339(
            crate::platform::services::now_ns() + hours * 3_600 * 1_000_000_000,
        ),
        comment: comment.unwrap_or_default(),
    };
    let actor = crate::server_context::actor(&state, &user).await;
    crate::alerts::services::silences::create(&state.db, org_id, &actor, &input).await?;
    Ok(())
}

#[server]
pub async fn end_alert_silence(org_id: Uuid, silence_id: Uuid) -> Result<(), ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    Ok(crate::alerts::services::silences::delete(&state.db, org_id, &actor, silence_id).await?)
}

/// Adds a channel from the page's form; a webhook's page shows its signing secret next.
#[server]
pub async fn add_alert_channel(
    org_id: Uuid,
    name: String,
    kind: String,
    url: Option<String>,
    host: Option<String>,
    port: Option<String>,
    security: Option<String>,
    username: Option<String>,
    password: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> Result<(), ApiError> {
    use crate::{
        alerts::{
            services::channels,
            types::{ChannelInput, ChannelSettings, SmtpSecurity},
        },
        error::AppError,
    };

    let (state, _, user) = crate::server_context::signed_in().await?;
    let needed = |field: &str, value: Option<String>| {
        given(value).ok_or_else(|| AppError::BadRequest(format!("This kind of channel needs a {field}")))
    };
    let settings = match kind.as_str() {
        "webhook" => ChannelSettings::Webhook {
            url: needed("URL", url)?,
        },
        "slack" => ChannelSettings::Slack {
            url: needed("URL", url)?,
        },
        "email" => ChannelSettings::Email {
            host: needed("SMTP server", host)?,
            port: number("The port", port)?.unwrap_or(587),
            security: match security.as_deref() {
                Some("tls") => SmtpSecurity::Tls,
                _ => SmtpSecurity::Starttls,
            },
            username: given(username),
            password: given(password),
            from: needed("sender (From)", from)?,
            to: needed("recipient (To)", to)?
                .split(',')
                .map(|address| address.trim().to_owned())
                .filter(|address| !address.is_empty())
                .collect(),
        },
        other => return Err(AppError::BadRequest(format!("Unknown kind of channel {other:?}")).into()),
    };
    let actor = crate::server_context::actor(&state, &user).await;
    let created = channels::create(
        &state.db,
        &state.alerts,
        org_id,
        &actor,
        &ChannelInput { name, settings },
    )
    .await?;
    if created.signing_secret.is_some() {
        leptos_axum::redirect(&format!("/alerts?secret_of={}", created.channel.id));
    }
    Ok(())
}

#[server]
pub async fn delete_alert_channel(org_id: Uuid, channel_id: Uuid) -> Result<(), ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    Ok(crate::alerts::services::channels::delete(&state.db, org_id, &actor, channel_id).await?)
}

/// "Send test": the channel's row shows how it went.
#[server]
pub async fn test_alert_channel(org_id: Uuid, channel_id: Uuid) -> Result<(), ApiError> {
    let (state, _, user) = crate::server_context::signed_in().await?;
    let actor = crate::server_context::actor(&state, &user).await;
    crate::alerts::services::deliveries::send_test(&state.db, &state.alerts, org_id, &actor, channel_id)
        .await?;
    Ok(())
}
