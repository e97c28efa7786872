//! An organization's policy document, as the API and the Policies page
//! read and write it: what ingest keeps (content capture, redaction, size
//! limits, sampling), how long data is kept, and the guardrails a gateway
//! asks about before a model call. Every field has a default, so `{}` is a
//! valid document (the installation's defaults, everything kept).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod limits;

pub(crate) use limits::whole_number;

pub use limits::{
    Budget, BudgetStatus, LimitsReport, RateInForce, RateLimits, RateSetting, RefusedCounts, TokenRateLimits,
    TokenRatesInForce,
};

/// The whole policy of one organization.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct PolicyDocument {
    #[serde(deserialize_with = "object")]
    pub capture: CapturePolicy,
    #[serde(deserialize_with = "object")]
    pub redaction: RedactionPolicy,
    #[serde(deserialize_with = "object")]
    pub limits: SizeLimits,
    #[serde(deserialize_with = "object")]
    pub sampling: SamplingPolicy,
    #[serde(deserialize_with = "object")]
    pub retention: RetentionPolicy,
    #[serde(deserialize_with = "object")]
    pub guardrails: Guardrails,
    #[serde(deserialize_with = "object")]
    pub rate_limits: RateLimits,
    /// Monthly cost budgets (at most 100).
    #[serde(deserialize_with = "objects")]
    #[cfg_attr(feature = "ssr", schema(max_items = 100))]
    pub budgets: Vec<Budget>,
}

/// How much of prompts, completions, tool arguments, results and diffs is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum CaptureMode {
    /// Everything, after redaction and size limits.
    Full,
    /// Only their SHA-256 digests: equal content stays recognizable.
    Hashed,
    /// Nothing.
    None,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct CapturePolicy {
    /// For every service not named below; absent: the installation's default (`SPECULA_CONTENT_CAPTURE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<CaptureMode>,
    /// Per service (`service.name`), overriding `default` (at most 100).
    pub services: BTreeMap<String, CaptureMode>,
}

/// The built-in secret detectors, by the kind their redactions are marked with.
pub const BUILTIN_DETECTORS: [(&str, &str); 11] = [
    ("private_key", "PEM private keys"),
    ("anthropic_key", "Anthropic API keys"),
    ("openai_key", "OpenAI API keys"),
    ("specula_token", "Specula API tokens"),
    ("aws_access_key", "AWS access key ids"),
    ("github_token", "GitHub tokens"),
    ("gitlab_token", "GitLab tokens"),
    ("slack_token", "Slack tokens"),
    ("jwt", "JSON Web Tokens"),
    ("bearer_token", "Bearer credentials in Authorization headers"),
    ("url_password", "Passwords in URLs"),
];

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct RedactionPolicy {
    /// Built-in detectors turned on (`true`) or off (`false`); one left out follows
    /// the installation (`SPECULA_REDACT_SECRETS`).
    #[serde(deserialize_with = "object")]
    pub detectors: DetectorSwitches,
    /// The organization's own rules, applied after the detectors, in order (at most 100).
    #[serde(deserialize_with = "objects")]
    #[cfg_attr(feature = "ssr", schema(max_items = 100))]
    pub rules: Vec<RedactionRule>,
}

/// Each built-in detector on (`true`), off (`false`), or as the installation says (absent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct DetectorSwitches {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anthropic_key: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openai_key: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub specula_token: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_access_key: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_token: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gitlab_token: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack_token: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_password: Option<bool>,
}

impl DetectorSwitches {
    /// The detectors switched on or off, by kind.
    pub fn overrides(&self) -> BTreeMap<String, bool> {
        [
            ("private_key", self.private_key),
            ("anthropic_key", self.anthropic_key),
            ("openai_key", self.openai_key),
            ("specula_token", self.specula_token),
            ("aws_access_key", self.aws_access_key),
            ("github_token", self.github_token),
            ("gitlab_token", self.gitlab_token),
            ("slack_token", self.slack_token),
            ("jwt", self.jwt),
            ("bearer_token", self.bearer_token),
            ("url_password", self.url_password),
        ]
        .into_iter()
        .filter_map(|(kind, on)| on.map(|on| (kind.to_owned(), on)))
        .collect()
    }
}

/// A rule of the organization's own: what matches becomes `[REDACTED:<label>]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RedactionRule {
    /// Names the rule in redaction counts and dry runs (1 to 64 of `a-z 0-9 _ -`).
    #[cfg_attr(feature = "ssr", schema(pattern = "^[a-z0-9_-]{1,64}$"))]
    pub id: String,
    pub kind: MatchKind,
    /// A regular expression (Rust `regex` syntax: no look-around or backreferences) or literal
    /// text, 1 to 2,000 characters; it must not match empty text.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 2000, format = "regex"))]
    pub pattern: String,
    /// What a match becomes: `[REDACTED:<label>]` (1 to 64 of `a-z 0-9 _ -`).
    #[cfg_attr(feature = "ssr", schema(pattern = "^[a-z0-9_-]{1,64}$"))]
    pub label: String,
    /// Match regardless of letter case.
    #[serde(default)]
    pub case_insensitive: bool,
}

/// How a rule's pattern is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MatchKind {
    Regex,
    Literal,
}

/// Size limits in bytes; absent: the installation's (`SPECULA_MAX_VALUE_SIZE`) or none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct SizeLimits {
    /// Largest string value kept whole (longer ones keep head and tail), 256 to 64 MiB.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_number"
    )]
    #[cfg_attr(feature = "ssr", schema(minimum = 256, maximum = 67_108_864))]
    pub max_value_bytes: Option<u64>,
    /// Largest diff (`tool.output.diff` and its dialects) kept whole, 256 to 64 MiB.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_number"
    )]
    #[cfg_attr(feature = "ssr", schema(minimum = 256, maximum = 67_108_864))]
    pub max_diff_bytes: Option<u64>,
    /// Largest span: past it, the span's longest values are cut until it fits, 1 KiB to 256 MiB.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_number"
    )]
    #[cfg_attr(feature = "ssr", schema(minimum = 1024, maximum = 268_435_456))]
    pub max_span_bytes: Option<u64>,
}

/// Head sampling: the share of traces kept, per service. A trace is kept or
/// dropped whole (decided by its id); the spans below are kept whatever it says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct SamplingPolicy {
    /// Percent of traces kept for services not named below (0 to 100).
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 100))]
    pub percent: f64,
    /// Per service (`service.name`): percent of its traces kept (0 to 100).
    #[cfg_attr(feature = "ssr", schema(schema_with = percent_by_service))]
    pub services: BTreeMap<String, f64>,
    /// Keep every span with an error status.
    pub keep_errors: bool,
    /// Keep every span a gateway flagged: one that carries `specula.decision_id` (a
    /// governance decision) or `specula.flagged=true`.
    pub keep_flagged: bool,
    /// Keep every span that cost at least this many US dollars (a decimal string).
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[0-9]{1,9}(\.[0-9]{1,9})?$"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_cost_over_usd: Option<String>,
}

impl Default for SamplingPolicy {
    fn default() -> Self {
        Self {
            percent: 100.0,
            services: BTreeMap::new(),
            keep_errors: true,
            keep_flagged: true,
            keep_cost_over_usd: None,
        }
    }
}

/// How long data is kept, in days; absent: for ever (the audit log: 400 days).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Spans with their payloads and search entries (usage rollups are kept), 1 to 3,650.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_number"
    )]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 3650))]
    pub spans_days: Option<u32>,
    /// The similarity log, 1 to 3,650.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_number"
    )]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 3650))]
    pub similarity_logs_days: Option<u32>,
    /// Governance decisions, 1 to 3,650.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_number"
    )]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 3650))]
    pub governance_events_days: Option<u32>,
    /// The audit log, 30 to 3,650 (default 400).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_number"
    )]
    #[cfg_attr(feature = "ssr", schema(minimum = 30, maximum = 3650))]
    pub audit_days: Option<u32>,
}

/// What the evaluate API checks before a model call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Guardrails {
    /// Prompts matching one of these are denied (at most 100).
    #[serde(deserialize_with = "objects")]
    #[cfg_attr(feature = "ssr", schema(max_items = 100))]
    pub blocked_patterns: Vec<BlockedPattern>,
    /// Longest prompt allowed, in characters (1 to 10,000,000).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_number"
    )]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 10_000_000))]
    pub max_prompt_chars: Option<u64>,
    /// Longest prompt allowed, in estimated tokens (about 4 characters each; 1 to 10,000,000).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_number"
    )]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 10_000_000))]
    pub max_prompt_tokens: Option<u64>,
    /// When not empty, only these models (a trailing `*` matches a prefix).
    #[cfg_attr(feature = "ssr", schema(schema_with = model_names))]
    pub allowed_models: Vec<String>,
    /// Never these models (a trailing `*` matches a prefix).
    #[cfg_attr(feature = "ssr", schema(schema_with = model_names))]
    pub denied_models: Vec<String>,
    /// Where a call for a model not allowed is routed; absent: such calls are denied.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 200))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_model: Option<String>,
    /// An end user's region → the models or providers allowed for it (at most 100).
    #[serde(deserialize_with = "objects")]
    #[cfg_attr(feature = "ssr", schema(max_items = 100))]
    pub regions: Vec<RegionRule>,
    /// Largest estimated cost of one request, in US dollars (a decimal string).
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[0-9]{1,9}(\.[0-9]{1,9})?$"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<String>,
    /// Prompts at least this similar to an abuse pattern are denied (0.05 to 1); absent: not checked.
    #[cfg_attr(feature = "ssr", schema(minimum = 0.05, maximum = 1.0))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abuse_threshold: Option<f32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BlockedPattern {
    /// Names the rule in decisions (1 to 64 of `a-z 0-9 _ -`).
    #[cfg_attr(feature = "ssr", schema(pattern = "^[a-z0-9_-]{1,64}$"))]
    pub id: String,
    pub kind: MatchKind,
    /// As a redaction rule's pattern: 1 to 2,000 characters, not matching empty text.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 2000, format = "regex"))]
    pub pattern: String,
    #[serde(default)]
    pub case_insensitive: bool,
    /// Why, as the decision reports it.
    #[serde(default)]
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegionRule {
    /// The end user's region as the caller names it, e.g. `eu` (1 to 200 characters).
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 200))]
    pub region: String,
    /// Models allowed there (a trailing `*` matches a prefix); with no models
    /// and no providers, nothing is allowed there.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(schema_with = model_names))]
    pub models: Vec<String>,
    /// Providers allowed there (`openai`, `anthropic`, …).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(schema_with = model_names))]
    pub providers: Vec<String>,
}

/// One saved version of an organization's policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PolicyVersion {
    /// 1, 2, 3…; 0 is the defaults no one saved.
    pub version: i64,
    pub document: PolicyDocument,
    /// Who saved it (email), absent for the defaults.
    pub author: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: Option<String>,
    pub comment: String,
    /// Set when this version restored an earlier one.
    pub restored_from: Option<i64>,
    /// What changed from the version before, one line per setting.
    pub changes: Vec<PolicyChange>,
}

/// One setting that differs between two versions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PolicyChange {
    /// Where, e.g. `sampling.percent` or `redaction.rules[0].pattern`.
    pub path: String,
    /// The value before (any JSON value); absent when the setting is new.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Value))]
    pub before: Option<serde_json::Value>,
    /// The value after (any JSON value); absent when the setting was removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Value))]
    pub after: Option<serde_json::Value>,
}

/// `POST /api/v1/governance/policies`: a new version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPolicyVersion {
    #[serde(deserialize_with = "object")]
    pub document: PolicyDocument,
    /// Why (up to 500 characters).
    #[serde(default)]
    pub comment: String,
}

/// A version without its document, for the history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PolicyVersionSummary {
    pub version: i64,
    pub author: Option<String>,
    pub created_at: Option<String>,
    pub comment: String,
    pub restored_from: Option<i64>,
    pub changes: Vec<PolicyChange>,
}

/// Spans ingest left out on the policy's account, per day (UTC) and reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DroppedSpans {
    /// The day, `YYYY-MM-DD` (UTC).
    pub day: String,
    /// `sampled_out`: the trace fell outside the sampled share.
    pub reason: String,
    pub spans: i64,
}

/// `POST /api/v1/governance/policies/dry-run`: a draft to try on stored spans.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DryRunRequest {
    #[serde(deserialize_with = "object")]
    pub document: PolicyDocument,
    /// The newest spans to try it on (1 to 1,000; default 1,000).
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 1000))]
    pub spans: Option<u64>,
}

/// What a draft would do to the newest stored spans, beside what the
/// version in force did when they arrived.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DryRun {
    /// The version in force, which the stored spans went through.
    pub current_version: i64,
    pub spans_checked: u64,
    pub would_redact: u64,
    pub would_truncate: u64,
    pub would_sample_out: u64,
    pub would_flag: u64,
    /// The spans the draft would treat differently, newest first (at most 200).
    pub spans: Vec<DryRunSpan>,
}

/// One span the draft would treat differently.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DryRunSpan {
    pub trace_id: String,
    pub span_id: String,
    pub name: String,
    pub service_name: String,
    /// What the draft would redact that the version in force left, per kind or label.
    pub redactions: BTreeMap<String, u64>,
    /// Fields the draft would cut (`attributes.<key>`, `events.<event>.<key>`).
    pub truncated: Vec<String>,
    /// The draft's content capture for the span, when it differs from what was stored.
    pub capture: Option<CaptureMode>,
    /// Left out by the draft's sampling.
    pub sampled_out: bool,
    /// The blocked patterns of the draft's guardrails its prompt matches.
    pub flagged_by: Vec<String>,
}

/// `POST /api/v1/governance/evaluate`: a gateway's question before a model
/// call. Give the prompt as `prompt` (one text), as `messages` (a chat, as
/// the provider's SDK takes it) or both (both are checked and redacted);
/// with neither, only the model and the cost are checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// The model the call is for, e.g. `gpt-4o` (1 to 200 characters, not only spaces).
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 200, pattern = r"\S"))]
    pub model: String,
    /// The provider, when the model's name does not say it (`openai`, `anthropic`, …; up to 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(max_length = 200))]
    pub provider: Option<String>,
    /// The prompt as one text (up to 1,000,000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(max_length = 1_000_000))]
    pub prompt: Option<String>,
    /// The prompt as chat messages (at most 1,000).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_objects"
    )]
    #[cfg_attr(feature = "ssr", schema(max_items = 1000))]
    pub messages: Option<Vec<ChatMessage>>,
    /// Who the call is for, as the application names them (up to 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(max_length = 200))]
    pub end_user: Option<String>,
    /// The end user's region, as the policy's region rules name it (up to 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(max_length = 200))]
    pub region: Option<String>,
    /// The calling service (`service.name`; up to 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(max_length = 200))]
    pub service: Option<String>,
    /// The call's estimated cost in US dollars; absent: estimated from the
    /// prompt's tokens and the model's input price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(minimum = 0.0, maximum = 1_000_000_000.0))]
    pub estimated_cost_usd: Option<f64>,
}

/// One chat message: its text is `content` when that is a string, or the
/// `text` of each part when it is a list of parts (other parts, such as
/// images, pass unchanged).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, `tool`…
    #[cfg_attr(feature = "ssr", schema(max_length = 100))]
    pub role: String,
    /// A string, or a list of parts (`{"type": "text", "text": …}`).
    #[cfg_attr(feature = "ssr", schema(schema_with = message_content))]
    pub content: serde_json::Value,
}

/// What the caller should do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DecisionAction {
    /// Send the prompt as it is, to the model asked for.
    Allow,
    /// Send `redacted_prompt` / `redacted_messages` instead of the prompt.
    Redact,
    /// Send to `model` instead of the model asked for (with the redacted prompt, if one is given).
    Route,
    /// Do not send it.
    Deny,
}

impl DecisionAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Redact => "redact",
            Self::Route => "route",
            Self::Deny => "deny",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Allow, Self::Redact, Self::Route, Self::Deny]
            .into_iter()
            .find(|action| action.as_str() == text)
    }
}

/// One rule that applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DecisionReason {
    /// `blocked_pattern`, `prompt_length`, `budget`, `model_denied`, `model_not_allowed`,
    /// `region`, `cost`, `abuse` or `redaction`.
    pub kind: String,
    /// Which rule: a blocked pattern's id, a detector or redaction rule's
    /// label, `regions.<region>`, `max_prompt_chars`…
    pub rule_id: String,
    /// What it did to the answer.
    pub effect: DecisionAction,
    /// In words, with the figures.
    pub detail: String,
}

/// The answer to an evaluate call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Decision {
    /// Put it on the model call's span as `specula.decision_id` to link the two.
    pub decision_id: String,
    pub action: DecisionAction,
    /// The model to call (the one asked for unless routed; absent when denied).
    pub model: Option<String>,
    /// The prompt to send, when redaction changed it (`prompt` was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redacted_prompt: Option<String>,
    /// The messages to send, when redaction changed them (`messages` were given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redacted_messages: Option<Vec<ChatMessage>>,
    /// Every rule that applied, the deciding ones first.
    pub reasons: Vec<DecisionReason>,
    /// The policy version that decided (0: the defaults).
    pub policy_version: i64,
    /// The prompt's estimated tokens (about 4 characters each).
    pub estimated_tokens: u64,
    /// US dollars, as given or estimated; absent when the model has no price.
    pub estimated_cost_usd: Option<f64>,
}

/// One stored decision, as `GET /api/v1/governance/events` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GovernanceEvent {
    /// The decision id.
    pub id: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// `evaluation`.
    pub event_type: String,
    pub policy_version: i64,
    pub action: DecisionAction,
    pub reasons: Vec<DecisionReason>,
    /// The model asked for.
    pub model: Option<String>,
    /// The model the caller was told to use.
    pub routed_model: Option<String>,
    pub end_user: Option<String>,
    pub region: Option<String>,
    pub service: Option<String>,
    /// The API token that asked (absent when a signed-in user did).
    pub token_id: Option<String>,
    pub prompt_chars: i64,
    /// The prompt's SHA-256 (its text is not kept).
    pub prompt_sha256: String,
    pub estimated_cost_usd: Option<f64>,
}

/// `GET /api/v1/governance/events`: which decisions, newest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct GovernanceEventQuery {
    /// The organization (default: the caller's only one).
    pub org: Option<uuid::Uuid>,
    /// `allow`, `deny`, `redact` or `route`.
    #[cfg_attr(feature = "ssr", param(schema_with = action_filter))]
    pub action: Option<String>,
    /// Decisions with a reason of this kind (`blocked_pattern`, `region`, `cost`…).
    pub reason: Option<String>,
    /// The model asked for or routed to.
    pub model: Option<String>,
    pub end_user: Option<String>,
    /// The API token that asked.
    pub token_id: Option<uuid::Uuid>,
    /// Start of the range (RFC 3339, a UTC date and time, or Unix ns).
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::time))]
    pub since: Option<String>,
    /// End of the range, exclusive.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::time))]
    pub until: Option<String>,
    /// Events per page: 1 to 10,000 (default 100); a JSON page holds at most 1,000.
    #[cfg_attr(feature = "ssr", param(minimum = 1, maximum = 10000))]
    pub limit: Option<u64>,
    /// From a previous page's `next_cursor`.
    #[cfg_attr(
        feature = "ssr",
        param(pattern = "^([0-9]{1,18}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$")
    )]
    pub cursor: Option<String>,
    /// `json` (default) or `csv`.
    #[cfg_attr(feature = "ssr", param(schema_with = event_format))]
    pub format: Option<String>,
}

#[cfg(feature = "ssr")]
fn action_filter() -> utoipa::openapi::Object {
    crate::telemetry::types::query_schemas::one_of(&["allow", "deny", "redact", "route"], "Only this action")
}

#[cfg(feature = "ssr")]
fn event_format() -> utoipa::openapi::Object {
    crate::telemetry::types::query_schemas::one_of(&["json", "csv"], "Answer as JSON or CSV")
}

/// What a retention pass deleted (or all passes, where summed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RetentionCounts {
    pub spans: u64,
    pub traces: u64,
    pub similarity_logs: u64,
    pub governance_events: u64,
    pub audit_entries: u64,
}

impl RetentionCounts {
    pub fn any(&self) -> bool {
        *self != Self::default()
    }

    pub fn add(&mut self, other: &Self) {
        self.spans += other.spans;
        self.traces += other.traces;
        self.similarity_logs += other.similarity_logs;
        self.governance_events += other.governance_events;
        self.audit_entries += other.audit_entries;
    }
}

/// How long the organization's data is kept, and what the retention job did last.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RetentionStatus {
    /// Absent: kept for ever.
    pub spans_days: Option<u32>,
    pub similarity_logs_days: Option<u32>,
    pub governance_events_days: Option<u32>,
    pub audit_days: u32,
    /// When the latest pass over this organization started (RFC 3339, UTC); absent before the first.
    pub pass_started_at: Option<String>,
    /// When it finished; absent while it runs.
    pub pass_finished_at: Option<String>,
    pub running: bool,
    /// What the latest pass deleted (so far, while it runs).
    pub deleted: RetentionCounts,
    /// Spans deleted by every pass.
    pub total_spans_deleted: u64,
}

/// A page of governance events, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GovernanceEventPage {
    pub events: Vec<GovernanceEvent>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// An optional whole number, also when JSON spells it `120.0` (JSON
/// Schema's integers include such numbers, and some clients write every
/// number so).
pub(crate) fn optional_whole_number<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    whole_of(&number)
        .and_then(|whole| T::try_from(whole).ok())
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number in range, got {number}")))
}

/// A JSON number as a whole number, also when it is spelled `120.0`.
pub(crate) fn whole_of(number: &serde_json::Number) -> Option<u64> {
    number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|value| value.fract() == 0.0 && (0.0..9.0e15).contains(value))
            .map(|value| value as u64)
    })
}

/// A part of the document, which JSON must give as an object: serde would
/// also read a struct from an array of its fields in order.
pub(crate) fn object<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let map = serde_json::Map::deserialize(deserializer)?;
    T::deserialize(serde_json::Value::Object(map)).map_err(serde::de::Error::custom)
}

/// An optional list of parts, each an object (see [`object`]).
pub(crate) fn optional_objects<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Option::<Vec<serde_json::Map<String, serde_json::Value>>>::deserialize(deserializer)?
        .map(|maps| {
            maps.into_iter()
                .map(|map| T::deserialize(serde_json::Value::Object(map)).map_err(serde::de::Error::custom))
                .collect()
        })
        .transpose()
}

/// A list of parts, each an object (see [`object`]).
pub(crate) fn objects<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Vec::<serde_json::Map<String, serde_json::Value>>::deserialize(deserializer)?
        .into_iter()
        .map(|map| T::deserialize(serde_json::Value::Object(map)).map_err(serde::de::Error::custom))
        .collect()
}

/// `{service name: percent}` with every percent from 0 to 100.
#[cfg(feature = "ssr")]
fn percent_by_service() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};

    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .minimum(Some(0.0))
                .maximum(Some(100.0)),
        ))
        .max_properties(Some(100))
        .description(Some(
            "Per service (`service.name`): percent of its traces kept (0 to 100).",
        ))
        .build()
}

/// A chat message's content: a string, a list of parts, or null.
#[cfg(feature = "ssr")]
fn message_content() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};

    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::Object)))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some(
                "A string, or a list of parts (`{\"type\": \"text\", \"text\": …}`).",
            ))
            .build(),
    )
}

/// Up to 100 names of 1 to 200 characters.
#[cfg(feature = "ssr")]
fn model_names() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};

    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(200)),
        )
        .max_items(Some(100))
        .build()
}
