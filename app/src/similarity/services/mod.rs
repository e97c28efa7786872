//! The similarity services: the prompt text compared, the local embedder,
//! the in-memory index, the embedding worker and search, and the semantic
//! tier (a BERT model embedding prompts in the background for search).

pub mod abuse;
pub mod bursts;
pub mod clusters;
pub mod embed;
pub mod evaluation;
pub mod index;
pub mod logs;
pub mod patterns;
pub mod search;
pub mod semantic;
pub mod semantic_worker;
pub mod text;
pub mod worker;
