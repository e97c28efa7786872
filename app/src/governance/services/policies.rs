//! Each organization's policy as a list of versions: every save is a new
//! version with its author, time, comment and what changed; nothing is
//! overwritten, and a restore saves an earlier version's document again.
//! Saves are validated here, so ingest only ever compiles good documents.

use std::collections::BTreeMap;

use entity::policy_version;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    book::{NOTIFY_CHANNEL, PolicyBook, latest, parse},
    rules,
};
use crate::{
    accounts::{services::orgs, types::Action},
    error::{AppError, Result},
    governance::types::{
        Budget, DroppedSpans, MatchKind, NewPolicyVersion, PolicyChange, PolicyDocument, PolicyVersion,
        PolicyVersionSummary, RateLimits, RateSetting,
    },
    platform::services::{
        audit::{self, Actor},
        now_ns, rfc3339,
        transaction::{begin_write, placeholder},
    },
    telemetry::services::ingest::policy::RULE_SIZE_LIMIT,
};

/// Rules of one kind (redaction rules, blocked patterns, models, regions) a document may hold.
pub const MAX_RULES: usize = 100;
const MAX_COMMENT_CHARS: usize = 500;
const MAX_PATTERN_CHARS: usize = 2_000;

fn bad(message: String) -> AppError {
    AppError::BadRequest(message)
}

fn view(row: &policy_version::Model, previous: &PolicyDocument) -> Result<PolicyVersion> {
    let document = parse(row)?;
    Ok(PolicyVersion {
        version: row.version,
        changes: diff(previous, &document),
        document,
        author: Some(row.author.clone()),
        created_at: Some(rfc3339(row.created_at_ns)),
        comment: row.comment.clone(),
        restored_from: row.restored_from,
    })
}

/// The version in force: the newest saved, or version 0 (the defaults).
pub async fn current(db: &impl ConnectionTrait, org_id: Uuid) -> Result<PolicyVersion> {
    let mut newest_two = policy_version::Entity::find()
        .filter(policy_version::Column::OrgId.eq(org_id))
        .order_by_desc(policy_version::Column::Version)
        .limit(2)
        .all(db)
        .await?
        .into_iter();
    match (newest_two.next(), newest_two.next()) {
        (Some(newest), previous) => {
            let previous = previous.as_ref().map(parse).transpose()?.unwrap_or_default();
            view(&newest, &previous)
        }
        (None, _) => Ok(PolicyVersion {
            version: 0,
            document: PolicyDocument::default(),
            author: None,
            created_at: None,
            comment: "Defaults: everything kept, as the installation is set up".to_owned(),
            restored_from: None,
            changes: Vec::new(),
        }),
    }
}

/// Every version, newest first, each with what it changed.
pub async fn versions(db: &impl ConnectionTrait, org_id: Uuid) -> Result<Vec<PolicyVersionSummary>> {
    let rows = policy_version::Entity::find()
        .filter(policy_version::Column::OrgId.eq(org_id))
        .order_by_asc(policy_version::Column::Version)
        .all(db)
        .await?;
    let mut previous = PolicyDocument::default();
    let mut summaries = Vec::with_capacity(rows.len());
    for row in &rows {
        let version = view(row, &previous)?;
        previous = version.document;
        summaries.push(PolicyVersionSummary {
            version: version.version,
            author: version.author,
            created_at: version.created_at,
            comment: version.comment,
            restored_from: version.restored_from,
            changes: version.changes,
        });
    }
    summaries.reverse();
    Ok(summaries)
}

/// Version `number` (0: the defaults), with what it changed.
pub async fn version(db: &impl ConnectionTrait, org_id: Uuid, number: i64) -> Result<PolicyVersion> {
    if number == 0 {
        let mut defaults = current(db, org_id).await?;
        if defaults.version != 0 {
            defaults = PolicyVersion {
                version: 0,
                document: PolicyDocument::default(),
                author: None,
                created_at: None,
                comment: "Defaults".to_owned(),
                restored_from: None,
                changes: Vec::new(),
            };
        }
        return Ok(defaults);
    }
    let rows = policy_version::Entity::find()
        .filter(policy_version::Column::OrgId.eq(org_id))
        .filter(policy_version::Column::Version.between(number - 1, number))
        .order_by_asc(policy_version::Column::Version)
        .all(db)
        .await?;
    let row = rows
        .iter()
        .find(|row| row.version == number)
        .ok_or(AppError::NotFound("policy version"))?;
    let previous = match rows.iter().find(|row| row.version == number - 1) {
        Some(previous) => parse(previous)?,
        None => PolicyDocument::default(),
    };
    view(row, &previous)
}

/// Saves `request` as the organization's newest version (owners and admins).
pub async fn save(
    db: &DatabaseConnection,
    book: &PolicyBook,
    org_id: Uuid,
    actor: &Actor,
    request: NewPolicyVersion,
) -> Result<PolicyVersion> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    validate(&request.document)?;
    let comment = request.comment.trim().to_owned();
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(bad(format!(
            "`comment` must have at most {MAX_COMMENT_CHARS} characters"
        )));
    }
    insert_version(db, book, org_id, actor, request.document, comment, None).await
}

/// Saves version `number`'s document again as the newest version.
pub async fn restore(
    db: &DatabaseConnection,
    book: &PolicyBook,
    org_id: Uuid,
    actor: &Actor,
    number: i64,
) -> Result<PolicyVersion> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let restored = version(db, org_id, number).await?;
    let comment = format!("Restored version {number}");
    insert_version(db, book, org_id, actor, restored.document, comment, Some(number)).await
}

async fn insert_version(
    db: &DatabaseConnection,
    book: &PolicyBook,
    org_id: Uuid,
    actor: &Actor,
    document: PolicyDocument,
    comment: String,
    restored_from: Option<i64>,
) -> Result<PolicyVersion> {
    let txn = begin_write(db).await?;
    let previous = latest(&txn, org_id).await?;
    let (previous_number, previous_document) = previous.unwrap_or_default();
    let number = previous_number + 1;
    let changes = diff(&previous_document, &document);
    let row = policy_version::ActiveModel {
        org_id: Set(org_id),
        version: Set(number),
        document: Set(serde_json::to_string(&document).map_err(|err| AppError::Internal(err.to_string()))?),
        comment: Set(comment.clone()),
        author_user_id: Set(actor.user_id),
        author: Set(actor.name.clone()),
        restored_from: Set(restored_from),
        created_at_ns: Set(now_ns()),
    }
    .insert(&txn)
    .await
    .map_err(|err| {
        AppError::conflict_on_unique(err, "the policy was saved meanwhile: reload it and save again")
    })?;
    let (action, summary) = match restored_from {
        Some(from) => (
            "policy.restored",
            format!("restored policy version {from} as version {number}"),
        ),
        None => (
            "policy.saved",
            format!("saved policy version {number} ({} changes)", changes.len()),
        ),
    };
    audit::record(
        &txn,
        org_id,
        actor,
        action,
        summary,
        json!({
            "version": number,
            "comment": comment,
            "changes": changes,
            "before": { "version": previous_number },
            "after": { "version": number },
        }),
    )
    .await?;
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        // Heard by every replica when (and only if) this commits.
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [NOTIFY_CHANNEL.into(), org_id.to_string().into()],
        ))
        .await?;
    }
    txn.commit().await?;
    book.forget(org_id);
    view(&row, &previous_document)
}

/// What ingest left out on the policy's account over the last `days` days, newest day first.
pub async fn dropped_spans(db: &impl ConnectionTrait, org_id: Uuid, days: i64) -> Result<Vec<DroppedSpans>> {
    const DAY_NS: i64 = 86_400 * 1_000_000_000;
    let backend = db.get_database_backend();
    let since = now_ns() - days * DAY_NS;
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT day_ns, reason, spans FROM ingest_drops WHERE org_id = {} AND day_ns >= {} \
                 ORDER BY day_ns DESC, reason",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            [org_id.into(), (since - since.rem_euclid(DAY_NS)).into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let day_ns: i64 = row.try_get_by_index(0)?;
            Ok(DroppedSpans {
                day: rfc3339(day_ns)[..10].to_owned(),
                reason: row.try_get_by_index(1)?,
                spans: row.try_get_by_index(2)?,
            })
        })
        .collect()
}

fn check_id(what: &str, id: &str) -> Result<()> {
    let fine = (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if fine {
        Ok(())
    } else {
        Err(bad(format!("{what} {id:?} must be 1 to 64 of a-z, 0-9, _ and -")))
    }
}

fn check_pattern(what: &str, kind: MatchKind, pattern: &str, case_insensitive: bool) -> Result<()> {
    if pattern.is_empty() || pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(bad(format!(
            "{what}: the pattern must have 1 to {MAX_PATTERN_CHARS} characters"
        )));
    }
    let regex = rules::rule_regex(kind, pattern, case_insensitive);
    regex::RegexBuilder::new(&regex)
        .size_limit(RULE_SIZE_LIMIT)
        .build()
        .map_err(|err| bad(format!("{what}: not a usable regular expression: {err}")))?;
    Ok(())
}

fn check_percent(what: &str, percent: f64) -> Result<()> {
    if percent.is_finite() && (0.0..=100.0).contains(&percent) {
        Ok(())
    } else {
        Err(bad(format!("{what} must be 0 to 100, got {percent}")))
    }
}

fn check_range(what: &str, value: Option<u64>, range: std::ops::RangeInclusive<u64>) -> Result<()> {
    match value {
        Some(value) if !range.contains(&value) => Err(bad(format!(
            "{what} must be {} to {}, got {value}",
            range.start(),
            range.end()
        ))),
        _ => Ok(()),
    }
}

fn check_count<T>(what: &str, items: &[T]) -> Result<()> {
    if items.len() > MAX_RULES {
        return Err(bad(format!("{what}: at most {MAX_RULES}")));
    }
    Ok(())
}

fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.chars().count() > 200 {
        return Err(bad(format!("{what} must have 1 to 200 characters")));
    }
    Ok(())
}

/// Checks a document; the message names the setting that is wrong.
pub fn validate(document: &PolicyDocument) -> Result<()> {
    check_count(
        "capture.services",
        &document.capture.services.keys().collect::<Vec<_>>(),
    )?;

    check_count("redaction.rules", &document.redaction.rules)?;
    for (index, rule) in document.redaction.rules.iter().enumerate() {
        let what = format!("redaction.rules[{index}]");
        check_id(&format!("{what}.id"), &rule.id)?;
        check_id(&format!("{what}.label"), &rule.label)?;
        check_pattern(&what, rule.kind, &rule.pattern, rule.case_insensitive)?;
    }

    let limits = &document.limits;
    check_range("limits.max_value_bytes", limits.max_value_bytes, 256..=64 << 20)?;
    check_range("limits.max_diff_bytes", limits.max_diff_bytes, 256..=64 << 20)?;
    check_range("limits.max_span_bytes", limits.max_span_bytes, 1024..=256 << 20)?;

    let sampling = &document.sampling;
    check_percent("sampling.percent", sampling.percent)?;
    check_count("sampling.services", &sampling.services.keys().collect::<Vec<_>>())?;
    for (service, percent) in &sampling.services {
        check_percent(&format!("sampling.services[{service:?}]"), *percent)?;
    }
    if let Some(usd) = &sampling.keep_cost_over_usd
        && rules::usd_nanos(usd).is_none()
    {
        return Err(bad(format!(
            "sampling.keep_cost_over_usd must be a number of dollars, got {usd:?}"
        )));
    }

    let retention = &document.retention;
    let days = |value: Option<u32>| value.map(u64::from);
    check_range("retention.spans_days", days(retention.spans_days), 1..=3_650)?;
    check_range(
        "retention.similarity_logs_days",
        days(retention.similarity_logs_days),
        1..=3_650,
    )?;
    check_range(
        "retention.governance_events_days",
        days(retention.governance_events_days),
        1..=3_650,
    )?;
    check_range("retention.audit_days", days(retention.audit_days), 30..=3_650)?;

    let guardrails = &document.guardrails;
    check_count("guardrails.blocked_patterns", &guardrails.blocked_patterns)?;
    for (index, pattern) in guardrails.blocked_patterns.iter().enumerate() {
        let what = format!("guardrails.blocked_patterns[{index}]");
        check_id(&format!("{what}.id"), &pattern.id)?;
        check_pattern(&what, pattern.kind, &pattern.pattern, pattern.case_insensitive)?;
    }
    check_range(
        "guardrails.max_prompt_chars",
        guardrails.max_prompt_chars,
        1..=10_000_000,
    )?;
    check_range(
        "guardrails.max_prompt_tokens",
        guardrails.max_prompt_tokens,
        1..=10_000_000,
    )?;
    check_count("guardrails.allowed_models", &guardrails.allowed_models)?;
    check_count("guardrails.denied_models", &guardrails.denied_models)?;
    check_count("guardrails.regions", &guardrails.regions)?;
    for region in &guardrails.regions {
        check_count("guardrails.regions: models", &region.models)?;
        check_count("guardrails.regions: providers", &region.providers)?;
        for name in region.models.iter().chain(&region.providers) {
            check_name("guardrails.regions: a model or provider name", name)?;
        }
    }
    for model in guardrails.allowed_models.iter().chain(&guardrails.denied_models) {
        check_name("guardrails: a model name", model)?;
    }
    if let Some(fallback) = &guardrails.fallback_model {
        check_name("guardrails.fallback_model", fallback)?;
    }
    for (index, region) in guardrails.regions.iter().enumerate() {
        check_name(&format!("guardrails.regions[{index}].region"), &region.region)?;
    }
    if let Some(usd) = &guardrails.max_cost_usd
        && rules::usd_nanos(usd).is_none()
    {
        return Err(bad(format!(
            "guardrails.max_cost_usd must be a number of dollars, got {usd:?}"
        )));
    }
    if let Some(threshold) = guardrails.abuse_threshold
        && !(0.05..=1.0).contains(&threshold)
    {
        return Err(bad(format!(
            "guardrails.abuse_threshold must be 0.05 to 1, got {threshold}"
        )));
    }
    validate_rate_limits(&document.rate_limits)?;
    validate_budgets(&document.budgets)
}

fn check_rate(what: &str, rate: Option<&RateSetting>) -> Result<()> {
    if let Some(rate) = rate {
        check_range(
            &format!("{what}.per_second"),
            Some(rate.per_second),
            1..=10_000_000,
        )?;
        check_range(&format!("{what}.burst"), rate.burst, 1..=100_000_000)?;
    }
    Ok(())
}

fn check_token_id(what: &str, token_id: &str) -> Result<()> {
    Uuid::parse_str(token_id)
        .map(drop)
        .map_err(|_| bad(format!("{what} must be an API token's id, got {token_id:?}")))
}

fn validate_rate_limits(limits: &RateLimits) -> Result<()> {
    check_rate("rate_limits.ingest", limits.ingest.as_ref())?;
    check_rate("rate_limits.api", limits.api.as_ref())?;
    check_range(
        "rate_limits.monthly_spans",
        limits.monthly_spans,
        1..=1_000_000_000_000,
    )?;
    check_count("rate_limits.tokens", &limits.tokens)?;
    for (index, token) in limits.tokens.iter().enumerate() {
        let what = format!("rate_limits.tokens[{index}]");
        check_token_id(&format!("{what}.token_id"), &token.token_id)?;
        check_rate(&format!("{what}.ingest"), token.ingest.as_ref())?;
        check_rate(&format!("{what}.api"), token.api.as_ref())?;
    }
    Ok(())
}

fn validate_budgets(budgets: &[Budget]) -> Result<()> {
    check_count("budgets", budgets)?;
    for (index, budget) in budgets.iter().enumerate() {
        let what = format!("budgets[{index}]");
        check_id(&format!("{what}.id"), &budget.id)?;
        if rules::usd_nanos(&budget.monthly_usd).is_none() {
            return Err(bad(format!(
                "{what}.monthly_usd must be a number of dollars, got {:?}",
                budget.monthly_usd
            )));
        }
        if let Some(service) = &budget.service {
            check_name(&format!("{what}.service"), service)?;
        }
        if let Some(token_id) = &budget.token_id {
            check_token_id(&format!("{what}.token_id"), token_id)?;
        }
        if budget.thresholds.len() > 10 {
            return Err(bad(format!("{what}.thresholds: at most 10")));
        }
        for threshold in &budget.thresholds {
            check_range(
                &format!("{what}.thresholds"),
                Some(u64::from(*threshold)),
                1..=1_000,
            )?;
        }
    }
    Ok(())
}

/// Every setting whose value differs, by path (`sampling.percent`,
/// `redaction.rules[0].pattern`), in path order.
pub fn diff(before: &PolicyDocument, after: &PolicyDocument) -> Vec<PolicyChange> {
    let flat = |document: &PolicyDocument| {
        let mut leaves = BTreeMap::new();
        flatten(
            "",
            &serde_json::to_value(document).unwrap_or(Value::Null),
            &mut leaves,
        );
        leaves
    };
    let (before, after) = (flat(before), flat(after));
    let mut paths: Vec<&String> = before.keys().chain(after.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| {
            let (old, new) = (before.get(path), after.get(path));
            (old != new).then(|| PolicyChange {
                path: path.clone(),
                before: old.cloned(),
                after: new.cloned(),
            })
        })
        .collect()
}

/// The leaves of `value` by path (an empty list or map adds none: its
/// first entry is the change).
fn flatten(path: &str, value: &Value, leaves: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, item) in map {
                let child = match path {
                    "" => key.clone(),
                    _ if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                        format!("{path}.{key}")
                    }
                    _ => format!("{path}[{}]", Value::String(key.clone())),
                };
                flatten(&child, item, leaves);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (index, item) in items.iter().enumerate() {
                flatten(&format!("{path}[{index}]"), item, leaves);
            }
        }
        Value::Null => {}
        Value::Object(_) | Value::Array(_) => {}
        other => {
            leaves.insert(path.to_owned(), other.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::types::RedactionRule;

    fn rule(id: &str, pattern: &str) -> RedactionRule {
        RedactionRule {
            id: id.into(),
            kind: MatchKind::Regex,
            pattern: pattern.into(),
            label: "customer_id".into(),
            case_insensitive: false,
        }
    }

    #[test]
    fn limits_and_budgets_are_checked_with_the_setting_named() {
        let check = |document: serde_json::Value| {
            let document: PolicyDocument = serde_json::from_value(document).unwrap();
            validate(&document).err().map(|err| err.to_string())
        };
        assert_eq!(
            check(serde_json::json!({
                "rate_limits": {"ingest": {"per_second": 100, "burst": 500}, "api": {"per_second": 5},
                                "monthly_spans": 1000,
                                "tokens": [{"token_id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "api": {"per_second": 1}}]},
                "budgets": [{"id": "team", "monthly_usd": "250.50", "thresholds": [90], "hard": true},
                            {"id": "bot", "service": "bot", "monthly_usd": "10"}],
            })),
            None
        );
        for (document, named) in [
            (
                serde_json::json!({"rate_limits": {"api": {"per_second": 10_000_001}}}),
                "rate_limits.api.per_second",
            ),
            (
                serde_json::json!({"rate_limits": {"ingest": {"per_second": 1, "burst": 0}}}),
                "rate_limits.ingest.burst",
            ),
            (
                serde_json::json!({"rate_limits": {"monthly_spans": 0}}),
                "rate_limits.monthly_spans",
            ),
            (
                serde_json::json!({"rate_limits": {"tokens": [{"token_id": "token-1"}]}}),
                "rate_limits.tokens[0].token_id",
            ),
            (
                serde_json::json!({"budgets": [{"id": "Team!", "monthly_usd": "1"}]}),
                "budgets[0].id",
            ),
            (
                serde_json::json!({"budgets": [{"id": "a", "monthly_usd": "-1"}]}),
                "budgets[0].monthly_usd",
            ),
            (
                serde_json::json!({"budgets": [{"id": "a", "monthly_usd": "1", "thresholds": [0]}]}),
                "budgets[0].thresholds",
            ),
        ] {
            let message = check(document.clone()).unwrap_or_default();
            assert!(message.contains(named), "{document}: {message:?}");
        }
        // Parts must be objects and numbers whole (`80.0` is whole).
        let spelled: PolicyDocument = serde_json::from_value(serde_json::json!(
            {"budgets": [{"id": "a", "monthly_usd": "1", "thresholds": [80.0, 100]}]}
        ))
        .unwrap();
        assert_eq!(spelled.budgets[0].thresholds, [80, 100]);
        assert!(
            serde_json::from_value::<PolicyDocument>(serde_json::json!({"rate_limits": {"ingest": 5}}))
                .is_err()
        );
        assert!(
            serde_json::from_value::<PolicyDocument>(
                serde_json::json!({"rate_limits": {"ingest": {"per_second": 1.5}}})
            )
            .is_err()
        );
    }

    #[test]
    fn the_diff_names_each_changed_setting() {
        let before = PolicyDocument::default();
        let mut after = PolicyDocument::default();
        after.sampling.percent = 25.0;
        after.redaction.rules.push(rule("cust", r"CUST-\d{6}"));
        after.capture.services.insert(
            "billing-bot".into(),
            crate::governance::types::CaptureMode::Hashed,
        );
        let changes = diff(&before, &after);
        let paths: Vec<&str> = changes.iter().map(|change| change.path.as_str()).collect();
        assert!(paths.contains(&"sampling.percent"), "{paths:?}");
        assert!(paths.contains(&"redaction.rules[0].pattern"), "{paths:?}");
        assert!(
            paths.contains(&"capture.services[\"billing-bot\"]")
                || paths.contains(&"capture.services.billing-bot"),
            "{paths:?}"
        );
        let percent = changes
            .iter()
            .find(|change| change.path == "sampling.percent")
            .unwrap();
        assert_eq!(percent.before, Some(json!(100.0)));
        assert_eq!(percent.after, Some(json!(25.0)));
        assert!(diff(&after, &after).is_empty());
    }

    #[test]
    fn bad_documents_are_refused_with_the_setting_named() {
        let mut document = PolicyDocument::default();
        document.redaction.rules.push(rule("cust", "(unclosed"));
        let err = validate(&document).unwrap_err().to_string();
        assert!(err.contains("redaction.rules[0]"), "{err}");

        let mut document = PolicyDocument::default();
        document.sampling.percent = 120.0;
        assert!(
            validate(&document)
                .unwrap_err()
                .to_string()
                .contains("sampling.percent")
        );

        let mut document = PolicyDocument::default();
        document.limits.max_value_bytes = Some(10);
        assert!(
            validate(&document)
                .unwrap_err()
                .to_string()
                .contains("limits.max_value_bytes")
        );

        assert!(validate(&PolicyDocument::default()).is_ok());
    }
}
