//! An organization's policy document, as the API and the Policies page
//! read and write it: what ingest keeps (content capture, redaction, size
//! limits, sampling), how long data is kept, and the guardrails a gateway
//! asks about before a model call. Every field has a default, so `{}` is a
//! valid document (the installation's defaults, everything kept).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole policy of one organization.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct PolicyDocument {
    pub capture: CapturePolicy,
    pub redaction: RedactionPolicy,
    pub limits: SizeLimits,
    pub sampling: SamplingPolicy,
    pub retention: RetentionPolicy,
    pub guardrails: Guardrails,
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
    pub default: Option<CaptureMode>,
    /// Per service (`service.name`), overriding `default`.
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
    /// Built-in detectors turned on (`true`) or off (`false`) by kind; one not named
    /// follows the installation (`SPECULA_REDACT_SECRETS`).
    pub detectors: BTreeMap<String, bool>,
    /// The organization's own rules, applied after the detectors, in order.
    pub rules: Vec<RedactionRule>,
}

/// A rule of the organization's own: what matches becomes `[REDACTED:<label>]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RedactionRule {
    /// Names the rule in redaction counts and dry runs (1 to 64 of `a-z 0-9 _ -`).
    pub id: String,
    pub kind: MatchKind,
    /// A regular expression (Rust `regex` syntax: no look-around or backreferences) or literal text.
    pub pattern: String,
    /// What a match becomes: `[REDACTED:<label>]` (1 to 64 of `a-z 0-9 _ -`).
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
    pub max_value_bytes: Option<u64>,
    /// Largest diff (`tool.output.diff` and its dialects) kept whole, 256 to 64 MiB.
    pub max_diff_bytes: Option<u64>,
    /// Largest span: past it, the span's longest values are cut until it fits, 1 KiB to 256 MiB.
    pub max_span_bytes: Option<u64>,
}

/// Head sampling: the share of traces kept, per service. A trace is kept or
/// dropped whole (decided by its id); the spans below are kept whatever it says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct SamplingPolicy {
    /// Percent of traces kept for services not named below (0 to 100).
    pub percent: f64,
    /// Per service (`service.name`): percent of its traces kept.
    pub services: BTreeMap<String, f64>,
    /// Keep every span with an error status.
    pub keep_errors: bool,
    /// Keep every span a gateway flagged: one that carries `specula.decision_id` (a
    /// governance decision) or `specula.flagged=true`.
    pub keep_flagged: bool,
    /// Keep every span that cost at least this many US dollars (a decimal string).
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
    pub spans_days: Option<u32>,
    /// The similarity log, 1 to 3,650.
    pub similarity_logs_days: Option<u32>,
    /// Governance decisions, 1 to 3,650.
    pub governance_events_days: Option<u32>,
    /// The audit log, 30 to 3,650 (default 400).
    pub audit_days: Option<u32>,
}

/// What the evaluate API checks before a model call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Guardrails {
    /// Prompts matching one of these are denied.
    pub blocked_patterns: Vec<BlockedPattern>,
    /// Longest prompt allowed, in characters.
    pub max_prompt_chars: Option<u64>,
    /// Longest prompt allowed, in estimated tokens (about 4 characters each).
    pub max_prompt_tokens: Option<u64>,
    /// When not empty, only these models (a trailing `*` matches a prefix).
    pub allowed_models: Vec<String>,
    /// Never these models (a trailing `*` matches a prefix).
    pub denied_models: Vec<String>,
    /// Where a call for a model not allowed is routed; absent: such calls are denied.
    pub fallback_model: Option<String>,
    /// An end user's region → the models or providers allowed for it.
    pub regions: Vec<RegionRule>,
    /// Largest estimated cost of one request, in US dollars (a decimal string).
    pub max_cost_usd: Option<String>,
    /// Prompts at least this similar to an abuse pattern are denied (0.05 to 1); absent: not checked.
    pub abuse_threshold: Option<f32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BlockedPattern {
    /// Names the rule in decisions (1 to 64 of `a-z 0-9 _ -`).
    pub id: String,
    pub kind: MatchKind,
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
    /// The end user's region as the caller names it, e.g. `eu`.
    pub region: String,
    /// Models allowed there (a trailing `*` matches a prefix).
    #[serde(default)]
    pub models: Vec<String>,
    /// Providers allowed there (`openai`, `anthropic`, …).
    #[serde(default)]
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
    /// Absent when the setting is new.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub before: Option<serde_json::Value>,
    /// Absent when the setting was removed.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub after: Option<serde_json::Value>,
}

/// `POST /api/v1/governance/policies`: a new version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPolicyVersion {
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
    pub document: PolicyDocument,
    /// The newest spans to try it on (1 to 1,000; default 1,000).
    #[serde(default)]
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
