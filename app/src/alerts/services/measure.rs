//! What each rule's condition measures now: one figure, in the
//! condition's unit, with a sentence and the page behind it. An
//! organization's rollups are read once per pass for all its rules.
//!
//! Rates, latencies, costs and refusals come from the hourly rollups
//! (`usage_rollups`, `ingest_counts`). A window of N minutes takes the
//! hours it overlaps: the current hour whole (so a window shorter than
//! the hour so far can count a little more than the window, never miss a
//! fresh burst), an older one in proportion to the part of it inside the
//! window (as if its traffic were even over the hour).

use sea_orm::{ConnectionTrait, Statement, Value};
use uuid::Uuid;

use crate::{
    alerts::types::AlertCondition,
    error::Result,
    governance::types::BudgetStatus,
    platform::services::{rfc3339, transaction::placeholder},
    telemetry::services::ingest::usage::{LATENCY_BUCKETS, latency_column, percentile_ms},
};

const MINUTE_NS: i64 = 60 * 1_000_000_000;
const HOUR_NS: i64 = 60 * MINUTE_NS;
const DEFAULT_MIN_REQUESTS: u32 = 10;

/// One hour of an organization's model calls for one model and service.
#[derive(Clone, Debug, Default)]
pub struct UsageHour {
    pub hour_ns: i64,
    pub model: String,
    pub service: String,
    pub requests: i64,
    pub errors: i64,
    pub cost_nanos: i64,
    /// Empty unless a latency rule asked for it.
    pub latency: Vec<i64>,
}

/// One hour of an organization's refused exports and API requests.
#[derive(Clone, Copy, Debug, Default)]
pub struct RefusalHour {
    pub hour_ns: i64,
    pub refused: i64,
}

/// What an organization's rules read from the rollups, once per pass.
#[derive(Clone, Debug, Default)]
pub struct OrgFigures {
    pub usage: Vec<UsageHour>,
    pub refusals: Vec<RefusalHour>,
    /// The policy's budgets as they stand.
    pub budgets: Vec<BudgetStatus>,
}

/// A rule's figure now.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// Absent without data (no calls in the window, a budget gone): not firing.
    pub value: Option<f64>,
    /// A budget's highest threshold crossed: a firing rule notifies again when it rises.
    pub level: Option<f64>,
    pub summary: String,
    /// A path of the UI showing what is behind it.
    pub link: String,
    /// Where flagged prompts were counted up to (their log's id).
    pub cursor: Option<i64>,
}

/// Reads the rollups the `conditions` need, back to their longest window.
pub async fn load(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    conditions: &[&AlertCondition],
    now: i64,
) -> Result<OrgFigures> {
    let window = |condition: &AlertCondition| match condition {
        AlertCondition::ErrorRate { window_minutes, .. }
        | AlertCondition::LatencyP95 { window_minutes, .. } => Some(i64::from(*window_minutes) * MINUTE_NS),
        AlertCondition::HourlyCost { .. } => Some(HOUR_NS),
        _ => None,
    };
    let usage_window = conditions.iter().filter_map(|condition| window(condition)).max();
    let wants_latency = conditions
        .iter()
        .any(|condition| matches!(condition, AlertCondition::LatencyP95 { .. }));
    let refusal_window = conditions
        .iter()
        .filter_map(|condition| match condition {
            AlertCondition::IngestRejections { window_minutes, .. } => {
                Some(i64::from(*window_minutes) * MINUTE_NS)
            }
            _ => None,
        })
        .max();
    let mut figures = OrgFigures::default();
    if let Some(window) = usage_window {
        figures.usage = usage_hours(db, org_id, hour_of(now - window), wants_latency).await?;
    }
    if let Some(window) = refusal_window {
        figures.refusals = refusal_hours(db, org_id, hour_of(now - window)).await?;
    }
    Ok(figures)
}

fn hour_of(time_ns: i64) -> i64 {
    time_ns - time_ns.rem_euclid(HOUR_NS)
}

async fn usage_hours(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    since_hour: i64,
    latency: bool,
) -> Result<Vec<UsageHour>> {
    let backend = db.get_database_backend();
    let latency_sums: String = if latency {
        (0..LATENCY_BUCKETS)
            .map(|index| {
                format!(
                    ", CAST(SUM({column}) AS BIGINT) AS {column}",
                    column = latency_column(index)
                )
            })
            .collect()
    } else {
        String::new()
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT hour_ns, model, service_name, CAST(SUM(requests) AS BIGINT) AS requests, \
                 CAST(SUM(errors) AS BIGINT) AS errors, CAST(SUM(cost_nanos) AS BIGINT) AS cost_nanos{latency_sums} \
                 FROM usage_rollups \
                 WHERE org_id = {} AND hour_ns >= {} GROUP BY hour_ns, model, service_name",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            [org_id.into(), since_hour.into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let latency = if latency {
                (0..LATENCY_BUCKETS)
                    .map(|index| {
                        row.try_get::<Option<i64>>("", &latency_column(index))
                            .map(Option::unwrap_or_default)
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?
            } else {
                Vec::new()
            };
            Ok(UsageHour {
                hour_ns: row.try_get("", "hour_ns")?,
                model: row.try_get("", "model")?,
                service: row.try_get("", "service_name")?,
                requests: row.try_get::<Option<i64>>("", "requests")?.unwrap_or(0),
                errors: row.try_get::<Option<i64>>("", "errors")?.unwrap_or(0),
                cost_nanos: row.try_get::<Option<i64>>("", "cost_nanos")?.unwrap_or(0),
                latency,
            })
        })
        .collect()
}

async fn refusal_hours(db: &impl ConnectionTrait, org_id: Uuid, since_hour: i64) -> Result<Vec<RefusalHour>> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT hour_ns, rate_limited_exports + over_quota_exports + invalid_exports + rate_limited_requests \
                 AS refused FROM ingest_counts WHERE org_id = {} AND hour_ns >= {}",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            [org_id.into(), since_hour.into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(RefusalHour {
                hour_ns: row.try_get("", "hour_ns")?,
                refused: row.try_get("", "refused")?,
            })
        })
        .collect()
}

/// How much of the hour starting at `hour_ns` a window of `window_ns`
/// before `now` takes: the current hour (and any ahead of this clock)
/// whole, since its rollup cannot say when within the hour its spans came
/// and a fresh burst must not be diluted; an older hour in proportion to
/// the part of it inside the window.
pub fn share_in_window(hour_ns: i64, now: i64, window_ns: i64) -> f64 {
    if hour_ns + HOUR_NS > now {
        return 1.0;
    }
    let overlap = hour_ns + HOUR_NS - hour_ns.max(now - window_ns);
    if overlap <= 0 {
        return 0.0;
    }
    overlap as f64 / HOUR_NS as f64
}

/// The rule's figure from what was loaded, or (flagged prompts, silent
/// services) read now.
pub async fn measure(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    figures: &OrgFigures,
    condition: &AlertCondition,
    cursor: i64,
    now: i64,
) -> Result<Measurement> {
    Ok(match condition {
        AlertCondition::SilentService { service, minutes } => {
            silent_service(db, org_id, service, *minutes, now).await?
        }
        AlertCondition::FlaggedPrompts { count } => flagged_prompts(db, org_id, *count, cursor).await?,
        _ => from_figures(figures, condition, now),
    })
}

/// The figure of a condition the rollups answer (pure, for tests and the bench).
pub fn from_figures(figures: &OrgFigures, condition: &AlertCondition, now: i64) -> Measurement {
    let plain = |value: Option<f64>, summary: String, link: String| Measurement {
        value,
        level: None,
        summary,
        link,
        cursor: None,
    };
    match condition {
        AlertCondition::Budget { budget_id, percent } => {
            match figures.budgets.iter().find(|budget| &budget.id == budget_id) {
                Some(budget) => Measurement {
                    value: Some(budget.percent),
                    level: budget.crossed.map(f64::from),
                    summary: format!(
                        "Budget {budget_id}: ${} spent of ${} this month ({:.1}%, projected ${} by its end); the rule fires at {percent}%",
                        budget.spent_usd, budget.monthly_usd, budget.percent, budget.projected_usd
                    ),
                    link: "/costs".to_owned(),
                    cursor: None,
                },
                None => plain(
                    None,
                    format!("Budget {budget_id} is no longer in the policy"),
                    "/policies".to_owned(),
                ),
            }
        }
        AlertCondition::ErrorRate {
            window_minutes,
            percent,
            min_requests,
            service,
            model,
        } => {
            let window = i64::from(*window_minutes) * MINUTE_NS;
            let (mut requests, mut errors) = (0.0, 0.0);
            for hour in matching(&figures.usage, service.as_deref(), model.as_deref()) {
                let share = share_in_window(hour.hour_ns, now, window);
                requests += hour.requests as f64 * share;
                errors += hour.errors as f64 * share;
            }
            let enough = requests.round() >= f64::from(min_requests.unwrap_or(DEFAULT_MIN_REQUESTS));
            let rate = (enough && requests > 0.0).then(|| errors * 100.0 / requests);
            let scope = scope_words(service.as_deref(), model.as_deref());
            let summary = match rate {
                Some(rate) => format!(
                    "Error rate{scope} {rate:.1}% over the last {window_minutes} min ({:.0} of {:.0} model calls failed); threshold {percent}%",
                    errors, requests
                ),
                None => format!(
                    "Too few model calls{scope} over the last {window_minutes} min to judge ({:.0})",
                    requests
                ),
            };
            plain(
                rate,
                summary,
                spans_link(
                    &[
                        ("status", "error"),
                        ("service", opt(service)),
                        ("model", opt(model)),
                    ],
                    now - window,
                ),
            )
        }
        AlertCondition::LatencyP95 {
            model,
            window_minutes,
            milliseconds,
        } => {
            let window = i64::from(*window_minutes) * MINUTE_NS;
            let mut counts = vec![0.0f64; LATENCY_BUCKETS];
            for hour in matching(&figures.usage, None, Some(model)) {
                let share = share_in_window(hour.hour_ns, now, window);
                for (total, count) in counts.iter_mut().zip(&hour.latency) {
                    *total += *count as f64 * share;
                }
            }
            // Scaled so that a share of an hour keeps its weight in whole numbers.
            let scaled: Vec<i64> = counts
                .iter()
                .map(|count| (count * 1_000.0).round() as i64)
                .collect();
            let p95 = percentile_ms(&scaled, 0.95);
            let summary = match p95 {
                Some(p95) => format!(
                    "p95 latency of {model} over the last {window_minutes} min: {p95:.0} ms; threshold {milliseconds} ms"
                ),
                None => format!("No calls to {model} over the last {window_minutes} min"),
            };
            plain(
                p95,
                summary,
                spans_link(&[("model", model.as_str())], now - window),
            )
        }
        AlertCondition::HourlyCost { usd, service } => {
            let mut cost_nanos = 0.0;
            for hour in matching(&figures.usage, service.as_deref(), None) {
                cost_nanos += hour.cost_nanos as f64 * share_in_window(hour.hour_ns, now, HOUR_NS);
            }
            let cost = cost_nanos / 1e9;
            let scope = scope_words(service.as_deref(), None);
            plain(
                Some(cost),
                format!("Cost of the last hour{scope}: ${cost:.4}; threshold ${usd}"),
                "/costs".to_owned(),
            )
        }
        AlertCondition::IngestRejections {
            window_minutes,
            count,
        } => {
            let window = i64::from(*window_minutes) * MINUTE_NS;
            let refused: f64 = figures
                .refusals
                .iter()
                .map(|hour| hour.refused as f64 * share_in_window(hour.hour_ns, now, window))
                .sum();
            let refused = refused.round();
            plain(
                Some(refused),
                format!(
                    "{refused:.0} exports and API requests refused (rate limit, quota, invalid) over the last {window_minutes} min; threshold {count}"
                ),
                "/costs".to_owned(),
            )
        }
        AlertCondition::FlaggedPrompts { .. } | AlertCondition::SilentService { .. } => {
            plain(None, String::new(), String::new())
        }
    }
}

fn opt(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

fn matching<'a>(
    usage: &'a [UsageHour],
    service: Option<&'a str>,
    model: Option<&'a str>,
) -> impl Iterator<Item = &'a UsageHour> {
    usage.iter().filter(move |hour| {
        service.is_none_or(|service| hour.service == service) && model.is_none_or(|model| hour.model == model)
    })
}

fn scope_words(service: Option<&str>, model: Option<&str>) -> String {
    match (service, model) {
        (Some(service), Some(model)) => format!(" of {service} on {model}"),
        (Some(service), None) => format!(" of {service}"),
        (None, Some(model)) => format!(" on {model}"),
        (None, None) => String::new(),
    }
}

/// The spans explorer filtered to `filters` (empty ones left out) since `since`.
fn spans_link(filters: &[(&str, &str)], since: i64) -> String {
    let mut link = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in filters {
        if !value.is_empty() {
            link.append_pair(name, value);
        }
    }
    link.append_pair("since", &rfc3339(since));
    format!("/spans?{}", link.finish())
}

async fn silent_service(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    service: &str,
    minutes: u32,
    now: i64,
) -> Result<Measurement> {
    let window = i64::from(minutes) * MINUTE_NS;
    let backend = db.get_database_backend();
    // Newest first over the organization's time index: an active service is
    // found in its first rows; a silent one costs the window's rows at most.
    let last = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT start_time_ns FROM spans WHERE org_id = {} AND start_time_ns >= {} AND service_name = {} \
                 ORDER BY start_time_ns DESC LIMIT 1",
                placeholder(backend, 1),
                placeholder(backend, 2),
                placeholder(backend, 3)
            ),
            [org_id.into(), (now - window).into(), service.into()],
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "start_time_ns"))
        .transpose()?;
    let (value, summary) = match last {
        Some(last) => {
            let quiet = ((now - last).max(0) as f64 / MINUTE_NS as f64 * 10.0).round() / 10.0;
            (
                quiet,
                format!("Last span from {service} {quiet} min ago; threshold {minutes} min"),
            )
        }
        None => (
            f64::from(minutes),
            format!("No span from {service} in the last {minutes} min"),
        ),
    };
    Ok(Measurement {
        value: Some(value),
        level: None,
        summary,
        link: spans_link(&[("service", service)], now - window),
        cursor: None,
    })
}

async fn flagged_prompts(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    count: u32,
    cursor: i64,
) -> Result<Measurement> {
    let backend = db.get_database_backend();
    let values: [Value; 2] = [org_id.into(), cursor.into()];
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT COUNT(*) AS n, MAX(id) AS last FROM prompt_sim_logs \
                 WHERE org_id = {} AND flagged AND id > {}",
                placeholder(backend, 1),
                placeholder(backend, 2)
            ),
            values,
        ))
        .await?;
    let (flagged, last) = match row {
        Some(row) => (
            row.try_get::<i64>("", "n")?,
            row.try_get::<Option<i64>>("", "last")?,
        ),
        None => (0, None),
    };
    Ok(Measurement {
        value: Some(flagged as f64),
        level: None,
        summary: format!(
            "{flagged} prompts flagged (abuse patterns, bursts) since the last check; threshold {count}"
        ),
        link: "/similarity".to_owned(),
        cursor: Some(last.unwrap_or(cursor)),
    })
}

/// The newest similarity log entry's id: flagged prompts are counted after it.
pub async fn flag_cursor(db: &impl ConnectionTrait) -> Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT MAX(id) AS last FROM prompt_sim_logs",
        ))
        .await?;
    Ok(row
        .map(|row| row.try_get::<Option<i64>>("", "last"))
        .transpose()?
        .flatten()
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_928_800 * 1_000_000_000 + 15 * MINUTE_NS; // 15 min into an hour

    fn hour(offset_hours: i64, service: &str, requests: i64, errors: i64) -> UsageHour {
        UsageHour {
            hour_ns: hour_of(NOW) - offset_hours * HOUR_NS,
            model: "gpt-4o".into(),
            service: service.into(),
            requests,
            errors,
            cost_nanos: requests * 1_000_000,
            latency: Vec::new(),
        }
    }

    #[test]
    fn windows_take_the_oldest_hour_in_proportion() {
        assert_eq!(share_in_window(hour_of(NOW), NOW, 60 * MINUTE_NS), 1.0);
        // 60 min back from :15 reaches :15 of the hour before: 45 of its 60 minutes.
        assert!((share_in_window(hour_of(NOW) - HOUR_NS, NOW, 60 * MINUTE_NS) - 0.75).abs() < 1e-9);
        assert_eq!(
            share_in_window(hour_of(NOW) - 2 * HOUR_NS, NOW, 60 * MINUTE_NS),
            0.0
        );
        assert_eq!(share_in_window(hour_of(NOW) + HOUR_NS, NOW, 60 * MINUTE_NS), 1.0);
        // 59 minutes into the hour, a 15-minute window still takes the current hour whole.
        let late = hour_of(NOW) + 59 * MINUTE_NS;
        assert_eq!(share_in_window(hour_of(NOW), late, 15 * MINUTE_NS), 1.0);
        assert_eq!(share_in_window(hour_of(NOW) - HOUR_NS, late, 15 * MINUTE_NS), 0.0);
    }

    #[test]
    fn error_rates_need_enough_calls_and_honour_the_filters() {
        let figures = OrgFigures {
            usage: vec![
                hour(0, "checkout", 40, 10),
                hour(0, "search", 100, 0),
                hour(1, "checkout", 40, 40),
            ],
            ..OrgFigures::default()
        };
        let rule = |service: Option<&str>, min: Option<u32>| AlertCondition::ErrorRate {
            window_minutes: 15,
            percent: 5.0,
            min_requests: min,
            service: service.map(str::to_owned),
            model: None,
        };
        let checkout = from_figures(&figures, &rule(Some("checkout"), None), NOW);
        assert_eq!(checkout.value, Some(25.0));
        assert!(
            checkout
                .link
                .starts_with("/spans?status=error&service=checkout&since="),
            "{}",
            checkout.link
        );
        let all = from_figures(&figures, &rule(None, None), NOW);
        assert!((all.value.unwrap() - 10.0 * 100.0 / 140.0).abs() < 1e-9);
        assert_eq!(
            from_figures(&figures, &rule(Some("checkout"), Some(100)), NOW).value,
            None
        );
    }

    #[test]
    fn latency_and_cost_come_from_the_rollups() {
        let mut slow = hour(0, "checkout", 100, 0);
        slow.latency = vec![0; LATENCY_BUCKETS];
        slow.latency[10] = 90;
        slow.latency[30] = 10;
        let figures = OrgFigures {
            usage: vec![slow],
            ..OrgFigures::default()
        };
        let p95 = from_figures(
            &figures,
            &AlertCondition::LatencyP95 {
                model: "gpt-4o".into(),
                window_minutes: 15,
                milliseconds: 1.0,
            },
            NOW,
        );
        let (low, high) = crate::telemetry::services::ingest::usage::bucket_bounds_ms(30);
        let value = p95.value.unwrap();
        assert!(value > low && value <= high, "{value} in ({low}, {high}]");
        let cost = from_figures(
            &figures,
            &AlertCondition::HourlyCost {
                usd: 0.05,
                service: None,
            },
            NOW,
        );
        assert!((cost.value.unwrap() - 0.1).abs() < 1e-9);
    }

    #[test]
    fn refusals_sum_over_the_window() {
        let figures = OrgFigures {
            refusals: vec![
                RefusalHour {
                    hour_ns: hour_of(NOW),
                    refused: 7,
                },
                RefusalHour {
                    hour_ns: hour_of(NOW) - HOUR_NS,
                    refused: 40,
                },
            ],
            ..OrgFigures::default()
        };
        let measured = from_figures(
            &figures,
            &AlertCondition::IngestRejections {
                window_minutes: 30,
                count: 5,
            },
            NOW,
        );
        // All 7 of this hour, and 15 of the previous hour's 60 minutes: 10.
        assert_eq!(measured.value, Some(17.0));
    }
}
