//! The batching writer (group commit). Export requests hand their spans or
//! metric points to a bounded queue and wait; one task takes whatever is
//! queued, up to a row budget or a short wait, commits it in one transaction
//! and answers every request in it. A request is answered only once its rows
//! are durably stored, and a full queue is refused at once instead of
//! growing memory.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use sea_orm::DbErr;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    platform::services::metrics as names,
    telemetry::services::{
        ingest::{
            PreparedSpans,
            commit::{StoreOptions, WriterConnection, store_batches},
            cpu_pool::{CpuPool, CpuPoolError},
            metrics::{MetricPoint, PointBatch},
        },
        live::LiveHub,
        span_store::SpanBatch,
    },
};

#[derive(Clone, Copy, Debug)]
pub struct WriterSettings {
    /// Export requests waiting for the writer before new ones are refused.
    pub queue_capacity: usize,
    /// Rows (spans and metric points) committed together at most.
    pub max_batch_spans: usize,
    /// How long the writer waits for more requests to fill a batch.
    pub max_batch_wait: Duration,
    /// What each commit maintains besides the rows.
    pub store: StoreOptions,
}

impl Default for WriterSettings {
    fn default() -> Self {
        Self {
            queue_capacity: 256,
            max_batch_spans: 500,
            max_batch_wait: Duration::ZERO,
            store: StoreOptions::default(),
        }
    }
}

/// Why rows were not stored. Clone: one failed commit answers every
/// request in it, so causes are shared.
#[derive(Clone, Debug, thiserror::Error)]
pub enum WriteError {
    /// The queue is full: the client should retry later.
    #[error("the write queue is full")]
    Overloaded,
    /// The server is shutting down and takes no more writes.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The database refused the batch; nothing of it was stored.
    #[error("the database could not store the rows: {0}")]
    Database(#[source] Arc<DbErr>),
    /// Preparing the spans failed unexpectedly (a bug, reported as 503 so the client retries).
    #[error("preparing the spans failed: {0}")]
    Preparation(#[source] Arc<CpuPoolError>),
}

/// What one request hands over.
enum Rows {
    Spans(SpanBatch),
    Points(PointBatch),
}

impl Rows {
    fn len(&self) -> usize {
        match self {
            // A batch whose spans were all sampled out still commits its count.
            Rows::Spans(batch) => batch.rows.len() + usize::from(batch.sampled_out > 0),
            Rows::Points(batch) => batch.points.len(),
        }
    }
}

struct WriteJob {
    rows: Rows,
    done: oneshot::Sender<Result<u64, WriteError>>,
}

/// The handle requests use; cheap to clone.
#[derive(Clone, Debug)]
pub struct IngestWriter {
    queue: mpsc::Sender<WriteJob>,
    /// The threads for the CPU work before the queue.
    cpu_pool: Arc<CpuPool>,
    /// Nanoseconds the writer has spent committing since it started.
    busy_ns: Arc<AtomicU64>,
}

impl std::fmt::Debug for WriteJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteJob")
            .field("rows", &self.rows.len())
            .finish()
    }
}

impl IngestWriter {
    /// Starts the writer task and the preparation threads. The writer stops
    /// when `stop` is cancelled, after committing everything already queued.
    pub fn start(
        db: WriterConnection,
        settings: WriterSettings,
        live: LiveHub,
        stop: CancellationToken,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), CpuPoolError> {
        let cores = std::thread::available_parallelism().map_or(2, |cores| cores.get());
        let cpu_pool = Arc::new(CpuPool::new(cores)?);
        let (queue, jobs) = mpsc::channel(settings.queue_capacity.max(1));
        let busy_ns = Arc::new(AtomicU64::new(0));
        // A pooled network connection belongs to the runtime that opened it;
        // SQLite's connection does no I/O on a runtime.
        let own_thread = matches!(db, WriterConnection::Sqlite(_));
        let writer = run(db, settings, live, jobs, stop, busy_ns.clone());
        let task = if own_thread {
            // The writer is the one serial step of ingest: on its own thread
            // and runtime, its work never queues behind request tasks on the
            // shared workers (+10% throughput on SQLite, BENCHMARKS.md), and
            // SQLite's statements run on that thread itself.
            tokio::task::spawn_blocking(move || {
                match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime.block_on(writer),
                    Err(err) => tracing::error!(error = %err, "the ingest writer could not start"),
                }
            })
        } else {
            tokio::spawn(writer)
        };
        Ok((
            Self {
                queue,
                cpu_pool,
                busy_ns,
            },
            task,
        ))
    }

    /// Whether batches wait for the writer: ingest is running at its limit,
    /// and background work that writes to the database should wait.
    pub fn is_busy(&self) -> bool {
        self.queue.capacity() < self.queue.max_capacity()
    }

    /// Export batches waiting for the writer now.
    pub fn queued_batches(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// How many export batches the queue holds before exports are refused.
    pub fn queue_capacity(&self) -> usize {
        self.queue.max_capacity()
    }

    /// Nanoseconds the writer has spent committing since it started: its
    /// load over a window is the growth of this over the window's length.
    pub fn busy_nanos(&self) -> u64 {
        self.busy_ns.load(Ordering::Relaxed)
    }

    /// Runs ingest CPU work (decoding, normalization, compression) on the
    /// preparation threads, one job per core at a time, at a priority below
    /// the writer's (see [`CpuPool`]).
    pub async fn run_cpu_bound<T, F>(&self, work: F) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.cpu_pool
            .run(work)
            .await
            .map_err(|err| WriteError::Preparation(Arc::new(err)))
    }

    /// Stores `spans` for `org_id`, sent with `token_id` (if by a token);
    /// returns how many were new once they are committed.
    pub async fn write(
        &self,
        org_id: Uuid,
        token_id: Option<Uuid>,
        spans: PreparedSpans,
    ) -> Result<u64, WriteError> {
        self.enqueue(Rows::Spans(SpanBatch {
            org_id,
            token_id,
            rows: spans.rows,
            sampled_out: spans.sampled_out,
        }))
        .await
    }

    /// Stores metric `points` for `org_id`; returns how many once they are committed.
    pub async fn write_points(&self, org_id: Uuid, points: Vec<MetricPoint>) -> Result<u64, WriteError> {
        self.enqueue(Rows::Points(PointBatch { org_id, points })).await
    }

    async fn enqueue(&self, rows: Rows) -> Result<u64, WriteError> {
        if rows.len() == 0 {
            return Ok(0);
        }
        let (done, answer) = oneshot::channel();
        let job = WriteJob { rows, done };
        self.queue.try_send(job).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => WriteError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => WriteError::ShuttingDown,
        })?;
        answer.await.unwrap_or(Err(WriteError::ShuttingDown))
    }
}

async fn run(
    db: WriterConnection,
    settings: WriterSettings,
    live: LiveHub,
    mut jobs: mpsc::Receiver<WriteJob>,
    stop: CancellationToken,
    busy_ns: Arc<AtomicU64>,
) {
    loop {
        let first = tokio::select! {
            job = jobs.recv() => job,
            () = stop.cancelled() => {
                // Refuse new jobs, then commit what is already queued.
                jobs.close();
                jobs.recv().await
            }
        };
        let Some(first) = first else { break };
        let mut batch = vec![first];
        let mut spans = batch[0].rows.len();
        let deadline = tokio::time::Instant::now() + settings.max_batch_wait;
        while spans < settings.max_batch_spans {
            let next = match jobs.try_recv() {
                Ok(job) => Some(job),
                Err(mpsc::error::TryRecvError::Empty) if !stop.is_cancelled() => {
                    tokio::time::timeout_at(deadline, jobs.recv())
                        .await
                        .ok()
                        .flatten()
                }
                Err(_) => None,
            };
            let Some(job) = next else { break };
            spans += job.rows.len();
            batch.push(job);
        }
        let started = std::time::Instant::now();
        let outcome = if commit(&db, settings.store, &live, batch).await {
            "ok"
        } else {
            "error"
        };
        let took = started.elapsed();
        busy_ns.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        ::metrics::histogram!(names::INGEST_BATCH_ROWS).record(spans as f64);
        ::metrics::histogram!(names::INGEST_COMMIT_SECONDS, "outcome" => outcome).record(took.as_secs_f64());
    }
    tracing::debug!("ingest writer stopped");
}

/// Commits one batch and answers its exports; whether it was stored.
async fn commit(db: &WriterConnection, options: StoreOptions, live: &LiveHub, jobs: Vec<WriteJob>) -> bool {
    let mut span_batches = Vec::new();
    let mut span_answers = Vec::new();
    let mut point_batches = Vec::new();
    let mut point_answers = Vec::new();
    for job in jobs {
        match job.rows {
            Rows::Spans(batch) => {
                span_batches.push(batch);
                span_answers.push(job.done);
            }
            Rows::Points(batch) => {
                point_answers.push((job.done, batch.points.len() as u64));
                point_batches.push(batch);
            }
        }
    }
    match store_batches(db, &span_batches, &point_batches, options).await {
        Ok(stored) => {
            for ((answer, count), batch) in span_answers.into_iter().zip(stored).zip(&span_batches) {
                if count > 0 {
                    live.announce(batch.org_id);
                }
                let _ = answer.send(Ok(count));
            }
            for (answer, count) in point_answers {
                let _ = answer.send(Ok(count));
            }
            true
        }
        Err(err) => {
            let rows: usize = span_batches.iter().map(|batch| batch.rows.len()).sum::<usize>()
                + point_batches
                    .iter()
                    .map(|batch| batch.points.len())
                    .sum::<usize>();
            tracing::error!(error = %err, rows, "batch not stored");
            let err = Arc::new(err);
            let answers = span_answers
                .into_iter()
                .chain(point_answers.into_iter().map(|(answer, _)| answer));
            for answer in answers {
                let _ = answer.send(Err(WriteError::Database(err.clone())));
            }
            false
        }
    }
}
