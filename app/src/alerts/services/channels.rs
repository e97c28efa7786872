//! Notification channels as admins manage them (each change audited). What
//! a channel needs to send but must not show (a webhook's URL and signing
//! secret, a Slack URL, an SMTP password) is sealed with the installation's
//! key, bound to the channel's id; the rest is kept as plain JSON.

use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Statement, Value};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::AlertSettings;
use crate::{
    accounts::{services::orgs, types::Action},
    alerts::types::{Channel, ChannelInput, ChannelSettings, CreatedChannel, SmtpSecurity},
    error::{AppError, Result},
    platform::services::{
        audit::{self, Actor},
        now_ns, rfc3339,
        sealed::SealingKey,
        secrets::random_alphanumeric,
        transaction::{self, assignments, begin_write, placeholder, placeholder_list},
    },
};

/// The most channels an organization keeps.
pub const MAX_CHANNELS: i64 = 50;
const MAX_NAME_CHARS: usize = 100;

/// What is sealed: the parts of a channel's settings that give access.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Sealed {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signing_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

/// What is kept in the clear: an email channel's server and addresses, and
/// for every channel what the list shows as its target.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Open {
    target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    security: Option<SmtpSecurity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    to: Vec<String>,
}

/// A channel with everything sending needs, opened.
#[derive(Clone, Debug)]
pub struct SendingChannel {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub settings: ChannelSettings,
    pub signing_secret: Option<String>,
}

const CHANNEL_COLUMNS: &str = "c.id, c.name, c.kind, c.settings, c.created_at_ns, c.last_status, c.last_status_at_ns, \
     c.last_error, c.failures_in_a_row, \
     (SELECT COUNT(*) FROM alert_deliveries d WHERE d.channel_id = c.id AND d.status = 'pending') AS pending";

/// The organization's channels, oldest first.
pub async fn list(db: &impl ConnectionTrait, org_id: Uuid) -> Result<Vec<Channel>> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT {CHANNEL_COLUMNS} FROM alert_channels c WHERE c.org_id = {} ORDER BY c.created_at_ns, c.id",
                placeholder(backend, 1)
            ),
            [org_id.into()],
        ))
        .await?;
    rows.iter().map(channel_of).collect()
}

/// One channel.
pub async fn get(db: &impl ConnectionTrait, org_id: Uuid, channel_id: Uuid) -> Result<Channel> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT {CHANNEL_COLUMNS} FROM alert_channels c WHERE c.org_id = {} AND c.id = {}",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            [org_id.into(), channel_id.into()],
        ))
        .await?
        .ok_or(AppError::NotFound("alert channel"))?;
    channel_of(&row)
}

/// Which of `ids` are the organization's channels.
pub async fn existing(db: &impl ConnectionTrait, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let mut values: Vec<Value> = vec![org_id.into()];
    values.extend(ids.iter().map(|id| Value::from(*id)));
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT id FROM alert_channels WHERE org_id = {} AND id IN ({})",
                placeholder(backend, 1),
                placeholder_list(backend, 2, ids.len())
            ),
            values,
        ))
        .await?;
    rows.iter()
        .map(|row| row.try_get("", "id").map_err(Into::into))
        .collect()
}

/// Adds a channel (owners and admins). A webhook gets a new signing
/// secret, answered here once.
pub async fn create(
    db: &DatabaseConnection,
    settings: &AlertSettings,
    org_id: Uuid,
    actor: &Actor,
    input: &ChannelInput,
) -> Result<CreatedChannel> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let key = sealing_key(settings)?;
    let name = channel_name(&input.name)?;
    let (open, mut sealed) = split(settings, &input.settings)?;
    let signing_secret = matches!(input.settings, ChannelSettings::Webhook { .. })
        .then(|| format!("whsec_{}", random_alphanumeric(40)));
    sealed.signing_secret = signing_secret.clone();
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    transaction::ensure_room(&txn, "alert_channels", org_id, MAX_CHANNELS, "alert channels").await?;
    let id = Uuid::now_v7();
    let now = now_ns();
    let kind = kind_of(&input.settings);
    let values: Vec<Value> = vec![
        id.into(),
        org_id.into(),
        name.clone().into(),
        kind.into(),
        to_json(&open)?.into(),
        key.seal(to_json(&sealed)?.as_bytes(), &id.to_string()).into(),
        now.into(),
        now.into(),
    ];
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO alert_channels (id, org_id, name, kind, settings, sealed_secrets, created_at_ns, updated_at_ns) \
             VALUES ({})",
            placeholder_list(backend, 1, values.len())
        ),
        values,
    ))
    .await?;
    audit::record(
        &txn,
        org_id,
        actor,
        "alerts.channel.create",
        format!("added the {kind} alert channel {name}"),
        json!({"channel_id": id, "name": name, "kind": kind, "target": open.target}),
    )
    .await?;
    let channel = get(&txn, org_id, id).await?;
    txn.commit().await?;
    Ok(CreatedChannel {
        channel,
        signing_secret,
    })
}

/// Replaces a channel's name and settings (owners and admins), of the same
/// kind. A webhook keeps its signing secret; an email channel given no
/// `password` keeps the one it had.
pub async fn replace(
    db: &DatabaseConnection,
    settings: &AlertSettings,
    org_id: Uuid,
    actor: &Actor,
    channel_id: Uuid,
    input: &ChannelInput,
) -> Result<Channel> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let key = sealing_key(settings)?;
    let name = channel_name(&input.name)?;
    let (open, mut sealed) = split(settings, &input.settings)?;
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    let before = get(&txn, org_id, channel_id).await?;
    let kind = kind_of(&input.settings);
    if before.kind != kind {
        return Err(AppError::BadRequest(format!(
            "the channel is a {} channel; add a new channel to send by {kind}",
            before.kind
        )));
    }
    let previous = sealed_of(&txn, key, org_id, channel_id).await?;
    sealed.signing_secret = previous.signing_secret;
    if sealed.password.is_none() {
        sealed.password = previous.password;
    }
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE alert_channels SET {} WHERE org_id = {} AND id = {}",
            assignments(
                backend,
                &["name", "settings", "sealed_secrets", "updated_at_ns"],
                1
            ),
            placeholder(backend, 5),
            placeholder(backend, 6)
        ),
        [
            name.clone().into(),
            to_json(&open)?.into(),
            key.seal(to_json(&sealed)?.as_bytes(), &channel_id.to_string())
                .into(),
            now_ns().into(),
            org_id.into(),
            channel_id.into(),
        ],
    ))
    .await?;
    audit::record(
        &txn,
        org_id,
        actor,
        "alerts.channel.update",
        format!("changed the {kind} alert channel {name}"),
        json!({
            "channel_id": channel_id,
            "before": {"name": before.name, "target": before.target},
            "after": {"name": name, "target": open.target},
        }),
    )
    .await?;
    let channel = get(&txn, org_id, channel_id).await?;
    txn.commit().await?;
    Ok(channel)
}

/// Removes a channel and its pending deliveries (owners and admins); rules
/// that named it stop sending to it.
pub async fn delete(db: &DatabaseConnection, org_id: Uuid, actor: &Actor, channel_id: Uuid) -> Result<()> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    let before = get(&txn, org_id, channel_id).await?;
    for table in ["alert_deliveries", "alert_channels"] {
        let column = if table == "alert_channels" {
            "id"
        } else {
            "channel_id"
        };
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "DELETE FROM {table} WHERE org_id = {} AND {column} = {}",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            [org_id.into(), channel_id.into()],
        ))
        .await?;
    }
    audit::record(
        &txn,
        org_id,
        actor,
        "alerts.channel.delete",
        format!("removed the {} alert channel {}", before.kind, before.name),
        json!({"channel_id": channel_id, "name": before.name, "kind": before.kind}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The channel with its secrets opened, for sending.
pub async fn for_sending(
    db: &impl ConnectionTrait,
    key: &SealingKey,
    org_id: Uuid,
    channel_id: Uuid,
) -> Result<SendingChannel> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT name, kind, settings FROM alert_channels WHERE org_id = {} AND id = {}",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            [org_id.into(), channel_id.into()],
        ))
        .await?
        .ok_or(AppError::NotFound("alert channel"))?;
    let kind: String = row.try_get("", "kind")?;
    let open: Open = from_json(&row.try_get::<String>("", "settings")?)?;
    let sealed = sealed_of(db, key, org_id, channel_id).await?;
    let url = || sealed.url.clone().unwrap_or_default();
    let settings = match kind.as_str() {
        "webhook" => ChannelSettings::Webhook { url: url() },
        "slack" => ChannelSettings::Slack { url: url() },
        _ => ChannelSettings::Email {
            host: open.host.unwrap_or_default(),
            port: open.port.unwrap_or(587),
            security: open.security.unwrap_or(SmtpSecurity::Starttls),
            username: open.username,
            password: sealed.password.clone(),
            from: open.from.unwrap_or_default(),
            to: open.to,
        },
    };
    Ok(SendingChannel {
        id: channel_id,
        org_id,
        name: row.try_get("", "name")?,
        settings,
        signing_secret: sealed.signing_secret,
    })
}

/// A webhook channel's signing secret (none for other kinds), for its owners and admins to copy.
pub async fn signing_secret(
    db: &DatabaseConnection,
    settings: &AlertSettings,
    org_id: Uuid,
    channel_id: Uuid,
) -> Result<Option<String>> {
    let key = sealing_key(settings)?;
    Ok(sealed_of(db, key, org_id, channel_id).await?.signing_secret)
}

/// Records how a delivery to the channel went, for the list's "failing".
pub async fn record_outcome(
    db: &impl ConnectionTrait,
    channel_id: Uuid,
    delivered: bool,
    error: Option<&str>,
) -> Result<()> {
    let backend = db.get_database_backend();
    let failures = if delivered { "0" } else { "failures_in_a_row + 1" };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE alert_channels SET {}, failures_in_a_row = {failures} WHERE id = {}",
            assignments(backend, &["last_status", "last_status_at_ns", "last_error"], 1),
            placeholder(backend, 4)
        ),
        [
            (if delivered { "delivered" } else { "failed" }).into(),
            now_ns().into(),
            error.map(str::to_owned).into(),
            channel_id.into(),
        ],
    ))
    .await?;
    Ok(())
}

async fn sealed_of(
    db: &impl ConnectionTrait,
    key: &SealingKey,
    org_id: Uuid,
    channel_id: Uuid,
) -> Result<Sealed> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT sealed_secrets FROM alert_channels WHERE org_id = {} AND id = {}",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            [org_id.into(), channel_id.into()],
        ))
        .await?
        .ok_or(AppError::NotFound("alert channel"))?;
    let opened = key
        .open(
            &row.try_get::<String>("", "sealed_secrets")?,
            &channel_id.to_string(),
        )
        .map_err(|err| AppError::Internal(format!("alert channel {channel_id}: {err}")))?;
    serde_json::from_slice(&opened)
        .map_err(|err| AppError::Internal(format!("alert channel {channel_id}: {err}")))
}

pub(super) fn sealing_key(settings: &AlertSettings) -> Result<&SealingKey> {
    settings.sealing.as_ref().ok_or_else(|| {
        AppError::Conflict(
            "alert channels keep their secrets encrypted, and this installation has no key: set SPECULA_SECRETS_KEY"
                .into(),
        )
    })
}

fn channel_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::BadRequest(format!(
            "`name` must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name.to_owned())
}

fn kind_of(settings: &ChannelSettings) -> &'static str {
    match settings {
        ChannelSettings::Webhook { .. } => "webhook",
        ChannelSettings::Slack { .. } => "slack",
        ChannelSettings::Email { .. } => "email",
    }
}

/// The settings, checked, as what is kept open and what is sealed.
fn split(settings: &AlertSettings, channel: &ChannelSettings) -> Result<(Open, Sealed)> {
    match channel {
        ChannelSettings::Webhook { url } | ChannelSettings::Slack { url } => {
            let checked = settings
                .outbound
                .check_url(url)
                .map_err(|err| AppError::BadRequest(format!("`settings.url`: {err}")))?;
            Ok((
                Open {
                    target: checked.host_str().unwrap_or_default().to_owned(),
                    ..Open::default()
                },
                Sealed {
                    url: Some(checked.to_string()),
                    ..Sealed::default()
                },
            ))
        }
        ChannelSettings::Email {
            host,
            port,
            security,
            username,
            password,
            from,
            to,
        } => {
            let host = host.trim();
            if host.is_empty()
                || host.len() > 253
                || !host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                return Err(AppError::BadRequest(
                    "`settings.host` must be a host name or IPv4 address".into(),
                ));
            }
            if *port == 0 {
                return Err(AppError::BadRequest("`settings.port` must be 1 to 65535".into()));
            }
            let address = |field: &str, text: &str| {
                text.trim()
                    .parse::<lettre::message::Mailbox>()
                    .map(|mailbox| mailbox.to_string())
                    .map_err(|err| {
                        AppError::BadRequest(format!(
                            "`settings.{field}`: {text:?} is not an email address ({err})"
                        ))
                    })
            };
            let from = address("from", from)?;
            if to.is_empty() || to.len() > 20 {
                return Err(AppError::BadRequest(
                    "`settings.to` holds 1 to 20 addresses".into(),
                ));
            }
            let to = to
                .iter()
                .map(|text| address("to", text))
                .collect::<Result<Vec<_>>>()?;
            if username.as_ref().is_some_and(|name| name.chars().count() > 320)
                || password.as_ref().is_some_and(|word| word.chars().count() > 1_000)
            {
                return Err(AppError::BadRequest(
                    "`settings.username` or `password` is too long".into(),
                ));
            }
            Ok((
                Open {
                    target: format!("{host}:{port} → {}", to.join(", ")),
                    host: Some(host.to_owned()),
                    port: Some(*port),
                    security: Some(*security),
                    username: username.clone().filter(|name| !name.is_empty()),
                    from: Some(from),
                    to,
                },
                Sealed {
                    password: password.clone().filter(|word| !word.is_empty()),
                    ..Sealed::default()
                },
            ))
        }
    }
}

fn channel_of(row: &QueryResult) -> Result<Channel> {
    let open: Open = from_json(&row.try_get::<String>("", "settings")?)?;
    let status_at: i64 = row.try_get("", "last_status_at_ns")?;
    let failures: i64 = row.try_get("", "failures_in_a_row")?;
    let pending: i64 = row.try_get("", "pending")?;
    Ok(Channel {
        id: row.try_get("", "id")?,
        name: row.try_get("", "name")?,
        kind: row.try_get("", "kind")?,
        target: open.target,
        created_at: rfc3339(row.try_get("", "created_at_ns")?),
        last_status: row.try_get("", "last_status")?,
        last_status_at: (status_at > 0).then(|| rfc3339(status_at)),
        last_error: row.try_get("", "last_error")?,
        failures_in_a_row: u64::try_from(failures).unwrap_or(0),
        pending: u64::try_from(pending).unwrap_or(0),
    })
}

fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|err| AppError::Internal(err.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|err| AppError::Internal(format!("stored alert channel: {err}")))
}
