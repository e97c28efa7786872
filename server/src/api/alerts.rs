//! `/api/v1/orgs/{org}/alerts/*`: alert rules, silences, the history of
//! firings and resolves, and notification channels with their deliveries.
//! Members (and `read` tokens) read; owners and admins change, with the
//! session, and every change is audited.

use app::{
    alerts::{
        services::{channels, deliveries, events, rules, silences},
        types::{
            AlertEventPage, AlertRule, AlertRuleInput, AlertRuleList, Channel, ChannelInput, CreatedChannel,
            Delivery, Silence, SilenceInput,
        },
    },
    error::Result,
    state::AppState,
};
use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{
    extract::{ApiJson, ApiPath, ApiQuery, Caller, SignedIn},
    openapi::{ApiErrors, BodyErrors, Conflict},
};

/// The organization's alert rules with their state (ok, firing, resolved),
/// last figure and silence, and the evaluator's last pass.
#[utoipa::path(
    get, path = "/orgs/{org}/alerts/rules", operation_id = "list_alert_rules", tag = "alerts",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = AlertRuleList), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn list_rules(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<Json<AlertRuleList>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(rules::list(&state.db, &state.alerts, org_id).await?))
}

/// Adds an alert rule (owners and admins). The evaluator checks it from
/// its next pass; a `budget` rule must name a budget of the policy, and
/// `channel_ids` the organization's channels.
#[utoipa::path(
    post, path = "/orgs/{org}/alerts/rules", operation_id = "create_alert_rule", tag = "alerts",
    params(("org" = Uuid, Path, description = "Organization id")),
    request_body = AlertRuleInput,
    responses((status = 201, body = AlertRule), ApiErrors, BodyErrors, Conflict),
    security(("session" = [])),
)]
pub async fn create_rule(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(org_id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<AlertRuleInput>,
) -> Result<(StatusCode, Json<AlertRule>)> {
    let rule = rules::create(&state.db, &state.policies, org_id, &signed_in.actor(), &input).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// One alert rule with its state.
#[utoipa::path(
    get, path = "/orgs/{org}/alerts/rules/{id}", operation_id = "get_alert_rule", tag = "alerts",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = Uuid, Path, description = "Rule id")),
    responses((status = 200, body = AlertRule), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn get_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((org_id, rule_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<AlertRule>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(rules::get(&state.db, org_id, rule_id).await?))
}

/// Replaces an alert rule's settings (owners and admins); its state is
/// kept and the next pass judges it by the new condition.
#[utoipa::path(
    put, path = "/orgs/{org}/alerts/rules/{id}", operation_id = "replace_alert_rule", tag = "alerts",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = Uuid, Path, description = "Rule id")),
    request_body = AlertRuleInput,
    responses((status = 200, body = AlertRule), ApiErrors, BodyErrors),
    security(("session" = [])),
)]
pub async fn replace_rule(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, rule_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(input): ApiJson<AlertRuleInput>,
) -> Result<Json<AlertRule>> {
    let rule = rules::replace(
        &state.db,
        &state.policies,
        org_id,
        &signed_in.actor(),
        rule_id,
        &input,
    )
    .await?;
    Ok(Json(rule))
}

/// Removes an alert rule (owners and admins); its history stays.
#[utoipa::path(
    delete, path = "/orgs/{org}/alerts/rules/{id}", operation_id = "delete_alert_rule", tag = "alerts",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = Uuid, Path, description = "Rule id")),
    responses((status = 204), ApiErrors),
    security(("session" = [])),
)]
pub async fn delete_rule(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, rule_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode> {
    rules::delete(&state.db, org_id, &signed_in.actor(), rule_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The organization's silences in force, and those ended in the last week.
#[utoipa::path(
    get, path = "/orgs/{org}/alerts/silences", operation_id = "list_alert_silences", tag = "alerts",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = Vec<Silence>), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn list_silences(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<Json<Vec<Silence>>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(silences::list(&state.db, org_id).await?))
}

/// Silences one rule, or all the organization's rules, until `ends_at`
/// (owners and admins): their firings and resolves are recorded but not
/// sent; a rule still firing when the silence ends notifies then.
#[utoipa::path(
    post, path = "/orgs/{org}/alerts/silences", operation_id = "create_alert_silence", tag = "alerts",
    params(("org" = Uuid, Path, description = "Organization id")),
    request_body = SilenceInput,
    responses((status = 201, body = Silence), ApiErrors, BodyErrors),
    security(("session" = [])),
)]
pub async fn create_silence(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(org_id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<SilenceInput>,
) -> Result<(StatusCode, Json<Silence>)> {
    let silence = silences::create(&state.db, org_id, &signed_in.actor(), &input).await?;
    Ok((StatusCode::CREATED, Json(silence)))
}

/// Ends a silence now (owners and admins).
#[utoipa::path(
    delete, path = "/orgs/{org}/alerts/silences/{id}", operation_id = "delete_alert_silence", tag = "alerts",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = Uuid, Path, description = "Silence id")),
    responses((status = 204), ApiErrors),
    security(("session" = [])),
)]
pub async fn delete_silence(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, silence_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode> {
    silences::delete(&state.db, org_id, &signed_in.actor(), silence_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only this rule's events.
    rule_id: Option<Uuid>,
    /// Events older than this one (a page's `next_before`).
    #[param(minimum = 1)]
    before: Option<i64>,
    /// 1 to 500; default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u64>,
}

/// The history of firings and resolves, newest first, each with the
/// figure that caused it, its threshold, a sentence, the page behind it
/// and what became of its notification.
#[utoipa::path(
    get, path = "/orgs/{org}/alerts/events", operation_id = "list_alert_events", tag = "alerts",
    params(("org" = Uuid, Path, description = "Organization id"), EventQuery),
    responses((status = 200, body = AlertEventPage), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<EventQuery>,
) -> Result<Json<AlertEventPage>> {
    caller.authorize_read(&state, org_id).await?;
    if query
        .limit
        .is_some_and(|limit| !(1..=events::MAX_PAGE).contains(&limit))
    {
        return Err(app::error::AppError::BadRequest(
            "`limit` must be 1 to 500".into(),
        ));
    }
    if query.before.is_some_and(|before| before < 1) {
        return Err(app::error::AppError::BadRequest(
            "`before` must be 1 or more".into(),
        ));
    }
    Ok(Json(
        events::page(&state.db, org_id, query.rule_id, query.before, query.limit).await?,
    ))
}

/// The organization's notification channels, secrets left out, with how
/// their deliveries are going (a channel with failures in a row is failing).
#[utoipa::path(
    get, path = "/orgs/{org}/alerts/channels", operation_id = "list_alert_channels", tag = "alerts",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = Vec<Channel>), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn list_channels(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(org_id): ApiPath<Uuid>,
) -> Result<Json<Vec<Channel>>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(channels::list(&state.db, org_id).await?))
}

/// Adds a channel (owners and admins): a webhook (answered with its
/// signing secret, once), a Slack incoming webhook, or email over SMTP.
/// URLs and mail servers on loopback, private or link-local addresses are
/// refused unless the installation allows them.
#[utoipa::path(
    post, path = "/orgs/{org}/alerts/channels", operation_id = "create_alert_channel", tag = "alerts",
    params(("org" = Uuid, Path, description = "Organization id")),
    request_body = ChannelInput,
    responses((status = 201, body = CreatedChannel), ApiErrors, BodyErrors, Conflict),
    security(("session" = [])),
)]
pub async fn create_channel(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath(org_id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<ChannelInput>,
) -> Result<(StatusCode, Json<CreatedChannel>)> {
    let created = channels::create(&state.db, &state.alerts, org_id, &signed_in.actor(), &input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One channel.
#[utoipa::path(
    get, path = "/orgs/{org}/alerts/channels/{id}", operation_id = "get_alert_channel", tag = "alerts",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = Uuid, Path, description = "Channel id")),
    responses((status = 200, body = Channel), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn get_channel(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((org_id, channel_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Channel>> {
    caller.authorize_read(&state, org_id).await?;
    Ok(Json(channels::get(&state.db, org_id, channel_id).await?))
}

/// Replaces a channel's name and settings, of the same kind (owners and
/// admins). A webhook keeps its signing secret; an email channel sent no
/// `password` keeps its own.
#[utoipa::path(
    put, path = "/orgs/{org}/alerts/channels/{id}", operation_id = "replace_alert_channel", tag = "alerts",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = Uuid, Path, description = "Channel id")),
    request_body = ChannelInput,
    responses((status = 200, body = Channel), ApiErrors, BodyErrors, Conflict),
    security(("session" = [])),
)]
pub async fn replace_channel(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, channel_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(input): ApiJson<ChannelInput>,
) -> Result<Json<Channel>> {
    let channel = channels::replace(
        &state.db,
        &state.alerts,
        org_id,
        &signed_in.actor(),
        channel_id,
        &input,
    )
    .await?;
    Ok(Json(channel))
}

/// Removes a channel and its pending deliveries (owners and admins).
#[utoipa::path(
    delete, path = "/orgs/{org}/alerts/channels/{id}", operation_id = "delete_alert_channel", tag = "alerts",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = Uuid, Path, description = "Channel id")),
    responses((status = 204), ApiErrors),
    security(("session" = [])),
)]
pub async fn delete_channel(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, channel_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode> {
    channels::delete(&state.db, org_id, &signed_in.actor(), channel_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// "Send test": sends a test notification on the channel now (owners and
/// admins) and answers how it went: `delivered` with the receiver's status
/// or reply code, or `failed` with the reason. Not retried.
#[utoipa::path(
    post, path = "/orgs/{org}/alerts/channels/{id}/test", operation_id = "test_alert_channel", tag = "alerts",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = Uuid, Path, description = "Channel id")),
    responses((status = 200, body = Delivery), ApiErrors, Conflict),
    security(("session" = [])),
)]
pub async fn test_channel(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiPath((org_id, channel_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Delivery>> {
    let delivery =
        deliveries::send_test(&state.db, &state.alerts, org_id, &signed_in.actor(), channel_id).await?;
    Ok(Json(delivery))
}

/// A channel's newest 100 deliveries: status, attempts, the last response
/// code and error, and when a pending one is tried again.
#[utoipa::path(
    get, path = "/orgs/{org}/alerts/channels/{id}/deliveries", operation_id = "list_alert_deliveries", tag = "alerts",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = Uuid, Path, description = "Channel id")),
    responses((status = 200, body = Vec<Delivery>), ApiErrors),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((org_id, channel_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Vec<Delivery>>> {
    caller.authorize_read(&state, org_id).await?;
    channels::get(&state.db, org_id, channel_id).await?;
    Ok(Json(deliveries::list(&state.db, org_id, channel_id, 100).await?))
}
