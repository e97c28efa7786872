//! The Forwarding settings page's body, rendered to HTML on the server:
//! each destination with how its spans are going (forwarded, waiting,
//! dropped after the retry budget, refused by the receiver, the last
//! error) and, for owners and admins, the forms that add, pause, remove and
//! test them. Forms post to server functions' URLs, which redirect back,
//! so none of it weighs on the browser bundle.

use leptos::{prelude::*, tachys::view::RenderHtml};
use uuid::Uuid;

use super::types::{Destination, ForwardTest};
use crate::{format::count, time_zone::DisplayZone};

/// Where the page's forms post.
#[derive(Clone, Copy)]
pub struct FormActions {
    pub add: &'static str,
    pub toggle: &'static str,
    pub delete: &'static str,
    pub test: &'static str,
}

pub struct PageData {
    pub org_id: Uuid,
    pub destinations: Vec<Destination>,
    pub can_manage: bool,
    /// What the last "Send test span" did: (destination id, outcome).
    pub tested: Option<(Uuid, ForwardTest)>,
    /// The installation forwards to private networks (an internal collector).
    pub private_networks: bool,
}

pub fn page(data: PageData, actions: FormActions, error: Option<String>, zone: &DisplayZone) -> String {
    let PageData {
        org_id,
        destinations,
        can_manage,
        tested,
        private_networks,
    } = data;
    let org = org_id.to_string();
    let tested_notice = tested.map(|(id, test)| {
        let name = destinations
            .iter()
            .find(|destination| destination.id == id)
            .map_or_else(String::new, |destination| destination.name.clone());
        let outcome = match (test.delivered, &test.error) {
            (true, _) => format!(
                "Test span delivered to {name} ({}); look for trace {} there.",
                test.answer.clone().unwrap_or_default(),
                test.trace_id
            ),
            (false, error) => format!(
                "Test span not delivered to {name}: {}",
                error.clone().unwrap_or_default()
            ),
        };
        view! { <p class=if test.delivered { "notice" } else { "inline-error" } data-testid="forward-test-result">{outcome}</p> }
    });
    let rows = destinations
        .into_iter()
        .map(|destination| destination_row(&org, destination, can_manage, actions, zone))
        .collect_view();
    view! {
        {error.map(|message| view! { <p class="inline-error" role="alert" data-testid="form-error">{message}</p> })}
        {tested_notice}
        <section class="card" data-testid="forward-destinations">
            <h2>"Destinations"</h2>
            <p class="muted">"Every span stored from a destination's creation on is also sent to it over OTLP, after the policy step (what redaction and content capture kept). Spans wait in the database until the destination acknowledges them, across restarts; a destination that fails is retried with backoff, and spans still not delivered when they are older than its retry budget are dropped and counted here."</p>
            <div class="table-scroll">
                <table class="table">
                    <thead><tr><th>"Destination"</th><th>"Sends to"</th><th>"Spans"</th><th>"Status"</th><th></th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
        {can_manage.then(|| add_form(&org, actions, private_networks))}
    }
    .to_html()
}

fn destination_row(
    org: &str,
    destination: Destination,
    can_manage: bool,
    actions: FormActions,
    zone: &DisplayZone,
) -> impl IntoView {
    let failing = destination.failing_since.is_some();
    let status = match (
        &destination.last_error,
        &destination.failing_since,
        &destination.last_success_at,
    ) {
        (_, _, _) if !destination.enabled => "paused".to_owned(),
        (Some(error), Some(since), _) => format!("failing since {}: {error}", zone.stored_time(since)),
        (Some(error), None, _) => format!("last batch refused: {error}"),
        (None, _, Some(at)) => format!("delivered {}", zone.stored_time(at)),
        (None, _, None) => "nothing sent yet".to_owned(),
    };
    let mut filters = vec![format!(
        "retry budget {} s",
        count(destination.retry_budget_secs as i64)
    )];
    if !destination.services.is_empty() {
        filters.push(format!("services: {}", destination.services.join(", ")));
    }
    if !destination.header_names.is_empty() {
        filters.push(format!("headers: {}", destination.header_names.join(", ")));
    }
    let counts = format!(
        "{} forwarded · {} waiting · {} dropped · {} refused",
        count(destination.forwarded_spans as i64),
        count(destination.pending_spans as i64),
        count(destination.dropped_spans as i64),
        count(destination.rejected_spans as i64)
    );
    let id = destination.id.to_string();
    let enabled = destination.enabled;
    view! {
        <tr data-testid="forward-destination-row" class:row-error=failing>
            <td>{destination.name}<div class="muted">{filters.join(" · ")}</div></td>
            <td><span class="mono">{destination.endpoint}</span><div class="muted">{destination.protocol.as_str()}</div></td>
            <td data-testid="forward-counts">{counts}</td>
            <td data-testid="forward-status">{status}</td>
            <td class="nowrap">{can_manage.then(|| view! {
                <form method="post" action=actions.test class="inline-form">
                    <input type="hidden" name="org_id" value=org.to_owned() />
                    <input type="hidden" name="destination_id" value=id.clone() />
                    <button type="submit" class="button button-small">"Send test span"</button>
                </form>
                <form method="post" action=actions.toggle class="inline-form">
                    <input type="hidden" name="org_id" value=org.to_owned() />
                    <input type="hidden" name="destination_id" value=id.clone() />
                    <input type="hidden" name="enabled" value=(!enabled).to_string() />
                    <button type="submit" class="button button-small">{if enabled { "Pause" } else { "Resume" }}</button>
                </form>
                <form method="post" action=actions.delete class="inline-form">
                    <input type="hidden" name="org_id" value=org.to_owned() />
                    <input type="hidden" name="destination_id" value=id.clone() />
                    <button type="submit" class="button button-small">"Delete"</button>
                </form>
            })}</td>
        </tr>
    }
}

fn add_form(org: &str, actions: FormActions, private_networks: bool) -> impl IntoView {
    let network_note = if private_networks {
        "This installation may forward to private networks."
    } else {
        "Addresses on private networks (an internal collector) are refused unless the installation sets SPECULA_FORWARDING_ALLOW_PRIVATE_NETWORKS."
    };
    view! {
        <section class="card">
            <h2>"Add a destination"</h2>
            <form method="post" action=actions.add class="form-grid" data-testid="forward-destination-form">
                <input type="hidden" name="org_id" value=org.to_owned() />
                <label>"Name" <input class="input" name="name" required maxlength="100" placeholder="Tempo" /></label>
                <label>"Protocol"
                    <select class="input" name="protocol">
                        <option value="http/protobuf">"OTLP/HTTP (protobuf)"</option>
                        <option value="grpc">"OTLP/gRPC"</option>
                    </select>
                </label>
                <label>"Endpoint" <input class="input" name="endpoint" required maxlength="2000" placeholder="https://otlp.example.com/v1/traces" /></label>
                <label>"Headers, one per line (kept encrypted)"
                    <textarea class="input" name="headers" rows="2" maxlength="20000" autocomplete="off" placeholder="Authorization: Bearer …"></textarea>
                </label>
                <label>"Only these services (comma-separated; empty: all)" <input class="input" name="services" maxlength="10000" placeholder="checkout, search" /></label>
                <label>"Retry budget (seconds)" <input class="input" name="retry_budget_secs" inputmode="numeric" placeholder="600" /></label>
                <p class="muted">{network_note} " An endpoint without a path gets " <code>"/v1/traces"</code> " (OTLP/HTTP); a gRPC endpoint is " <code>"http://host:4317"</code> " or " <code>"https://…"</code> " (TLS)."</p>
                <div class="form-actions"><button type="submit" class="button button-primary">"Add destination"</button></div>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forwarding::types::ForwardProtocol;

    fn destination() -> Destination {
        Destination {
            id: Uuid::nil(),
            name: "Tempo <prod>".into(),
            protocol: ForwardProtocol::Grpc,
            endpoint: "https://tempo.example.com:4317".into(),
            header_names: vec!["authorization".into()],
            services: vec!["checkout".into()],
            retry_budget_secs: 600,
            enabled: true,
            forwarded_spans: 12_345,
            dropped_spans: 7,
            rejected_spans: 0,
            pending_spans: 3,
            last_success_at: Some("2026-12-05T10:00:00Z".into()),
            last_attempt_at: Some("2026-12-05T10:01:00Z".into()),
            last_error: Some("could not reach the receiver: connection refused".into()),
            failing_since: Some("2026-12-05T10:00:30Z".into()),
            created_at: "2026-12-05T09:00:00Z".into(),
        }
    }

    fn actions() -> FormActions {
        FormActions {
            add: "/api/add",
            toggle: "/api/toggle",
            delete: "/api/delete",
            test: "/api/test",
        }
    }

    #[test]
    fn a_failing_destination_shows_its_counts_and_error_and_names_are_escaped() {
        let html = page(
            PageData {
                org_id: Uuid::nil(),
                destinations: vec![destination()],
                can_manage: true,
                tested: None,
                private_networks: false,
            },
            actions(),
            None,
            &DisplayZone::default(),
        );
        assert!(html.contains("Tempo &lt;prod&gt;"), "{html}");
        assert!(
            html.contains("12,345 forwarded · 3 waiting · 7 dropped · 0 refused"),
            "{html}"
        );
        assert!(html.contains("failing since"), "{html}");
        assert!(html.contains("connection refused"), "{html}");
        assert!(
            html.contains("services: checkout · headers: authorization"),
            "{html}"
        );
        assert!(html.contains("Send test span"));
        assert!(html.contains("SPECULA_FORWARDING_ALLOW_PRIVATE_NETWORKS"));
    }

    #[test]
    fn members_who_cannot_manage_see_no_forms() {
        let html = page(
            PageData {
                org_id: Uuid::nil(),
                destinations: vec![destination()],
                can_manage: false,
                tested: Some((
                    Uuid::nil(),
                    ForwardTest {
                        delivered: true,
                        trace_id: "ab".repeat(16),
                        answer: Some("HTTP 200".into()),
                        error: None,
                    },
                )),
                private_networks: true,
            },
            actions(),
            None,
            &DisplayZone::default(),
        );
        assert!(!html.contains("<form"), "{html}");
        assert!(
            html.contains("Test span delivered to Tempo &lt;prod&gt; (HTTP 200)"),
            "{html}"
        );
    }
}
