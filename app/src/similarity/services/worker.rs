//! The embedding worker: follows the span table in id order from a cursor
//! kept in the database, and for each request span whose prompt was kept in
//! full records which distinct prompt (normalized user input) it said,
//! embedding a prompt only the first time the organization sends it. All
//! off the ingest path: ingest never waits for it.
//!
//! One replica at a time runs it, holding a lease on the cursor row; a
//! batch commits only if the cursor it started from is still the one in the
//! database, so two replicas can never both record a span, and a restart
//! resumes after the last committed batch. The cursor passes a missing id
//! (a transaction still writing it, on PostgreSQL with several replicas)
//! only once the id has been missing for [`GAP_WAIT_NS`] (a rolled-back
//! write, or a span deleted before it was read).

use std::{collections::HashMap, time::Duration};
use tracing::Instrument;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, TransactionTrait, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    abuse::{AbuseGuard, Flag},
    bursts::{self, BurstCandidate},
    embed::{HASH_EMBEDDER, embed, quantize},
    index::PromptIndex,
    text::{MAX_INPUT_BYTES, normalize, prompt_hash, user_input},
};
use crate::{
    error::{AppError, Result},
    platform::services::{
        lease,
        metrics::{JobOutcome, job_pass},
        now_ns,
        transaction::{placeholder, placeholder_list, value_groups},
    },
    telemetry::services::{
        ingest::{cpu_pool::CpuPool, writer::IngestWriter},
        span_store::{PromptSource, prompt_sources_after, spans_still_stored},
    },
};

/// The worker's row in `similarity_worker`.
const WORKER: &str = "prompts";
/// Spans read per batch; one transaction each. Large, so that under heavy
/// ingest the worker takes the database's write lock a few times a
/// second, not hundreds.
const BATCH_SPANS: u64 = 5_000;
/// The nice value of the worker's CPU thread: below ingest's preparation
/// threads (10), so that under full load ingest keeps the cores and the
/// worker catches up afterwards.
const WORKER_NICE: i32 = 19;
/// How long the lease lasts without a renewal.
pub(super) const LEASE_NS: i64 = 30_000_000_000;
/// How long a missing span id holds the cursor back.
pub const GAP_WAIT_NS: i64 = 10_000_000_000;
/// How often an idle worker looks for new spans.
const IDLE_POLL: Duration = Duration::from_millis(250);

/// How far the worker has come.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerProgress {
    /// The last span row id done.
    pub position: i64,
    /// The newest span row id stored.
    pub newest_span: i64,
    /// Spans looked at since the worker first ran.
    pub spans_done: i64,
    /// When a batch last committed (Unix ns; 0 before the first).
    pub updated_at_ns: i64,
}

/// Reads the worker's progress.
pub async fn progress(db: &impl ConnectionTrait) -> Result<WorkerProgress> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT position, spans_done, updated_at_ns, (SELECT COALESCE(MAX(id), 0) FROM spans) AS newest \
                 FROM similarity_worker WHERE name = {}",
                placeholder(backend, 1)
            ),
            [WORKER.into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(WorkerProgress::default());
    };
    Ok(WorkerProgress {
        position: row.try_get("", "position")?,
        newest_span: row.try_get("", "newest")?,
        spans_done: row.try_get("", "spans_done")?,
        updated_at_ns: row.try_get("", "updated_at_ns")?,
    })
}

/// Runs the worker until `stop`, as `owner` (unique per process).
pub async fn run(
    db: DatabaseConnection,
    ingest: IngestWriter,
    index: PromptIndex,
    guard: AbuseGuard,
    owner: String,
    stop: CancellationToken,
) {
    let cpu = match CpuPool::named(1, "similarity", WORKER_NICE) {
        Ok(cpu) => cpu,
        Err(err) => {
            tracing::error!(%err, "prompt similarity worker cannot start");
            return;
        }
    };
    let mut worker = Worker {
        db,
        cpu,
        index,
        guard,
        owner,
        gap: None,
    };
    run_batches(&ingest, &stop, "similarity_worker", &mut worker).await;
}

impl BatchWorker for Worker {
    async fn batch(&mut self) -> Result<More> {
        let done = self.step().await?;
        // A full batch: more is waiting.
        Ok(if done as u64 >= BATCH_SPANS {
            More::Waiting
        } else {
            More::CaughtUp
        })
    }
}

/// Whether more work waits after a batch.
pub(super) enum More {
    Waiting,
    CaughtUp,
}

/// A background worker that does its work in batches.
pub(super) trait BatchWorker {
    /// Does one batch.
    fn batch(&mut self) -> impl Future<Output = Result<More>> + Send;
}

/// Runs `worker`'s batches until `stop`: at once again while more waits,
/// after [`IDLE_POLL`] once caught up, a second after a failure, and each
/// time after giving way to ingest ([`yield_to_ingest`]).
pub(super) async fn run_batches(
    ingest: &IngestWriter,
    stop: &CancellationToken,
    name: &'static str,
    worker: &mut impl BatchWorker,
) {
    let mut load = WriterLoad::new(ingest);
    while !stop.is_cancelled() {
        yield_to_ingest(ingest, &mut load, stop).await;
        let pause = match worker.batch().await {
            Ok(More::Waiting) => {
                job_pass(name, JobOutcome::Behind);
                continue;
            }
            Ok(More::CaughtUp) => {
                job_pass(name, JobOutcome::Ok);
                IDLE_POLL
            }
            Err(err) => {
                job_pass(name, JobOutcome::Error);
                tracing::warn!(%err, worker = name, "batch failed; retrying");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// One move of a worker's cursor: from `from` to `to`, past `spans` spans.
pub(super) struct CursorStep<'a> {
    pub name: &'a str,
    pub owner: &'a str,
    pub from: i64,
    pub to: i64,
    pub spans: i64,
    pub now: i64,
}

/// Moves the worker row's cursor and renews its lease, in `txn`, only if
/// `owner` still holds it at `from`; false when another replica moved it
/// meanwhile (our lease had ended), whose work then stands.
pub(super) async fn advance_cursor(txn: &impl ConnectionTrait, step: CursorStep<'_>) -> Result<bool> {
    let backend = txn.get_database_backend();
    let moved = txn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "UPDATE similarity_worker SET position = {}, spans_done = spans_done + {}, updated_at_ns = {}, \
                 lease_until_ns = {} WHERE name = {} AND position = {} AND lease_owner = {}",
                placeholder(backend, 1),
                placeholder(backend, 2),
                placeholder(backend, 3),
                placeholder(backend, 4),
                placeholder(backend, 5),
                placeholder(backend, 6),
                placeholder(backend, 7),
            ),
            [
                step.to.into(),
                step.spans.into(),
                step.now.into(),
                (step.now + LEASE_NS).into(),
                step.name.into(),
                step.from.into(),
                step.owner.into(),
            ],
        ))
        .await?;
    Ok(moved.rows_affected() == 1)
}

/// Claims or renews the lease on the worker row `name` for `owner`.
pub(super) async fn claim_lease(db: &DatabaseConnection, name: &str, owner: &str, now: i64) -> Result<bool> {
    lease::claim(
        db,
        lease::Lease {
            table: "similarity_worker",
            name,
            owner,
            length_ns: LEASE_NS,
        },
        now,
    )
    .await
}

/// Waits while ingest runs near its limit, for up to [`MOST_YIELD`]: the
/// worker's reads and its write transaction would take database time from
/// ingest's single writer, and it can catch up once the load passes. Near
/// the limit means batches queue for the writer, or the writer spent at
/// least [`HEAVY_LOAD`] of the last window committing (the queue alone
/// empties between a client's requests even when ingest runs flat out).
/// Under a load that never lets up the worker still does a batch every
/// [`MOST_YIELD`]; under a moderate one it does not wait at all.
async fn yield_to_ingest(ingest: &IngestWriter, load: &mut WriterLoad, stop: &CancellationToken) {
    let started = tokio::time::Instant::now();
    while load.is_heavy(ingest) && started.elapsed() < MOST_YIELD && !stop.is_cancelled() {
        tokio::time::sleep(YIELD_POLL).await;
    }
}

/// The same from a CPU thread, between pieces of a long batch: waits while
/// ingest runs near its limit, until `until` at the latest; false when
/// `stop` came meanwhile (the batch is to be dropped).
pub(super) fn pause_for_ingest(
    ingest: &IngestWriter,
    load: &mut WriterLoad,
    stop: &CancellationToken,
    until: std::time::Instant,
) -> bool {
    while load.is_heavy(ingest) && std::time::Instant::now() < until && !stop.is_cancelled() {
        std::thread::sleep(YIELD_POLL);
    }
    !stop.is_cancelled()
}

/// The longest the worker waits for ingest before a batch.
const MOST_YIELD: Duration = Duration::from_secs(10);
const YIELD_POLL: Duration = Duration::from_millis(50);
/// The share of its time the writer spends committing from which ingest
/// counts as running near its limit.
const HEAVY_LOAD: f64 = 0.5;

/// The shortest window the writer's load is measured over: a commit
/// counts when it ends, so a shorter window could fall inside one.
const LOAD_WINDOW: Duration = Duration::from_millis(250);

/// The ingest writer's load over the last window.
pub(super) struct WriterLoad {
    busy_ns: u64,
    at: std::time::Instant,
    share: f64,
}

impl WriterLoad {
    pub(super) fn new(ingest: &IngestWriter) -> Self {
        Self {
            busy_ns: ingest.busy_nanos(),
            at: std::time::Instant::now(),
            share: 0.0,
        }
    }

    /// Whether ingest runs near its limit: batches queue for the writer,
    /// or it spent at least [`HEAVY_LOAD`] of the last window committing.
    pub(super) fn is_heavy(&mut self, ingest: &IngestWriter) -> bool {
        ingest.is_busy() || self.since_last(ingest) >= HEAVY_LOAD
    }

    /// The share of the last window (from the last measure, at least
    /// [`LOAD_WINDOW`] ago) that the writer spent committing, 0 to 1.
    fn since_last(&mut self, ingest: &IngestWriter) -> f64 {
        let now = std::time::Instant::now();
        let elapsed = now.duration_since(self.at);
        if elapsed >= LOAD_WINDOW {
            let busy_ns = ingest.busy_nanos();
            self.share = (busy_ns.saturating_sub(self.busy_ns) as f64 / elapsed.as_nanos() as f64).min(1.0);
            self.busy_ns = busy_ns;
            self.at = now;
        }
        self.share
    }
}

struct Worker {
    db: DatabaseConnection,
    /// Where the worker's CPU work runs (decompressing, embedding).
    cpu: CpuPool,
    /// The vectors bursts are told by.
    index: PromptIndex,
    /// The abuse patterns new prompts are checked against.
    guard: AbuseGuard,
    owner: String,
    /// The first missing span id after the cursor, and since when.
    gap: Option<(i64, i64)>,
}

/// One request span's prompt, ready to record.
struct SpanPrompt {
    source: PromptSource,
    hash: String,
    /// The user input as sent (shown for the distinct prompt).
    input: String,
    normalized: String,
    /// What the abuse check found.
    flag: Option<Flag>,
    /// The byte vector, for spans that name an end user (bursts).
    vector: Option<Vec<i8>>,
}

impl Worker {
    /// Does one batch; returns how many spans it passed (0 when idle or
    /// when another replica holds the lease).
    async fn step(&mut self) -> Result<usize> {
        let now = now_ns();
        if !claim_lease(&self.db, WORKER, &self.owner, now).await? {
            return Ok(0);
        }
        let position = progress(&self.db).await?.position;
        let sources = prompt_sources_after(&self.db, position, BATCH_SPANS).await?;
        let passable = self.passable(position, &sources, now);
        if passable == 0 {
            return Ok(0);
        }
        let mut sources = sources;
        sources.truncate(passable);
        let end = sources[passable - 1].row_id;
        // Patterns added on any replica count from the next batch on.
        self.guard.reload_if_changed(&self.db).await?;
        let (mut prompts, vectors) = self
            .prepare(sources)
            .instrument(tracing::info_span!("prompt similarity batch", spans = passable))
            .await?;
        self.flag_bursts(&mut prompts).await?;
        let txn = self.db.begin().await?;
        let moved = advance_cursor(
            &txn,
            CursorStep {
                name: WORKER,
                owner: &self.owner,
                from: position,
                to: end,
                spans: passable as i64,
                now,
            },
        )
        .await?;
        if !moved {
            // Another replica moved the cursor (our lease had ended): its batch stands.
            txn.rollback().await?;
            return Ok(0);
        }
        // Holding the cursor, no removal runs; one that ran since the batch
        // was read took its spans, and they are not recorded.
        let row_ids: Vec<i64> = prompts.iter().map(|prompt| prompt.source.row_id).collect();
        let stored = spans_still_stored(&txn, &row_ids).await?;
        prompts.retain(|prompt| stored.contains(&prompt.source.row_id));
        record(&txn, &prompts, &vectors).await?;
        txn.commit().await?;
        self.gap = None;
        Ok(passable)
    }

    /// Flags the prompts of the batch that join a burst from their end
    /// user (those a pattern flagged keep that flag).
    async fn flag_bursts(&self, prompts: &mut [SpanPrompt]) -> Result<()> {
        let positions: Vec<usize> = (0..prompts.len())
            .filter(|position| {
                prompts[*position].flag.is_none() && prompts[*position].source.end_user.is_some()
            })
            .collect();
        if positions.is_empty() {
            return Ok(());
        }
        let candidates: Vec<BurstCandidate> = positions
            .iter()
            .map(|position| {
                let prompt = &prompts[*position];
                BurstCandidate {
                    org_id: prompt.source.org_id,
                    end_user: prompt.source.end_user.as_deref().unwrap_or_default(),
                    start_time_ns: prompt.source.start_time_ns,
                    hash: &prompt.hash,
                    vector: prompt.vector.as_deref().unwrap_or_default(),
                }
            })
            .collect();
        let flags = bursts::check(&self.db, &self.index, &self.guard, &candidates).await?;
        for (position, flag) in positions.into_iter().zip(flags) {
            prompts[position].flag = flag;
        }
        Ok(())
    }

    /// How many of `sources` the cursor may pass: up to the first missing
    /// id that has not been missing for [`GAP_WAIT_NS`].
    fn passable(&mut self, position: i64, sources: &[PromptSource], now: i64) -> usize {
        let mut expected = position + 1;
        for (index, source) in sources.iter().enumerate() {
            if source.row_id != expected && position > 0 {
                let since = match self.gap {
                    Some((id, since)) if id == expected => since,
                    _ => {
                        self.gap = Some((expected, now));
                        now
                    }
                };
                if now - since < GAP_WAIT_NS {
                    return index;
                }
            }
            expected = source.row_id + 1;
        }
        sources.len()
    }

    /// The batch's prompts, and the vectors of those its organizations have
    /// not sent before. Decompressing payloads and embedding are CPU work,
    /// done off the async threads.
    async fn prepare(
        &self,
        sources: Vec<PromptSource>,
    ) -> Result<(Vec<SpanPrompt>, HashMap<(Uuid, String), Vec<i8>>)> {
        let guard = self.guard.clone();
        let prompts = self
            .cpu
            .run(move || {
                // The same prompt is checked and embedded once per batch.
                let mut checked: HashMap<(Uuid, String), Option<Flag>> = HashMap::new();
                let mut embedded: HashMap<String, Vec<i8>> = HashMap::new();
                sources
                    .into_iter()
                    .filter_map(|source| {
                        let mut input = user_input(&source.prompt()?)?;
                        let normalized = normalize(&input);
                        if normalized.is_empty() {
                            return None;
                        }
                        let hash = prompt_hash(&normalized);
                        input.truncate(input.floor_char_boundary(MAX_INPUT_BYTES));
                        let flag = checked
                            .entry((source.org_id, hash.clone()))
                            .or_insert_with(|| guard.check(source.org_id, &normalized))
                            .clone();
                        let vector = source.end_user.is_some().then(|| {
                            embedded
                                .entry(hash.clone())
                                .or_insert_with(|| quantize(&embed(&normalized)))
                                .clone()
                        });
                        Some(SpanPrompt {
                            hash,
                            input,
                            normalized,
                            flag,
                            vector,
                            source,
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(|err| AppError::Internal(err.to_string()))?;
        let known = known_prompts(&self.db, &prompts).await?;
        let new: Vec<((Uuid, String), String)> = {
            let mut seen = std::collections::HashSet::new();
            prompts
                .iter()
                .map(|prompt| ((prompt.source.org_id, prompt.hash.clone()), prompt))
                .filter(|(key, _)| !known.contains(key) && seen.insert(key.clone()))
                .map(|(key, prompt)| (key, prompt.normalized.clone()))
                .collect()
        };
        let vectors = self
            .cpu
            .run(move || {
                new.into_iter()
                    .map(|(key, normalized)| (key, quantize(&embed(&normalized))))
                    .collect::<HashMap<_, _>>()
            })
            .await
            .map_err(|err| AppError::Internal(err.to_string()))?;
        Ok((prompts, vectors))
    }
}

/// The (organization, hash) pairs among `prompts` that already have a
/// vector of the local embedder.
async fn known_prompts(
    db: &DatabaseConnection,
    prompts: &[SpanPrompt],
) -> Result<std::collections::HashSet<(Uuid, String)>> {
    let mut known = std::collections::HashSet::new();
    let mut by_org: HashMap<Uuid, Vec<&str>> = HashMap::new();
    for prompt in prompts {
        by_org.entry(prompt.source.org_id).or_default().push(&prompt.hash);
    }
    let backend = db.get_database_backend();
    for (org_id, mut hashes) in by_org {
        hashes.sort_unstable();
        hashes.dedup();
        let mut values: Vec<Value> = vec![org_id.into(), HASH_EMBEDDER.into()];
        values.extend(hashes.iter().map(|hash| Value::from(*hash)));
        let sql = format!(
            "SELECT p.prompt_hash FROM prompts p JOIN prompt_vectors v ON v.prompt_id = p.id AND v.embedder = {} \
             WHERE p.org_id = {} AND p.prompt_hash IN ({})",
            placeholder(backend, 2),
            placeholder(backend, 1),
            placeholder_list(backend, 3, hashes.len())
        );
        for row in db
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?
        {
            known.insert((org_id, row.try_get::<String>("", "prompt_hash")?));
        }
    }
    Ok(known)
}

/// One distinct prompt's share of a batch.
#[derive(Clone, Copy)]
struct BatchSums<'a> {
    spans: i64,
    cost_nanos: i64,
    first_ns: i64,
    last_ns: i64,
    /// The first span of the batch that sent it.
    example: &'a SpanPrompt,
}

/// Adds the batch to the distinct prompts (counts, cost, first and last
/// seen), their new vectors, and which span said which prompt.
async fn record(
    txn: &impl ConnectionTrait,
    prompts: &[SpanPrompt],
    vectors: &HashMap<(Uuid, String), Vec<i8>>,
) -> Result<()> {
    if prompts.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    // The batch's sums per distinct prompt, in first-seen order.
    let mut order: Vec<(Uuid, &str)> = Vec::new();
    let mut sums: HashMap<(Uuid, &str), BatchSums> = HashMap::new();
    for prompt in prompts {
        let key = (prompt.source.org_id, prompt.hash.as_str());
        let source = &prompt.source;
        let entry = sums.entry(key).or_insert_with(|| {
            order.push(key);
            BatchSums {
                spans: 0,
                cost_nanos: 0,
                first_ns: source.start_time_ns,
                last_ns: source.start_time_ns,
                example: prompt,
            }
        });
        entry.spans += 1;
        entry.cost_nanos += source.cost_nanos;
        entry.first_ns = entry.first_ns.min(source.start_time_ns);
        entry.last_ns = entry.last_ns.max(source.start_time_ns);
    }
    let (least, greatest) = match backend {
        DatabaseBackend::Postgres => ("LEAST", "GREATEST"),
        _ => ("MIN", "MAX"),
    };
    let mut ids: HashMap<(Uuid, String), i64> = HashMap::new();
    for chunk in order.chunks(100) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 9);
        for key in chunk {
            let BatchSums {
                spans: count,
                cost_nanos: cost,
                first_ns: first,
                last_ns: last,
                example,
            } = sums[key];
            values.extend([
                key.0.into(),
                key.1.into(),
                example.input.clone().into(),
                count.into(),
                cost.into(),
                first.into(),
                last.into(),
                example.source.trace_id.clone().into(),
                example.source.span_id.clone().into(),
            ]);
        }
        let sql = format!(
            "INSERT INTO prompts (org_id, prompt_hash, text, span_count, cost_nanos, first_seen_ns, last_seen_ns, \
             example_trace_id, example_span_id) VALUES {} \
             ON CONFLICT (org_id, prompt_hash) DO UPDATE SET \
             span_count = prompts.span_count + excluded.span_count, \
             cost_nanos = prompts.cost_nanos + excluded.cost_nanos, \
             first_seen_ns = {least}(prompts.first_seen_ns, excluded.first_seen_ns), \
             last_seen_ns = {greatest}(prompts.last_seen_ns, excluded.last_seen_ns) \
             RETURNING id, org_id, prompt_hash",
            value_groups(backend, chunk.len(), 9)
        );
        for row in txn
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?
        {
            ids.insert(
                (row.try_get("", "org_id")?, row.try_get("", "prompt_hash")?),
                row.try_get("", "id")?,
            );
        }
    }
    let new_vectors: Vec<(i64, &[i8])> = vectors
        .iter()
        .filter_map(|(key, vector)| Some((*ids.get(key)?, vector.as_slice())))
        .collect();
    insert_vectors(txn, HASH_EMBEDDER, &new_vectors).await?;
    for chunk in prompts.chunks(200) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 7);
        for prompt in chunk {
            let source = &prompt.source;
            let prompt_id = ids
                .get(&(source.org_id, prompt.hash.clone()))
                .copied()
                .unwrap_or_default();
            values.extend([
                source.row_id.into(),
                source.org_id.into(),
                prompt_id.into(),
                source.start_time_ns.into(),
                source.service_name.clone().into(),
                source.end_user.clone().into(),
                prompt.flag.is_some().into(),
            ]);
        }
        let sql = format!(
            "INSERT INTO prompt_spans (span_row_id, org_id, prompt_id, start_time_ns, service_name, end_user, flagged) \
             VALUES {} ON CONFLICT (span_row_id) DO NOTHING",
            value_groups(backend, chunk.len(), 7)
        );
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    log_flags(txn, prompts).await
}

/// Stores `embedder`'s vectors of prompts (a vector already stored stays).
pub(super) async fn insert_vectors(
    txn: &impl ConnectionTrait,
    embedder: &str,
    vectors: &[(i64, &[i8])],
) -> Result<()> {
    let backend = txn.get_database_backend();
    for chunk in vectors.chunks(200) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 3);
        for (prompt_id, vector) in chunk {
            let bytes: Vec<u8> = vector.iter().map(|value| *value as u8).collect();
            values.extend([(*prompt_id).into(), embedder.into(), bytes.into()]);
        }
        let sql = format!(
            "INSERT INTO prompt_vectors (prompt_id, embedder, vector) VALUES {} \
             ON CONFLICT (prompt_id, embedder) DO NOTHING",
            value_groups(backend, chunk.len(), 3)
        );
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// Writes a similarity log entry for each flagged span of the batch.
async fn log_flags(txn: &impl ConnectionTrait, prompts: &[SpanPrompt]) -> Result<()> {
    let backend = txn.get_database_backend();
    let flagged: Vec<(&SpanPrompt, &Flag)> = prompts
        .iter()
        .filter_map(|prompt| Some((prompt, prompt.flag.as_ref()?)))
        .collect();
    for chunk in flagged.chunks(200) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 11);
        for (prompt, flag) in chunk {
            let source = &prompt.source;
            values.extend([
                source.org_id.into(),
                prompt.hash.clone().into(),
                flag.matched_prompt_hash.clone().into(),
                f64::from(flag.score).into(),
                true.into(),
                flag.reason.as_str().into(),
                flag.pattern_id.into(),
                source.end_user.clone().into(),
                source.trace_id.clone().into(),
                source.span_id.clone().into(),
                source.start_time_ns.into(),
            ]);
        }
        let sql = format!(
            "INSERT INTO prompt_sim_logs (org_id, prompt_hash, matched_prompt_hash, score, flagged, reason, \
             pattern_id, end_user, trace_id, span_id, time_ns) VALUES {}",
            value_groups(backend, chunk.len(), 11)
        );
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}
