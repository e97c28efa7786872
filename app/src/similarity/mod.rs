//! Prompt similarity: embeddings of the prompts request spans carry,
//! similar-prompt search, near-duplicate clusters and abuse detection.

#[cfg(feature = "ssr")]
pub mod fragments;
pub mod server_fns;
#[cfg(feature = "ssr")]
pub mod services;
pub mod types;
