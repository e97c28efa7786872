//! The ingest policy step: what of a span's content is kept. Applied to
//! every span's attributes and events before anything is derived from them,
//! so the stored span and its derived prompt, completion, tool text and diff
//! always agree.
//!
//! - Secrets (API keys, cloud keys, tokens, JWTs, private keys, bearer
//!   headers, passwords in URLs) become `[REDACTED:<kind>]`, counted per kind.
//! - Values over the size cap keep their head and tail; the span records the
//!   original size and the SHA-256 of the full value.
//! - Content capture `hashed` replaces the attributes that carry prompts,
//!   completions, tool arguments, results and diffs with their SHA-256
//!   digests; `none` drops them.
//!
//! The installation's settings give the defaults; each organization's
//! policy document (`governance`) is compiled into one of these over them:
//! capture per service, built-in detectors on or off, its own redaction
//! rules, limits for values, diffs and whole spans, and head sampling.

use std::{collections::BTreeMap, sync::LazyLock};

use regex::{Regex, RegexSet};
use serde_json::Value;

use crate::{
    platform::services::secrets::sha256_hex,
    telemetry::services::span::{
        genai::keys,
        marks::{ContentCapture, PolicyMarks, Truncation},
        normalized::NormalizedSpan,
        record::{Attributes, SpanRecord, StatusCode},
    },
};

#[derive(Clone, Debug)]
pub struct IngestPolicy {
    /// The organization's policy version this was compiled from (0: none saved).
    pub version: i64,
    pub capture: ContentCapture,
    /// Per service name, overriding `capture`.
    pub capture_by_service: BTreeMap<String, ContentCapture>,
    /// The built-in detectors, all on or all off…
    pub redact_secrets: bool,
    /// …except these, by kind: on (`true`) or off.
    pub detector_overrides: BTreeMap<String, bool>,
    /// The organization's own redaction rules.
    pub custom_rules: Option<CustomRules>,
    /// Largest string value kept whole, in bytes.
    pub max_value_bytes: usize,
    /// Largest diff kept whole, in bytes (else `max_value_bytes`).
    pub max_diff_bytes: Option<usize>,
    /// Largest span (the bytes of its string values), past which its
    /// longest values are cut until it fits.
    pub max_span_bytes: Option<usize>,
    pub sampling: Option<Sampling>,
}

impl Default for IngestPolicy {
    fn default() -> Self {
        Self {
            version: 0,
            capture: ContentCapture::Full,
            capture_by_service: BTreeMap::new(),
            redact_secrets: true,
            detector_overrides: BTreeMap::new(),
            custom_rules: None,
            max_value_bytes: 256 * 1024,
            max_diff_bytes: None,
            max_span_bytes: None,
            sampling: None,
        }
    }
}

/// An organization's redaction rules, compiled: one automaton says which
/// (usually none) can match, as for the built-in detectors.
#[derive(Clone, Debug)]
pub struct CustomRules {
    any: RegexSet,
    /// Label (what matches are counted as) and the rule, in order.
    rules: Vec<(String, Regex, String)>,
}

impl CustomRules {
    /// Compiles `(label, regex)` pairs; literal patterns must come escaped.
    pub fn new(rules: Vec<(String, String)>) -> Result<Self, regex::Error> {
        let compiled = rules
            .iter()
            .map(|(label, pattern)| {
                let regex = regex::RegexBuilder::new(pattern)
                    .size_limit(RULE_SIZE_LIMIT)
                    .build()?;
                Ok((label.clone(), regex, format!("[REDACTED:{label}]")))
            })
            .collect::<Result<Vec<_>, regex::Error>>()?;
        let any = regex::RegexSetBuilder::new(rules.iter().map(|(_, pattern)| pattern))
            .size_limit(RULE_SIZE_LIMIT * rules.len().max(1))
            .build()?;
        Ok(Self { any, rules: compiled })
    }

    fn redact(&self, text: &str, counts: &mut BTreeMap<String, u64>) -> Option<String> {
        if !self.any.is_match(text) {
            return None;
        }
        let candidates = self.any.matches(text);
        let mut current: Option<String> = None;
        for index in candidates.iter() {
            let (label, regex, replacement) = &self.rules[index];
            let source = current.as_deref().unwrap_or(text);
            // A pattern that can match empty text (`a*`) redacts what it
            // matches, not the gaps between characters.
            let found = regex.find_iter(source).filter(|found| !found.is_empty()).count() as u64;
            if found == 0 {
                continue;
            }
            *counts.entry(label.clone()).or_default() += found;
            let replaced = regex.replace_all(source, |captures: &regex::Captures<'_>| {
                match captures[0].is_empty() {
                    true => String::new(),
                    false => replacement.clone(),
                }
            });
            current = Some(replaced.into_owned());
        }
        current
    }
}

/// The compiled size one rule may take: a pathological pattern is refused
/// when saved instead of slowing every span.
pub const RULE_SIZE_LIMIT: usize = 1 << 20;

/// Head sampling, compiled: parts per million of traces kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sampling {
    pub per_million: u32,
    pub by_service: BTreeMap<String, u32>,
    pub keep_errors: bool,
    pub keep_flagged: bool,
    pub keep_cost_over_nanos: Option<i64>,
}

impl Sampling {
    /// Whether the span is kept: its trace is in the sampled share (decided
    /// by the trace id's low 64 bits, as OpenTelemetry's ratio sampler does,
    /// so every replica keeps or drops a trace whole), or it is one of the
    /// spans always kept.
    pub fn keeps(&self, span: &NormalizedSpan) -> bool {
        let record = &span.record;
        let share = self
            .by_service
            .get(&record.service_name)
            .copied()
            .unwrap_or(self.per_million);
        if share >= 1_000_000 || trace_position(&record.trace_id) < u64::from(share) {
            return true;
        }
        (self.keep_errors && record.status_code == StatusCode::Error)
            || (self.keep_flagged && is_flagged(&record.attributes))
            || self
                .keep_cost_over_nanos
                .is_some_and(|threshold| span.cost.nanos().is_some_and(|nanos| nanos >= threshold))
    }
}

/// Where a trace falls in 0..1,000,000: its id's low 64 bits (hex), scaled.
fn trace_position(trace_id: &str) -> u64 {
    let low = trace_id.get(trace_id.len().saturating_sub(16)..).unwrap_or("");
    let value = u64::from_str_radix(low, 16).unwrap_or(0);
    ((u128::from(value) * 1_000_000) >> 64) as u64
}

/// A span a gateway flagged: it carries a governance decision, or says so.
fn is_flagged(attributes: &Attributes) -> bool {
    attributes.contains_key("specula.decision_id")
        || matches!(attributes.get("specula.flagged"), Some(Value::Bool(true)))
        || attributes.get("specula.flagged").and_then(Value::as_str) == Some("true")
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

/// All detectors in one automaton: one pass tells which (usually none) can
/// match, so clean text costs a single scan instead of one per detector.
static ANY_SECRET: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(DETECTORS.iter().map(|(_, regex, _)| regex.as_str())).expect("valid detectors")
});

/// Replaces every detected secret in `text`, counting per kind.
pub fn redact(text: &str, counts: &mut BTreeMap<String, u64>) -> Option<String> {
    redact_with(text, |_| true, counts)
}

/// [`redact`] with the detectors `enabled` says are on (by kind).
fn redact_with(
    text: &str,
    enabled: impl Fn(&str) -> bool,
    counts: &mut BTreeMap<String, u64>,
) -> Option<String> {
    // Finding out which detectors match costs more than whether any does.
    if !ANY_SECRET.is_match(text) {
        return None;
    }
    let candidates = ANY_SECRET.matches(text);
    let mut current: Option<String> = None;
    for index in candidates.iter() {
        let (kind, regex, replacement) = &DETECTORS[index];
        if !enabled(kind) {
            continue;
        }
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

/// Where a value sits in the span, named only when a mark needs it:
/// `attributes.<key>` or `events.<event name>.<key>`.
#[derive(Clone, Copy)]
struct ValuePlace<'a> {
    event: Option<&'a str>,
    key: &'a str,
}

impl ValuePlace<'_> {
    fn name(self) -> String {
        match self.event {
            Some(event) => format!("events.{event}.{}", self.key),
            None => format!("attributes.{}", self.key),
        }
    }
}

/// True for the attributes that carry prompts, completions, tool arguments
/// and results, and diffs, in any of the dialects.
fn carries_content(key: &str) -> bool {
    [
        keys::INPUT_MESSAGES,
        keys::OUTPUT_MESSAGES,
        keys::SYSTEM_INSTRUCTIONS,
        keys::PROMPT_TEXT,
        keys::COMPLETION_TEXT,
        keys::TOOL_ARGUMENTS,
        keys::TOOL_RESULT,
        keys::DIFF,
    ]
    .iter()
    .any(|names| names.contains(&key))
        || [
            "llm.input_messages.",
            "llm.output_messages.",
            "gen_ai.prompt.",
            "gen_ai.completion.",
        ]
        .iter()
        .any(|prefix| key.starts_with(prefix))
}

/// True for the attributes of the legacy GenAI message events that carry content.
fn event_carries_content(event: &str, key: &str) -> bool {
    event.starts_with("gen_ai.") && matches!(key, "content" | "message")
}

impl IngestPolicy {
    fn limit(&self, place: ValuePlace<'_>, text: String, marks: &mut PolicyMarks) -> String {
        let max = match self.max_diff_bytes {
            Some(max_diff) if place.event.is_none() && keys::DIFF.contains(&place.key) => max_diff,
            _ => self.max_value_bytes,
        };
        if text.len() <= max {
            return text;
        }
        marks.truncated.push(Truncation {
            field: place.name(),
            original_bytes: text.len(),
            sha256: sha256_hex(&text),
        });
        truncate(&text, max)
    }

    /// Whether the built-in detector `kind` is on.
    fn detector_on(&self, kind: &str) -> bool {
        self.detector_overrides
            .get(kind)
            .copied()
            .unwrap_or(self.redact_secrets)
    }

    fn any_detector_on(&self) -> bool {
        self.redact_secrets || self.detector_overrides.values().any(|on| *on)
    }

    /// `text` with what the detectors that are on and the custom rules find
    /// redacted (`None`: nothing found), counting per kind or label.
    pub fn redact(&self, text: &str, counts: &mut BTreeMap<String, u64>) -> Option<String> {
        let detected = match self.any_detector_on() {
            true if self.detector_overrides.is_empty() => redact(text, counts),
            true => redact_with(text, |kind| self.detector_on(kind), counts),
            false => None,
        };
        let Some(rules) = &self.custom_rules else {
            return detected;
        };
        let source = detected.as_deref().unwrap_or(text);
        rules.redact(source, counts).or(detected)
    }

    /// The capture mode for a span of `service`.
    fn capture_for(&self, service: &str) -> ContentCapture {
        self.capture_by_service
            .get(service)
            .copied()
            .unwrap_or(self.capture)
    }

    fn clean_value(&self, place: ValuePlace<'_>, value: &mut Value, marks: &mut PolicyMarks) {
        match value {
            Value::String(text) => {
                let taken = std::mem::take(text);
                let taken = self.redact(&taken, &mut marks.redactions).unwrap_or(taken);
                *text = self.limit(place, taken, marks);
            }
            Value::Array(items) => items
                .iter_mut()
                .for_each(|item| self.clean_value(place, item, marks)),
            Value::Object(map) => map
                .iter_mut()
                .for_each(|(_, item)| self.clean_value(place, item, marks)),
            _ => {}
        }
    }

    /// Cleans every value; content values are kept, replaced by their
    /// digest or dropped according to the capture mode.
    fn clean_attributes(
        &self,
        event: Option<&str>,
        attributes: &mut Attributes,
        is_content: impl Fn(&str) -> bool,
        marks: &mut PolicyMarks,
    ) {
        let capture = marks.capture;
        if capture == ContentCapture::None {
            attributes.retain(|key, _| !is_content(key));
        }
        for (key, value) in attributes.iter_mut() {
            if capture == ContentCapture::Hashed && is_content(key) {
                // A digest of the original: equal content stays recognizable.
                let original = match &mut *value {
                    Value::String(text) => std::mem::take(text),
                    other => other.to_string(),
                };
                *value = Value::String(format!("sha256:{}", sha256_hex(&original)));
                continue;
            }
            self.clean_value(ValuePlace { event, key }, value, marks);
        }
    }

    /// Applies the policy to the span's attributes and events, which are
    /// what is stored and what its LLM fields are derived from, and says
    /// what it did.
    pub fn apply(&self, record: &mut SpanRecord) -> PolicyMarks {
        let mut marks = PolicyMarks {
            capture: self.capture_for(&record.service_name),
            ..PolicyMarks::default()
        };
        self.clean_attributes(None, &mut record.attributes, carries_content, &mut marks);
        for event in &mut record.events {
            let name = event.name.as_str();
            self.clean_attributes(
                Some(name),
                &mut event.attributes,
                |key| event_carries_content(name, key),
                &mut marks,
            );
        }
        if let Some(max_span_bytes) = self.max_span_bytes {
            fit_span(record, max_span_bytes, &mut marks);
        }
        marks
    }
}

/// Where a string value of a span is: an attribute, or an event's attribute.
#[derive(Clone, Copy)]
enum Slot {
    Attribute(usize),
    Event(usize, usize),
}

/// Cuts the span's longest string values (head and tail kept) until their
/// bytes fit `max`: each cut takes the longest down by what is over, or to
/// its fair share, whichever leaves more.
fn fit_span(record: &mut SpanRecord, max: usize, marks: &mut PolicyMarks) {
    const FLOOR: usize = 256;
    let length = |value: &Value| match value {
        Value::String(text) => text.len(),
        other => other.to_string().len(),
    };
    loop {
        let mut slots: Vec<(usize, Slot)> = record
            .attributes
            .values()
            .enumerate()
            .map(|(index, value)| (length(value), Slot::Attribute(index)))
            .collect();
        for (event_index, event) in record.events.iter().enumerate() {
            slots.extend(
                event
                    .attributes
                    .values()
                    .enumerate()
                    .map(|(index, value)| (length(value), Slot::Event(event_index, index))),
            );
        }
        let total: usize = slots.iter().map(|(bytes, _)| bytes).sum();
        let Some(&(longest, slot)) = slots.iter().max_by_key(|(bytes, _)| *bytes) else {
            return;
        };
        if total <= max || longest <= FLOOR {
            return;
        }
        let target = longest
            .saturating_sub(total - max)
            .max(max / slots.len().max(1))
            .max(FLOOR)
            .min(longest - 1);
        let (event, key, value) = match slot {
            Slot::Attribute(index) => {
                let (key, value) = record.attributes.iter_mut().nth(index).expect("slot exists");
                (None, key.clone(), value)
            }
            Slot::Event(event_index, index) => {
                let event = &mut record.events[event_index];
                let (key, value) = event.attributes.iter_mut().nth(index).expect("slot exists");
                (Some(event.name.clone()), key.clone(), value)
            }
        };
        let text = match std::mem::take(value) {
            Value::String(text) => text,
            other => other.to_string(),
        };
        marks.truncated.push(Truncation {
            field: ValuePlace {
                event: event.as_deref(),
                key: &key,
            }
            .name(),
            original_bytes: text.len(),
            sha256: sha256_hex(&text),
        });
        *value = Value::String(truncate(&text, target));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::services::span::normalized::NormalizedSpan;

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
        SpanRecord {
            trace_id: "01".repeat(16),
            span_id: "02".repeat(8),
            parent_span_id: None,
            name: "gen_ai.tool_result".into(),
            kind: crate::telemetry::services::span::record::SpanKind::Internal,
            start_time_ns: 1,
            end_time_ns: 2,
            status_code: crate::telemetry::services::span::record::StatusCode::Ok,
            status_message: None,
            service_name: "agent".into(),
            resource_attributes: Attributes::new(),
            scope: Default::default(),
            attributes,
            events: Vec::new(),
            links: Vec::new(),
        }
    }

    fn normalized(policy: &IngestPolicy, attributes: serde_json::Value) -> NormalizedSpan {
        super::super::normalize(record(attributes), policy, &Default::default())
    }

    #[test]
    fn full_capture_redacts_and_truncates_once_where_the_value_lives() {
        let diff = format!(
            "+OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwx\n{}",
            "+x\n".repeat(1000)
        );
        let policy = IngestPolicy {
            max_value_bytes: 1024,
            ..IngestPolicy::default()
        };
        let span = normalized(
            &policy,
            serde_json::json!({"tool.name": "apply_patch", "tool.output.diff": diff}),
        );
        let marks = &span.policy;
        assert_eq!(marks.redactions.get("openai_key"), Some(&1));
        let attribute = span.record.attributes["tool.output.diff"].as_str().unwrap();
        assert!(attribute.contains("[REDACTED:openai_key]") && attribute.len() <= 1024);
        assert_eq!(
            span.llm.diff.as_deref(),
            Some(attribute),
            "derived from what is kept"
        );
        assert_eq!(marks.truncated.len(), 1);
        assert_eq!(marks.truncated[0].field, "attributes.tool.output.diff");
        assert_eq!(marks.truncated[0].sha256.len(), 64);
    }

    #[test]
    fn event_content_is_cleaned_and_named_by_event() {
        let mut span = record(serde_json::json!({}));
        span.events
            .push(crate::telemetry::services::span::record::SpanEvent {
                name: "gen_ai.user.message".into(),
                time_ns: 1,
                attributes: match serde_json::json!({"content": "use sk-abcdefghijklmnopqrstuvwx please"}) {
                    Value::Object(map) => map,
                    _ => unreachable!(),
                },
            });
        let hashed = IngestPolicy {
            capture: ContentCapture::Hashed,
            ..IngestPolicy::default()
        };
        let mut hashed_span = span.clone();
        hashed.apply(&mut hashed_span);
        assert!(
            hashed_span.events[0].attributes["content"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );
        IngestPolicy::default().apply(&mut span);
        assert_eq!(
            span.events[0].attributes["content"],
            "use [REDACTED:openai_key] please"
        );
    }

    #[test]
    fn hashed_and_none_capture_keep_no_content() {
        let attributes = serde_json::json!({"tool.name": "t", "tool.output.diff": "secret diff", "gen_ai.input.messages": [{"role": "user"}]});
        let hashed = normalized(
            &IngestPolicy {
                capture: ContentCapture::Hashed,
                ..IngestPolicy::default()
            },
            attributes.clone(),
        );
        let digest = format!("sha256:{}", sha256_hex("secret diff"));
        assert_eq!(hashed.llm.diff.as_deref(), Some(digest.as_str()));
        assert_eq!(hashed.record.attributes["tool.output.diff"], digest.as_str());
        assert_eq!(
            hashed.record.attributes["gen_ai.input.messages"],
            format!("sha256:{}", sha256_hex(r#"[{"role":"user"}]"#)).as_str(),
            "structured content is digested as its JSON"
        );
        assert_eq!(hashed.record.attributes["tool.name"], "t");

        let none = normalized(
            &IngestPolicy {
                capture: ContentCapture::None,
                ..IngestPolicy::default()
            },
            attributes,
        );
        assert_eq!(none.llm.diff, None);
        assert!(!none.record.attributes.contains_key("tool.output.diff"));
        assert!(!none.record.attributes.contains_key("gen_ai.input.messages"));
        assert_eq!(none.policy.capture, ContentCapture::None);
    }

    #[test]
    fn organization_rules_and_detector_switches_redact_what_they_name() {
        let policy = IngestPolicy {
            detector_overrides: BTreeMap::from([("openai_key".to_owned(), false)]),
            custom_rules: Some(
                CustomRules::new(vec![
                    ("customer_id".into(), r"CUST-\d{6}".into()),
                    (
                        "codename".into(),
                        format!("(?i:{})", regex::escape("Project $Falcon")),
                    ),
                ])
                .unwrap(),
            ),
            ..IngestPolicy::default()
        };
        let mut counts = BTreeMap::new();
        let text = "CUST-000001 and CUST-000002 on project $falcon with sk-abcdefghijklmnopqrstuvwx and AKIAIOSFODNN7EXAMPLE";
        let out = policy.redact(text, &mut counts).unwrap();
        assert_eq!(
            out,
            "[REDACTED:customer_id] and [REDACTED:customer_id] on [REDACTED:codename] with \
             sk-abcdefghijklmnopqrstuvwx and [REDACTED:aws_access_key]"
        );
        assert_eq!(counts.get("customer_id"), Some(&2));
        assert_eq!(counts.get("openai_key"), None);
        assert_eq!(policy.redact("nothing to see", &mut counts), None);

        let greedy = IngestPolicy {
            custom_rules: Some(CustomRules::new(vec![("digits".into(), "[0-9]*".into())]).unwrap()),
            ..IngestPolicy::default()
        };
        let mut counts = BTreeMap::new();
        assert_eq!(
            greedy.redact("pin 1234 ok", &mut counts).unwrap(),
            "pin [REDACTED:digits] ok"
        );
        assert_eq!(counts.get("digits"), Some(&1));

        let all_off = IngestPolicy {
            redact_secrets: false,
            detector_overrides: BTreeMap::from([("jwt".to_owned(), true)]),
            ..IngestPolicy::default()
        };
        assert_eq!(all_off.redact("AKIAIOSFODNN7EXAMPLE", &mut counts), None);
    }

    #[test]
    fn sampling_keeps_whole_traces_and_the_spans_always_kept() {
        let sampling = Sampling {
            per_million: 500_000,
            by_service: BTreeMap::from([("noisy".to_owned(), 0)]),
            keep_errors: true,
            keep_flagged: true,
            keep_cost_over_nanos: None,
        };
        let with = |trace: String, service: &str, error: bool| {
            let mut record = record(serde_json::json!({}));
            record.trace_id = trace;
            record.service_name = service.into();
            if error {
                record.status_code = StatusCode::Error;
            }
            super::super::normalize(record, &IngestPolicy::default(), &Default::default())
        };
        let kept = (0..2_000u64)
            .filter(|n| {
                sampling.keeps(&with(
                    format!("{:032x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                    "agent",
                    false,
                ))
            })
            .count();
        assert!((900..1_100).contains(&kept), "about half the traces: {kept}");
        let trace = format!("{:032x}", 12_345u64.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let first = sampling.keeps(&with(trace.clone(), "agent", false));
        assert_eq!(
            first,
            sampling.keeps(&with(trace.clone(), "agent", false)),
            "a trace is kept whole"
        );
        assert!(!sampling.keeps(&with(trace.clone(), "noisy", false)));
        assert!(sampling.keeps(&with(trace, "noisy", true)), "errors are kept");
    }

    #[test]
    fn a_span_over_its_limit_loses_its_longest_values_first() {
        let policy = IngestPolicy {
            max_span_bytes: Some(4_096),
            ..IngestPolicy::default()
        };
        let long = "x".repeat(10_000);
        let mut span =
            record(serde_json::json!({"prompt": long, "completion": "short answer", "tool.name": "t"}));
        let marks = policy.apply(&mut span);
        let total: usize = span
            .attributes
            .values()
            .map(|value| value.as_str().map_or(0, str::len))
            .sum();
        assert!(total <= 4_096, "{total}");
        assert_eq!(span.attributes["completion"], "short answer");
        assert_eq!(marks.truncated.len(), 1);
        assert_eq!(marks.truncated[0].original_bytes, 10_000);
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
