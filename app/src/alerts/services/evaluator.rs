//! The evaluator: a background job that checks every enabled rule of every
//! organization each interval (one replica at a time, by a lease on the
//! `alert_job` row) and moves each rule between ok, firing and resolved.
//!
//! A change of state is recorded as an event and, unless a silence covers
//! the rule, notified on the rule's channels: a firing once (again only
//! when a budget crosses a higher threshold), its resolve once. Within a
//! rule's quiet period after a notification, a new firing is recorded but
//! held back, and sent once the period is over if the rule still fires.
//! A pass's notices are grouped per channel into one delivery, so an
//! incident that trips many rules sends one message. Events, state and
//! deliveries of an organization commit together: a pass cut short by a
//! restart is simply run again by whichever replica holds the lease next.

use std::{collections::BTreeMap, time::Duration};
use tracing::Instrument;

use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Statement, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    AlertSettings, deliveries,
    measure::{self, Measurement},
    notify::{Notice, Notification},
    silences,
};
use crate::{
    accounts::services::orgs,
    alerts::types::{AlertCondition, AlertState, EvaluatorStatus},
    error::{AppError, Result},
    governance::services::{
        book::PolicyBook,
        limits::{Limits, budgets},
    },
    platform::services::{
        lease::{self, Lease},
        now_ns, rfc3339,
        transaction::{assignments, begin_write, placeholder, placeholder_list},
    },
};

const JOB_TABLE: &str = "alert_job";
const JOB: &str = "evaluator";
const LEASE_NS: i64 = 60 * 1_000_000_000;
const MINUTE_NS: i64 = 60 * 1_000_000_000;
/// What a pass writes on every rule it checks, in the order of its values.
const RULE_STATE_COLUMNS: [&str; 7] = [
    "state",
    "firing_level",
    "firing_notified",
    "last_notified_ns",
    "last_value",
    "last_evaluated_ns",
    "cursor",
];

/// What the evaluator reads through.
#[derive(Clone, Debug)]
pub struct Evaluator {
    pub db: DatabaseConnection,
    pub settings: AlertSettings,
    pub policies: PolicyBook,
    pub limits: Limits,
}

/// What a pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassFigures {
    pub rules: u64,
    pub firing: u64,
    pub events: u64,
    pub deliveries: u64,
}

/// Runs passes every `settings.interval` until `stop`, as `owner`.
pub async fn run(evaluator: Evaluator, owner: String, stop: CancellationToken) {
    let lease = Lease {
        table: JOB_TABLE,
        name: JOB,
        owner: &owner,
        length_ns: LEASE_NS
            .max(i64::try_from(evaluator.settings.interval.as_nanos()).unwrap_or(i64::MAX) * 3),
    };
    let interval = evaluator.settings.interval;
    loop {
        let pass = pass_if_due(&evaluator, lease).await;
        crate::platform::services::metrics::job_result("alert_evaluator", &pass);
        match pass {
            Ok(Some(figures)) if figures.events > 0 => tracing::info!(?figures, "alert rules evaluated"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "alert evaluation failed; trying again next interval"),
        }
        tokio::select! {
            () = tokio::time::sleep(interval.min(Duration::from_secs(10))) => {}
            () = stop.cancelled() => break,
        }
    }
    if let Err(err) = lease::release(&evaluator.db, lease).await {
        tracing::warn!(error = %err, "alert evaluator: giving the lease up failed; it will expire");
    }
}

/// Runs a pass when the last one (on any replica) started an interval ago
/// and this replica holds the lease.
pub async fn pass_if_due(evaluator: &Evaluator, lease: Lease<'_>) -> Result<Option<PassFigures>> {
    let db = &evaluator.db;
    let now = now_ns();
    let started = job_row(db)
        .await?
        .map(|row| row.try_get::<i64>("", "pass_started_at_ns"))
        .transpose()?;
    let interval_ns = i64::try_from(evaluator.settings.interval.as_nanos()).unwrap_or(i64::MAX);
    if now.saturating_sub(started.unwrap_or(0)) < interval_ns || !lease::claim(db, lease, now).await? {
        return Ok(None);
    }
    set_job(db, &[("pass_started_at_ns", now)]).await?;
    let figures = pass(evaluator, now)
        .instrument(tracing::info_span!("alert evaluation"))
        .await?;
    let finished = now_ns();
    set_job(
        db,
        &[
            ("pass_finished_at_ns", finished),
            ("pass_rules", i64::try_from(figures.rules).unwrap_or(i64::MAX)),
            ("pass_firing", i64::try_from(figures.firing).unwrap_or(i64::MAX)),
            ("pass_duration_ns", finished - now),
        ],
    )
    .await?;
    Ok(Some(figures))
}

/// Checks every enabled rule of every organization as of `now`.
pub async fn pass(evaluator: &Evaluator, now: i64) -> Result<PassFigures> {
    let db = &evaluator.db;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT DISTINCT org_id FROM alert_rules WHERE enabled ORDER BY org_id",
        ))
        .await?;
    let mut figures = PassFigures::default();
    for row in rows {
        let org_id: Uuid = row.try_get("", "org_id")?;
        match evaluate_org(evaluator, org_id, now).await {
            Ok(org) => {
                figures.rules += org.rules;
                figures.firing += org.firing;
                figures.events += org.events;
                figures.deliveries += org.deliveries;
            }
            // One organization's trouble (a policy that no longer reads) does not stop the others.
            Err(err) => tracing::warn!(%org_id, error = %err, "alert rules of an organization not evaluated"),
        }
    }
    Ok(figures)
}

/// A rule as the evaluator reads it.
#[derive(Clone, Debug)]
struct StoredRule {
    id: Uuid,
    name: String,
    condition: AlertCondition,
    channel_ids: Vec<Uuid>,
    quiet_minutes: i64,
    state: RuleState,
    cursor: i64,
}

/// The part of a rule's row that its transitions change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RuleState {
    pub state: AlertState,
    pub firing_level: Option<f64>,
    pub firing_notified: bool,
    pub last_notified_ns: i64,
}

/// What became of an event's notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeOutcome {
    Sent,
    Silenced,
    Quiet,
    NoChannels,
}

impl NoticeOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Silenced => "silenced",
            Self::Quiet => "quiet",
            Self::NoChannels => "no_channels",
        }
    }
}

/// A rule's transition in one pass: its new state and the event, if any.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transition {
    pub next: RuleState,
    /// `(firing?, outcome)`: an event to record, notified when `Sent`.
    pub event: Option<(bool, NoticeOutcome)>,
}

/// Where a rule goes from `before` given what it measured.
pub fn transition(
    before: RuleState,
    measured: &Measurement,
    fires: bool,
    silenced: bool,
    has_channels: bool,
    quiet_ns: i64,
    now: i64,
) -> Transition {
    let firing = before.state == AlertState::Firing;
    let within_quiet = before.last_notified_ns > 0 && now - before.last_notified_ns < quiet_ns;
    let outcome = |quiet_applies: bool| {
        if silenced {
            NoticeOutcome::Silenced
        } else if !has_channels {
            NoticeOutcome::NoChannels
        } else if quiet_applies && within_quiet {
            NoticeOutcome::Quiet
        } else {
            NoticeOutcome::Sent
        }
    };
    let notified = |outcome: NoticeOutcome, was: bool| RuleState {
        state: AlertState::Firing,
        firing_level: measured.level.or(before.firing_level),
        firing_notified: was || outcome == NoticeOutcome::Sent,
        last_notified_ns: if outcome == NoticeOutcome::Sent {
            now
        } else {
            before.last_notified_ns
        },
    };
    match (firing, fires) {
        (false, true) => {
            let outcome = outcome(true);
            Transition {
                next: RuleState {
                    firing_level: measured.level,
                    ..notified(outcome, false)
                },
                event: Some((true, outcome)),
            }
        }
        (true, true) => {
            let escalated = matches!((measured.level, before.firing_level), (Some(now_level), Some(was)) if now_level > was)
                || (measured.level.is_some() && before.firing_level.is_none());
            if escalated {
                let outcome = outcome(false);
                return Transition {
                    next: notified(outcome, before.firing_notified),
                    event: Some((true, outcome)),
                };
            }
            // Held back before (a silence, the quiet period): sent once nothing holds it.
            if !before.firing_notified && outcome(true) == NoticeOutcome::Sent {
                return Transition {
                    next: notified(NoticeOutcome::Sent, false),
                    event: Some((true, NoticeOutcome::Sent)),
                };
            }
            Transition {
                next: before,
                event: None,
            }
        }
        (true, false) => {
            // A resolve is sent when its firing was.
            let outcome = match outcome(false) {
                NoticeOutcome::Sent if !before.firing_notified => NoticeOutcome::Quiet,
                outcome => outcome,
            };
            Transition {
                next: RuleState {
                    state: AlertState::Resolved,
                    firing_level: None,
                    firing_notified: false,
                    last_notified_ns: if outcome == NoticeOutcome::Sent {
                        now
                    } else {
                        before.last_notified_ns
                    },
                },
                event: Some((false, outcome)),
            }
        }
        (false, false) => Transition {
            next: before,
            event: None,
        },
    }
}

async fn evaluate_org(evaluator: &Evaluator, org_id: Uuid, now: i64) -> Result<PassFigures> {
    let db = &evaluator.db;
    let rules = enabled_rules(db, org_id).await?;
    let conditions: Vec<&AlertCondition> = rules.iter().map(|rule| &rule.condition).collect();
    let mut figures = measure::load(db, org_id, &conditions, now).await?;
    if conditions
        .iter()
        .any(|condition| matches!(condition, AlertCondition::Budget { .. }))
    {
        let policy = evaluator.policies.policy_for(db, org_id).await?;
        figures.budgets =
            budgets::statuses(db, &evaluator.limits.spend, &policy.budgets, org_id, now).await?;
    }
    let silenced = silences::silenced_until(db, org_id, now).await?;
    let mut changes = Vec::with_capacity(rules.len());
    let mut pass = PassFigures {
        rules: rules.len() as u64,
        ..PassFigures::default()
    };
    for rule in &rules {
        let measured = measure::measure(db, org_id, &figures, &rule.condition, rule.cursor, now).await?;
        let fires = measured.value.is_some_and(|value| rule.condition.fires_at(value));
        let is_silenced = silenced.contains_key(&Some(rule.id)) || silenced.contains_key(&None);
        let step = transition(
            rule.state,
            &measured,
            fires,
            is_silenced,
            !rule.channel_ids.is_empty(),
            rule.quiet_minutes * MINUTE_NS,
            now,
        );
        pass.firing += u64::from(step.next.state == AlertState::Firing);
        changes.push((rule, measured, step));
    }
    let organization = if changes.iter().any(|(_, _, step)| step.event.is_some()) {
        orgs::name(db, org_id).await?
    } else {
        String::new()
    };
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    let mut by_channel: BTreeMap<Uuid, Vec<Notice>> = BTreeMap::new();
    for (rule, measured, step) in &changes {
        if let Some((firing, outcome)) = step.event {
            let kind = if firing { "firing" } else { "resolved" };
            let event_id = insert_event(&txn, org_id, rule, measured, kind, outcome, now).await?;
            pass.events += 1;
            if outcome == NoticeOutcome::Sent {
                let notice = Notice {
                    event_id: Some(event_id),
                    rule_id: Some(rule.id),
                    rule_name: rule.name.clone(),
                    condition_kind: rule.condition.kind().to_owned(),
                    kind: kind.to_owned(),
                    at: rfc3339(now),
                    value: measured.value,
                    threshold: rule.condition.threshold(),
                    unit: rule.condition.unit().to_owned(),
                    summary: measured.summary.clone(),
                    url: format!("{}{}", evaluator.settings.public_url, measured.link),
                };
                for channel_id in &rule.channel_ids {
                    by_channel.entry(*channel_id).or_default().push(notice.clone());
                }
            }
        }
        let since = if step.next.state != rule.state.state {
            Some(now)
        } else {
            None
        };
        let values: Vec<Value> = vec![
            step.next.state.as_str().into(),
            step.next.firing_level.into(),
            step.next.firing_notified.into(),
            step.next.last_notified_ns.into(),
            measured.value.into(),
            now.into(),
            measured.cursor.unwrap_or(rule.cursor).into(),
            rule.id.into(),
        ];
        let since_sql = match since {
            Some(since) => format!(", state_since_ns = {since}"),
            None => String::new(),
        };
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "UPDATE alert_rules SET {}{since_sql} WHERE id = {}",
                assignments(backend, &RULE_STATE_COLUMNS, 1),
                placeholder(backend, RULE_STATE_COLUMNS.len() + 1),
            ),
            values,
        ))
        .await?;
    }
    let existing =
        super::channels::existing(&txn, org_id, &by_channel.keys().copied().collect::<Vec<_>>()).await?;
    for (channel_id, events) in by_channel {
        if !existing.contains(&channel_id) {
            continue; // removed since the rule named it
        }
        let notification = Notification {
            organization_id: org_id,
            organization: organization.clone(),
            test: false,
            events,
        };
        deliveries::enqueue(&txn, org_id, channel_id, &notification, now).await?;
        pass.deliveries += 1;
    }
    txn.commit().await?;
    Ok(pass)
}

async fn insert_event(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    rule: &StoredRule,
    measured: &Measurement,
    kind: &str,
    outcome: NoticeOutcome,
    now: i64,
) -> Result<i64> {
    let backend = db.get_database_backend();
    let values: Vec<Value> = vec![
        org_id.into(),
        rule.id.into(),
        rule.name.clone().into(),
        rule.condition.kind().into(),
        kind.into(),
        now.into(),
        measured.value.into(),
        rule.condition.threshold().into(),
        measured.summary.clone().into(),
        measured.link.clone().into(),
        outcome.as_str().into(),
    ];
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO alert_events (org_id, rule_id, rule_name, condition_kind, kind, at_ns, value, threshold, \
                 summary, link, notice) VALUES ({}) RETURNING id",
                placeholder_list(backend, 1, values.len())
            ),
            values,
        ))
        .await?
        .ok_or_else(|| AppError::Internal("the alert event insert returned no id".into()))?;
    Ok(row.try_get("", "id")?)
}

async fn enabled_rules(db: &impl ConnectionTrait, org_id: Uuid) -> Result<Vec<StoredRule>> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT id, name, condition, channel_ids, quiet_minutes, state, firing_level, firing_notified, \
                 last_notified_ns, cursor FROM alert_rules WHERE org_id = {} AND enabled ORDER BY created_at_ns, id",
                placeholder(backend, 1)
            ),
            [org_id.into()],
        ))
        .await?;
    rows.iter().map(stored_rule).collect()
}

fn stored_rule(row: &QueryResult) -> Result<StoredRule> {
    let id: Uuid = row.try_get("", "id")?;
    let stored = |err: serde_json::Error| AppError::Internal(format!("stored alert rule {id}: {err}"));
    Ok(StoredRule {
        id,
        name: row.try_get("", "name")?,
        condition: serde_json::from_str(&row.try_get::<String>("", "condition")?).map_err(stored)?,
        channel_ids: serde_json::from_str(&row.try_get::<String>("", "channel_ids")?).map_err(stored)?,
        quiet_minutes: row.try_get("", "quiet_minutes")?,
        state: RuleState {
            state: AlertState::parse(&row.try_get::<String>("", "state")?),
            firing_level: row.try_get("", "firing_level")?,
            firing_notified: row.try_get("", "firing_notified")?,
            last_notified_ns: row.try_get("", "last_notified_ns")?,
        },
        cursor: row.try_get("", "cursor")?,
    })
}

async fn job_row(db: &impl ConnectionTrait) -> Result<Option<QueryResult>> {
    let backend = db.get_database_backend();
    Ok(db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT pass_started_at_ns, pass_finished_at_ns, pass_rules, pass_firing, pass_duration_ns \
                 FROM {JOB_TABLE} WHERE name = {}",
                placeholder(backend, 1)
            ),
            [JOB.into()],
        ))
        .await?)
}

async fn set_job(db: &impl ConnectionTrait, columns: &[(&str, i64)]) -> Result<()> {
    let backend = db.get_database_backend();
    let names: Vec<&str> = columns.iter().map(|(column, _)| *column).collect();
    let mut values: Vec<Value> = columns.iter().map(|(_, value)| Value::from(*value)).collect();
    values.push(JOB.into());
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE {JOB_TABLE} SET {} WHERE name = {}",
            assignments(backend, &names, 1),
            placeholder(backend, columns.len() + 1)
        ),
        values,
    ))
    .await?;
    Ok(())
}

/// The last pass, for the rule list and the Alerts page.
pub async fn status(db: &impl ConnectionTrait, interval: Duration) -> Result<EvaluatorStatus> {
    let mut status = EvaluatorStatus {
        interval_seconds: interval.as_secs(),
        ..EvaluatorStatus::default()
    };
    if let Some(row) = job_row(db).await? {
        let started: i64 = row.try_get("", "pass_started_at_ns")?;
        let finished: i64 = row.try_get("", "pass_finished_at_ns")?;
        status.last_pass_started_at = (started > 0).then(|| rfc3339(started));
        status.last_pass_finished_at = (finished > 0).then(|| rfc3339(finished));
        status.last_pass_rules = u64::try_from(row.try_get::<i64>("", "pass_rules")?).unwrap_or(0);
        status.last_pass_firing = u64::try_from(row.try_get::<i64>("", "pass_firing")?).unwrap_or(0);
        status.last_pass_milliseconds = row.try_get::<i64>("", "pass_duration_ns")? as f64 / 1e6;
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000 * MINUTE_NS;
    const QUIET: i64 = 10 * MINUTE_NS;

    fn measured(level: Option<f64>) -> Measurement {
        Measurement {
            value: Some(1.0),
            level,
            summary: String::new(),
            link: String::new(),
            cursor: None,
        }
    }

    fn state(state: AlertState, notified: bool, last_notified_ns: i64) -> RuleState {
        RuleState {
            state,
            firing_level: None,
            firing_notified: notified,
            last_notified_ns,
        }
    }

    #[test]
    fn a_firing_notifies_once_then_its_resolve_once() {
        let ok = state(AlertState::Ok, false, 0);
        let fired = transition(ok, &measured(None), true, false, true, QUIET, NOW);
        assert_eq!(fired.event, Some((true, NoticeOutcome::Sent)));
        assert_eq!(fired.next.state, AlertState::Firing);
        let still = transition(
            fired.next,
            &measured(None),
            true,
            false,
            true,
            QUIET,
            NOW + MINUTE_NS,
        );
        assert_eq!(still.event, None);
        let resolved = transition(
            still.next,
            &measured(None),
            false,
            false,
            true,
            QUIET,
            NOW + 2 * MINUTE_NS,
        );
        assert_eq!(resolved.event, Some((false, NoticeOutcome::Sent)));
        assert_eq!(resolved.next.state, AlertState::Resolved);
        let calm = transition(
            resolved.next,
            &measured(None),
            false,
            false,
            true,
            QUIET,
            NOW + 3 * MINUTE_NS,
        );
        assert_eq!(calm.event, None);
    }

    #[test]
    fn a_flapping_rule_is_held_back_by_its_quiet_period_and_sent_after() {
        let resolved = state(AlertState::Resolved, false, NOW - MINUTE_NS);
        let refired = transition(resolved, &measured(None), true, false, true, QUIET, NOW);
        assert_eq!(refired.event, Some((true, NoticeOutcome::Quiet)));
        // Its resolve within the period is not sent either (its firing was not).
        let re_resolved = transition(
            refired.next,
            &measured(None),
            false,
            false,
            true,
            QUIET,
            NOW + MINUTE_NS,
        );
        assert_eq!(re_resolved.event, Some((false, NoticeOutcome::Quiet)));
        // Still firing once the period is over: sent then.
        let later = transition(
            refired.next,
            &measured(None),
            true,
            false,
            true,
            QUIET,
            NOW + QUIET,
        );
        assert_eq!(later.event, Some((true, NoticeOutcome::Sent)));
        assert!(later.next.firing_notified);
    }

    #[test]
    fn silences_hold_notices_back_until_they_end() {
        let ok = state(AlertState::Ok, false, 0);
        let silenced = transition(ok, &measured(None), true, true, true, QUIET, NOW);
        assert_eq!(silenced.event, Some((true, NoticeOutcome::Silenced)));
        let still_silenced = transition(
            silenced.next,
            &measured(None),
            true,
            true,
            true,
            QUIET,
            NOW + MINUTE_NS,
        );
        assert_eq!(still_silenced.event, None);
        let after = transition(
            silenced.next,
            &measured(None),
            true,
            false,
            true,
            QUIET,
            NOW + 2 * MINUTE_NS,
        );
        assert_eq!(after.event, Some((true, NoticeOutcome::Sent)));
        let no_channels = transition(ok, &measured(None), true, false, false, QUIET, NOW);
        assert_eq!(no_channels.event, Some((true, NoticeOutcome::NoChannels)));
    }

    #[test]
    fn budgets_notify_again_at_each_higher_threshold() {
        let ok = state(AlertState::Ok, false, 0);
        let at_50 = transition(ok, &measured(Some(50.0)), true, false, true, QUIET, NOW);
        assert_eq!(at_50.next.firing_level, Some(50.0));
        let still_50 = transition(
            at_50.next,
            &measured(Some(50.0)),
            true,
            false,
            true,
            QUIET,
            NOW + MINUTE_NS,
        );
        assert_eq!(still_50.event, None);
        // Within the quiet period, yet a higher threshold is news.
        let at_80 = transition(
            still_50.next,
            &measured(Some(80.0)),
            true,
            false,
            true,
            QUIET,
            NOW + 2 * MINUTE_NS,
        );
        assert_eq!(at_80.event, Some((true, NoticeOutcome::Sent)));
        assert_eq!(at_80.next.firing_level, Some(80.0));
    }
}
