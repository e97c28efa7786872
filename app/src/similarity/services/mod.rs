//! The similarity services: the prompt text compared, the local embedder,
//! the in-memory index, the embedding worker and search.

pub mod abuse;
pub mod bursts;
pub mod clusters;
pub mod embed;
pub mod evaluation;
pub mod index;
pub mod logs;
pub mod patterns;
pub mod search;
pub mod text;
pub mod worker;
