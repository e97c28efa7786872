//! The transaction a commit's statements run in: any sea-orm connection or
//! transaction (PostgreSQL's writer, and the backfills and recomputes on
//! either database), or the SQLite writer's own
//! ([`SqliteTransaction`](super::sqlite_connection::SqliteTransaction)).
//! The statement builders are written once against this trait.

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, QueryResult, Statement,
    TransactionTrait, TryGetableMany,
};
use uuid::Uuid;

use crate::error::{AppError, Result};

/// Begins a transaction that reads and then writes. On SQLite it takes the
/// database's write lock first: a transaction that reads first takes a
/// snapshot, and its first write then fails at once with
/// `SQLITE_BUSY_SNAPSHOT` (a 500) if another connection committed since,
/// instead of waiting for the lock. On PostgreSQL it is a plain `BEGIN`.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DatabaseBackend::Sqlite {
        // SQLite takes the write lock when a writing statement starts, even
        // one that changes nothing.
        txn.execute_unprepared("DELETE FROM instance WHERE 0 = 1").await?;
    }
    Ok(txn)
}

/// What running a statement changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Executed {
    pub rows_affected: u64,
    /// The row id of the last row inserted (SQLite; 0 on PostgreSQL).
    pub last_insert_id: i64,
}

/// A row a query returns, read by position from either connection.
pub trait QueryRow: Sized + Send {
    fn from_query_result(row: &QueryResult) -> Result<Self, DbErr>;
    fn from_sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

/// Tuples of plain column types, such as `(i64, String, String)`.
impl<T> QueryRow for T
where
    T: TryGetableMany + Send + for<'r> TryFrom<&'r rusqlite::Row<'r>, Error = rusqlite::Error>,
{
    fn from_query_result(row: &QueryResult) -> Result<Self, DbErr> {
        row.try_get_many_by_index()
    }

    fn from_sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Self::try_from(row)
    }
}

#[async_trait::async_trait]
pub trait WriteTransaction: Sync {
    fn backend(&self) -> DatabaseBackend;

    async fn execute_statement(&self, statement: Statement) -> Result<Executed, DbErr>;

    async fn query_rows<R: QueryRow>(&self, statement: Statement) -> Result<Vec<R>, DbErr>;
}

#[async_trait::async_trait]
impl<C: ConnectionTrait> WriteTransaction for C {
    fn backend(&self) -> DatabaseBackend {
        self.get_database_backend()
    }

    async fn execute_statement(&self, statement: Statement) -> Result<Executed, DbErr> {
        let result = self.execute_raw(statement).await?;
        // sea-orm panics when asked PostgreSQL's last insert id.
        let last_insert_id = match self.get_database_backend() {
            DatabaseBackend::Postgres => 0,
            _ => i64::try_from(result.last_insert_id()).unwrap_or(0),
        };
        Ok(Executed {
            rows_affected: result.rows_affected(),
            last_insert_id,
        })
    }

    async fn query_rows<R: QueryRow>(&self, statement: Statement) -> Result<Vec<R>, DbErr> {
        self.query_all_raw(statement)
            .await?
            .iter()
            .map(R::from_query_result)
            .collect()
    }
}

/// The `number`th (1-based) bound parameter in the backend's style.
pub fn placeholder(backend: DatabaseBackend, number: usize) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("${number}"),
        _ => "?".to_owned(),
    }
}

/// `count` parameters numbered from `first`, comma-separated: an `IN (…)` list.
pub fn placeholder_list(backend: DatabaseBackend, first: usize, count: usize) -> String {
    (first..first + count)
        .map(|number| placeholder(backend, number))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `column = <parameter>, …` for an `UPDATE … SET`, parameters numbered from `first`.
pub fn assignments(backend: DatabaseBackend, columns: &[&str], first: usize) -> String {
    columns
        .iter()
        .enumerate()
        .map(|(index, column)| format!("{column} = {}", placeholder(backend, first + index)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(…), (…)` with `rows` groups of `columns` parameters in the backend's style.
pub fn value_groups(backend: DatabaseBackend, rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    let mut number = 0;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            number += 1;
            match backend {
                DatabaseBackend::Postgres => {
                    sql.push('$');
                    sql.push_str(&number.to_string());
                }
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

/// Refuses a new row of `table` (a constant of ours) when the organization
/// already keeps `most`; `what` names them in the message.
pub async fn ensure_room(
    db: &impl ConnectionTrait,
    table: &str,
    org_id: Uuid,
    most: i64,
    what: &str,
) -> Result<()> {
    let backend = db.get_database_backend();
    let kept = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT COUNT(*) AS n FROM {table} WHERE org_id = {}",
                placeholder(backend, 1)
            ),
            [org_id.into()],
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    if kept >= most {
        return Err(AppError::Conflict(format!(
            "an organization keeps at most {most} {what}; remove one first"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_number_their_parameters_from_the_first() {
        assert_eq!(
            assignments(DatabaseBackend::Postgres, &["state", "cursor"], 3),
            "state = $3, cursor = $4"
        );
        assert_eq!(
            assignments(DatabaseBackend::Sqlite, &["state", "cursor"], 3),
            "state = ?, cursor = ?"
        );
    }
}
