//! A span after every ingest stage: the decoded record as the policy left
//! it, what the policy did, the LLM meaning derived from what it kept, and
//! its cost. The stages each return their part; the pipeline
//! (`ingest::normalize`) assembles them here, so no stage imports another's caller.

use crate::telemetry::services::span::{
    cost::SpanCost, genai::LlmFields, marks::PolicyMarks, record::SpanRecord,
};

#[derive(Clone, Debug, PartialEq)]
pub struct NormalizedSpan {
    pub record: SpanRecord,
    /// What the ingest policy redacted or truncated.
    pub policy: PolicyMarks,
    pub llm: LlmFields,
    pub cost: SpanCost,
}
