//! What the ingest policy did to a span, stored with it: the capture mode
//! in force, the secrets it redacted and the values it cut.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How much of a span's content is kept: all of it, its SHA-256 digests, or nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentCapture {
    #[default]
    Full,
    Hashed,
    None,
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
