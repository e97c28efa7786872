//! What a notification says and how each kind of channel is sent it: the
//! webhook's signed JSON, Slack's Block Kit message, an email's text and
//! HTML. Rendering is pure; sending is in `deliveries`.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;
use uuid::Uuid;

/// One notification: the firings and resolves a pass found for a channel
/// (grouped, so an incident that trips many rules sends one message).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub organization_id: Uuid,
    pub organization: String,
    /// True for "Send test".
    pub test: bool,
    pub events: Vec<Notice>,
}

/// One firing or resolve, as a notification carries it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// The history entry (absent in a test).
    pub event_id: Option<i64>,
    pub rule_id: Option<Uuid>,
    pub rule_name: String,
    pub condition_kind: String,
    /// `firing` or `resolved`.
    pub kind: String,
    /// RFC 3339.
    pub at: String,
    pub value: Option<f64>,
    pub threshold: f64,
    pub unit: String,
    pub summary: String,
    /// The page behind it, absolute.
    pub url: String,
}

impl Notification {
    /// What "Send test" sends.
    pub fn test(organization_id: Uuid, organization: &str, at: String, url: String) -> Self {
        Self {
            organization_id,
            organization: organization.to_owned(),
            test: true,
            events: vec![Notice {
                event_id: None,
                rule_id: None,
                rule_name: "Test notification".to_owned(),
                condition_kind: "test".to_owned(),
                kind: "firing".to_owned(),
                at,
                value: None,
                threshold: 0.0,
                unit: String::new(),
                summary: "This is a test from Specula: the channel works.".to_owned(),
                url,
            }],
        }
    }

    /// A one-line title: how many fire and resolve, in which organization.
    pub fn title(&self) -> String {
        let firing = self
            .events
            .iter()
            .filter(|notice| notice.kind == "firing")
            .count();
        let resolved = self.events.len() - firing;
        let mut parts = Vec::new();
        if firing > 0 {
            parts.push(match self.events.as_slice() {
                [only] => format!("Firing: {}", only.rule_name),
                _ => format!("{firing} firing"),
            });
        }
        if resolved > 0 {
            parts.push(match self.events.as_slice() {
                [only] => format!("Resolved: {}", only.rule_name),
                _ => format!("{resolved} resolved"),
            });
        }
        let prefix = if self.test { "[test] " } else { "" };
        format!("{prefix}{} ({})", parts.join(", "), self.organization)
    }
}

/// The webhook's body: the notification under a type and version, so
/// receivers can tell it apart from anything else they are sent.
pub fn webhook_body(notification: &Notification) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "specula.alerts",
        "version": 1,
        "title": notification.title(),
        "organization": {"id": notification.organization_id, "name": notification.organization},
        "test": notification.test,
        "events": notification.events,
    }))
    .expect("a notification serializes")
}

/// `X-Specula-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
/// Receivers recompute it with the channel's secret and refuse old `t`s,
/// so a captured request cannot be replayed later.
pub fn webhook_signature(secret: &str, unix_seconds: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={unix_seconds},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A Slack incoming webhook's message: a header, a section per event with
/// its figures and a link, and the organization as context; `text` is the
/// fallback notifications show.
pub fn slack_body(notification: &Notification) -> Vec<u8> {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(&notification.title(), 150), "emoji": true},
    })];
    for notice in notification.events.iter().take(45) {
        let mark = if notice.kind == "firing" {
            ":red_circle:"
        } else {
            ":large_green_circle:"
        };
        let text = format!(
            "{mark} *{}* — {}\n{}\n<{}|Open in Specula>",
            slack_escape(&notice.rule_name),
            notice.kind,
            slack_escape(&notice.summary),
            notice.url.replace('|', "%7C").replace('>', "%3E"),
        );
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&text, 3000)}}));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": format!("Specula · {}", slack_escape(&notification.organization))}],
    }));
    serde_json::to_vec(&json!({"text": notification.title(), "blocks": blocks}))
        .expect("a message serializes")
}

/// An email's subject, plain text and HTML.
pub fn email_parts(notification: &Notification) -> (String, String, String) {
    let subject = format!("[Specula] {}", notification.title());
    let mut text = String::new();
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>{}</h2><ul>",
        html_escape(&notification.title())
    );
    for notice in &notification.events {
        text.push_str(&format!(
            "{} — {}\n{}\n{}\n\n",
            notice.rule_name, notice.kind, notice.summary, notice.url
        ));
        html.push_str(&format!(
            "<li><strong>{}</strong> — {}<br>{}<br><a href=\"{}\">Open in Specula</a></li>",
            html_escape(&notice.rule_name),
            html_escape(&notice.kind),
            html_escape(&notice.summary),
            html_escape(&notice.url),
        ));
    }
    text.push_str(&format!("— Specula, {}\n", notification.organization));
    html.push_str(&format!(
        "</ul><p style=\"color:#666\">Specula · {}</p></body></html>",
        html_escape(&notification.organization)
    ));
    (subject, text, html)
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max_chars - 1).collect();
    cut.push('…');
    cut
}

/// Slack's mrkdwn treats `&`, `<` and `>` as markup.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(kinds: &[&str]) -> Notification {
        Notification {
            organization_id: Uuid::nil(),
            organization: "Acme <R&D>".into(),
            test: false,
            events: kinds
                .iter()
                .enumerate()
                .map(|(index, kind)| Notice {
                    event_id: Some(index as i64 + 1),
                    rule_id: Some(Uuid::nil()),
                    rule_name: format!("rule {index}"),
                    condition_kind: "error_rate".into(),
                    kind: (*kind).into(),
                    at: "2026-12-05T10:00:00Z".into(),
                    value: Some(12.5),
                    threshold: 5.0,
                    unit: "%".into(),
                    summary: "Error rate 12.5% > 5% <script>".into(),
                    url: "https://specula.example/spans?status=error".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            webhook_signature("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn titles_count_what_fires_and_resolves() {
        assert_eq!(notification(&["firing"]).title(), "Firing: rule 0 (Acme <R&D>)");
        assert_eq!(
            notification(&["resolved"]).title(),
            "Resolved: rule 0 (Acme <R&D>)"
        );
        assert_eq!(
            notification(&["firing", "firing", "resolved"]).title(),
            "2 firing, 1 resolved (Acme <R&D>)"
        );
    }

    #[test]
    fn bodies_carry_the_events_and_escape_markup() {
        let body: serde_json::Value =
            serde_json::from_slice(&webhook_body(&notification(&["firing"]))).unwrap();
        assert_eq!(body["type"], "specula.alerts");
        assert_eq!(body["events"][0]["value"], 12.5);
        assert_eq!(body["organization"]["name"], "Acme <R&D>");

        let slack: serde_json::Value =
            serde_json::from_slice(&slack_body(&notification(&["firing"]))).unwrap();
        assert_eq!(slack["blocks"][0]["type"], "header");
        let section = slack["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(section.contains("&lt;script&gt;"), "{section}");
        assert!(section.contains("<https://specula.example/spans?status=error|Open in Specula>"));

        let (subject, text, html) = email_parts(&notification(&["resolved"]));
        assert_eq!(subject, "[Specula] Resolved: rule 0 (Acme <R&D>)");
        assert!(text.contains("https://specula.example/spans?status=error"));
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
    }
}
