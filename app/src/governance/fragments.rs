//! The Policies page's body, rendered to HTML on the server: the version in
//! force in plain words, the editor (a JSON document, for owners and
//! admins), what sampling left out, and every version with what it changed
//! and a restore button. Its forms post to server functions' URLs, which
//! redirect back, so none of it weighs on the browser bundle.

use std::collections::BTreeMap;

use leptos::{prelude::*, tachys::view::RenderHtml};
use uuid::Uuid;

use super::types::{
    BUILTIN_DETECTORS, Budget, CaptureMode, DecisionAction, DroppedSpans, DryRun, GovernanceEvent,
    LimitsReport, PolicyChange, PolicyDocument, PolicyVersion, PolicyVersionSummary, RateInForce, RateLimits,
    RateSetting, RetentionStatus,
};
use crate::{format, time_zone::DisplayZone};

/// Where the forms post.
#[derive(Clone, Copy)]
pub struct FormActions {
    pub save: &'static str,
    pub restore: &'static str,
}

pub struct PageData {
    pub org_id: Uuid,
    pub current: PolicyVersion,
    pub versions: Vec<PolicyVersionSummary>,
    pub dropped: Vec<DroppedSpans>,
    /// The evaluate API's newest decisions.
    pub decisions: Vec<GovernanceEvent>,
    pub retention: RetentionStatus,
    pub can_manage: bool,
}

fn mode(mode: CaptureMode) -> &'static str {
    match mode {
        CaptureMode::Full => "full",
        CaptureMode::Hashed => "hashed (SHA-256 only)",
        CaptureMode::None => "none",
    }
}

fn bytes(limit: Option<u64>, otherwise: &'static str) -> String {
    let size = |bytes: u64| match bytes {
        _ if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) => format!("{} MiB", bytes >> 20),
        _ if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) => format!("{} KiB", bytes >> 10),
        _ => format!("{bytes} bytes"),
    };
    limit.map_or_else(|| otherwise.to_owned(), size)
}

fn days(days: Option<u32>, otherwise: &'static str) -> String {
    days.map_or_else(|| otherwise.to_owned(), |days| format!("{days} days"))
}

/// The document in plain words, one row per setting.
fn summary(document: &PolicyDocument) -> Vec<(&'static str, String)> {
    let capture = match (&document.capture.default, document.capture.services.is_empty()) {
        (None, true) => "the installation's default".to_owned(),
        (default, _) => {
            let mut parts =
                vec![default.map_or("the installation's default".to_owned(), |m| mode(m).to_owned())];
            parts.extend(
                document
                    .capture
                    .services
                    .iter()
                    .map(|(service, m)| format!("{service}: {}", mode(*m))),
            );
            parts.join("; ")
        }
    };
    let switches = document.redaction.detectors.overrides();
    let off: Vec<&str> = BUILTIN_DETECTORS
        .iter()
        .filter(|(kind, _)| switches.get(*kind) == Some(&false))
        .map(|(kind, _)| *kind)
        .collect();
    let detectors = match off.is_empty() {
        true => "every built-in detector as the installation sets them".to_owned(),
        false => format!("built-in detectors off: {}", off.join(", ")),
    };
    let rules = document
        .redaction
        .rules
        .iter()
        .map(|rule| format!("{} → [REDACTED:{}]", rule.id, rule.label))
        .collect::<Vec<_>>();
    let redaction = match rules.is_empty() {
        true => detectors,
        false => format!("{detectors}; own rules: {}", rules.join(", ")),
    };
    let sampling = &document.sampling;
    let mut kept = vec![format!("{}% of traces", format::fixed(sampling.percent, 1))];
    kept.extend(
        sampling
            .services
            .iter()
            .map(|(service, percent)| format!("{service}: {}%", format::fixed(*percent, 1))),
    );
    let mut always = Vec::new();
    if sampling.keep_errors {
        always.push("errors".to_owned());
    }
    if sampling.keep_flagged {
        always.push("flagged spans".to_owned());
    }
    if let Some(usd) = &sampling.keep_cost_over_usd {
        always.push(format!("spans costing ${usd} or more"));
    }
    let sampling = format!(
        "{}; always kept: {}",
        kept.join(", "),
        if always.is_empty() {
            "nothing".to_owned()
        } else {
            always.join(", ")
        }
    );
    let limits = &document.limits;
    let guardrails = &document.guardrails;
    let guardrail_count = guardrails.blocked_patterns.len()
        + guardrails.allowed_models.len()
        + guardrails.denied_models.len()
        + guardrails.regions.len()
        + usize::from(guardrails.max_prompt_chars.is_some())
        + usize::from(guardrails.max_prompt_tokens.is_some())
        + usize::from(guardrails.max_cost_usd.is_some())
        + usize::from(guardrails.abuse_threshold.is_some());
    vec![
        ("Content capture", capture),
        ("Redaction", redaction),
        (
            "Size limits",
            format!(
                "values {}, diffs {}, spans {}",
                bytes(limits.max_value_bytes, "as the installation sets them"),
                bytes(limits.max_diff_bytes, "as values"),
                bytes(limits.max_span_bytes, "unlimited")
            ),
        ),
        ("Sampling", sampling),
        (
            "Retention",
            format!(
                "spans {}, similarity log {}, governance events {}, audit log {}",
                days(document.retention.spans_days, "for ever"),
                days(document.retention.similarity_logs_days, "for ever"),
                days(document.retention.governance_events_days, "for ever"),
                days(document.retention.audit_days, "400 days"),
            ),
        ),
        (
            "Guardrails",
            format!("{guardrail_count} rules for the evaluate API"),
        ),
        ("Rate limits", rate_limits_text(&document.rate_limits)),
        ("Budgets", budgets_text(&document.budgets)),
    ]
}

/// What a budget covers, in words.
fn budget_scope(service: Option<&str>, token: Option<&str>, otherwise: &str) -> String {
    match (service, token) {
        (Some(service), Some(token)) => format!("service {service} with token {token}"),
        (Some(service), None) => format!("service {service}"),
        (None, Some(token)) => format!("token {token}"),
        (None, None) => otherwise.to_owned(),
    }
}

fn rate_text(rate: Option<RateSetting>, unit: &str) -> String {
    rate.map_or_else(
        || "the installation's".to_owned(),
        |rate| match rate.burst {
            Some(burst) => format!(
                "{} {unit}/s (burst {})",
                format::count(rate.per_second as i64),
                format::count(burst as i64)
            ),
            None => format!("{} {unit}/s", format::count(rate.per_second as i64)),
        },
    )
}

fn rate_limits_text(limits: &RateLimits) -> String {
    let mut parts = vec![
        format!("ingest {}", rate_text(limits.ingest, "spans")),
        format!("API {}", rate_text(limits.api, "requests")),
        match limits.monthly_spans {
            Some(quota) => format!("{} spans a month", format::count(quota as i64)),
            None => "the installation's monthly quota".to_owned(),
        },
    ];
    if !limits.tokens.is_empty() {
        parts.push(format!("{} tokens with limits of their own", limits.tokens.len()));
    }
    parts.join("; ")
}

fn budgets_text(budgets: &[Budget]) -> String {
    if budgets.is_empty() {
        return "none".to_owned();
    }
    budgets
        .iter()
        .map(|budget| {
            let scope = budget_scope(
                budget.service.as_deref(),
                budget.token_id.as_deref(),
                "the organization",
            );
            format!(
                "{}: ${} a month for {scope}{}",
                budget.id,
                budget.monthly_usd,
                if budget.hard { ", hard" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The Costs page's card: the month so far against the quota, the rate
/// limits and each budget, with a bar for each share.
pub fn limits_card(report: &LimitsReport, can_edit: bool) -> String {
    let bar = |percent: f64, label: String| {
        let width = format::fixed(percent.clamp(0.0, 100.0), 1);
        let class = match percent {
            p if p >= 100.0 => "meter meter-over",
            p if p >= 80.0 => "meter meter-high",
            _ => "meter",
        };
        view! {
            <div class=class role="meter" aria-valuemin="0" aria-valuemax="100"
                aria-valuenow=format::fixed(percent.max(0.0), 1) aria-label=label>
                <span style=format!("width: {width}%")></span>
            </div>
        }
    };
    let quota = match report.monthly_spans {
        Some(quota) => {
            let percent = report.spans_this_month as f64 * 100.0 / quota.max(1) as f64;
            view! {
                <p>
                    {format!("{} of {} spans this month ({}%)", format::count(report.spans_this_month as i64),
                        format::count(quota as i64), format::fixed(percent, 1))}
                </p>
                {bar(percent, "Monthly span quota used".to_owned())}
            }
            .into_any()
        }
        None => view! {
            <p>{format!("{} spans this month; no monthly quota.", format::count(report.spans_this_month as i64))}</p>
        }
        .into_any(),
    };
    let rate = |rate: Option<RateInForce>, unit: &str| {
        rate.map_or_else(
            || "no limit".to_owned(),
            |rate| {
                format!(
                    "{} {unit}/s, burst {}",
                    format::count(rate.per_second as i64),
                    format::count(rate.burst as i64)
                )
            },
        )
    };
    let refused = report.refused;
    let rows = [
        ("Ingest rate".to_owned(), rate(report.ingest, "spans")),
        ("API rate".to_owned(), rate(report.api, "requests")),
        (
            "Last hour".to_owned(),
            format!(
                "{} spans ({} a second on average)",
                format::count(report.spans_last_hour as i64),
                format::fixed(report.spans_last_hour as f64 / 3_600.0, 1)
            ),
        ),
        (
            "Refused this month".to_owned(),
            format!(
                "{} exports over a rate limit, {} over the quota, {} invalid; {} API requests over a rate limit",
                format::count(refused.rate_limited_exports as i64),
                format::count(refused.over_quota_exports as i64),
                format::count(refused.invalid_exports as i64),
                format::count(refused.rate_limited_requests as i64),
            ),
        ),
    ]
    .into_iter()
    .chain(report.tokens.iter().map(|token| {
        (
            format!("Token {}", token.token_id),
            format!("ingest {}; API {}", rate(token.ingest, "spans"), rate(token.api, "requests")),
        )
    }));
    let budgets = report
        .budgets
        .iter()
        .map(|budget| {
            let scope = budget_scope(budget.service.as_deref(), budget.token_id.as_deref(), "whole organization");
            let label = format!("Budget {} used", budget.id);
            view! {
                <li class="budget" data-testid="budget">
                    <p>
                        <strong>{budget.id.clone()}</strong>" "
                        <span class="muted">{scope}</span>
                        {budget.hard.then(|| view! { " " <span class="badge badge-danger">"hard"</span> })}
                    </p>
                    <p>
                        {format!("${} of ${} ({}%), projected ${} ({}%) by the month's end",
                            format::fixed(budget.spent_usd.parse::<f64>().unwrap_or(0.0), 2), budget.monthly_usd,
                            format::fixed(budget.percent, 1),
                            format::fixed(budget.projected_usd.parse::<f64>().unwrap_or(0.0), 2),
                            format::fixed(budget.projected_percent, 1))}
                        {budget.crossed.map(|threshold| format!("; past {threshold}%"))}
                    </p>
                    {bar(budget.percent, label)}
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="card limits-card" data-testid="limits-card">
            <h2>{format!("Limits and budgets, {} (UTC)", report.month)}</h2>
            {quota}
            <table class="table settings-table">
                <tbody>
                    {rows.map(|(name, text)| view! { <tr><th scope="row">{name}</th><td>{text}</td></tr> }).collect_view()}
                </tbody>
            </table>
            {match report.budgets.is_empty() {
                true => view! { <p class="muted">"No budgets."</p> }.into_any(),
                false => view! { <ul class="budgets">{budgets}</ul> }.into_any(),
            }}
            {can_edit.then(|| view! {
                <p class="muted">"Set limits and budgets in the "<a href="/policies">"policy"</a>" (" <code>"rate_limits"</code>", "<code>"budgets"</code>")."</p>
            })}
        </section>
    }
    .to_html()
}

fn change_text(change: &PolicyChange) -> String {
    let show = |value: &Option<serde_json::Value>| {
        value.as_ref().map_or("—".to_owned(), |value| value.to_string())
    };
    format!(
        "{}: {} → {}",
        change.path,
        show(&change.before),
        show(&change.after)
    )
}

/// The page's body.
pub fn page(data: PageData, actions: FormActions, error: Option<String>, zone: &DisplayZone) -> String {
    let PageData {
        org_id,
        current,
        versions,
        dropped,
        decisions,
        retention,
        can_manage,
    } = data;
    let in_force = match current.version {
        0 => "No policy saved yet: the installation's defaults apply, and everything is kept.".to_owned(),
        version => format!(
            "Version {version}, saved by {} {}{}",
            current.author.clone().unwrap_or_default(),
            current
                .created_at
                .as_deref()
                .map(|at| zone.stored_time(at))
                .unwrap_or_default(),
            if current.comment.is_empty() {
                String::new()
            } else {
                format!(": “{}”", current.comment)
            }
        ),
    };
    let rows = summary(&current.document);
    let sampled_out: i64 = dropped
        .iter()
        .filter(|drop| drop.reason == "sampled_out")
        .map(|drop| drop.spans)
        .sum();
    let document = serde_json::to_string_pretty(&current.document).unwrap_or_default();
    let next_version = current.version + 1;
    let newest = current.version;
    view! {
        <section class="card" data-testid="policy-in-force">
            <h2>"In force"</h2>
            <p data-testid="policy-version">{in_force}</p>
            <table class="table settings-table">
                <tbody>
                    {rows.into_iter().map(|(name, text)| view! {
                        <tr><th scope="row">{name}</th><td>{text}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            <p class="muted" data-testid="sampled-out">
                {format!("Left out by sampling in the last 30 days: {} spans.", format::count(sampled_out))}
            </p>
        </section>
        {error.map(|message| view! { <p class="inline-error" role="alert" data-testid="form-error">{message}</p> })}
        {can_manage.then(|| view! {
            <section class="card" data-testid="policy-editor">
                <h2>"Edit"</h2>
                <p class="muted">
                    "The policy as JSON. Saving makes it version " {next_version}
                    "; ingest applies it to the next span on every replica. Every field may be left out (its default applies)."
                </p>
                <form method="post" action=actions.save class="form-stack">
                    <input type="hidden" name="org_id" value=org_id.to_string() />
                    <textarea class="input mono policy-document" id="policy-document" name="document" rows="24" spellcheck="false"
                        aria-label="Policy document">{document}</textarea>
                    <label>"Why (shown in the history)"
                        <input class="input" name="comment" maxlength="500" placeholder="e.g. sample the chat bot at 10%" />
                    </label>
                    <div class="form-actions">
                        <button type="submit" class="button button-primary">{format!("Save as version {next_version}")}</button>
                    </div>
                </form>
            </section>
        })}
        {retention_card(retention, zone)}
        {decisions_card(org_id, decisions, zone)}
        <section class="card" data-testid="policy-history">
            <h2>"History"</h2>
            {match versions.is_empty() {
                true => view! { <p class="muted">"No versions yet."</p> }.into_any(),
                false => view! {
                    <div class="table-scroll">
                        <table class="table">
                            <thead><tr><th class="num">"Version"</th><th>{zone.titled("Saved")}</th><th>"By"</th><th>"Why"</th><th>"What changed"</th><th></th></tr></thead>
                            <tbody>
                                {versions.into_iter().map(|version| {
                                    let restorable = can_manage && version.version != newest;
                                    let number = version.version;
                                    view! {
                                        <tr data-testid="policy-version-row">
                                            <td class="num">{number}</td>
                                            <td class="mono nowrap">{version.created_at.as_deref().map(|at| zone.stored_time(at)).unwrap_or_default()}</td>
                                            <td>{version.author.unwrap_or_default()}</td>
                                            <td>{version.comment}</td>
                                            <td>
                                                <ul class="change-list">
                                                    {version.changes.iter().map(|change| view! { <li class="mono">{change_text(change)}</li> }).collect_view()}
                                                </ul>
                                            </td>
                                            <td>
                                                {restorable.then(|| view! {
                                                    <form method="post" action=actions.restore class="inline-form">
                                                        <input type="hidden" name="org_id" value=org_id.to_string() />
                                                        <input type="hidden" name="version" value=number.to_string() />
                                                        <button type="submit" class="button button-small">"Restore"</button>
                                                    </form>
                                                })}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any(),
            }}
        </section>
    }
    .to_html()
}

/// What the retention job keeps and what its latest pass deleted.
fn retention_card(status: RetentionStatus, zone: &DisplayZone) -> impl IntoView {
    let kept = |days: Option<u32>| days.map_or("for ever".to_owned(), |days| format!("{days} days"));
    let rows = [
        ("Spans and traces", kept(status.spans_days)),
        ("Similarity log", kept(status.similarity_logs_days)),
        ("Governance decisions", kept(status.governance_events_days)),
        ("Audit log", format!("{} days", status.audit_days)),
    ];
    let deleted = status.deleted;
    let latest = match (&status.pass_started_at, &status.pass_finished_at) {
        (None, _) => "The retention job has not looked at this organization yet.".to_owned(),
        (Some(started), finished) => format!(
            "{} {}: {} spans, {} traces, {} similarity log entries, {} decisions and {} audit entries deleted{}. \
             {} spans deleted in all.",
            if status.running {
                "Running since"
            } else {
                "Latest pass"
            },
            match finished {
                Some(finished) => format!("{} to {}", zone.stored_time(started), zone.stored_time(finished)),
                None => zone.stored_time(started),
            },
            format::count(deleted.spans as i64),
            format::count(deleted.traces as i64),
            format::count(deleted.similarity_logs as i64),
            format::count(deleted.governance_events as i64),
            format::count(deleted.audit_entries as i64),
            if status.running { " so far" } else { "" },
            format::count(status.total_spans_deleted as i64),
        ),
    };
    view! {
        <section class="card" data-testid="policy-retention">
            <h2>"Retention"</h2>
            <table class="table settings-table">
                <tbody>
                    {rows.into_iter().map(|(name, text)| view! {
                        <tr><th scope="row">{name}</th><td>{text}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            <p class="muted" data-testid="retention-progress">{latest}</p>
        </section>
    }
}

fn action_badge(action: DecisionAction) -> &'static str {
    match action {
        DecisionAction::Deny => "badge badge-danger",
        DecisionAction::Allow => "badge badge-muted",
        DecisionAction::Redact | DecisionAction::Route => "badge badge-warning",
    }
}

/// The evaluate API's newest decisions, with a CSV of them all.
fn decisions_card(org_id: Uuid, decisions: Vec<GovernanceEvent>, zone: &DisplayZone) -> impl IntoView {
    view! {
        <section class="card" data-testid="policy-decisions">
            <h2>"Recent decisions"</h2>
            <p class="muted">
                "What the evaluate API (" <code>"POST /api/v1/governance/evaluate"</code>
                ") answered gateways, newest first. "
                <a href=format!("/api/v1/governance/events?org={org_id}&format=csv") download="governance-events.csv">"Download CSV"</a>
            </p>
            {match decisions.is_empty() {
                true => view! { <p class="muted">"No decisions yet."</p> }.into_any(),
                false => view! {
                    <div class="table-scroll">
                        <table class="table">
                            <thead><tr><th>{zone.titled("Time")}</th><th>"Decision"</th><th>"Model"</th><th>"End user"</th><th>"Why"</th><th class="num">"Policy"</th></tr></thead>
                            <tbody>
                                {decisions.into_iter().map(|event| {
                                    let model = match (&event.model, &event.routed_model) {
                                        (Some(asked), Some(routed)) if asked != routed => format!("{asked} → {routed}"),
                                        (asked, _) => asked.clone().unwrap_or_default(),
                                    };
                                    view! {
                                        <tr data-testid="decision-row">
                                            <td class="mono nowrap">{zone.stored_time(&event.created_at)}</td>
                                            <td><span class=action_badge(event.action)>{event.action.as_str()}</span></td>
                                            <td class="mono">{model}</td>
                                            <td class="mono">{event.end_user.unwrap_or_default()}</td>
                                            <td>
                                                <ul class="change-list">
                                                    {event.reasons.into_iter().map(|reason| view! {
                                                        <li title=reason.detail.clone()>{format!("{} ({})", reason.kind, reason.rule_id)}</li>
                                                    }).collect_view()}
                                                </ul>
                                            </td>
                                            <td class="num">{format!("v{}", event.policy_version)}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any(),
            }}
        </section>
    }
}

/// What a pasted text became, and what was found in it.
pub fn redaction_preview(redacted: &str, found: &BTreeMap<String, u64>, version: i64) -> String {
    let found = match found.is_empty() {
        true => "Nothing found.".to_owned(),
        false => format!(
            "Found: {}.",
            found
                .iter()
                .map(|(kind, count)| format!("{kind} × {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    view! {
        <p class="muted">{format!("Under version {version}: {found}")}</p>
        <pre class="mono redaction-result" data-testid="redaction-result">{redacted.to_owned()}</pre>
    }
    .to_html()
}

/// What a draft would do, span by span.
pub fn dry_run(outcome: &DryRun) -> String {
    let headline = format!(
        "{} spans checked against the draft (the stored spans went through version {}): {} would have more redacted, \
         {} would be cut, {} would be sampled out, {} would be flagged by blocked patterns.",
        outcome.spans_checked,
        outcome.current_version,
        outcome.would_redact,
        outcome.would_truncate,
        outcome.would_sample_out,
        outcome.would_flag
    );
    let rows = outcome
        .spans
        .iter()
        .map(|span| {
            let mut effects = Vec::new();
            if !span.redactions.is_empty() {
                let found: Vec<String> = span
                    .redactions
                    .iter()
                    .map(|(kind, count)| format!("{kind} × {count}"))
                    .collect();
                effects.push(format!("redact {}", found.join(", ")));
            }
            if !span.truncated.is_empty() {
                effects.push(format!("cut {}", span.truncated.join(", ")));
            }
            if let Some(capture) = span.capture {
                effects.push(format!("capture {}", mode(capture)));
            }
            if span.sampled_out {
                effects.push("sample out".to_owned());
            }
            if !span.flagged_by.is_empty() {
                effects.push(format!("flag ({})", span.flagged_by.join(", ")));
            }
            let href = format!("/traces/{}?span={}", span.trace_id, span.span_id);
            view! {
                <tr>
                    <td><a href=href>{span.name.clone()}</a></td>
                    <td>{span.service_name.clone()}</td>
                    <td>{effects.join("; ")}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p data-testid="dry-run-summary">{headline}</p>
        {(!outcome.spans.is_empty()).then(|| view! {
            <div class="table-scroll">
                <table class="table" data-testid="dry-run-spans">
                    <thead><tr><th>"Span"</th><th>"Service"</th><th>"The draft would"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        })}
    }
    .to_html()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::types::{BudgetStatus, MatchKind, RedactionRule, RefusedCounts};

    #[test]
    fn the_limits_card_shows_the_quota_rates_and_budgets() {
        let report = LimitsReport {
            month: "2026-12".into(),
            spans_this_month: 1_200,
            spans_last_hour: 7_200,
            monthly_spans: Some(1_000),
            ingest: Some(RateInForce {
                per_second: 500,
                burst: 1_000,
            }),
            api: None,
            tokens: vec![],
            refused: RefusedCounts {
                rate_limited_exports: 3,
                ..RefusedCounts::default()
            },
            budgets: vec![BudgetStatus {
                id: "<team>".into(),
                monthly_usd: "100".into(),
                spent_usd: "85.500000000".into(),
                percent: 85.5,
                projected_usd: "264.000000000".into(),
                projected_percent: 264.0,
                thresholds: vec![50, 80, 100],
                crossed: Some(80),
                hard: true,
                ..BudgetStatus::default()
            }],
        };
        let html = limits_card(&report, true);
        assert!(
            html.contains("1,200 of 1,000 spans this month (120.0%)"),
            "{html}"
        );
        assert!(html.contains("meter meter-over"), "over the quota: {html}");
        assert!(html.contains("500 spans/s, burst 1,000"));
        assert!(html.contains("no limit"), "no API limit");
        assert!(html.contains("7,200 spans (2.0 a second on average)"));
        assert!(html.contains("3 exports over a rate limit"));
        assert!(
            html.contains("&lt;team&gt;") && !html.contains("<team>"),
            "escaped"
        );
        assert!(html.contains("$85.50 of $100 (85.5%), projected $264.00 (264.0%)"));
        assert!(html.contains("past 80%") && html.contains("meter meter-high"));
        assert!(html.contains(">hard<"));
        assert!(html.contains("href=\"/policies\""));
        assert!(!limits_card(&report, false).contains("href=\"/policies\""));
    }

    #[test]
    fn the_page_says_what_is_in_force_and_escapes_what_users_wrote() {
        let mut document = PolicyDocument::default();
        document.sampling.percent = 10.0;
        document.redaction.rules.push(RedactionRule {
            id: "cust".into(),
            kind: MatchKind::Literal,
            pattern: "<b>".into(),
            label: "customer".into(),
            case_insensitive: false,
        });
        let current = PolicyVersion {
            version: 2,
            document,
            author: Some("admin@example.com".into()),
            created_at: Some("2026-12-05T10:00:00Z".into()),
            comment: "<script>x</script>".into(),
            restored_from: None,
            changes: vec![],
        };
        let data = PageData {
            org_id: Uuid::nil(),
            current,
            versions: vec![],
            dropped: vec![DroppedSpans {
                day: "2026-12-05".into(),
                reason: "sampled_out".into(),
                spans: 1234,
            }],
            decisions: vec![GovernanceEvent {
                id: "0193".into(),
                created_at: "2026-12-05T10:00:00Z".into(),
                event_type: "evaluation".into(),
                policy_version: 2,
                action: DecisionAction::Route,
                reasons: vec![crate::governance::types::DecisionReason {
                    kind: "region".into(),
                    rule_id: "regions.eu".into(),
                    effect: DecisionAction::Route,
                    detail: "<b>not here</b>".into(),
                }],
                model: Some("gpt-4o".into()),
                routed_model: Some("mistral-large".into()),
                end_user: Some("u-7".into()),
                region: Some("eu".into()),
                service: None,
                token_id: None,
                prompt_chars: 12,
                prompt_sha256: "0".repeat(64),
                estimated_cost_usd: None,
            }],
            retention: RetentionStatus {
                spans_days: Some(30),
                similarity_logs_days: None,
                governance_events_days: None,
                audit_days: 400,
                pass_started_at: Some("2026-12-05T10:00:00Z".into()),
                pass_finished_at: None,
                running: true,
                deleted: crate::governance::types::RetentionCounts {
                    spans: 2000,
                    ..Default::default()
                },
                total_spans_deleted: 12_000,
            },
            can_manage: true,
        };
        let actions = FormActions {
            save: "/api/save",
            restore: "/api/restore",
        };
        let html = page(data, actions, None, &DisplayZone::default());
        assert!(html.contains("Version 2"));
        assert!(html.contains("10.0% of traces"), "{html}");
        assert!(html.contains("cust → [REDACTED:customer]"));
        assert!(!html.contains("<script>x"));
        assert!(html.contains("Save as version 3"));
        assert!(html.contains("1,234 spans"), "{html}");
        assert!(html.contains("gpt-4o → mistral-large") && html.contains("region (regions.eu)"));
        assert!(!html.contains("<b>not here"));
        assert!(html.contains("Running since") && html.contains("2,000 spans") && html.contains("so far"));
        assert!(html.contains("12,000 spans deleted in all"), "{html}");
    }
}
