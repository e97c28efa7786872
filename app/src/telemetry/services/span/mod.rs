//! The span as Specula keeps it, below every stage that handles it: the
//! decoded record, its LLM meaning (derived at ingest and again when read),
//! what the policy and pricing made of it, and its stored payload.

pub mod cost;
pub mod genai;
pub mod ids;
pub mod marks;
pub mod normalized;
pub mod payload;
pub mod record;
