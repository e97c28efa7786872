//! The ingest policy step: what of a span's content is kept. Applied to
//! every span before it is stored, to the derived text fields and to every
//! string among its attributes and events (where the same text also lives).
//!
//! - Secrets (API keys, cloud keys, tokens, JWTs, private keys, bearer
//!   headers, passwords in URLs) become `[REDACTED:<kind>]`, counted per kind.
//! - Values over the size cap keep their head and tail; the span records the
//!   original size and the SHA-256 of the full value.
//! - Content capture `hashed` keeps only SHA-256 digests of prompts,
//!   completions, tool arguments, results and diffs; `none` keeps nothing.
//!
//! Server configuration sets the policy today; per-organization policies
//! will supply the same struct.

use std::{collections::BTreeMap, sync::LazyLock};

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    genai::keys,
    record::{Attributes, SpanRecord},
};
use crate::services::secrets::sha256_hex;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentCapture {
    #[default]
    Full,
    Hashed,
    None,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestPolicy {
    pub capture: ContentCapture,
    pub redact_secrets: bool,
    /// Largest string value kept whole, in bytes.
    pub max_value_bytes: usize,
}

impl Default for IngestPolicy {
    fn default() -> Self {
        Self {
            capture: ContentCapture::Full,
            redact_secrets: true,
            max_value_bytes: 256 * 1024,
        }
    }
}

/// A value cut to the size cap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truncation {
    /// `prompt`, `completion`, `tool_arguments`, `tool_result`, `diff`, or `attributes.<key>`.
    pub field: String,
    pub original_bytes: usize,
    pub sha256: String,
}

/// What the policy did to a span; stored with it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyMarks {
    pub capture: ContentCapture,
    /// Redactions per kind of secret.
    pub redactions: BTreeMap<String, u64>,
    pub truncated: Vec<Truncation>,
}

/// Secret detectors, most specific first (an Anthropic key also looks like
/// an OpenAI one): kind, pattern, and what replaces a match (`{}` is the mark).
static DETECTORS: LazyLock<Vec<(&'static str, Regex, String)>> = LazyLock::new(|| {
    [
        (
            "private_key",
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
            "{}",
        ),
        ("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}", "{}"),
        (
            "openai_key",
            r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
            "{}",
        ),
        ("specula_token", r"\bspk_[A-Za-z0-9]{32}\b", "{}"),
        ("aws_access_key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", "{}"),
        (
            "github_token",
            r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
            "{}",
        ),
        ("gitlab_token", r"\bglpat-[A-Za-z0-9_-]{20,}", "{}"),
        ("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", "{}"),
        (
            "jwt",
            r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
            "{}",
        ),
        // Keep the header name, redact the credential.
        (
            "bearer_token",
            r"(?i)(\bauthorization\s*[:=]\s*bearer\s+)[A-Za-z0-9._~+/=-]{8,}",
            "${1}{}",
        ),
        // Keep the scheme, user and host, redact the password.
        (
            "url_password",
            r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@",
            "${1}{}@",
        ),
    ]
    .into_iter()
    .map(|(kind, pattern, template)| {
        let replacement = template.replace("{}", &format!("[REDACTED:{kind}]"));
        (kind, Regex::new(pattern).expect("valid detector"), replacement)
    })
    .collect()
});

/// Replaces every detected secret in `text`, counting per kind.
pub fn redact(text: &str, counts: &mut BTreeMap<String, u64>) -> Option<String> {
    let mut current: Option<String> = None;
    for (kind, regex, replacement) in DETECTORS.iter() {
        let source = current.as_deref().unwrap_or(text);
        let found = regex.find_iter(source).count() as u64;
        if found == 0 {
            continue;
        }
        *counts.entry((*kind).to_owned()).or_default() += found;
        current = Some(regex.replace_all(source, replacement.as_str()).into_owned());
    }
    current
}

/// Cuts `text` to `max` bytes, keeping the head and the tail on character boundaries.
fn truncate(text: &str, max: usize) -> String {
    let marker = format!("\n…[truncated {} bytes]…\n", text.len());
    let budget = max.saturating_sub(marker.len());
    let mut head = budget / 2;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - (budget - head);
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}{marker}{}", &text[..head], &text[tail..])
}

impl IngestPolicy {
    fn limit(&self, field: &str, text: String, marks: &mut PolicyMarks) -> String {
        if text.len() <= self.max_value_bytes {
            return text;
        }
        marks.truncated.push(Truncation {
            field: field.to_owned(),
            original_bytes: text.len(),
            sha256: sha256_hex(&text),
        });
        truncate(&text, self.max_value_bytes)
    }

    fn clean(&self, field: &str, text: String, marks: &mut PolicyMarks) -> String {
        let text = if self.redact_secrets {
            redact(&text, &mut marks.redactions).unwrap_or(text)
        } else {
            text
        };
        self.limit(field, text, marks)
    }

    fn clean_value(&self, field: &str, value: &mut Value, marks: &mut PolicyMarks) {
        match value {
            Value::String(text) => *text = self.clean(field, std::mem::take(text), marks),
            Value::Array(items) => items
                .iter_mut()
                .for_each(|item| self.clean_value(field, item, marks)),
            Value::Object(map) => map
                .iter_mut()
                .for_each(|(_, item)| self.clean_value(field, item, marks)),
            _ => {}
        }
    }

    fn clean_attributes(&self, prefix: &str, attributes: &mut Attributes, marks: &mut PolicyMarks) {
        for (key, value) in attributes.iter_mut() {
            self.clean_value(&format!("{prefix}.{key}"), value, marks);
        }
    }

    /// Applies the policy to `record`, records what it did on the span, and returns it.
    pub fn apply(&self, record: &mut SpanRecord) -> PolicyMarks {
        let marks = self.apply_inner(record);
        record.policy = marks.clone();
        marks
    }

    fn apply_inner(&self, record: &mut SpanRecord) -> PolicyMarks {
        let mut marks = PolicyMarks {
            capture: self.capture,
            ..PolicyMarks::default()
        };
        if self.capture != ContentCapture::Full {
            self.strip_content(record);
        }
        let llm = &mut record.llm;
        for (field, slot) in [
            ("prompt", &mut llm.prompt),
            ("completion", &mut llm.completion),
            ("tool_arguments", &mut llm.tool_arguments),
            ("tool_result", &mut llm.tool_result),
            ("diff", &mut llm.diff),
        ] {
            if let Some(text) = slot.take() {
                *slot = Some(match self.capture {
                    ContentCapture::Full => self.clean(field, text, &mut marks),
                    // Digests of the original: equal content stays recognizable.
                    ContentCapture::Hashed => format!("sha256:{}", sha256_hex(&text)),
                    ContentCapture::None => continue,
                });
            }
        }
        self.clean_attributes("attributes", &mut record.attributes, &mut marks);
        for event in &mut record.events {
            self.clean_attributes(
                &format!("events.{}", event.name),
                &mut event.attributes,
                &mut marks,
            );
        }
        marks
    }

    /// Without full capture, the raw attributes and events that carry content go.
    fn strip_content(&self, record: &mut SpanRecord) {
        let content_keys: Vec<&str> = [
            keys::INPUT_MESSAGES,
            keys::OUTPUT_MESSAGES,
            keys::SYSTEM_INSTRUCTIONS,
            keys::PROMPT_TEXT,
            keys::COMPLETION_TEXT,
            keys::TOOL_ARGUMENTS,
            keys::TOOL_RESULT,
            keys::DIFF,
        ]
        .concat();
        record.attributes.retain(|key, _| {
            !content_keys.contains(&key.as_str())
                && !key.starts_with("llm.input_messages.")
                && !key.starts_with("llm.output_messages.")
                && !key.starts_with("gen_ai.prompt.")
                && !key.starts_with("gen_ai.completion.")
        });
        for event in &mut record.events {
            if event.name.starts_with("gen_ai.") {
                event
                    .attributes
                    .retain(|key, _| !matches!(key.as_str(), "content" | "message"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(text: &str) -> (String, BTreeMap<String, u64>) {
        let mut counts = BTreeMap::new();
        let out = redact(text, &mut counts).unwrap_or_else(|| text.to_owned());
        (out, counts)
    }

    #[test]
    fn secrets_are_found() {
        let positives = [
            ("key sk-proj-abcdefghijklmnopqrstuvwxyz012345 here", "openai_key"),
            ("OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwx", "openai_key"),
            ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz-ABC", "anthropic_key"),
            ("aws AKIAIOSFODNN7EXAMPLE", "aws_access_key"),
            ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "github_token"),
            ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_token"),
            ("glpat-abcdefghij0123456789", "gitlab_token"),
            ("xoxb-1234567890-abcdefghij", "slack_token"),
            (
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "jwt",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
                "private_key",
            ),
            ("curl -H 'Authorization: Bearer abcdef123456789'", "bearer_token"),
            ("postgres://app:s3cr3t-pw@db:5432/x", "url_password"),
            ("spk_0123456789abcdefghijABCDEFGHIJkl", "specula_token"),
        ];
        for (text, kind) in positives {
            let (out, counts) = redacted(text);
            assert!(out.contains(&format!("[REDACTED:{kind}]")), "{text} → {out}");
            assert_eq!(counts.get(kind), Some(&1), "{text}: {counts:?}");
        }
        let (out, _) = redacted("postgres://app:s3cr3t-pw@db:5432/x");
        assert_eq!(out, "postgres://app:[REDACTED:url_password]@db:5432/x");
        let (out, _) = redacted("Authorization: Bearer abcdef123456789");
        assert_eq!(out, "Authorization: Bearer [REDACTED:bearer_token]");
    }

    #[test]
    fn code_and_diffs_are_left_alone() {
        let negatives = [
            "--- a/src/main.rs\n+++ b/src/main.rs\n@@ -1,3 +1,3 @@\n-let task = \"sk-\";\n+let task_id = skip_list(42);\n",
            "fn risky_task() { let desk = \"ask-me\"; }",
            "https://docs.rs/regex/latest/regex/ and http://localhost:4318/v1/traces",
            "let token = env::var(\"OPENAI_API_KEY\")?;",
            "AKIA is the prefix of AWS keys",
            "commit 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
            "eyJhbGciOiJIUzI1NiJ9 alone is just base64",
            "const BEARER = \"Bearer\";",
        ];
        for text in negatives {
            let (out, counts) = redacted(text);
            assert_eq!(out, text);
            assert!(counts.is_empty(), "{text}: {counts:?}");
        }
    }

    fn record(attributes: serde_json::Value) -> SpanRecord {
        let attributes = match attributes {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let llm = super::super::genai::derive("gen_ai.tool_result", &attributes, &[]);
        SpanRecord {
            trace_id: "01".repeat(16),
            span_id: "02".repeat(8),
            parent_span_id: None,
            name: "gen_ai.tool_result".into(),
            kind: super::super::record::SpanKind::Internal,
            start_time_ns: 1,
            end_time_ns: 2,
            status_code: super::super::record::StatusCode::Ok,
            status_message: None,
            service_name: "agent".into(),
            resource_attributes: Attributes::new(),
            scope: Default::default(),
            attributes,
            events: Vec::new(),
            links: Vec::new(),
            llm,
            cost: super::super::pricing::SpanCost::NotApplicable,
            policy: PolicyMarks::default(),
        }
    }

    #[test]
    fn full_capture_redacts_and_truncates_everywhere() {
        let diff = format!(
            "+OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwx\n{}",
            "+x\n".repeat(1000)
        );
        let mut span = record(serde_json::json!({"tool.name": "apply_patch", "tool.output.diff": diff}));
        let policy = IngestPolicy {
            max_value_bytes: 1024,
            ..IngestPolicy::default()
        };
        let marks = policy.apply(&mut span);
        assert_eq!(
            marks.redactions.get("openai_key"),
            Some(&2),
            "the derived diff and the raw attribute"
        );
        let diff_out = span.llm.diff.unwrap();
        assert!(diff_out.contains("[REDACTED:openai_key]") && diff_out.len() <= 1024);
        let attribute = span.attributes["tool.output.diff"].as_str().unwrap();
        assert!(!attribute.contains("sk-abcdefghijklmnopqrstuvwx"));
        assert_eq!(marks.truncated.len(), 2);
        assert_eq!(marks.truncated[0].field, "diff");
        assert_eq!(marks.truncated[0].sha256.len(), 64);
    }

    #[test]
    fn hashed_and_none_capture_keep_no_content() {
        let attributes = serde_json::json!({"tool.name": "t", "tool.output.diff": "secret diff", "gen_ai.input.messages": "[]"});
        let mut hashed = record(attributes.clone());
        IngestPolicy {
            capture: ContentCapture::Hashed,
            ..IngestPolicy::default()
        }
        .apply(&mut hashed);
        assert_eq!(
            hashed.llm.diff.as_deref(),
            Some(format!("sha256:{}", sha256_hex("secret diff")).as_str())
        );
        assert!(!hashed.attributes.contains_key("tool.output.diff"));
        assert!(!hashed.attributes.contains_key("gen_ai.input.messages"));
        assert_eq!(hashed.attributes["tool.name"], "t");

        let mut none = record(attributes);
        let marks = IngestPolicy {
            capture: ContentCapture::None,
            ..IngestPolicy::default()
        }
        .apply(&mut none);
        assert_eq!(none.llm.diff, None);
        assert!(!none.attributes.contains_key("tool.output.diff"));
        assert_eq!(marks.capture, ContentCapture::None);
    }

    #[test]
    fn truncation_keeps_head_and_tail_on_char_boundaries() {
        let text = format!("{}{}", "é".repeat(1000), "z".repeat(1000));
        let out = truncate(&text, 500);
        assert!(out.len() <= 500, "{}", out.len());
        assert!(out.starts_with('é') && out.ends_with('z'));
        assert!(out.contains(&format!("[truncated {} bytes]", text.len())));
    }
}
