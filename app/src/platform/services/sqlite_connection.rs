//! The ingest writer's own SQLite connection, driven in place on the
//! writer's thread.
//!
//! sqlx runs each SQLite connection on a worker thread of its own and hands
//! every statement, with a copy of its arguments, across to it and the
//! answer back. The writer is the one serial step of ingest, so those hops
//! and copies bound throughput: this connection runs the same statements on
//! the calling thread through rusqlite, each prepared once and cached. Its
//! transaction is a [`WriteTransaction`], so a commit's statement builders
//! are the same on SQLite and PostgreSQL.
//!
//! Values are bound as sqlx binds them on SQLite (UUIDs as 16-byte blobs,
//! booleans as integers, JSON as text), so rows written here read back
//! through the sea-orm pool like any other.

use std::{
    path::Path,
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

use sea_orm::{DatabaseBackend, DbErr, RuntimeErr, Statement, Value};

use crate::platform::services::transaction::{Executed, QueryRow, WriteTransaction};

/// Prepared statements kept per connection: a commit runs a handful of
/// distinct statements, each in a few row counts.
const STATEMENT_CACHE: usize = 64;

fn warn_if_slow(started: Instant, slow: Duration, statement: impl FnOnce() -> String) {
    let elapsed = started.elapsed();
    if elapsed >= slow {
        tracing::warn!(
            statement = statement(),
            elapsed_ms = elapsed.as_millis() as u64,
            "slow statement on the SQLite writer connection"
        );
    }
}

/// One SQLite connection for the ingest writer.
pub struct SqliteWriterConnection {
    connection: Mutex<rusqlite::Connection>,
    /// Statements slower than this are logged at `warn`.
    slow_statement: Duration,
}

impl std::fmt::Debug for SqliteWriterConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWriterConnection").finish_non_exhaustive()
    }
}

impl SqliteWriterConnection {
    /// Opens the database file at `path` (which must exist: the migrations
    /// create it) and applies `pragmas` in order, then waits up to
    /// `busy_timeout` for a lock another connection holds and logs
    /// statements slower than `slow_statement`.
    pub fn open(
        path: &Path,
        pragmas: &[(&str, String)],
        busy_timeout: Duration,
        slow_statement: Duration,
    ) -> Result<Self, DbErr> {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = rusqlite::Connection::open_with_flags(path, flags).map_err(connection_error)?;
        connection.busy_timeout(busy_timeout).map_err(connection_error)?;
        for (name, value) in pragmas {
            // Some pragmas answer with a row (journal_mode), others not.
            connection
                .execute_batch(&format!("PRAGMA {name} = {value}"))
                .map_err(connection_error)?;
        }
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Self {
            connection: Mutex::new(connection),
            slow_statement,
        })
    }

    /// Starts a write transaction, taking the database's write lock at once
    /// (so it never has to upgrade a read lock and fail halfway).
    pub fn begin(&self) -> Result<SqliteTransaction<'_>, DbErr> {
        self.lock()?
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(exec_error)?;
        Ok(SqliteTransaction {
            connection: self,
            open: true,
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, rusqlite::Connection>, DbErr> {
        self.connection
            .lock()
            .map_err(|_| DbErr::Custom("the SQLite writer connection is unusable after a panic".to_owned()))
    }
}

/// An open transaction; rolled back when dropped without [`commit`](Self::commit).
pub struct SqliteTransaction<'a> {
    connection: &'a SqliteWriterConnection,
    open: bool,
}

impl SqliteTransaction<'_> {
    pub fn commit(mut self) -> Result<(), DbErr> {
        self.open = false;
        let connection = self.connection.lock()?;
        let started = Instant::now();
        let committed = connection.execute_batch("COMMIT");
        warn_if_slow(started, self.connection.slow_statement, || "COMMIT".to_owned());
        if let Err(err) = committed {
            // A failed COMMIT may leave the transaction open; end it so
            // the next batch starts clean.
            if !connection.is_autocommit() {
                let _ = connection.execute_batch("ROLLBACK");
            }
            return Err(exec_error(err));
        }
        Ok(())
    }

    fn run<T>(
        &self,
        statement: &Statement,
        run: impl FnOnce(&rusqlite::Connection, &mut rusqlite::Statement<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, DbErr> {
        let connection = self.connection.lock()?;
        let mut prepared = connection.prepare_cached(&statement.sql).map_err(exec_error)?;
        let values = statement.values.as_ref().map_or(&[][..], |values| &values.0[..]);
        if prepared.parameter_count() != values.len() {
            return Err(DbErr::Custom(format!(
                "statement has {} parameters but {} values were given",
                prepared.parameter_count(),
                values.len()
            )));
        }
        for (index, value) in values.iter().enumerate() {
            bind(&mut prepared, index + 1, value)?;
        }
        let started = Instant::now();
        let result = run(&connection, &mut prepared).map_err(exec_error);
        warn_if_slow(started, self.connection.slow_statement, || {
            statement.sql.chars().take(80).collect()
        });
        result
    }
}

impl Drop for SqliteTransaction<'_> {
    fn drop(&mut self) {
        if self.open
            && let Ok(connection) = self.connection.lock()
            && !connection.is_autocommit()
            && let Err(err) = connection.execute_batch("ROLLBACK")
        {
            tracing::warn!(error = %err, "rolling back the SQLite writer's transaction failed");
        }
    }
}

#[async_trait::async_trait]
impl WriteTransaction for SqliteTransaction<'_> {
    fn backend(&self) -> DatabaseBackend {
        DatabaseBackend::Sqlite
    }

    async fn execute_statement(&self, statement: Statement) -> Result<Executed, DbErr> {
        self.run(&statement, |connection, prepared| {
            let rows_affected = prepared.raw_execute()? as u64;
            Ok(Executed {
                rows_affected,
                last_insert_id: connection.last_insert_rowid(),
            })
        })
    }

    async fn query_rows<R: QueryRow>(&self, statement: Statement) -> Result<Vec<R>, DbErr> {
        self.run(&statement, |_, prepared| {
            let mut rows = prepared.raw_query();
            let mut results = Vec::new();
            while let Some(row) = rows.next()? {
                results.push(R::from_sqlite_row(row)?);
            }
            Ok(results)
        })
    }
}

/// Binds `value` as sqlx binds it on SQLite.
fn bind(prepared: &mut rusqlite::Statement<'_>, index: usize, value: &Value) -> Result<(), DbErr> {
    fn integer(value: Option<impl TryInto<i64>>) -> Result<Option<i64>, DbErr> {
        value
            .map(|value| {
                value
                    .try_into()
                    .map_err(|_| DbErr::Custom("an integer does not fit SQLite's 64 bits".to_owned()))
            })
            .transpose()
    }
    let bound = match value {
        Value::Bool(value) => prepared.raw_bind_parameter(index, value),
        Value::TinyInt(value) => prepared.raw_bind_parameter(index, value),
        Value::SmallInt(value) => prepared.raw_bind_parameter(index, value),
        Value::Int(value) => prepared.raw_bind_parameter(index, value),
        Value::BigInt(value) => prepared.raw_bind_parameter(index, value),
        Value::TinyUnsigned(value) => prepared.raw_bind_parameter(index, value),
        Value::SmallUnsigned(value) => prepared.raw_bind_parameter(index, value),
        Value::Unsigned(value) => prepared.raw_bind_parameter(index, value),
        Value::BigUnsigned(value) => prepared.raw_bind_parameter(index, integer(*value)?),
        Value::Float(value) => prepared.raw_bind_parameter(index, value.map(f64::from)),
        Value::Double(value) => prepared.raw_bind_parameter(index, value),
        Value::String(value) => prepared.raw_bind_parameter(index, value.as_deref()),
        Value::Char(value) => prepared.raw_bind_parameter(index, value.map(String::from)),
        Value::Bytes(value) => prepared.raw_bind_parameter(index, value.as_deref()),
        Value::Uuid(value) => {
            prepared.raw_bind_parameter(index, value.as_ref().map(|uuid| &uuid.as_bytes()[..]))
        }
        Value::Json(value) => prepared.raw_bind_parameter(index, value.as_ref().map(|json| json.to_string())),
        other => {
            return Err(DbErr::Custom(format!("the SQLite writer cannot bind {other:?}")));
        }
    };
    bound.map_err(exec_error)
}

fn exec_error(err: rusqlite::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::Internal(err.to_string()))
}

fn connection_error(err: rusqlite::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::Internal(err.to_string()))
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
    use uuid::Uuid;

    use super::*;

    async fn database() -> (tempfile::TempDir, DatabaseConnection, SqliteWriterConnection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("writer.db");
        let pool = Database::connect(format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        pool.execute_unprepared(
            "CREATE TABLE things (id INTEGER PRIMARY KEY, org_id BLOB NOT NULL, name TEXT, \
             flag BOOLEAN, size BIGINT, ratio REAL, body BLOB, attributes TEXT)",
        )
        .await
        .unwrap();
        let writer = SqliteWriterConnection::open(
            &path,
            &[("journal_mode", "WAL".to_owned())],
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .unwrap();
        (dir, pool, writer)
    }

    fn insert(org_id: Uuid, name: Option<&str>) -> Statement {
        Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "INSERT INTO things (org_id, name, flag, size, ratio, body, attributes) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                org_id.into(),
                name.map(str::to_owned).into(),
                true.into(),
                (-7_i64).into(),
                0.25_f64.into(),
                vec![0_u8, 1, 2].into(),
                serde_json::json!({"k": [1, 2]}).into(),
            ],
        )
    }

    #[tokio::test]
    async fn committed_rows_read_back_through_the_sea_orm_pool() {
        let (_dir, pool, writer) = database().await;
        let org_id = Uuid::new_v4();
        let txn = writer.begin().unwrap();
        let first = txn.execute_statement(insert(org_id, Some("diff"))).await.unwrap();
        let second = txn.execute_statement(insert(Uuid::new_v4(), None)).await.unwrap();
        assert_eq!(
            first,
            Executed {
                rows_affected: 1,
                last_insert_id: 1
            }
        );
        assert_eq!(second.last_insert_id, 2);
        txn.commit().unwrap();

        // The pool binds the UUID itself: the blobs must match.
        let row = pool
            .query_one_raw(Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                "SELECT name, flag, size, ratio, body, attributes FROM things WHERE org_id = ?",
                [org_id.into()],
            ))
            .await
            .unwrap()
            .expect("the row written by the writer connection");
        assert_eq!(row.try_get::<String>("", "name").unwrap(), "diff");
        assert!(row.try_get::<bool>("", "flag").unwrap());
        assert_eq!(row.try_get::<i64>("", "size").unwrap(), -7);
        assert_eq!(row.try_get::<f64>("", "ratio").unwrap(), 0.25);
        assert_eq!(row.try_get::<Vec<u8>>("", "body").unwrap(), vec![0, 1, 2]);
        assert_eq!(
            row.try_get::<serde_json::Value>("", "attributes").unwrap(),
            serde_json::json!({"k": [1, 2]})
        );
        // The same rows through the pool's side of `WriteTransaction`.
        let via_pool: Vec<(String, bool)> = pool
            .query_rows(Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                "SELECT name, flag FROM things WHERE org_id = ?",
                [org_id.into()],
            ))
            .await
            .unwrap();
        assert_eq!(via_pool, [("diff".to_owned(), true)]);
    }

    #[tokio::test]
    async fn queries_in_the_transaction_see_its_rows() {
        let (_dir, _pool, writer) = database().await;
        let txn = writer.begin().unwrap();
        txn.execute_statement(insert(Uuid::new_v4(), Some("a")))
            .await
            .unwrap();
        txn.execute_statement(insert(Uuid::new_v4(), None)).await.unwrap();
        let rows: Vec<(i64, Option<String>, bool)> = txn
            .query_rows(Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                "SELECT id, name, flag FROM things WHERE id >= ? ORDER BY id",
                [1_i64.into()],
            ))
            .await
            .unwrap();
        assert_eq!(rows, [(1, Some("a".to_owned()), true), (2, None, true)]);
    }

    #[tokio::test]
    async fn a_transaction_dropped_without_commit_leaves_nothing() {
        let (_dir, pool, writer) = database().await;
        {
            let txn = writer.begin().unwrap();
            txn.execute_statement(insert(Uuid::new_v4(), Some("lost")))
                .await
                .unwrap();
        }
        // The connection is usable again: the rollback ended the transaction.
        let txn = writer.begin().unwrap();
        txn.execute_statement(insert(Uuid::new_v4(), Some("kept")))
            .await
            .unwrap();
        txn.commit().unwrap();
        let names = pool
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                "SELECT name FROM things",
            ))
            .await
            .unwrap();
        let names: Vec<String> = names.iter().map(|row| row.try_get("", "name").unwrap()).collect();
        assert_eq!(names, ["kept"]);
    }

    #[tokio::test]
    async fn a_failing_statement_is_an_error_and_a_wrong_arity_is_refused() {
        let (_dir, _pool, writer) = database().await;
        let txn = writer.begin().unwrap();
        let missing_table = Statement::from_string(DatabaseBackend::Sqlite, "INSERT INTO nowhere VALUES (1)");
        assert!(matches!(
            txn.execute_statement(missing_table).await,
            Err(DbErr::Exec(_))
        ));
        let too_few = Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "INSERT INTO things (org_id, name) VALUES (?, ?)",
            [Uuid::new_v4().into()],
        );
        assert!(matches!(
            txn.execute_statement(too_few).await,
            Err(DbErr::Custom(_))
        ));
    }
}
