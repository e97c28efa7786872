//! Opening the database and bringing its schema up to date.
//!
//! SQLite and PostgreSQL are reached through the same sea-orm connection
//! type; only the connection options differ. SQLite runs in WAL mode so
//! readers never block the writer, with a busy timeout so concurrent writers
//! wait instead of failing.

use std::time::Duration;

use app::{
    platform::services::{
        lease,
        metrics::{JobOutcome, job_pass, job_result},
        sqlite_connection::SqliteWriterConnection,
    },
    telemetry::services::{ingest::commit::WriterConnection, span_store},
};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseBackend, DatabaseConnection, DbErr};

use tokio_util::sync::CancellationToken;

use crate::config::{DatabaseUrl, SqliteSynchronous};

/// How long a SQLite statement waits for a lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The WAL file's size after a checkpoint rewinds it, in bytes.
const WAL_SIZE_LIMIT: u64 = 64 << 20;
/// WAL frames (pages) past which a checkpoint waits for the writer instead
/// of copying only what it can without blocking.
const WAL_FRAMES_FORCING_RESTART: i64 = 64 << 20 >> 12;
/// Statements slower than this are logged at `warn`.
const SLOW_STATEMENT: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("cannot create the folder for the SQLite database {path}: {source}")]
    CreateFolder { path: String, source: std::io::Error },
    #[error("cannot connect to the database {url}: {source}")]
    Connect { url: String, source: DbErr },
    #[error("database migration failed: {0}")]
    Migrate(DbErr),
}

/// SQLite's page cache per connection (its default).
const PAGE_CACHE_KIB: u32 = 2 * 1024;
/// The span writer's page cache on SQLite: each batch inserts into the
/// spans table's indexes at random places (trace ids are random), and with
/// SQLite's default 2 MiB most of those pages were read back from the file
/// on every batch.
const WRITER_PAGE_CACHE_KIB: u32 = 8 * 1024;

/// The span writer's own connection on SQLite (one connection, so its page
/// cache stays warm from batch to batch, with a larger cache); on
/// PostgreSQL, and for an in-memory SQLite database, which no second
/// connection can open, the writer shares the main pool. Call after
/// [`migrate`]: the SQLite file must exist.
pub async fn connect_writer(
    url: &DatabaseUrl,
    main: &DatabaseConnection,
    synchronous: SqliteSynchronous,
) -> Result<WriterConnection, DbSetupError> {
    let Some(path) = url.sqlite_path() else {
        return Ok(WriterConnection::Pooled(main.clone()));
    };
    let pragmas = sqlite_pragmas(WRITER_PAGE_CACHE_KIB, synchronous);
    let writer = tokio::task::spawn_blocking(move || {
        SqliteWriterConnection::open(&path, &pragmas, SQLITE_BUSY_TIMEOUT, SLOW_STATEMENT)
    })
    .await
    .map_err(|err| DbErr::Custom(err.to_string()))
    .and_then(|opened| opened)
    .map_err(|source| DbSetupError::Connect {
        url: url.redacted(),
        source,
    })?;
    Ok(WriterConnection::Sqlite(writer))
}

/// The pragmas every SQLite connection runs with, in order.
fn sqlite_pragmas(page_cache_kib: u32, synchronous: SqliteSynchronous) -> Vec<(&'static str, String)> {
    vec![
        ("journal_mode", "WAL".to_owned()),
        // NORMAL is durable in WAL mode except against power loss of the
        // last transactions; FULL fsyncs the WAL on every commit.
        ("synchronous", synchronous.pragma().to_owned()),
        ("foreign_keys", "ON".to_owned()),
        // Checkpoints run in the background (`run_wal_checkpoints`), not
        // inside whichever commit crosses the threshold: that commit is
        // usually the ingest writer's.
        ("wal_autocheckpoint", "0".to_owned()),
        // Once checkpointed and rewound, the WAL file shrinks back.
        ("journal_size_limit", WAL_SIZE_LIMIT.to_string()),
        ("cache_size", format!("-{page_cache_kib}")),
        // Multi-row inserts keep a statement journal (to undo a statement
        // that fails halfway); past 64 KiB SQLite spills it to a temporary
        // file, which cost the ingest writer 3%.
        ("temp_store", "MEMORY".to_owned()),
    ]
}

/// Connects to the database, creating the SQLite file and its folder when missing.
pub async fn connect(
    url: &DatabaseUrl,
    max_connections: u32,
    synchronous: SqliteSynchronous,
) -> Result<DatabaseConnection, DbSetupError> {
    if let Some(path) = url.sqlite_path()
        && let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|source| DbSetupError::CreateFolder {
            path: parent.display().to_string(),
            source,
        })?;
    }

    let mut options = ConnectOptions::new(url.as_str());
    options
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        // A ping on every acquire cost the ingest writer half a millisecond
        // per batch; only a connection idle this long is checked first.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .sqlx_logging(true)
        .sqlx_logging_level(log::LevelFilter::Debug)
        .sqlx_slow_statements_logging_settings(log::LevelFilter::Warn, SLOW_STATEMENT)
        .map_sqlx_sqlite_opts(move |sqlite| {
            sqlite_pragmas(PAGE_CACHE_KIB, synchronous).into_iter().fold(
                sqlite.create_if_missing(true).busy_timeout(SQLITE_BUSY_TIMEOUT),
                |sqlite, (name, value)| sqlite.pragma(name, value),
            )
        });

    Database::connect(options)
        .await
        .map_err(|source| DbSetupError::Connect {
            url: url.redacted(),
            source,
        })
}

/// Applies every pending migration; a no-op when the schema is current.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbSetupError> {
    // The lock takes a connection of the pool while migrating takes another.
    if db.get_database_backend() != DatabaseBackend::Postgres
        || db.get_postgres_connection_pool().options().get_max_connections() < 2
    {
        return Migrator::up(db, None).await.map_err(DbSetupError::Migrate);
    }
    // Replicas starting together migrate one after the other: the first
    // holds this lock (in a transaction of its own, on a connection of its
    // own) while it migrates; the next finds nothing left to do.
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let guard = db.begin().await.map_err(DbSetupError::Migrate)?;
    guard
        .execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        .await
        .map_err(DbSetupError::Migrate)?;
    let migrated = Migrator::up(db, None).await.map_err(DbSetupError::Migrate);
    guard.commit().await.map_err(DbSetupError::Migrate)?;
    migrated
}

/// The PostgreSQL advisory lock migrations are run under ("specula" in ASCII).
const MIGRATION_LOCK: i64 = 0x0073_7065_6375_6c61;

/// What one checkpoint did: frames in the WAL and frames copied to the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub wal_frames: i64,
    pub checkpointed_frames: i64,
}

/// Copies committed WAL pages into a SQLite database file. PASSIVE never
/// blocks the writer; when the WAL has grown past a bound (readers kept old
/// pages alive, or the load outran the checkpoints), RESTART waits for the
/// writer once so the WAL starts over from its beginning.
pub async fn checkpoint_wal(db: &DatabaseConnection) -> Result<Checkpoint, DbErr> {
    let passive = wal_checkpoint(db, "PASSIVE").await?;
    if passive.wal_frames > WAL_FRAMES_FORCING_RESTART {
        return wal_checkpoint(db, "RESTART").await;
    }
    Ok(passive)
}

async fn wal_checkpoint(db: &DatabaseConnection, mode: &str) -> Result<Checkpoint, DbErr> {
    use sea_orm::ConnectionTrait;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            DatabaseBackend::Sqlite,
            format!("PRAGMA wal_checkpoint({mode})"),
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("wal_checkpoint returned no row".to_owned()))?;
    Ok(Checkpoint {
        wal_frames: row.try_get_by_index(1)?,
        checkpointed_frames: row.try_get_by_index(2)?,
    })
}

/// Checkpoints a SQLite database's WAL every `period` until `stop`, then once
/// more; does nothing on PostgreSQL.
pub async fn run_wal_checkpoints(db: DatabaseConnection, period: Duration, stop: CancellationToken) {
    if db.get_database_backend() != DatabaseBackend::Sqlite {
        return;
    }
    every(period, &stop, || async {
        let checkpoint = checkpoint_wal(&db).await;
        job_result("wal_checkpoint", &checkpoint);
        if let Err(err) = checkpoint {
            tracing::warn!(error = %err, "WAL checkpoint failed");
        }
    })
    .await;
    if let Err(err) = checkpoint_wal(&db).await {
        tracing::warn!(error = %err, "final WAL checkpoint failed");
    }
}

/// How many spans may arrive before PostgreSQL's planner statistics are
/// refreshed. Autovacuum waits for a tenth of the table and runs on its own
/// schedule; until it does, a bulk load leaves the planner with stale counts
/// (filtered reads and full-text search then pick slow plans, and new
/// search entries sit unsorted in the GIN index's pending list).
pub const ANALYZE_AFTER_NEW_SPANS: i64 = 20_000;

/// The statistics upkeep's name in `/metrics`.
const STATISTICS_JOB: &str = "statistics_upkeep";

/// Every `period` on PostgreSQL, refreshes the statistics once `threshold`
/// spans have arrived since the last refresh; does nothing on SQLite,
/// whose reads stay within their targets on the schema's indexes alone.
pub async fn run_statistics_upkeep(
    db: DatabaseConnection,
    period: Duration,
    threshold: i64,
    owner: String,
    stop: CancellationToken,
) {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return;
    }
    // What was stored before this process started is autovacuum's to judge.
    let refreshed_at = std::sync::atomic::AtomicI64::new(span_store::newest_span_id(&db).await.unwrap_or(0));
    every(period, &stop, || async {
        // One replica at a time: the others' passes wait for its lease.
        let pass = lease::while_holding(
            &db,
            STATISTICS_JOB,
            &owner,
            refresh_if_stale(&db, threshold, &refreshed_at),
        );
        match pass.await {
            Ok(Some(())) => {}
            Ok(None) => job_pass(STATISTICS_JOB, JobOutcome::Standby),
            Err(err) => {
                job_pass(STATISTICS_JOB, JobOutcome::Error);
                tracing::warn!(error = %err, "statistics upkeep's lease not read");
            }
        }
    })
    .await;
}

/// Refreshes the statistics when `threshold` spans arrived since `refreshed_at`.
async fn refresh_if_stale(
    db: &DatabaseConnection,
    threshold: i64,
    refreshed_at: &std::sync::atomic::AtomicI64,
) {
    let newest = match span_store::newest_span_id(db).await {
        Ok(newest) => newest,
        Err(err) => {
            job_pass(STATISTICS_JOB, JobOutcome::Error);
            tracing::warn!(error = %err, "reading the newest span id failed");
            return;
        }
    };
    let new_spans = newest - refreshed_at.load(std::sync::atomic::Ordering::Relaxed);
    if new_spans < threshold {
        job_pass(STATISTICS_JOB, JobOutcome::Ok);
        return;
    }
    let started = std::time::Instant::now();
    let refreshed = span_store::refresh_statistics(db).await;
    job_result(STATISTICS_JOB, &refreshed);
    match refreshed {
        Ok(()) => {
            tracing::info!(
                new_spans,
                took_ms = started.elapsed().as_millis() as u64,
                "planner statistics refreshed"
            );
            refreshed_at.store(newest, std::sync::atomic::Ordering::Relaxed);
        }
        Err(err) => tracing::warn!(error = %err, "refreshing planner statistics failed"),
    }
}

/// Runs `task` every `period` (never two at once; a late tick waits) until `stop`.
async fn every<Task, Done>(period: Duration, stop: &CancellationToken, mut task: Task)
where
    Task: FnMut() -> Done,
    Done: std::future::Future<Output = ()>,
{
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop.cancelled() => break,
        }
        task().await;
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::ConnectionTrait;

    use super::*;

    #[test]
    fn every_sqlite_connection_syncs_as_configured() {
        for (synchronous, pragma) in [
            (SqliteSynchronous::Normal, "NORMAL"),
            (SqliteSynchronous::Full, "FULL"),
        ] {
            for cache in [PAGE_CACHE_KIB, WRITER_PAGE_CACHE_KIB] {
                let pragmas = sqlite_pragmas(cache, synchronous);
                assert!(pragmas.contains(&("synchronous", pragma.to_owned())));
                assert_eq!(pragmas[0], ("journal_mode", "WAL".to_owned()));
            }
        }
    }

    #[tokio::test]
    async fn checkpoints_move_the_wal_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let url: DatabaseUrl = format!("sqlite://{}", dir.path().join("c.db").display())
            .parse()
            .unwrap();
        let db = connect(&url, 2, SqliteSynchronous::Normal).await.unwrap();
        db.execute_unprepared("CREATE TABLE t (v TEXT)").await.unwrap();
        for _ in 0..50 {
            db.execute_unprepared("INSERT INTO t VALUES (hex(randomblob(2000)))")
                .await
                .unwrap();
        }
        let done = checkpoint_wal(&db).await.unwrap();
        assert!(
            done.wal_frames > 50,
            "no automatic checkpoint emptied it first: {done:?}"
        );
        assert_eq!(
            done.checkpointed_frames, done.wal_frames,
            "nothing blocks a full copy"
        );
        let stop = CancellationToken::new();
        stop.cancel();
        // A stopped task still checkpoints once; on an empty WAL that is a no-op.
        run_wal_checkpoints(db.clone(), Duration::from_secs(60), stop).await;
        db.close().await.unwrap();
    }
}
