//! The similarity services: the prompt text compared, the local embedder,
//! the in-memory index, the embedding worker and search.

pub mod embed;
pub mod index;
pub mod search;
pub mod text;
pub mod worker;
