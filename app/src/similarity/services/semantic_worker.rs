//! The semantic tier's worker: follows the distinct prompts in id order
//! from a cursor in `similarity_worker` (the row `vectors:<embedder>`) and
//! embeds each with the model, batched, on low-priority threads, pausing
//! while ingest runs near its limit. As with the prompt worker, one replica
//! at a time holds the lease and a batch commits only if the cursor it
//! started from is still the one stored, so a restart resumes and no
//! prompt is embedded twice. Another model has another name, so another
//! row starting at 0: switching models re-embeds every prompt in the
//! background, and searches use the hash tier until it has nearly caught up.
//!
//! Distinct prompts only grow through the prompt worker, which commits
//! them in id order (one batch at a time, under its own lease), so a
//! cursor on the prompt id never passes a prompt still being written.

use std::{sync::Arc, time::Duration};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait, Value};
use tokio_util::sync::CancellationToken;

use super::{
    embed::quantize,
    index::PromptIndex,
    semantic::{ModelError, SemanticModel},
    worker::{
        BatchWorker, CursorStep, More, WriterLoad, advance_cursor, claim_lease, insert_vectors,
        pause_for_ingest, run_batches,
    },
};
use crate::{
    error::{AppError, Result},
    platform::services::{
        now_ns,
        transaction::{placeholder, placeholder_list},
    },
    similarity::types::SemanticProgress,
    telemetry::services::ingest::{cpu_pool::CpuPool, writer::IngestWriter},
};

/// Prompts read per batch (one transaction at most).
const BATCH_PROMPTS: i64 = 1_024;
/// Prompts embedded at a time, in id order, so that what is done when a
/// batch ends early runs from the cursor without a hole.
const CHUNK_PROMPTS: usize = 32;
/// A batch commits once it has embedded for this long (or read all it
/// read): each commit takes the database's write lock from ingest's
/// writer for a moment, and commits every fraction of a second slowed
/// ingest's answers under a moderate load by half again (BENCHMARKS.md).
const COMMIT_EVERY: Duration = Duration::from_secs(5);
/// The longest a batch waits for ingest in all: with [`COMMIT_EVERY`] and
/// one more chunk of long prompts (about 4 s on one core), a batch ends
/// well inside the lease (30 s).
const MOST_PAUSED: Duration = Duration::from_secs(10);
/// Prompts per forward pass: similar lengths are grouped, as every input
/// of a pass is padded to the longest.
const PASS_PROMPTS: usize = 16;
/// The semantic tier answers an organization's searches once it holds at
/// least this share of the prompts the hash tier holds.
const COVERAGE_TO_SERVE: f64 = 0.95;

/// The model and the index of its vectors.
#[derive(Clone, Debug)]
pub struct SemanticTier {
    pub model: Arc<SemanticModel>,
    pub index: PromptIndex,
}

impl SemanticTier {
    pub fn new(model: SemanticModel) -> Self {
        let index = PromptIndex::with_prefilter(model.name(), model.dimensions());
        Self {
            model: Arc::new(model),
            index,
        }
    }

    /// How far the tier has embedded `org_id`'s prompts, against those the
    /// hash tier holds, and whether it answers the organization's searches:
    /// once its index is loaded and holds nearly all of them.
    pub fn progress(&self, org_id: uuid::Uuid, hash_index: &PromptIndex) -> SemanticProgress {
        let (indexed, of) = (self.index.len(org_id) as i64, hash_index.len(org_id) as i64);
        SemanticProgress {
            embedder: self.model.name().to_owned(),
            indexed_prompts: indexed,
            prompts_waiting: (of - indexed).max(0),
            serving: self.index.is_ready() && indexed as f64 >= of as f64 * COVERAGE_TO_SERVE,
        }
    }

    /// The byte vector of a search's text (CPU work: call it off the async
    /// threads).
    pub fn query_vector(&self, text: &str) -> std::result::Result<Vec<i8>, ModelError> {
        let vectors = self.model.embed(&[text])?;
        Ok(vectors.first().map(|vector| quantize(vector)).unwrap_or_default())
    }
}

/// The worker row of `embedder`.
fn worker_name(embedder: &str) -> String {
    format!("vectors:{embedder}")
}

/// Runs the worker until `stop`, as `owner` (unique per process).
pub async fn run(
    db: DatabaseConnection,
    ingest: IngestWriter,
    tier: SemanticTier,
    owner: String,
    stop: CancellationToken,
) {
    // Half the cores: even at the lowest priority, matrix products on every
    // core slowed ingest's answers under a moderate load by half again
    // (BENCHMARKS.md), where two threads of two embed only a third faster.
    let threads = std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1));
    let cpu = match CpuPool::idle(threads, "semantic") {
        Ok(cpu) => cpu,
        Err(err) => {
            tracing::error!(%err, "semantic embedding worker cannot start");
            return;
        }
    };
    let mut worker = Worker {
        created: false,
        name: worker_name(tier.model.name()),
        db,
        cpu,
        model: tier.model,
        owner,
        ingest: ingest.clone(),
        stop: stop.clone(),
    };
    run_batches(&ingest, &stop, "semantic_worker", &mut worker).await;
}

impl BatchWorker for Worker {
    async fn batch(&mut self) -> Result<More> {
        if !self.created {
            self.create_row().await?;
            self.created = true;
        }
        self.step().await
    }
}

struct Worker {
    /// Whether the worker's row is known to exist.
    created: bool,
    /// The worker's row in `similarity_worker`.
    name: String,
    db: DatabaseConnection,
    cpu: CpuPool,
    model: Arc<SemanticModel>,
    owner: String,
    /// Whose load the worker gives way to, between passes too.
    ingest: IngestWriter,
    /// Drops a batch under way at shutdown.
    stop: CancellationToken,
}

impl Worker {
    /// The model's row, starting before the first prompt.
    async fn create_row(&self) -> Result<()> {
        let backend = self.db.get_database_backend();
        self.db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "INSERT INTO similarity_worker (name) VALUES ({}) ON CONFLICT (name) DO NOTHING",
                    placeholder(backend, 1)
                ),
                [self.name.clone().into()],
            ))
            .await?;
        Ok(())
    }

    /// Embeds one batch; says whether more prompts wait (not when idle,
    /// or when another replica holds the lease).
    async fn step(&self) -> Result<More> {
        let now = now_ns();
        if !claim_lease(&self.db, &self.name, &self.owner, now).await? {
            return Ok(More::CaughtUp);
        }
        let backend = self.db.get_database_backend();
        let Some(row) = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT position FROM similarity_worker WHERE name = {}",
                    placeholder(backend, 1)
                ),
                [self.name.clone().into()],
            ))
            .await?
        else {
            return Ok(More::CaughtUp);
        };
        let position: i64 = row.try_get("", "position")?;
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT id, text FROM prompts WHERE id > {} ORDER BY id LIMIT {}",
                    placeholder(backend, 1),
                    placeholder(backend, 2)
                ),
                [position.into(), BATCH_PROMPTS.into()],
            ))
            .await?;
        let mut prompts: Vec<(i64, String)> = Vec::with_capacity(rows.len());
        for row in &rows {
            prompts.push((row.try_get("", "id")?, row.try_get("", "text")?));
        }
        let last_read = prompts.last().map_or(position, |(prompt_id, _)| *prompt_id);
        if prompts.is_empty() {
            return Ok(More::CaughtUp);
        }
        let read_all = prompts.len() as i64 == BATCH_PROMPTS;
        let (model, ingest, stop) = (self.model.clone(), self.ingest.clone(), self.stop.clone());
        let embedded = self
            .cpu
            .run(move || {
                let started = std::time::Instant::now();
                let paused_until = started + COMMIT_EVERY + MOST_PAUSED;
                let mut load = WriterLoad::new(&ingest);
                let (mut vectors, mut end) = (Vec::new(), position);
                for chunk in prompts.chunks(CHUNK_PROMPTS) {
                    vectors.extend(embed_prompts(&model, chunk.to_vec(), || {
                        pause_for_ingest(&ingest, &mut load, &stop, paused_until)
                    })?);
                    end = chunk.last().map_or(end, |(prompt_id, _)| *prompt_id);
                    if started.elapsed() >= COMMIT_EVERY {
                        break;
                    }
                }
                Some((vectors, end))
            })
            .await
            .map_err(|err| AppError::Internal(err.to_string()))?;
        let Some((vectors, end)) = embedded else {
            return Ok(More::CaughtUp);
        };
        let more = if read_all || end < last_read {
            More::Waiting
        } else {
            More::CaughtUp
        };
        let txn = self.db.begin().await?;
        let moved = advance_cursor(
            &txn,
            CursorStep {
                name: &self.name,
                owner: &self.owner,
                from: position,
                to: end,
                spans: vectors.len() as i64,
                now: now_ns(),
            },
        )
        .await?;
        if !moved {
            // Another replica moved the cursor (our lease had ended): its batch stands.
            txn.rollback().await?;
            return Ok(More::CaughtUp);
        }
        store_vectors(&txn, self.model.name(), &vectors).await?;
        txn.commit().await?;
        Ok(more)
    }
}

/// The byte vectors of `prompts` (id, text), in passes of similar lengths,
/// by id: what a batch of the worker does. `before_pass` runs before each
/// pass (the worker waits there while ingest runs near its limit, so that a
/// batch of long prompts, seconds of CPU, gives way within one pass); when
/// it says stop, the batch is dropped (`None`). A pass the model fails is
/// done again one prompt at a time, and a prompt it cannot embed is left
/// out (and logged), so that one bad input never holds the cursor back.
pub fn embed_prompts(
    model: &SemanticModel,
    mut prompts: Vec<(i64, String)>,
    mut before_pass: impl FnMut() -> bool,
) -> Option<Vec<(i64, Vec<i8>)>> {
    prompts.sort_by_key(|(_, text)| text.len());
    let mut vectors = Vec::with_capacity(prompts.len());
    for pass in prompts.chunks(PASS_PROMPTS) {
        if !before_pass() {
            return None;
        }
        let texts: Vec<&str> = pass.iter().map(|(_, text)| text.as_str()).collect();
        match model.embed(&texts) {
            Ok(embedded) => vectors.extend(
                pass.iter()
                    .zip(embedded)
                    .map(|((prompt_id, _), vector)| (*prompt_id, quantize(&vector))),
            ),
            Err(_) => {
                for (prompt_id, text) in pass {
                    match model.embed(&[text.as_str()]) {
                        Ok(embedded) => {
                            vectors.extend(embedded.first().map(|vector| (*prompt_id, quantize(vector))))
                        }
                        Err(err) => tracing::warn!(%err, prompt_id, "semantic embedding: prompt left out"),
                    }
                }
            }
        }
    }
    vectors.sort_by_key(|(prompt_id, _)| *prompt_id);
    Some(vectors)
}

/// Stores the vectors of the prompts that still exist (one may have been
/// deleted since it was read).
async fn store_vectors(txn: &impl ConnectionTrait, embedder: &str, vectors: &[(i64, Vec<i8>)]) -> Result<()> {
    if vectors.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let ids: Vec<Value> = vectors.iter().map(|(id, _)| Value::from(*id)).collect();
    let existing: std::collections::HashSet<i64> = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT id FROM prompts WHERE id IN ({})",
                placeholder_list(backend, 1, ids.len())
            ),
            ids,
        ))
        .await?
        .iter()
        .map(|row| row.try_get::<i64>("", "id"))
        .collect::<std::result::Result<_, _>>()?;
    let kept: Vec<(i64, &[i8])> = vectors
        .iter()
        .filter(|(id, _)| existing.contains(id))
        .map(|(id, vector)| (*id, vector.as_slice()))
        .collect();
    insert_vectors(txn, embedder, &kept).await
}
