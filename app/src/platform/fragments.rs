//! The Audit page's body, rendered to HTML on the server: the log is read
//! far more than the page is used, and its table carries no browser code,
//! so it stays out of the browser bundle.

use leptos::{prelude::*, tachys::view::RenderHtml};
use uuid::Uuid;

use super::types::{AuditChainReport, AuditEntry, AuditLogPage};
use crate::time_zone::DisplayZone;

/// The filters the page was asked for, kept in every link it offers.
#[derive(Clone, Debug, Default)]
pub struct AuditFilters {
    pub action: Option<String>,
    pub actor: Option<String>,
}

impl AuditFilters {
    fn query(&self, extra: &[(&str, String)]) -> String {
        let encode = |value: &str| {
            percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        [("action", &self.action), ("actor", &self.actor)]
            .into_iter()
            .filter_map(|(name, value)| {
                value
                    .as_deref()
                    .filter(|value| !value.is_empty())
                    .map(|value| (name, value.to_owned()))
            })
            .chain(extra.iter().map(|(name, value)| (*name, value.clone())))
            .map(|(name, value)| format!("{name}={}", encode(&value)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The page's body: the chain's state, the entries, and the links to older
/// entries and to the CSV download.
pub fn audit_page(
    org_id: Uuid,
    page: AuditLogPage,
    chain: Option<AuditChainReport>,
    filters: &AuditFilters,
    paged: bool,
    zone: &DisplayZone,
) -> String {
    let csv_href = format!(
        "/api/v1/orgs/{org_id}/audit?{}",
        filters.query(&[("format", "csv".to_owned())])
    );
    let verify_href = format!("/settings/audit?{}", filters.query(&[("verify", "1".to_owned())]));
    let older_href = page
        .next_cursor
        .as_ref()
        .map(|cursor| format!("/settings/audit?{}", filters.query(&[("cursor", cursor.clone())])));
    let newest_href = paged.then(|| format!("/settings/audit?{}", filters.query(&[])));
    view! {
        <div class="card audit-chain" data-testid="audit-chain">
            {chain_state(chain, verify_href)}
        </div>
        <div class="toolbar">
            <a class="button" href=csv_href download="audit-log.csv" rel="external" data-testid="audit-csv">"Download CSV"</a>
        </div>
        {entries_table(page.entries, zone)}
        <nav class="pager" aria-label="Pages">
            {newest_href.map(|href| view! { <a class="button" href=href>"← Newest"</a> })}
            {older_href.map(|href| view! { <a class="button" href=href data-testid="audit-older">"Older entries →"</a> })}
        </nav>
    }
    .to_html()
}

fn chain_state(chain: Option<AuditChainReport>, verify_href: String) -> impl IntoView {
    match chain {
        None => view! {
            <p>
                "Each entry holds the hash of the one before it, so an entry changed or removed "
                "in the database breaks the chain. "
                <a href=verify_href data-testid="audit-verify">"Check the chain"</a>
            </p>
        }
        .into_any(),
        Some(report) if report.intact => view! {
            <p class="ok" role="status">
                <strong>"Chain intact"</strong>
                {format!(
                    ": {} entries from #{}; newest hash ",
                    report.entries,
                    report.first_seq.unwrap_or(1)
                )}
                <code class="mono" data-testid="audit-head">{report.head_hash.unwrap_or_default()}</code>
            </p>
        }
        .into_any(),
        Some(report) => view! {
            <p class="inline-error" role="alert">
                <strong>{format!("Chain broken at entry {}", report.break_at_seq.unwrap_or(0))}</strong>
                {format!(": {}", report.problem.unwrap_or_default())}
            </p>
        }
        .into_any(),
    }
}

fn entries_table(entries: Vec<AuditEntry>, zone: &DisplayZone) -> impl IntoView + use<> {
    if entries.is_empty() {
        return view! { <p class="muted" data-testid="audit-empty">"No entries match."</p> }.into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="table audit-table" data-testid="audit-entries">
                <thead>
                    <tr>
                        <th class="num">"#"</th>
                        <th>{zone.titled("Time")}</th>
                        <th>"Who"</th>
                        <th>"What"</th>
                        <th>"From"</th>
                    </tr>
                </thead>
                <tbody>
                    {entries.into_iter().map(|entry| {
                        let detail = serde_json::to_string_pretty(&entry.detail).unwrap_or_default();
                        let from = entry.client_address.clone().unwrap_or_else(|| "—".to_owned());
                        view! {
                            <tr>
                                <td class="num muted">{entry.seq}</td>
                                <td class="mono nowrap">{zone.stored_time(&entry.at)}</td>
                                <td>{entry.actor}</td>
                                <td>
                                    <code class="mono">{entry.action}</code>
                                    " " {entry.summary}
                                    <details>
                                        <summary class="muted">"Details"</summary>
                                        <pre class="mono">{detail}</pre>
                                    </details>
                                </td>
                                <td class="mono" title=entry.user_agent.unwrap_or_default()>{from}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(summary: &str) -> AuditEntry {
        AuditEntry {
            seq: 7,
            at: "2026-12-05T10:00:00Z".into(),
            actor: "admin@example.com".into(),
            actor_user_id: None,
            actor_token_id: None,
            action: "token.minted".into(),
            summary: summary.into(),
            detail: serde_json::json!({ "after": { "name": "<b>ci</b>" } }),
            client_address: Some("203.0.113.9".into()),
            user_agent: Some("curl/8".into()),
            hash: "ab".repeat(32),
        }
    }

    #[test]
    fn entries_are_escaped_and_links_keep_the_filters() {
        let page = AuditLogPage {
            entries: vec![entry("minted <script>x</script>")],
            next_cursor: Some("7".into()),
        };
        let filters = AuditFilters {
            action: Some("token.".into()),
            actor: Some("a b".into()),
        };
        let html = audit_page(Uuid::nil(), page, None, &filters, false, &DisplayZone::default());
        assert!(!html.contains("<script>x"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        assert!(
            html.contains("/settings/audit?action=token%2E&amp;actor=a%20b&amp;cursor=7"),
            "{html}"
        );
        assert!(html.contains("format=csv"));
        assert!(html.contains("203.0.113.9"));
    }

    #[test]
    fn a_broken_chain_says_where() {
        let report = AuditChainReport {
            organization_id: Uuid::nil(),
            entries: 3,
            first_seq: Some(1),
            head_hash: None,
            intact: false,
            break_at_seq: Some(4),
            problem: Some("entry 4 was changed after it was written".into()),
        };
        let page = AuditLogPage {
            entries: vec![],
            next_cursor: None,
        };
        let html = audit_page(
            Uuid::nil(),
            page,
            Some(report),
            &AuditFilters::default(),
            true,
            &DisplayZone::default(),
        );
        assert!(html.contains("Chain broken at entry 4"));
        assert!(html.contains("← Newest"));
    }
}
