//! The Alerts page's body, rendered to HTML on the server: the rules with
//! their state, the history of firings and resolves, silences, channels
//! with how their deliveries go, and (for owners and admins) the forms
//! that add and remove them. Forms post to server functions' URLs, which
//! redirect back, so none of it weighs on the browser bundle.

use leptos::{prelude::*, tachys::view::RenderHtml};
use uuid::Uuid;

use super::types::{AlertCondition, AlertEvent, AlertRule, AlertRuleList, AlertState, Channel, Silence};
use crate::time_zone::DisplayZone;

/// Where the page's forms post.
#[derive(Clone, Copy)]
pub struct FormActions {
    pub add_rule: &'static str,
    pub delete_rule: &'static str,
    pub toggle_rule: &'static str,
    pub add_silence: &'static str,
    pub end_silence: &'static str,
    pub add_channel: &'static str,
    pub delete_channel: &'static str,
    pub test_channel: &'static str,
}

pub struct PageData {
    pub org_id: Uuid,
    pub rules: AlertRuleList,
    pub events: Vec<AlertEvent>,
    pub silences: Vec<Silence>,
    pub channels: Vec<Channel>,
    pub budget_ids: Vec<String>,
    pub can_manage: bool,
    /// A webhook's signing secret the admin asked to see: (channel id, secret).
    pub revealed: Option<(Uuid, String)>,
}

/// A condition in words.
pub fn condition_text(condition: &AlertCondition) -> String {
    let scope = |service: &Option<String>, model: &Option<String>| match (service, model) {
        (Some(service), Some(model)) => format!(" of {service} on {model}"),
        (Some(service), None) => format!(" of {service}"),
        (None, Some(model)) => format!(" on {model}"),
        (None, None) => String::new(),
    };
    match condition {
        AlertCondition::Budget { budget_id, percent } => format!("Budget {budget_id} reaches {percent}%"),
        AlertCondition::ErrorRate {
            window_minutes,
            percent,
            service,
            model,
            ..
        } => format!(
            "Error rate{} above {percent}% over {window_minutes} min",
            scope(service, model)
        ),
        AlertCondition::LatencyP95 {
            model,
            window_minutes,
            milliseconds,
        } => format!("p95 latency of {model} above {milliseconds} ms over {window_minutes} min"),
        AlertCondition::HourlyCost { usd, service } => {
            format!("Last hour's cost{} above ${usd}", scope(service, &None))
        }
        AlertCondition::FlaggedPrompts { count } => {
            format!("{count} or more prompts flagged since the last check")
        }
        AlertCondition::IngestRejections {
            window_minutes,
            count,
        } => {
            format!("More than {count} refused exports over {window_minutes} min")
        }
        AlertCondition::SilentService { service, minutes } => {
            format!("No span from {service} for {minutes} min")
        }
    }
}

fn figure(value: Option<f64>, condition: &AlertCondition) -> String {
    match value {
        None => "—".to_owned(),
        Some(value) => match condition.unit() {
            "USD" => format!("${value:.4}"),
            "%" => format!("{value:.1}%"),
            unit => format!("{} {unit}", (value * 10.0).round() / 10.0),
        },
    }
}

fn state_badge(state: AlertState) -> impl IntoView {
    let (class, text) = match state {
        AlertState::Ok => ("badge", "ok"),
        AlertState::Firing => ("badge badge-danger", "firing"),
        AlertState::Resolved => ("badge badge-muted", "resolved"),
    };
    view! { <span class=class data-testid="rule-state">{text}</span> }
}

/// The whole body.
pub fn page(data: PageData, actions: FormActions, error: Option<String>, zone: &DisplayZone) -> String {
    let PageData {
        org_id,
        rules,
        events,
        silences,
        channels,
        budget_ids,
        can_manage,
        revealed,
    } = data;
    let org = org_id.to_string();
    let evaluator = &rules.evaluator;
    let pass = match (
        &evaluator.last_pass_finished_at,
        evaluator.last_pass_started_at.is_some(),
    ) {
        (Some(finished), _) => format!(
            "Checked every {} s; last pass {} ({} rules over all organizations, {} firing, {:.0} ms).",
            evaluator.interval_seconds,
            zone.stored_time(finished),
            evaluator.last_pass_rules,
            evaluator.last_pass_firing,
            evaluator.last_pass_milliseconds
        ),
        (None, true) => format!(
            "Checked every {} s; the first pass is running.",
            evaluator.interval_seconds
        ),
        (None, false) => format!("Checked every {} s; no pass yet.", evaluator.interval_seconds),
    };
    let channel_name = |id: &Uuid| {
        channels
            .iter()
            .find(|channel| &channel.id == id)
            .map_or_else(|| "removed channel".to_owned(), |channel| channel.name.clone())
    };
    let rule_rows = rules
        .rules
        .iter()
        .map(|rule| {
            let notifies = match rule.channel_ids.is_empty() {
                true => "history only".to_owned(),
                false => rule
                    .channel_ids
                    .iter()
                    .map(channel_name)
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            rule_row(rule, notifies, can_manage, &org, actions, zone)
        })
        .collect_view();
    let rule_options: Vec<(String, String)> = rules
        .rules
        .iter()
        .map(|rule| (rule.id.to_string(), rule.name.clone()))
        .collect();
    view! {
        {error.map(|message| view! { <p class="inline-error" role="alert" data-testid="form-error">{message}</p> })}
        <section class="card" data-testid="alert-rules">
            <h2>"Rules"</h2>
            <p class="muted" data-testid="evaluator-status">{pass}</p>
            {match rules.rules.is_empty() {
                true => view! { <p class="muted">"No rules yet."</p> }.into_any(),
                false => view! {
                    <div class="table-scroll">
                        <table class="table">
                            <thead><tr><th>"Rule"</th><th>"When"</th><th>"State"</th><th class="num">"Now"</th><th>"Notifies"</th><th>{zone.titled("Checked")}</th><th></th></tr></thead>
                            <tbody>{rule_rows}</tbody>
                        </table>
                    </div>
                }.into_any(),
            }}
        </section>
        {can_manage.then(|| rule_form(&org, actions, &channels, &budget_ids))}
        {history(events, zone)}
        {silence_card(&org, silences, &rule_options, can_manage, actions, zone)}
        {channel_card(&org, channels, can_manage, revealed, actions, zone)}
    }
    .to_html()
}

fn rule_row(
    rule: &AlertRule,
    notifies: String,
    can_manage: bool,
    org: &str,
    actions: FormActions,
    zone: &DisplayZone,
) -> impl IntoView + use<> {
    let silenced = rule
        .silenced_until
        .as_deref()
        .map(|until| format!("silenced until {}", zone.stored_time(until)));
    view! {
        <tr data-testid="alert-rule-row">
            <td>{rule.name.clone()}{(!rule.enabled).then(|| view! { " " <span class="badge badge-muted">"disabled"</span> })}</td>
            <td>{condition_text(&rule.condition)}</td>
            <td>{state_badge(rule.state)}{silenced.map(|text| view! { <br /><span class="hint">{text}</span> })}</td>
            <td class="num mono">{figure(rule.last_value, &rule.condition)}</td>
            <td>{notifies}</td>
            <td class="mono nowrap">{rule.last_evaluated_at.as_deref().map(|at| zone.stored_time(at)).unwrap_or_default()}</td>
            <td class="nowrap">
                {can_manage.then(|| view! {
                    <form method="post" action=actions.toggle_rule class="inline-form">
                        <input type="hidden" name="org_id" value=org.to_owned() />
                        <input type="hidden" name="rule_id" value=rule.id.to_string() />
                        <input type="hidden" name="enabled" value=(!rule.enabled).to_string() />
                        <button type="submit" class="button button-small">{if rule.enabled { "Turn off" } else { "Turn on" }}</button>
                    </form>
                    <form method="post" action=actions.delete_rule class="inline-form">
                        <input type="hidden" name="org_id" value=org.to_owned() />
                        <input type="hidden" name="rule_id" value=rule.id.to_string() />
                        <button type="submit" class="button button-small">"Delete"</button>
                    </form>
                })}
            </td>
        </tr>
    }
}

fn rule_form(org: &str, actions: FormActions, channels: &[Channel], budget_ids: &[String]) -> impl IntoView {
    let kinds = [
        (
            "error_rate",
            "Error rate above X% (window, optional service and model)",
        ),
        ("latency_p95", "p95 latency of a model above X ms (window, model)"),
        ("hourly_cost", "Last hour's cost above $X (optional service)"),
        ("budget", "A budget reaches X% (budget)"),
        (
            "flagged_prompts",
            "X or more prompts flagged since the last check",
        ),
        ("ingest_rejections", "More than X refused exports (window)"),
        ("silent_service", "No span from a service for X minutes (service)"),
    ];
    view! {
        <section class="card" data-testid="alert-rule-form">
            <h2>"Add a rule"</h2>
            <form method="post" action=actions.add_rule class="form-grid">
                <input type="hidden" name="org_id" value=org.to_owned() />
                <label>"Name" <input class="input" name="name" required maxlength="100" placeholder="Checkout errors" /></label>
                <label>"When"
                    <select class="input" name="kind">
                        {kinds.into_iter().map(|(value, label)| view! { <option value=value>{label}</option> }).collect_view()}
                    </select>
                </label>
                <label>"X (the threshold)" <input class="input" name="threshold" required inputmode="decimal" placeholder="5" /></label>
                <label>"Window, minutes" <input class="input" name="window_minutes" inputmode="numeric" placeholder="15 (5 to 1,440)" /></label>
                <label>"Service" <input class="input" name="service" maxlength="200" placeholder="any" /></label>
                <label>"Model" <input class="input" name="model" maxlength="200" placeholder="any" /></label>
                <label>"Budget"
                    <select class="input" name="budget_id">
                        <option value="">"—"</option>
                        {budget_ids.iter().map(|id| view! { <option value=id.clone()>{id.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Quiet period, minutes" <input class="input" name="quiet_minutes" inputmode="numeric" placeholder="10" /></label>
                <fieldset class="checkboxes span-2">
                    <legend>"Notify"</legend>
                    {match channels.is_empty() {
                        true => view! { <span class="muted">"No channels yet: the history records the rule's firings."</span> }.into_any(),
                        false => channels.iter().map(|channel| view! {
                            <label>
                                <input type="checkbox" name=format!("channels[channel_{}]", channel.id) value="on" />
                                {format!(" {} ({})", channel.name, channel.kind)}
                            </label>
                        }).collect_view().into_any(),
                    }}
                </fieldset>
                <div class="form-actions"><button type="submit" class="button button-primary">"Add rule"</button></div>
            </form>
        </section>
    }
}

fn history(events: Vec<AlertEvent>, zone: &DisplayZone) -> impl IntoView {
    view! {
        <section class="card" data-testid="alert-history">
            <h2>"History"</h2>
            {match events.is_empty() {
                true => view! { <p class="muted">"Nothing has fired yet."</p> }.into_any(),
                false => view! {
                    <div class="table-scroll">
                        <table class="table">
                            <thead><tr><th>{zone.titled("When")}</th><th>"Rule"</th><th>"What"</th><th>"Figures"</th><th>"Notification"</th><th></th></tr></thead>
                            <tbody>
                                {events.into_iter().map(|event| {
                                    let class = if event.kind == "firing" { "badge badge-danger" } else { "badge" };
                                    view! {
                                        <tr data-testid="alert-event-row">
                                            <td class="mono nowrap">{zone.stored_time(&event.at)}</td>
                                            <td>{event.rule_name}</td>
                                            <td><span class=class>{event.kind}</span></td>
                                            <td>{event.summary}</td>
                                            <td>{event.notice.replace('_', " ")}</td>
                                            <td><a href=event.link>"Open"</a></td>
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

fn silence_card(
    org: &str,
    silences: Vec<Silence>,
    rules: &[(String, String)],
    can_manage: bool,
    actions: FormActions,
    zone: &DisplayZone,
) -> impl IntoView {
    let rule_name = |id: &Option<Uuid>| match id {
        None => "All rules".to_owned(),
        Some(id) => rules
            .iter()
            .find(|(rule, _)| rule == &id.to_string())
            .map_or_else(|| "removed rule".to_owned(), |(_, name)| name.clone()),
    };
    view! {
        <section class="card" data-testid="alert-silences">
            <h2>"Silences"</h2>
            <p class="muted">"While a silence is in force, the rules it covers are recorded in the history but notify no one."</p>
            {(!silences.is_empty()).then(|| view! {
                <table class="table">
                    <thead><tr><th>"Covers"</th><th>{zone.titled("Until")}</th><th>"Why"</th><th>"By"</th><th></th></tr></thead>
                    <tbody>
                        {silences.into_iter().map(|silence| view! {
                            <tr data-testid="silence-row">
                                <td>{rule_name(&silence.rule_id)}</td>
                                <td class="mono nowrap">{zone.stored_time(&silence.ends_at)}{(!silence.active).then_some(" (ended)")}</td>
                                <td>{silence.comment}</td>
                                <td>{silence.created_by}</td>
                                <td>{(can_manage && silence.active).then(|| view! {
                                    <form method="post" action=actions.end_silence class="inline-form">
                                        <input type="hidden" name="org_id" value=org.to_owned() />
                                        <input type="hidden" name="silence_id" value=silence.id.to_string() />
                                        <button type="submit" class="button button-small">"End now"</button>
                                    </form>
                                })}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            {can_manage.then(|| view! {
                <form method="post" action=actions.add_silence class="form-inline">
                    <input type="hidden" name="org_id" value=org.to_owned() />
                    <select class="input" name="rule_id" aria-label="Rule to silence">
                        <option value="">"All rules"</option>
                        {rules.iter().map(|(id, name)| view! { <option value=id.clone()>{name.clone()}</option> }).collect_view()}
                    </select>
                    <select class="input" name="hours" aria-label="For">
                        {[("1", "for 1 hour"), ("4", "for 4 hours"), ("24", "for a day"), ("168", "for a week")]
                            .into_iter()
                            .map(|(hours, label)| view! { <option value=hours>{label}</option> })
                            .collect_view()}
                    </select>
                    <input class="input" name="comment" maxlength="500" placeholder="Why (maintenance…)" aria-label="Why" />
                    <button type="submit" class="button">"Silence"</button>
                </form>
            })}
        </section>
    }
}

fn channel_card(
    org: &str,
    channels: Vec<Channel>,
    can_manage: bool,
    revealed: Option<(Uuid, String)>,
    actions: FormActions,
    zone: &DisplayZone,
) -> impl IntoView {
    view! {
        <section class="card" data-testid="alert-channels">
            <h2>"Channels"</h2>
            {revealed.map(|(id, secret)| view! {
                <div class="notice" data-testid="signing-secret">
                    <p>"The webhook's signing secret (channel " <span class="mono">{id.to_string()}</span> "). Receivers check "
                       <code>"X-Specula-Signature"</code> " with it: " <code>"t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">"</code> "."</p>
                    <pre class="mono">{secret}</pre>
                </div>
            })}
            {(!channels.is_empty()).then(|| view! {
                <div class="table-scroll">
                    <table class="table">
                        <thead><tr><th>"Channel"</th><th>"Kind"</th><th>"Sends to"</th><th>"Deliveries"</th><th></th></tr></thead>
                        <tbody>
                            {channels.into_iter().map(|channel| {
                                let failing = channel.failures_in_a_row > 0;
                                let status = match (&channel.last_status, failing) {
                                    (None, _) => "nothing sent yet".to_owned(),
                                    (Some(_), true) => format!(
                                        "failing ({} in a row): {}",
                                        channel.failures_in_a_row,
                                        channel.last_error.clone().unwrap_or_default()
                                    ),
                                    (Some(status), false) => format!(
                                        "{status} {}",
                                        channel.last_status_at.as_deref().map(|at| zone.stored_time(at)).unwrap_or_default()
                                    ),
                                };
                                let pending = (channel.pending > 0).then(|| format!(" · {} waiting to retry", channel.pending));
                                let id = channel.id.to_string();
                                view! {
                                    <tr data-testid="alert-channel-row" class:row-error=failing>
                                        <td>{channel.name}</td>
                                        <td>{channel.kind.clone()}</td>
                                        <td class="mono">{channel.target}</td>
                                        <td data-testid="channel-status">{status}{pending}</td>
                                        <td class="nowrap">{can_manage.then(|| view! {
                                            <form method="post" action=actions.test_channel class="inline-form">
                                                <input type="hidden" name="org_id" value=org.to_owned() />
                                                <input type="hidden" name="channel_id" value=id.clone() />
                                                <button type="submit" class="button button-small">"Send test"</button>
                                            </form>
                                            {(channel.kind == "webhook").then(|| view! {
                                                <a class="button button-small" href=format!("/alerts?secret_of={id}")>"Signing secret"</a>
                                            })}
                                            <form method="post" action=actions.delete_channel class="inline-form">
                                                <input type="hidden" name="org_id" value=org.to_owned() />
                                                <input type="hidden" name="channel_id" value=id.clone() />
                                                <button type="submit" class="button button-small">"Delete"</button>
                                            </form>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
            {can_manage.then(|| view! {
                <h3>"Add a channel"</h3>
                <form method="post" action=actions.add_channel class="form-grid" data-testid="alert-channel-form">
                    <input type="hidden" name="org_id" value=org.to_owned() />
                    <label>"Name" <input class="input" name="name" required maxlength="100" placeholder="On-call" /></label>
                    <label>"Kind"
                        <select class="input" name="kind">
                            <option value="webhook">"Webhook (signed JSON)"</option>
                            <option value="slack">"Slack incoming webhook"</option>
                            <option value="email">"Email (SMTP)"</option>
                        </select>
                    </label>
                    <label>"URL (webhook, Slack)" <input class="input" name="url" type="url" maxlength="2000" placeholder="https://hooks.example.com/specula" /></label>
                    <label>"SMTP server" <input class="input" name="host" maxlength="253" placeholder="smtp.example.com" /></label>
                    <label>"Port" <input class="input" name="port" inputmode="numeric" placeholder="587" /></label>
                    <label>"Security"
                        <select class="input" name="security">
                            <option value="starttls">"STARTTLS"</option>
                            <option value="tls">"TLS"</option>
                        </select>
                    </label>
                    <label>"User" <input class="input" name="username" maxlength="320" autocomplete="off" /></label>
                    <label>"Password (kept encrypted)" <input class="input" name="password" type="password" maxlength="1000" autocomplete="new-password" /></label>
                    <label>"From" <input class="input" name="from" maxlength="320" placeholder="Specula <alerts@example.com>" /></label>
                    <label>"To (comma-separated)" <input class="input" name="to" maxlength="2000" placeholder="oncall@example.com" /></label>
                    <div class="form-actions"><button type="submit" class="button button-primary">"Add channel"</button></div>
                </form>
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::types::EvaluatorStatus;

    fn rule(state: AlertState) -> AlertRule {
        AlertRule {
            id: Uuid::nil(),
            name: "Checkout <errors>".into(),
            condition: AlertCondition::ErrorRate {
                window_minutes: 15,
                percent: 5.0,
                min_requests: None,
                service: Some("checkout".into()),
                model: None,
            },
            channel_ids: vec![],
            quiet_minutes: 10,
            enabled: true,
            created_at: "2026-12-05T10:00:00Z".into(),
            updated_at: "2026-12-05T10:00:00Z".into(),
            state,
            state_since: None,
            last_value: Some(12.345),
            last_evaluated_at: Some("2026-12-05T10:01:00Z".into()),
            silenced_until: None,
        }
    }

    fn actions() -> FormActions {
        FormActions {
            add_rule: "/api/add",
            delete_rule: "/api/delete",
            toggle_rule: "/api/toggle",
            add_silence: "/api/silence",
            end_silence: "/api/end",
            add_channel: "/api/channel",
            delete_channel: "/api/delete-channel",
            test_channel: "/api/test",
        }
    }

    #[test]
    fn the_page_shows_rules_in_words_and_escapes_names() {
        let html = page(
            PageData {
                org_id: Uuid::nil(),
                rules: AlertRuleList {
                    rules: vec![rule(AlertState::Firing)],
                    evaluator: EvaluatorStatus {
                        interval_seconds: 60,
                        ..EvaluatorStatus::default()
                    },
                },
                events: vec![],
                silences: vec![],
                channels: vec![],
                budget_ids: vec!["team".into()],
                can_manage: true,
                revealed: None,
            },
            actions(),
            None,
            &DisplayZone::resolve(true, None),
        );
        assert!(
            html.contains("Error rate of checkout above 5% over 15 min"),
            "{html}"
        );
        assert!(html.contains("Checkout &lt;errors&gt;"));
        assert!(html.contains("12.3%"));
        assert!(html.contains("firing"));
        assert!(html.contains("history only"));
        assert!(html.contains("no pass yet"));
        assert!(html.contains(r#"action="/api/add""#));
        assert!(html.contains(r#"<option value="team">"#), "{html}");
    }

    #[test]
    fn members_without_the_right_see_no_forms() {
        let html = page(
            PageData {
                org_id: Uuid::nil(),
                rules: AlertRuleList {
                    rules: vec![rule(AlertState::Ok)],
                    evaluator: EvaluatorStatus::default(),
                },
                events: vec![],
                silences: vec![],
                channels: vec![],
                budget_ids: vec![],
                can_manage: false,
                revealed: None,
            },
            actions(),
            None,
            &DisplayZone::resolve(true, None),
        );
        assert!(!html.contains("<form"), "{html}");
    }
}
