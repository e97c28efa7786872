//! Alert rules as admins manage them (each change audited), and as the
//! API and the Alerts page list them with their state.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Statement, Value};
use serde_json::json;
use uuid::Uuid;

use super::{AlertSettings, evaluator, measure};
use crate::{
    accounts::{services::orgs, types::Action},
    alerts::types::{AlertCondition, AlertRule, AlertRuleInput, AlertRuleList, AlertState},
    error::{AppError, Result},
    governance::services::book::PolicyBook,
    platform::services::{
        audit::{self, Actor},
        now_ns, rfc3339,
        transaction::{self, assignments, begin_write, placeholder, placeholder_list},
    },
};

/// The most rules an organization keeps (the evaluator checks every one each pass).
pub const MAX_RULES: i64 = 1_000;
const MAX_NAME_CHARS: usize = 100;
const MAX_FILTER_CHARS: usize = 200;
const DEFAULT_QUIET_MINUTES: u32 = 10;

const RULE_COLUMNS: &str = "id, name, condition, channel_ids, quiet_minutes, enabled, created_at_ns, updated_at_ns, \
     state, state_since_ns, last_value, last_evaluated_ns";

/// The organization's rules, oldest first, with the evaluator's last pass.
pub async fn list(db: &DatabaseConnection, settings: &AlertSettings, org_id: Uuid) -> Result<AlertRuleList> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT {RULE_COLUMNS} FROM alert_rules WHERE org_id = {} ORDER BY created_at_ns, id",
                placeholder(backend, 1)
            ),
            [org_id.into()],
        ))
        .await?;
    let silences = super::silences::silenced_until(db, org_id, now_ns()).await?;
    let rules = rows
        .iter()
        .map(|row| rule_of(row, &silences))
        .collect::<Result<Vec<_>>>()?;
    Ok(AlertRuleList {
        rules,
        evaluator: evaluator::status(db, settings.interval).await?,
    })
}

/// One rule.
pub async fn get(db: &impl ConnectionTrait, org_id: Uuid, rule_id: Uuid) -> Result<AlertRule> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT {RULE_COLUMNS} FROM alert_rules WHERE org_id = {} AND id = {}",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            [org_id.into(), rule_id.into()],
        ))
        .await?
        .ok_or(AppError::NotFound("alert rule"))?;
    let silences = super::silences::silenced_until(db, org_id, now_ns()).await?;
    rule_of(&row, &silences)
}

/// Adds a rule (owners and admins).
pub async fn create(
    db: &DatabaseConnection,
    policies: &PolicyBook,
    org_id: Uuid,
    actor: &Actor,
    input: &AlertRuleInput,
) -> Result<AlertRule> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let valid = validate(db, policies, org_id, input).await?;
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    transaction::ensure_room(&txn, "alert_rules", org_id, MAX_RULES, "alert rules").await?;
    let id = Uuid::now_v7();
    let now = now_ns();
    let values: Vec<Value> = vec![
        id.into(),
        org_id.into(),
        valid.name.clone().into(),
        valid.condition_json.clone().into(),
        valid.channels_json.clone().into(),
        i64::from(valid.quiet_minutes).into(),
        valid.enabled.into(),
        now.into(),
        now.into(),
        // Flagged prompts are counted from the rule's creation on.
        measure::flag_cursor(&txn).await?.into(),
    ];
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO alert_rules (id, org_id, name, condition, channel_ids, quiet_minutes, enabled, \
             created_at_ns, updated_at_ns, cursor) VALUES ({})",
            placeholder_list(backend, 1, values.len())
        ),
        values,
    ))
    .await?;
    audit::record(
        &txn,
        org_id,
        actor,
        "alerts.rule.create",
        format!("added the alert rule {}", valid.name),
        json!({"rule_id": id, "rule": valid.detail()}),
    )
    .await?;
    let rule = get(&txn, org_id, id).await?;
    txn.commit().await?;
    Ok(rule)
}

/// Replaces a rule's settings (owners and admins); its state is kept, and
/// the next pass judges it by the new condition.
pub async fn replace(
    db: &DatabaseConnection,
    policies: &PolicyBook,
    org_id: Uuid,
    actor: &Actor,
    rule_id: Uuid,
    input: &AlertRuleInput,
) -> Result<AlertRule> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let valid = validate(db, policies, org_id, input).await?;
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    let before = get(&txn, org_id, rule_id).await?;
    if before.condition.kind() != valid.condition.kind() {
        set_cursor(&txn, rule_id, measure::flag_cursor(&txn).await?).await?;
    }
    let values: Vec<Value> = vec![
        valid.name.clone().into(),
        valid.condition_json.clone().into(),
        valid.channels_json.clone().into(),
        i64::from(valid.quiet_minutes).into(),
        valid.enabled.into(),
        now_ns().into(),
        org_id.into(),
        rule_id.into(),
    ];
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE alert_rules SET {} WHERE org_id = {} AND id = {}",
            assignments(
                backend,
                &[
                    "name",
                    "condition",
                    "channel_ids",
                    "quiet_minutes",
                    "enabled",
                    "updated_at_ns"
                ],
                1
            ),
            placeholder(backend, 7),
            placeholder(backend, 8),
        ),
        values,
    ))
    .await?;
    audit::record(
        &txn,
        org_id,
        actor,
        "alerts.rule.update",
        format!("changed the alert rule {}", valid.name),
        json!({
            "rule_id": rule_id,
            "before": {
                "name": before.name,
                "condition": before.condition,
                "channel_ids": before.channel_ids,
                "quiet_minutes": before.quiet_minutes,
                "enabled": before.enabled,
            },
            "after": valid.detail(),
        }),
    )
    .await?;
    let rule = get(&txn, org_id, rule_id).await?;
    txn.commit().await?;
    Ok(rule)
}

/// Turns a rule off or on (owners and admins); a rule turned off keeps its
/// state and is not checked until turned on again.
pub async fn set_enabled(
    db: &DatabaseConnection,
    org_id: Uuid,
    actor: &Actor,
    rule_id: Uuid,
    enabled: bool,
) -> Result<AlertRule> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    let before = get(&txn, org_id, rule_id).await?;
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE alert_rules SET enabled = {}, updated_at_ns = {} WHERE org_id = {} AND id = {}",
            placeholder(backend, 1),
            placeholder(backend, 2),
            placeholder(backend, 3),
            placeholder(backend, 4)
        ),
        [enabled.into(), now_ns().into(), org_id.into(), rule_id.into()],
    ))
    .await?;
    audit::record(
        &txn,
        org_id,
        actor,
        "alerts.rule.update",
        format!(
            "turned the alert rule {} {}",
            before.name,
            if enabled { "on" } else { "off" }
        ),
        json!({"rule_id": rule_id, "before": {"enabled": before.enabled}, "after": {"enabled": enabled}}),
    )
    .await?;
    let rule = get(&txn, org_id, rule_id).await?;
    txn.commit().await?;
    Ok(rule)
}

/// Removes a rule (owners and admins); its history stays.
pub async fn delete(db: &DatabaseConnection, org_id: Uuid, actor: &Actor, rule_id: Uuid) -> Result<()> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    let before = get(&txn, org_id, rule_id).await?;
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "DELETE FROM alert_rules WHERE org_id = {} AND id = {}",
            placeholder(backend, 1),
            placeholder(backend, 2)
        ),
        [org_id.into(), rule_id.into()],
    ))
    .await?;
    audit::record(
        &txn,
        org_id,
        actor,
        "alerts.rule.delete",
        format!("removed the alert rule {}", before.name),
        json!({"rule_id": rule_id, "name": before.name, "condition": before.condition}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

async fn set_cursor(db: &impl ConnectionTrait, rule_id: Uuid, cursor: i64) -> Result<()> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE alert_rules SET cursor = {} WHERE id = {}",
            placeholder(backend, 1),
            placeholder(backend, 2)
        ),
        [cursor.into(), rule_id.into()],
    ))
    .await?;
    Ok(())
}

/// A rule's input, checked and in the form it is stored.
struct ValidRule {
    name: String,
    condition: AlertCondition,
    condition_json: String,
    channel_ids: Vec<Uuid>,
    channels_json: String,
    quiet_minutes: u32,
    enabled: bool,
}

impl ValidRule {
    fn detail(&self) -> serde_json::Value {
        json!({
            "name": self.name,
            "condition": self.condition,
            "channel_ids": self.channel_ids,
            "quiet_minutes": self.quiet_minutes,
            "enabled": self.enabled,
        })
    }
}

async fn validate(
    db: &DatabaseConnection,
    policies: &PolicyBook,
    org_id: Uuid,
    input: &AlertRuleInput,
) -> Result<ValidRule> {
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::BadRequest(format!(
            "`name` must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    check_condition(&input.condition)?;
    if let AlertCondition::Budget { budget_id, .. } = &input.condition {
        let policy = policies.policy_for(db, org_id).await?;
        if !policy.budgets.iter().any(|budget| &budget.id == budget_id) {
            return Err(AppError::BadRequest(format!(
                "`condition.budget_id`: the policy has no budget {budget_id:?} (add it under `budgets` first)"
            )));
        }
    }
    let mut channel_ids = input.channel_ids.clone();
    channel_ids.sort();
    channel_ids.dedup();
    if channel_ids.len() > 10 {
        return Err(AppError::BadRequest(
            "`channel_ids` holds at most 10 channels".into(),
        ));
    }
    let known = super::channels::existing(db, org_id, &channel_ids).await?;
    if let Some(unknown) = channel_ids.iter().find(|id| !known.contains(id)) {
        return Err(AppError::BadRequest(format!(
            "`channel_ids`: the organization has no channel {unknown}"
        )));
    }
    let quiet_minutes = input.quiet_minutes.unwrap_or(DEFAULT_QUIET_MINUTES);
    if quiet_minutes > 1_440 {
        return Err(AppError::BadRequest("`quiet_minutes` must be 0 to 1,440".into()));
    }
    Ok(ValidRule {
        name,
        condition_json: serde_json::to_string(&input.condition)
            .map_err(|err| AppError::Internal(err.to_string()))?,
        condition: input.condition.clone(),
        channels_json: serde_json::to_string(&channel_ids)
            .map_err(|err| AppError::Internal(err.to_string()))?,
        channel_ids,
        quiet_minutes,
        enabled: input.enabled.unwrap_or(true),
    })
}

/// The bounds the OpenAPI document states, checked (serde reads any number).
pub fn check_condition(condition: &AlertCondition) -> Result<()> {
    let within = |field: &str, value: f64, low: f64, high: f64, high_included: bool| {
        let fits = value.is_finite()
            && value >= low
            && if high_included {
                value <= high
            } else {
                value < high
            };
        if fits {
            Ok(())
        } else {
            let end = if high_included { "" } else { " (exclusive)" };
            Err(AppError::BadRequest(format!(
                "`condition.{field}` must be {low} to {high}{end}, got {value}"
            )))
        }
    };
    let filter = |field: &str, value: &Option<String>| match value {
        Some(text) => named(field, text),
        None => Ok(()),
    };
    let minutes = |field: &str, value: u32, low: u32, high: u32| {
        within(field, f64::from(value), f64::from(low), f64::from(high), true)
    };
    match condition {
        AlertCondition::Budget { budget_id, percent } => {
            if budget_id.is_empty() || budget_id.chars().count() > 64 {
                return Err(AppError::BadRequest(
                    "`condition.budget_id` must be 1 to 64 characters".into(),
                ));
            }
            within("percent", *percent, 1.0, 1_000.0, true)
        }
        AlertCondition::ErrorRate {
            window_minutes,
            percent,
            min_requests,
            service,
            model,
        } => {
            minutes("window_minutes", *window_minutes, 5, 1_440)?;
            within("percent", *percent, 0.0, 100.0, false)?;
            if let Some(min) = min_requests {
                minutes("min_requests", *min, 1, 1_000_000)?;
            }
            filter("service", service)?;
            filter("model", model)
        }
        AlertCondition::LatencyP95 {
            model,
            window_minutes,
            milliseconds,
        } => {
            named("model", model)?;
            minutes("window_minutes", *window_minutes, 5, 1_440)?;
            within("milliseconds", *milliseconds, 1.0, 3_600_000.0, true)
        }
        AlertCondition::HourlyCost { usd, service } => {
            within("usd", *usd, 0.0, 1e9, true)?;
            filter("service", service)
        }
        AlertCondition::FlaggedPrompts { count } => minutes("count", *count, 1, 1_000_000),
        AlertCondition::IngestRejections {
            window_minutes,
            count,
        } => {
            minutes("window_minutes", *window_minutes, 5, 1_440)?;
            minutes("count", *count, 0, 1_000_000)
        }
        AlertCondition::SilentService {
            service,
            minutes: silent,
        } => {
            named("service", service)?;
            minutes("minutes", *silent, 1, 10_080)
        }
    }
}

fn named(field: &str, text: &str) -> Result<()> {
    if text.is_empty() || text.chars().count() > MAX_FILTER_CHARS {
        return Err(AppError::BadRequest(format!(
            "`condition.{field}` must be 1 to {MAX_FILTER_CHARS} characters"
        )));
    }
    Ok(())
}

fn rule_of(row: &QueryResult, silenced_until: &HashMap<Option<Uuid>, i64>) -> Result<AlertRule> {
    let id: Uuid = row.try_get("", "id")?;
    let condition: String = row.try_get("", "condition")?;
    let channels: String = row.try_get("", "channel_ids")?;
    let stored = |err: serde_json::Error| AppError::Internal(format!("stored alert rule {id}: {err}"));
    let state_since: i64 = row.try_get("", "state_since_ns")?;
    let evaluated: i64 = row.try_get("", "last_evaluated_ns")?;
    let quiet: i64 = row.try_get("", "quiet_minutes")?;
    let silence = [silenced_until.get(&Some(id)), silenced_until.get(&None)]
        .into_iter()
        .flatten()
        .max()
        .copied();
    Ok(AlertRule {
        id,
        name: row.try_get("", "name")?,
        condition: serde_json::from_str(&condition).map_err(stored)?,
        channel_ids: serde_json::from_str(&channels).map_err(stored)?,
        quiet_minutes: u32::try_from(quiet).unwrap_or(DEFAULT_QUIET_MINUTES),
        enabled: row.try_get("", "enabled")?,
        created_at: rfc3339(row.try_get("", "created_at_ns")?),
        updated_at: rfc3339(row.try_get("", "updated_at_ns")?),
        state: AlertState::parse(&row.try_get::<String>("", "state")?),
        state_since: (state_since > 0).then(|| rfc3339(state_since)),
        last_value: row.try_get("", "last_value")?,
        last_evaluated_at: (evaluated > 0).then(|| rfc3339(evaluated)),
        silenced_until: silence.map(rfc3339),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_are_held_to_the_documented_bounds() {
        let ok = AlertCondition::ErrorRate {
            window_minutes: 15,
            percent: 5.0,
            min_requests: None,
            service: Some("checkout".into()),
            model: None,
        };
        assert!(check_condition(&ok).is_ok());
        let bad = [
            AlertCondition::ErrorRate {
                window_minutes: 4,
                percent: 5.0,
                min_requests: None,
                service: None,
                model: None,
            },
            AlertCondition::ErrorRate {
                window_minutes: 15,
                percent: 100.0,
                min_requests: None,
                service: None,
                model: None,
            },
            AlertCondition::ErrorRate {
                window_minutes: 15,
                percent: 5.0,
                min_requests: None,
                service: Some(String::new()),
                model: None,
            },
            AlertCondition::Budget {
                budget_id: "team".into(),
                percent: 0.5,
            },
            AlertCondition::LatencyP95 {
                model: "gpt-4o".into(),
                window_minutes: 15,
                milliseconds: f64::NAN,
            },
            AlertCondition::HourlyCost {
                usd: -1.0,
                service: None,
            },
            AlertCondition::FlaggedPrompts { count: 0 },
            AlertCondition::SilentService {
                service: "api".into(),
                minutes: 20_000,
            },
        ];
        for condition in bad {
            let error = check_condition(&condition).unwrap_err();
            assert!(
                matches!(error, AppError::BadRequest(ref message) if message.contains("condition.")),
                "{error:?}"
            );
        }
    }

    #[test]
    fn conditions_read_whole_numbers_spelled_as_decimals_and_refuse_unknown_fields() {
        let condition: AlertCondition =
            serde_json::from_str(r#"{"kind":"ingest_rejections","window_minutes":60.0,"count":10}"#).unwrap();
        assert_eq!(
            condition,
            AlertCondition::IngestRejections {
                window_minutes: 60,
                count: 10
            }
        );
        assert!(serde_json::from_str::<AlertCondition>(r#"{"kind":"flagged_prompts","count":1.5}"#).is_err());
        assert!(
            serde_json::from_str::<AlertCondition>(r#"{"kind":"flagged_prompts","count":1,"extra":1}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<AlertCondition>(r#"{"kind":"nope"}"#).is_err());
    }
}
