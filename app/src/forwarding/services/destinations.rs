//! Forwarding destinations: adding, changing and removing them (owners and
//! admins, each change in the audit log), listing them with how they are
//! going, and what the forwarder reads and records.
//!
//! Header values give access to the receiver (a token), so they are sealed
//! with the installation's key, bound to the destination's id, and never
//! shown again; their names are kept open for the page.

use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Statement, Value};
use serde_json::json;
use url::Url;
use uuid::Uuid;

use super::ForwardSettings;
use crate::{
    accounts::{services::orgs, types::Action},
    error::{AppError, Result},
    forwarding::types::{Destination, DestinationInput, ForwardHeader, ForwardProtocol},
    platform::services::{
        audit::{self, Actor},
        now_ns, rfc3339,
        sealed::SealingKey,
        transaction::{assignments, begin_write, ensure_room, placeholder, placeholder_list},
    },
    telemetry::services::span_store,
};

/// How many destinations an organization keeps.
const MAX_DESTINATIONS: i64 = 10;
const MAX_NAME_CHARS: usize = 100;
const MAX_HEADERS: usize = 16;
const MAX_HEADER_VALUE_BYTES: usize = 4_096;
const MAX_SERVICES: usize = 50;
const MAX_SERVICE_CHARS: usize = 200;
/// How long a span may be retried after it was stored, unless set.
pub const DEFAULT_RETRY_BUDGET_SECS: u64 = 600;
const MOST_RETRY_BUDGET_SECS: u64 = 7 * 86_400;
/// Pending spans are counted up to this many (a count of a long backlog
/// would read it all).
const PENDING_COUNT_CAP: i64 = 100_000;
/// Headers the forwarder sets itself, or that name the connection.
const RESERVED_HEADERS: [&str; 9] = [
    "content-type",
    "content-encoding",
    "content-length",
    "host",
    "connection",
    "transfer-encoding",
    "te",
    "upgrade",
    "user-agent",
];

const COLUMNS: &str = "id, org_id, name, protocol, endpoint, header_names, services, retry_budget_secs, enabled, \
     position, forwarded_spans, dropped_spans, rejected_spans, last_success_at_ns, last_attempt_at_ns, \
     last_error, failing_since_ns, created_at_ns, updated_at_ns";

/// A destination as the forwarder sends to it, its headers opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendingDestination {
    pub id: Uuid,
    pub org_id: Uuid,
    pub protocol: ForwardProtocol,
    /// For OTLP/HTTP the traces URL; for gRPC the server's address.
    pub endpoint: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub services: Vec<String>,
    pub retry_budget_ns: i64,
    /// The last span row id done.
    pub position: i64,
    /// Changes whenever the destination is changed: the forwarder starts over with it.
    pub updated_at_ns: i64,
}

/// The organization's destinations, oldest first, with what waits for each.
pub async fn list(db: &DatabaseConnection, org_id: Uuid) -> Result<Vec<Destination>> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT {COLUMNS} FROM forward_destinations WHERE org_id = {} ORDER BY created_at_ns, id",
                placeholder(backend, 1)
            ),
            [org_id.into()],
        ))
        .await?;
    let mut destinations = Vec::with_capacity(rows.len());
    for row in &rows {
        destinations.push(listed(db, row).await?);
    }
    Ok(destinations)
}

/// One destination of the organization; 404 for another's.
pub async fn get(db: &impl ConnectionTrait, org_id: Uuid, id: Uuid) -> Result<Destination> {
    let row = row_of(db, org_id, id).await?;
    listed(db, &row).await
}

async fn row_of(db: &impl ConnectionTrait, org_id: Uuid, id: Uuid) -> Result<QueryResult> {
    let backend = db.get_database_backend();
    db.query_one_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT {COLUMNS} FROM forward_destinations WHERE org_id = {} AND id = {}",
            placeholder(backend, 1),
            placeholder(backend, 2)
        ),
        [org_id.into(), id.into()],
    ))
    .await?
    .ok_or(AppError::NotFound("forwarding destination"))
}

async fn listed(db: &impl ConnectionTrait, row: &QueryResult) -> Result<Destination> {
    let org_id: Uuid = row.try_get("", "org_id")?;
    let services: Vec<String> = from_json(&row.try_get::<String>("", "services")?)?;
    let position: i64 = row.try_get("", "position")?;
    let pending = span_store::count_spans_after(db, org_id, position, &services, PENDING_COUNT_CAP).await?;
    let time = |column: &str| -> Result<Option<String>> {
        let nanos: i64 = row.try_get("", column)?;
        Ok((nanos > 0).then(|| rfc3339(nanos)))
    };
    let count = |column: &str| -> Result<u64> { Ok(row.try_get::<i64>("", column)?.max(0) as u64) };
    Ok(Destination {
        id: row.try_get("", "id")?,
        name: row.try_get("", "name")?,
        protocol: protocol_of(&row.try_get::<String>("", "protocol")?)?,
        endpoint: row.try_get("", "endpoint")?,
        header_names: from_json(&row.try_get::<String>("", "header_names")?)?,
        services,
        retry_budget_secs: count("retry_budget_secs")?,
        enabled: row.try_get("", "enabled")?,
        forwarded_spans: count("forwarded_spans")?,
        dropped_spans: count("dropped_spans")?,
        rejected_spans: count("rejected_spans")?,
        pending_spans: pending.max(0) as u64,
        last_success_at: time("last_success_at_ns")?,
        last_attempt_at: time("last_attempt_at_ns")?,
        last_error: row.try_get("", "last_error")?,
        failing_since: time("failing_since_ns")?,
        created_at: rfc3339(row.try_get("", "created_at_ns")?),
    })
}

/// Adds a destination (owners and admins). It forwards the spans stored
/// from now on.
pub async fn create(
    db: &DatabaseConnection,
    settings: &ForwardSettings,
    org_id: Uuid,
    actor: &Actor,
    input: &DestinationInput,
) -> Result<Destination> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let checked = Checked::new(settings, input, None)?;
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    ensure_room(
        &txn,
        "forward_destinations",
        org_id,
        MAX_DESTINATIONS,
        "forwarding destinations",
    )
    .await?;
    let id = Uuid::now_v7();
    let now = now_ns();
    let position = span_store::newest_span_id(&txn).await?;
    let values: Vec<Value> = vec![
        id.into(),
        org_id.into(),
        checked.name.clone().into(),
        checked.protocol.as_str().into(),
        checked.endpoint.clone().into(),
        checked.sealed_headers(settings, id)?.into(),
        to_json(&checked.header_names())?.into(),
        to_json(&checked.services)?.into(),
        (checked.retry_budget_secs as i64).into(),
        checked.enabled.into(),
        position.into(),
        now.into(),
        now.into(),
    ];
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO forward_destinations (id, org_id, name, protocol, endpoint, sealed_headers, header_names, \
             services, retry_budget_secs, enabled, position, created_at_ns, updated_at_ns) VALUES ({})",
            placeholder_list(backend, 1, values.len())
        ),
        values,
    ))
    .await?;
    audit::record(
        &txn,
        org_id,
        actor,
        "forwarding.destination.create",
        format!(
            "added the forwarding destination {} ({} {})",
            checked.name,
            checked.protocol.as_str(),
            checked.endpoint
        ),
        json!({"destination_id": id, "after": checked.described()}),
    )
    .await?;
    let destination = get(&txn, org_id, id).await?;
    txn.commit().await?;
    Ok(destination)
}

/// Changes a destination (owners and admins): the fields given replace
/// theirs; `headers`, when given, replaces every header. Spans not yet sent
/// go to the changed destination.
pub async fn update(
    db: &DatabaseConnection,
    settings: &ForwardSettings,
    org_id: Uuid,
    actor: &Actor,
    id: Uuid,
    input: &DestinationInput,
) -> Result<Destination> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    let before = get(&txn, org_id, id).await?;
    let kept_headers = match &input.headers {
        Some(_) => None,
        None => Some(sealed_headers_of(&txn, settings.sealing.as_ref(), id).await?),
    };
    let checked = Checked::new(settings, input, Some((&before, kept_headers)))?;
    let values: Vec<Value> = vec![
        checked.name.clone().into(),
        checked.protocol.as_str().into(),
        checked.endpoint.clone().into(),
        checked.sealed_headers(settings, id)?.into(),
        to_json(&checked.header_names())?.into(),
        to_json(&checked.services)?.into(),
        (checked.retry_budget_secs as i64).into(),
        checked.enabled.into(),
        now_ns().into(),
        org_id.into(),
        id.into(),
    ];
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE forward_destinations SET {} WHERE org_id = {} AND id = {}",
            assignments(
                backend,
                &[
                    "name",
                    "protocol",
                    "endpoint",
                    "sealed_headers",
                    "header_names",
                    "services",
                    "retry_budget_secs",
                    "enabled",
                    "updated_at_ns",
                ],
                1
            ),
            placeholder(backend, 10),
            placeholder(backend, 11)
        ),
        values,
    ))
    .await?;
    audit::record(
        &txn,
        org_id,
        actor,
        "forwarding.destination.update",
        format!("changed the forwarding destination {}", checked.name),
        json!({
            "destination_id": id,
            "before": {
                "name": before.name,
                "protocol": before.protocol,
                "endpoint": before.endpoint,
                "header_names": before.header_names,
                "services": before.services,
                "retry_budget_secs": before.retry_budget_secs,
                "enabled": before.enabled,
            },
            "after": checked.described(),
        }),
    )
    .await?;
    let destination = get(&txn, org_id, id).await?;
    txn.commit().await?;
    Ok(destination)
}

/// Removes a destination (owners and admins); what it had not sent is not sent.
pub async fn delete(db: &DatabaseConnection, org_id: Uuid, actor: &Actor, id: Uuid) -> Result<()> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    let before = get(&txn, org_id, id).await?;
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "DELETE FROM forward_destinations WHERE org_id = {} AND id = {}",
            placeholder(backend, 1),
            placeholder(backend, 2)
        ),
        [org_id.into(), id.into()],
    ))
    .await?;
    audit::record(
        &txn,
        org_id,
        actor,
        "forwarding.destination.delete",
        format!("removed the forwarding destination {}", before.name),
        json!({
            "destination_id": id,
            "name": before.name,
            "endpoint": before.endpoint,
            "forwarded_spans": before.forwarded_spans,
            "dropped_spans": before.dropped_spans,
            "pending_spans": before.pending_spans,
        }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The destination with its headers opened, for sending.
pub async fn for_sending(
    db: &impl ConnectionTrait,
    key: Option<&SealingKey>,
    org_id: Uuid,
    id: Uuid,
) -> Result<SendingDestination> {
    let row = row_of(db, org_id, id).await?;
    Ok(SendingDestination {
        id,
        org_id,
        protocol: protocol_of(&row.try_get::<String>("", "protocol")?)?,
        endpoint: row.try_get("", "endpoint")?,
        headers: sealed_headers_of(db, key, id)
            .await?
            .into_iter()
            .map(|header| (header.name, header.value))
            .collect(),
        services: from_json(&row.try_get::<String>("", "services")?)?,
        retry_budget_ns: row
            .try_get::<i64>("", "retry_budget_secs")?
            .saturating_mul(1_000_000_000),
        position: row.try_get("", "position")?,
        updated_at_ns: row.try_get("", "updated_at_ns")?,
    })
}

/// A destination the forwarder runs: which, and as of which change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnabledDestination {
    pub id: Uuid,
    pub org_id: Uuid,
    pub updated_at_ns: i64,
    pub position: i64,
}

/// Every enabled destination of every organization.
pub async fn enabled(db: &impl ConnectionTrait) -> Result<Vec<EnabledDestination>> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, org_id, updated_at_ns, position FROM forward_destinations WHERE enabled ORDER BY id",
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(EnabledDestination {
                id: row.try_get("", "id")?,
                org_id: row.try_get("", "org_id")?,
                updated_at_ns: row.try_get("", "updated_at_ns")?,
                position: row.try_get("", "position")?,
            })
        })
        .collect()
}

/// How a batch ended, as recorded on its destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchEnd {
    /// The destination acknowledged it; it refused `rejected` of the spans
    /// (OTLP partial success).
    Sent { spans: u64, rejected: u64 },
    /// The destination refused it for good (a 400: retrying cannot help).
    Refused { spans: u64, error: String },
    /// Not delivered within the retry budget: dropped.
    GaveUp { spans: u64, error: String },
    /// No span of the destination's lay there (other organizations' spans,
    /// or services it does not forward).
    Skipped,
}

/// Moves the destination's cursor from `from` to `to` with what the batch
/// did, only if it still stands at `from` (a replica that lost the lease
/// meanwhile records nothing); false when it did not.
pub async fn finish_batch(
    db: &impl ConnectionTrait,
    id: Uuid,
    from: i64,
    to: i64,
    end: &BatchEnd,
    now: i64,
) -> Result<bool> {
    let backend = db.get_database_backend();
    // Each value appears once, in order: SQLite numbers `?` by position.
    let mut sets: Vec<(&str, Option<Value>)> = vec![("position = {}", Some(to.into()))];
    match end {
        BatchEnd::Skipped => {}
        BatchEnd::Sent { spans, rejected } => {
            let rejected = (*rejected).min(*spans);
            sets.extend([
                (
                    "forwarded_spans = forwarded_spans + {}",
                    Some(((spans - rejected) as i64).into()),
                ),
                (
                    "rejected_spans = rejected_spans + {}",
                    Some((rejected as i64).into()),
                ),
                ("last_attempt_at_ns = {}", Some(now.into())),
                ("last_success_at_ns = {}", Some(now.into())),
                ("last_error = NULL", None),
                ("failing_since_ns = 0", None),
            ]);
        }
        BatchEnd::Refused { spans, error } => sets.extend([
            (
                "rejected_spans = rejected_spans + {}",
                Some((*spans as i64).into()),
            ),
            ("last_attempt_at_ns = {}", Some(now.into())),
            ("last_error = {}", Some(error.as_str().into())),
            ("failing_since_ns = 0", None),
        ]),
        BatchEnd::GaveUp { spans, error } => sets.extend([
            ("dropped_spans = dropped_spans + {}", Some((*spans as i64).into())),
            ("last_attempt_at_ns = {}", Some(now.into())),
            ("last_error = {}", Some(error.as_str().into())),
            (
                "failing_since_ns = CASE WHEN failing_since_ns = 0 THEN {} ELSE failing_since_ns END",
                Some(now.into()),
            ),
        ]),
    }
    let mut values: Vec<Value> = Vec::with_capacity(sets.len() + 2);
    let assignments: Vec<String> = sets
        .into_iter()
        .map(|(assignment, value)| match value {
            Some(value) => {
                values.push(value);
                assignment.replace("{}", &placeholder(backend, values.len()))
            }
            None => assignment.to_owned(),
        })
        .collect();
    let sql = format!(
        "UPDATE forward_destinations SET {} WHERE id = {} AND position = {}",
        assignments.join(", "),
        placeholder(backend, values.len() + 1),
        placeholder(backend, values.len() + 2),
    );
    values.extend([id.into(), from.into()]);
    let moved = db
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(moved.rows_affected() == 1)
}

/// Records a failed send that will be retried.
pub async fn record_failure(db: &impl ConnectionTrait, id: Uuid, error: &str, now: i64) -> Result<()> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE forward_destinations SET last_attempt_at_ns = {}, last_error = {}, \
             failing_since_ns = CASE WHEN failing_since_ns = 0 THEN {} ELSE failing_since_ns END \
             WHERE id = {}",
            placeholder(backend, 1),
            placeholder(backend, 2),
            placeholder(backend, 3),
            placeholder(backend, 4),
        ),
        [now.into(), error.into(), now.into(), id.into()],
    ))
    .await?;
    Ok(())
}

async fn sealed_headers_of(
    db: &impl ConnectionTrait,
    key: Option<&SealingKey>,
    id: Uuid,
) -> Result<Vec<ForwardHeader>> {
    let backend = db.get_database_backend();
    let sealed: String = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT sealed_headers FROM forward_destinations WHERE id = {}",
                placeholder(backend, 1)
            ),
            [id.into()],
        ))
        .await?
        .ok_or(AppError::NotFound("forwarding destination"))?
        .try_get("", "sealed_headers")?;
    if sealed.is_empty() {
        return Ok(Vec::new());
    }
    let key = key.ok_or_else(|| {
        AppError::Internal(format!(
            "forwarding destination {id} has sealed headers and the installation no key"
        ))
    })?;
    let opened = key
        .open(&sealed, &id.to_string())
        .map_err(|err| AppError::Internal(format!("forwarding destination {id}: {err}")))?;
    serde_json::from_slice(&opened)
        .map_err(|err| AppError::Internal(format!("forwarding destination {id}: {err}")))
}

/// A destination's settings, checked.
struct Checked {
    name: String,
    protocol: ForwardProtocol,
    endpoint: String,
    headers: Vec<ForwardHeader>,
    services: Vec<String>,
    retry_budget_secs: u64,
    enabled: bool,
}

impl Checked {
    /// `input` over `before` (a change: the destination and, unless
    /// `input` replaces them, its headers), or alone (a new destination,
    /// which needs a name, a protocol and an endpoint).
    fn new(
        settings: &ForwardSettings,
        input: &DestinationInput,
        before: Option<(&Destination, Option<Vec<ForwardHeader>>)>,
    ) -> Result<Self> {
        let missing = |field: &str| AppError::BadRequest(format!("`{field}` is required"));
        let name = match (&input.name, &before) {
            (Some(name), _) => name.trim().to_owned(),
            (None, Some((before, _))) => before.name.clone(),
            (None, None) => return Err(missing("name")),
        };
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(AppError::BadRequest(format!(
                "`name` must be 1 to {MAX_NAME_CHARS} characters"
            )));
        }
        let protocol = match (input.protocol, &before) {
            (Some(protocol), _) => protocol,
            (None, Some((before, _))) => before.protocol,
            (None, None) => return Err(missing("protocol")),
        };
        let endpoint = match (&input.endpoint, &before) {
            (Some(endpoint), _) => endpoint.clone(),
            (None, Some((before, _))) => before.endpoint.clone(),
            (None, None) => return Err(missing("endpoint")),
        };
        let endpoint = check_endpoint(settings, protocol, &endpoint)?;
        let headers = match (&input.headers, before.as_ref().and_then(|(_, kept)| kept.clone())) {
            (Some(headers), _) => check_headers(headers)?,
            (None, Some(kept)) => kept,
            (None, None) => Vec::new(),
        };
        if !headers.is_empty() && settings.sealing.is_none() {
            return Err(AppError::Conflict(
                "header values are kept encrypted, and this installation has no key: set SPECULA_SECRETS_KEY"
                    .into(),
            ));
        }
        let services = match (&input.services, &before) {
            (Some(services), _) => check_services(services)?,
            (None, Some((before, _))) => before.services.clone(),
            (None, None) => Vec::new(),
        };
        let retry_budget_secs = match (input.retry_budget_secs, &before) {
            (Some(secs), _) => secs,
            (None, Some((before, _))) => before.retry_budget_secs,
            (None, None) => DEFAULT_RETRY_BUDGET_SECS,
        };
        if !(1..=MOST_RETRY_BUDGET_SECS).contains(&retry_budget_secs) {
            return Err(AppError::BadRequest(format!(
                "`retry_budget_secs` must be 1 to {MOST_RETRY_BUDGET_SECS} (a week)"
            )));
        }
        let enabled = input
            .enabled
            .or(before.as_ref().map(|(before, _)| before.enabled))
            .unwrap_or(true);
        Ok(Self {
            name,
            protocol,
            endpoint,
            headers,
            services,
            retry_budget_secs,
            enabled,
        })
    }

    fn header_names(&self) -> Vec<&str> {
        self.headers.iter().map(|header| header.name.as_str()).collect()
    }

    /// The sealed header values ("" when there are none).
    fn sealed_headers(&self, settings: &ForwardSettings, id: Uuid) -> Result<String> {
        if self.headers.is_empty() {
            return Ok(String::new());
        }
        let key = settings
            .sealing
            .as_ref()
            .ok_or_else(|| AppError::Internal("no sealing key".into()))?;
        Ok(key.seal(to_json(&self.headers)?.as_bytes(), &id.to_string()))
    }

    /// For the audit log: everything but the header values.
    fn described(&self) -> serde_json::Value {
        json!({
            "name": self.name,
            "protocol": self.protocol,
            "endpoint": self.endpoint,
            "header_names": self.header_names(),
            "services": self.services,
            "retry_budget_secs": self.retry_budget_secs,
            "enabled": self.enabled,
        })
    }
}

/// The endpoint as it is stored: an `http` or `https` URL the outbound
/// guard accepts, without credentials, query or fragment; an OTLP/HTTP one
/// without a path gets `/v1/traces` (as `OTEL_EXPORTER_OTLP_ENDPOINT` does).
fn check_endpoint(settings: &ForwardSettings, protocol: ForwardProtocol, text: &str) -> Result<String> {
    let refused = |reason: String| AppError::BadRequest(format!("`endpoint`: {reason}"));
    let mut url: Url = settings
        .outbound
        .check_url(text)
        .map_err(|err| refused(err.to_string()))?;
    if url.fragment().is_some() {
        return Err(refused("the URL must not have a fragment".into()));
    }
    match protocol {
        ForwardProtocol::HttpProtobuf => {
            if url.path().is_empty() || url.path() == "/" {
                url.set_path("/v1/traces");
            }
        }
        ForwardProtocol::Grpc => {
            if !(url.path().is_empty() || url.path() == "/") || url.query().is_some() {
                return Err(refused(
                    "a gRPC endpoint is a server's address (`http://host:4317` or `https://…`), without a path".into(),
                ));
            }
            return Ok(url.origin().ascii_serialization());
        }
    }
    Ok(url.to_string())
}

fn check_headers(headers: &[ForwardHeader]) -> Result<Vec<ForwardHeader>> {
    if headers.len() > MAX_HEADERS {
        return Err(AppError::BadRequest(format!("at most {MAX_HEADERS} headers")));
    }
    let mut checked: Vec<ForwardHeader> = Vec::with_capacity(headers.len());
    for header in headers {
        let name = header.name.trim().to_ascii_lowercase();
        let token = |byte: u8| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte);
        if name.is_empty() || name.len() > 100 || !name.bytes().all(token) {
            return Err(AppError::BadRequest(format!(
                "header name {:?}: letters, digits and !#$%&'*+-.^_`|~ only",
                header.name
            )));
        }
        if RESERVED_HEADERS.contains(&name.as_str()) || name.starts_with("grpc-") || name.ends_with("-bin") {
            return Err(AppError::BadRequest(format!(
                "header {name}: the forwarder sets it itself"
            )));
        }
        let value = header.value.trim();
        if value.is_empty()
            || value.len() > MAX_HEADER_VALUE_BYTES
            || !value
                .bytes()
                .all(|byte| byte == b'\t' || (b' '..=b'~').contains(&byte))
        {
            return Err(AppError::BadRequest(format!(
                "header {name}: the value must be 1 to {MAX_HEADER_VALUE_BYTES} printable ASCII characters"
            )));
        }
        if checked.iter().any(|known| known.name == name) {
            return Err(AppError::BadRequest(format!("header {name} is given twice")));
        }
        checked.push(ForwardHeader {
            name,
            value: value.to_owned(),
        });
    }
    Ok(checked)
}

fn check_services(services: &[String]) -> Result<Vec<String>> {
    let mut checked: Vec<String> = services
        .iter()
        .map(|service| service.trim().to_owned())
        .filter(|service| !service.is_empty())
        .collect();
    checked.sort();
    checked.dedup();
    if checked.len() > MAX_SERVICES
        || checked
            .iter()
            .any(|service| service.chars().count() > MAX_SERVICE_CHARS)
    {
        return Err(AppError::BadRequest(format!(
            "`services`: at most {MAX_SERVICES} names of up to {MAX_SERVICE_CHARS} characters"
        )));
    }
    Ok(checked)
}

fn protocol_of(text: &str) -> Result<ForwardProtocol> {
    ForwardProtocol::parse(text)
        .ok_or_else(|| AppError::Internal(format!("unknown forwarding protocol {text:?}")))
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|err| AppError::Internal(err.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|err| AppError::Internal(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::services::outbound::Outbound;

    fn settings(allow_private: bool) -> ForwardSettings {
        ForwardSettings {
            outbound: Outbound::new(allow_private),
            sealing: Some(SealingKey::from_base64(&SealingKey::generate_base64()).unwrap()),
        }
    }

    fn input(protocol: ForwardProtocol, endpoint: &str) -> DestinationInput {
        DestinationInput {
            name: Some(" Tempo ".into()),
            protocol: Some(protocol),
            endpoint: Some(endpoint.into()),
            ..DestinationInput::default()
        }
    }

    #[test]
    fn http_endpoints_without_a_path_get_the_traces_path() {
        let settings = settings(false);
        let checked = Checked::new(
            &settings,
            &input(ForwardProtocol::HttpProtobuf, "https://otlp.example.com"),
            None,
        )
        .unwrap();
        assert_eq!(checked.endpoint, "https://otlp.example.com/v1/traces");
        assert_eq!(checked.name, "Tempo");
        assert_eq!(checked.retry_budget_secs, DEFAULT_RETRY_BUDGET_SECS);
        assert!(checked.enabled);
        let kept = Checked::new(
            &settings,
            &input(
                ForwardProtocol::HttpProtobuf,
                "https://otlp.example.com/otlp/v1/traces",
            ),
            None,
        )
        .unwrap();
        assert_eq!(kept.endpoint, "https://otlp.example.com/otlp/v1/traces");
    }

    #[test]
    fn grpc_endpoints_are_addresses_and_private_ones_need_the_setting() {
        let refused = Checked::new(
            &settings(true),
            &input(ForwardProtocol::Grpc, "http://collector:4317/v1/traces"),
            None,
        );
        assert!(matches!(refused, Err(AppError::BadRequest(_))));
        let private = input(ForwardProtocol::Grpc, "http://127.0.0.1:4317");
        assert!(Checked::new(&settings(false), &private, None).is_err());
        assert!(Checked::new(&settings(true), &private, None).is_ok());
    }

    #[test]
    fn headers_are_checked_and_lower_cased() {
        let header = |name: &str, value: &str| ForwardHeader {
            name: name.into(),
            value: value.into(),
        };
        let checked = check_headers(&[
            header("Authorization", " Bearer abc "),
            header("X-Scope-OrgID", "t1"),
        ])
        .unwrap();
        assert_eq!(checked[0], header("authorization", "Bearer abc"));
        assert_eq!(checked[1].name, "x-scope-orgid");
        for refused in [
            vec![header("content-type", "x")],
            vec![header("grpc-timeout", "1S")],
            vec![header("bad name", "x")],
            vec![header("x-a", "line\nbreak")],
            vec![header("x-a", "")],
            vec![header("x-a", "1"), header("X-A", "2")],
        ] {
            assert!(check_headers(&refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn a_change_keeps_what_it_does_not_name() {
        let settings = settings(false);
        let before = Destination {
            id: Uuid::nil(),
            name: "Tempo".into(),
            protocol: ForwardProtocol::Grpc,
            endpoint: "https://tempo.example.com:4317".into(),
            header_names: vec!["authorization".into()],
            services: vec!["checkout".into()],
            retry_budget_secs: 60,
            enabled: true,
            forwarded_spans: 0,
            dropped_spans: 0,
            rejected_spans: 0,
            pending_spans: 0,
            last_success_at: None,
            last_attempt_at: None,
            last_error: None,
            failing_since: None,
            created_at: String::new(),
        };
        let kept = vec![ForwardHeader {
            name: "authorization".into(),
            value: "Bearer x".into(),
        }];
        let change = DestinationInput {
            enabled: Some(false),
            ..DestinationInput::default()
        };
        let checked = Checked::new(&settings, &change, Some((&before, Some(kept.clone())))).unwrap();
        assert!(!checked.enabled);
        assert_eq!(checked.headers, kept);
        assert_eq!(checked.services, before.services);
        assert_eq!(checked.retry_budget_secs, 60);
        assert_eq!(checked.endpoint, before.endpoint);
        let too_long = DestinationInput {
            retry_budget_secs: Some(MOST_RETRY_BUDGET_SECS + 1),
            ..DestinationInput::default()
        };
        assert!(Checked::new(&settings, &too_long, Some((&before, None))).is_err());
    }
}
