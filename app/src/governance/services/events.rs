//! Governance events: every evaluate decision, stored by a batching writer
//! so that a decision never waits for a database write (on SQLite that
//! write would queue behind ingest's commits). The writer commits what is
//! queued in one transaction, then the next batch; on shutdown it commits
//! what is left before the server stops. A full queue (the database has
//! been away for a while) makes evaluate answer 503 with `Retry-After`
//! rather than give decisions it cannot record.

use std::time::Duration;

use entity::governance_event;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    error::{AppError, Result},
    format::push_csv_row,
    governance::types::{
        DecisionAction, DecisionReason, GovernanceEvent, GovernanceEventPage, GovernanceEventQuery,
    },
    platform::services::{paging, parse_time, rfc3339},
};

/// Decisions waiting for the writer before evaluate answers 503.
const QUEUE_CAPACITY: usize = 20_000;
/// Rows per insert: 17 columns each stays under SQLite's 32,766 parameters.
const MAX_BATCH: usize = 500;
/// How long a failed write waits before it is tried again.
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// Hands decisions to the writer.
#[derive(Clone, Debug)]
pub struct EventLog {
    sender: mpsc::Sender<governance_event::Model>,
}

impl EventLog {
    /// Starts the writer on `db`; it stops, after writing what is queued,
    /// once `stop` is cancelled.
    pub fn start(db: DatabaseConnection, stop: CancellationToken) -> (Self, JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let task = tokio::spawn(write_events(db, receiver, stop));
        (Self { sender }, task)
    }

    /// Queues `event` for the writer.
    pub fn record(&self, event: governance_event::Model) -> Result<()> {
        self.sender.try_send(event).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => {
                AppError::Unavailable("governance events are not being written fast enough; retry shortly")
            }
            mpsc::error::TrySendError::Closed(_) => AppError::Unavailable("the server is shutting down"),
        })
    }
}

async fn write_events(
    db: DatabaseConnection,
    mut receiver: mpsc::Receiver<governance_event::Model>,
    stop: CancellationToken,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let first = tokio::select! {
            event = receiver.recv() => event,
            () = stop.cancelled() => None,
        };
        let Some(first) = first else { break };
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        write_until_done(&db, &mut batch, &stop).await;
    }
    // Shutting down: every request has been answered, so what is queued is all there is.
    receiver.close();
    while let Some(event) = receiver.recv().await {
        batch.push(event);
        if batch.len() == MAX_BATCH {
            write_until_done(&db, &mut batch, &stop).await;
        }
    }
    write_until_done(&db, &mut batch, &stop).await;
}

/// Writes `batch`, trying again while the database is away; gives up only
/// when the server is stopping and the write still fails.
async fn write_until_done(
    db: &DatabaseConnection,
    batch: &mut Vec<governance_event::Model>,
    stop: &CancellationToken,
) {
    if batch.is_empty() {
        return;
    }
    loop {
        match insert(db, batch).await {
            Ok(()) => {
                batch.clear();
                return;
            }
            Err(err) if stop.is_cancelled() => {
                tracing::error!(error = %err, lost = batch.len(), "governance events could not be written before shutdown");
                batch.clear();
                return;
            }
            Err(err) => {
                tracing::warn!(error = %err, queued = batch.len(), "writing governance events failed; trying again");
                tokio::time::sleep(RETRY_DELAY).await;
            }
        }
    }
}

async fn insert(db: &DatabaseConnection, batch: &[governance_event::Model]) -> Result<()> {
    let rows = batch.iter().cloned().map(governance_event::ActiveModel::from);
    // An event already written (a retried batch whose commit did answer) is kept as it is.
    governance_event::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([governance_event::Column::Id])
        .exec(db)
        .await?;
    Ok(())
}

/// A cursor: the last event's time and id.
fn parse_cursor(cursor: &str) -> Result<(i64, Uuid)> {
    cursor
        .split_once('_')
        .and_then(|(at, id)| Some((at.parse().ok()?, Uuid::parse_str(id).ok()?)))
        .ok_or_else(|| AppError::BadRequest("`cursor` is not one this API gave".into()))
}

/// One page of `org_id`'s governance events, newest first.
pub async fn page(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    query: &GovernanceEventQuery,
) -> Result<GovernanceEventPage> {
    use governance_event::Column;

    fn text(value: &Option<String>) -> Option<&str> {
        value.as_deref().map(str::trim).filter(|value| !value.is_empty())
    }
    let limit = paging::page_rows(query.limit, paging::wants_csv(query.format.as_deref())?)?;
    let mut select = governance_event::Entity::find().filter(Column::OrgId.eq(org_id));
    if let Some(action) = text(&query.action) {
        let action = DecisionAction::parse(action).ok_or_else(|| {
            AppError::BadRequest(format!(
                "`action` must be allow, deny, redact or route, got {action:?}"
            ))
        })?;
        select = select.filter(Column::Action.eq(action.as_str()));
    }
    if let Some(kind) = text(&query.reason) {
        // Reasons are a JSON array; their kinds are quoted words.
        select = select.filter(Column::Reasons.contains(format!("\"kind\":{}", serde_json::json!(kind))));
    }
    if let Some(model) = text(&query.model) {
        select = select.filter(
            Condition::any()
                .add(Column::Model.eq(model))
                .add(Column::RoutedModel.eq(model)),
        );
    }
    if let Some(end_user) = text(&query.end_user) {
        select = select.filter(Column::EndUser.eq(end_user));
    }
    if let Some(token_id) = query.token_id {
        select = select.filter(Column::TokenId.eq(token_id));
    }
    if let Some(since) = text(&query.since) {
        select = select.filter(Column::CreatedAtNs.gte(parse_time("since", since)?));
    }
    if let Some(until) = text(&query.until) {
        select = select.filter(Column::CreatedAtNs.lt(parse_time("until", until)?));
    }
    if let Some(cursor) = text(&query.cursor) {
        let (at_ns, id) = parse_cursor(cursor)?;
        select = select.filter(
            Condition::any().add(Column::CreatedAtNs.lt(at_ns)).add(
                Condition::all()
                    .add(Column::CreatedAtNs.eq(at_ns))
                    .add(Column::Id.lt(id)),
            ),
        );
    }
    let mut rows = select
        .order_by_desc(Column::CreatedAtNs)
        .order_by_desc(Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|row| format!("{}_{}", row.created_at_ns, row.id))
    } else {
        None
    };
    Ok(GovernanceEventPage {
        events: rows.into_iter().map(view).collect(),
        next_cursor,
    })
}

/// `org_id`'s events with these ids (those that exist), by id.
pub async fn by_ids(db: &impl ConnectionTrait, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<GovernanceEvent>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = governance_event::Entity::find()
        .filter(governance_event::Column::OrgId.eq(org_id))
        .filter(governance_event::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(view).collect())
}

fn view(row: governance_event::Model) -> GovernanceEvent {
    GovernanceEvent {
        id: row.id.to_string(),
        created_at: rfc3339(row.created_at_ns),
        event_type: row.event_type,
        policy_version: row.policy_version,
        action: DecisionAction::parse(&row.action).unwrap_or(DecisionAction::Allow),
        reasons: serde_json::from_str::<Vec<DecisionReason>>(&row.reasons).unwrap_or_default(),
        model: row.model,
        routed_model: row.routed_model,
        end_user: row.end_user,
        region: row.region,
        service: row.service,
        token_id: row.token_id.map(|id| id.to_string()),
        prompt_chars: row.prompt_chars,
        prompt_sha256: row.prompt_sha256,
        estimated_cost_usd: row.estimated_cost_nanos.map(|nanos| nanos as f64 / 1e9),
    }
}

/// The page as CSV, with a header row; times in UTC, reasons as
/// `kind:rule_id` joined by `;` (their details in the JSON answer).
pub fn to_csv(page: &GovernanceEventPage) -> String {
    let mut out = String::from(
        "decision_id,time_utc,event_type,policy_version,action,reasons,model,routed_model,end_user,region,service,token_id,prompt_chars,prompt_sha256,estimated_cost_usd\n",
    );
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    for event in &page.events {
        let reasons = event
            .reasons
            .iter()
            .map(|reason| format!("{}:{}", reason.kind, reason.rule_id))
            .collect::<Vec<_>>()
            .join(";");
        let fields = [
            event.id.clone(),
            event.created_at.clone(),
            event.event_type.clone(),
            event.policy_version.to_string(),
            event.action.as_str().to_owned(),
            reasons,
            text(&event.model),
            text(&event.routed_model),
            text(&event.end_user),
            text(&event.region),
            text(&event.service),
            text(&event.token_id),
            event.prompt_chars.to_string(),
            event.prompt_sha256.clone(),
            event
                .estimated_cost_usd
                .map(|usd| format!("{usd:.9}"))
                .unwrap_or_default(),
        ];
        push_csv_row(&mut out, &fields);
        out.push('\n');
    }
    out
}
