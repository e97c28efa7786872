//! What similarity search exchanges, shared by the REST API, the pages'
//! server functions and the browser.

use serde::{Deserialize, Serialize};

/// `POST /api/v1/similarity/search`: the prompts nearest to a text or to a
/// request span's prompt.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SimilaritySearch {
    /// The text to compare (the user's input, as a request span carries it).
    pub text: Option<String>,
    /// Or a request span whose prompt to compare, by trace and span id.
    #[cfg_attr(feature = "ssr", schema(pattern = "^[0-9a-fA-F]{32}$"))]
    pub trace_id: Option<String>,
    #[cfg_attr(feature = "ssr", schema(pattern = "^[0-9a-fA-F]{16}$"))]
    pub span_id: Option<String>,
    /// How many prompts to return (1 to 100; default 10).
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100))]
    pub k: Option<u32>,
    /// The lowest cosine similarity returned (-1 to 1; default 0).
    #[cfg_attr(feature = "ssr", schema(minimum = -1.0, maximum = 1.0))]
    pub min_score: Option<f32>,
    /// Only prompts last seen at or after this time (RFC 3339, a UTC date and time, or Unix ns).
    pub since: Option<String>,
    /// Only prompts first seen before this time.
    pub until: Option<String>,
}

/// A distinct prompt (one normalized user input) near the query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SimilarPrompt {
    /// The SHA-256 (first 16 bytes, hex) of the normalized input.
    pub prompt_hash: String,
    /// The input as it was first sent.
    pub text: String,
    /// Cosine similarity to the query, from -1 to 1.
    pub score: f32,
    /// Request spans that sent it.
    pub span_count: i64,
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    /// What those spans cost, in nano-dollars.
    pub cost_nanos: i64,
    /// A span that sent it: where to see it in context.
    pub example_trace_id: String,
    pub example_span_id: String,
}

/// The answer to a similarity search.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SimilarityResults {
    /// Best first.
    pub prompts: Vec<SimilarPrompt>,
    /// The embedder the scores come from.
    pub embedder: String,
    /// False while this server is still loading the index at start: older prompts may be missing.
    pub index_ready: bool,
    /// How far the embedding worker has come.
    pub progress: EmbeddingProgress,
}

/// How far the background embedding has come.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EmbeddingProgress {
    /// Spans stored (all organizations) not yet looked at by the worker.
    pub spans_behind: i64,
    /// Distinct prompts of the organization in the index.
    pub indexed_prompts: i64,
    /// The semantic tier, where a model is configured (`SPECULA_EMBEDDING_MODEL_DIR`).
    pub semantic: Option<SemanticProgress>,
}

/// How far the semantic tier has embedded the organization's prompts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SemanticProgress {
    /// The model's name, as stored beside its vectors: `bert-` and the
    /// start of the SHA-256 of its files.
    pub embedder: String,
    /// Distinct prompts of the organization the model has embedded.
    pub indexed_prompts: i64,
    /// Distinct prompts of the organization it has still to embed.
    pub prompts_waiting: i64,
    /// Whether it answers the organization's searches: it does once it
    /// holds nearly all of them (until then the word index answers).
    pub serving: bool,
}

/// `POST /api/v1/orgs/{org}/abuse-patterns`: a prompt to treat as abusive,
/// given as text or as a request span whose user input it is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AbusePatternInput {
    /// What the pattern is, e.g. `jailbreak` or `secrets exfiltration` (1 to 100 characters).
    pub label: String,
    pub text: Option<String>,
    #[cfg_attr(feature = "ssr", schema(pattern = "^[0-9a-fA-F]{32}$"))]
    pub trace_id: Option<String>,
    #[cfg_attr(feature = "ssr", schema(pattern = "^[0-9a-fA-F]{16}$"))]
    pub span_id: Option<String>,
}

/// A prompt marked as abusive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AbusePattern {
    pub id: i64,
    pub label: String,
    pub text: String,
    pub prompt_hash: String,
    pub created_at_ns: i64,
    /// Who marked it.
    pub created_by: Option<String>,
    /// Prompts it has flagged.
    pub caught: i64,
}

/// The organization's abuse patterns and the threshold they flag at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AbusePatternList {
    pub patterns: Vec<AbusePattern>,
    pub settings: SimilaritySettings,
}

/// An organization's similarity settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SimilaritySettings {
    /// A new prompt whose similarity to a pattern is at least this is flagged (0.05 to 1).
    #[cfg_attr(feature = "ssr", schema(minimum = 0.05, maximum = 1.0))]
    pub threshold: f32,
    /// This many near-duplicate prompts from one end user within the window are flagged as a burst (2 to 10,000).
    #[cfg_attr(feature = "ssr", schema(minimum = 2, maximum = 10000))]
    #[serde(deserialize_with = "whole_number")]
    pub burst_count: i64,
    /// The burst window, in seconds (10 to 86,400).
    #[cfg_attr(feature = "ssr", schema(minimum = 10, maximum = 86400))]
    #[serde(deserialize_with = "whole_number")]
    pub burst_window_seconds: i64,
}

/// An integer, also when JSON spells it `120.0` (JSON Schema's integers
/// include such numbers, and some clients write every number so).
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    if let Some(whole) = number.as_i64() {
        return Ok(whole);
    }
    number
        .as_f64()
        .filter(|value| value.fract() == 0.0 && value.abs() < 9.0e15)
        .map(|value| value as i64)
        .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number, got {number}")))
}

/// `GET /api/v1/similarity-logs`: what the similarity checks found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct SimilarityLogQuery {
    /// Start of the range (RFC 3339, a UTC date and time, or Unix ns). Default: 7 days before `until`.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::time))]
    pub since: Option<String>,
    /// End of the range, exclusive (default: now).
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::time))]
    pub until: Option<String>,
    /// Only flagged (true) or only unflagged (false) entries.
    pub flagged: Option<bool>,
    /// Only entries scoring at least this.
    pub min_score: Option<f32>,
    /// Only entries of this end user (or session, for spans that name no user).
    pub end_user: Option<String>,
    /// Entries per page (1 to 1,000; default 100; up to 10,000 with `format=csv`).
    pub limit: Option<u64>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// One similarity log entry: a new prompt that matched an abuse pattern or joined a burst.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SimilarityLog {
    pub id: i64,
    pub prompt_hash: String,
    /// The pattern's prompt hash, or the burst's prompt's.
    pub matched_prompt_hash: String,
    pub score: f32,
    pub flagged: bool,
    /// `pattern` or `burst`.
    pub reason: String,
    pub pattern_id: Option<i64>,
    pub end_user: Option<String>,
    pub trace_id: String,
    pub span_id: String,
    /// When the span started (Unix ns).
    pub time_ns: i64,
}

/// A page of similarity log entries, newest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SimilarityLogPage {
    pub logs: Vec<SimilarityLog>,
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/similarity/clusters`: the near-duplicate prompts of a time
/// range, grouped, costliest (or most sent) first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct ClusterQuery {
    /// Start of the range (RFC 3339, a UTC date and time, or Unix ns). Default: 7 days before `until`.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::time))]
    pub since: Option<String>,
    /// End of the range, exclusive (default: now).
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::time))]
    pub until: Option<String>,
    /// `cost` (default) or `count`: what ranks the clusters.
    #[cfg_attr(feature = "ssr", param(pattern = "^(cost|count)?$"))]
    pub sort: Option<String>,
    /// Clusters returned (1 to 100; default 20).
    #[cfg_attr(feature = "ssr", param(minimum = 1, maximum = 100))]
    pub limit: Option<u64>,
}

/// Prompts near enough to one another to be the same request reworded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PromptCluster {
    /// The cluster's costliest (or most sent) prompt, as first sent: what it reads like.
    pub text: String,
    pub prompt_hash: String,
    /// A span that sent it.
    pub example_trace_id: String,
    pub example_span_id: String,
    /// Distinct prompts in the cluster.
    pub prompts: i64,
    /// Request spans in the range that sent one of them.
    pub span_count: i64,
    /// What those spans cost, in nano-dollars.
    pub cost_nanos: i64,
    /// The services that sent them (up to 10, by name).
    pub services: Vec<String>,
    /// Distinct end users (or sessions) that sent them.
    pub end_users: i64,
    /// The lowest similarity of a member to the representative prompt.
    pub min_score: f32,
}

/// The near-duplicate clusters of a time range.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PromptClusters {
    /// Clusters of two prompts or more, ranked.
    pub clusters: Vec<PromptCluster>,
    /// Distinct prompts sent in the range.
    pub prompts_in_range: i64,
    /// Of which the costliest (or most sent) were grouped (at most 2,000).
    pub prompts_grouped: i64,
    /// How similar two prompts are at least to share a cluster.
    pub threshold: f32,
    pub progress: EmbeddingProgress,
}
