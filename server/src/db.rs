//! Opening the database and bringing its schema up to date.
//!
//! SQLite and PostgreSQL are reached through the same sea-orm connection
//! type; only the connection options differ. SQLite runs in WAL mode so
//! readers never block the writer, with a busy timeout so concurrent writers
//! wait instead of failing.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DbErr,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use crate::config::DatabaseUrl;

/// How long a SQLite statement waits for a lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
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

/// Connects to the database, creating the SQLite file and its folder when missing.
pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<DatabaseConnection, DbSetupError> {
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
        .sqlx_logging(true)
        .sqlx_logging_level(log::LevelFilter::Debug)
        .sqlx_slow_statements_logging_settings(log::LevelFilter::Warn, SLOW_STATEMENT)
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // NORMAL is durable in WAL mode except against power loss of the
                // last transactions; FULL would fsync on every commit.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
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
    Migrator::up(db, None).await.map_err(DbSetupError::Migrate)
}
