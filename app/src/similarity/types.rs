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
}
