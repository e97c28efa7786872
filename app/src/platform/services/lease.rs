//! Leases that make a background job run on one replica at a time: a row
//! (by `name`) in the job's table, with `lease_owner` and `lease_until_ns`
//! columns. The holder renews it while it works; when it stops renewing
//! (a crash, a shutdown), another replica takes it once it has expired.

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};

use crate::{error::Result, platform::services::transaction::placeholder};

/// Which lease, and whose.
#[derive(Clone, Copy, Debug)]
pub struct Lease<'a> {
    /// The job's table (a constant of the caller's, never user input).
    pub table: &'static str,
    /// The job's row.
    pub name: &'a str,
    pub owner: &'a str,
    pub length_ns: i64,
}

/// Claims or renews `lease` for its owner; true when the owner holds it.
/// Writes only to take the lease or to renew one past half its time: an
/// idle worker looks often, and on SQLite every write makes a concurrent
/// transaction that read before it writes fail (`SQLITE_BUSY_SNAPSHOT`).
pub async fn claim(db: &DatabaseConnection, lease: Lease<'_>, now: i64) -> Result<bool> {
    let Lease {
        table,
        name,
        owner,
        length_ns,
    } = lease;
    let backend = db.get_database_backend();
    let held = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT lease_owner, lease_until_ns FROM {table} WHERE name = {}",
                placeholder(backend, 1)
            ),
            [name.into()],
        ))
        .await?;
    if let Some(row) = held {
        let holder: Option<String> = row.try_get("", "lease_owner")?;
        let until: i64 = row.try_get("", "lease_until_ns")?;
        match holder.as_deref() {
            Some(holder) if holder == owner && until - now > length_ns / 2 => return Ok(true),
            Some(holder) if holder != owner && until >= now => return Ok(false),
            _ => {}
        }
    }
    let sql = format!(
        "UPDATE {table} SET lease_owner = {owner}, lease_until_ns = {until} \
         WHERE name = {name} AND (lease_owner = {owner_again} OR lease_owner IS NULL OR lease_until_ns < {now})",
        owner = placeholder(backend, 1),
        until = placeholder(backend, 2),
        name = placeholder(backend, 3),
        owner_again = placeholder(backend, 4),
        now = placeholder(backend, 5),
    );
    let values: [Value; 5] = [
        owner.into(),
        (now + length_ns).into(),
        name.into(),
        owner.into(),
        now.into(),
    ];
    let claimed = db
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Gives `lease` up (at a clean stop), so another replica need not wait for it to expire.
pub async fn release(db: &DatabaseConnection, lease: Lease<'_>) -> Result<()> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE {} SET lease_owner = NULL, lease_until_ns = 0 WHERE name = {} AND lease_owner = {}",
            lease.table,
            placeholder(backend, 1),
            placeholder(backend, 2)
        ),
        [lease.name.into(), lease.owner.into()],
    ))
    .await?;
    Ok(())
}

/// The table of leases for jobs without a table of their own.
pub const JOB_LEASES: &str = "job_leases";
/// How long such a lease lasts without a renewal.
const JOB_LEASE_NS: i64 = 60_000_000_000;

/// Runs `work` while `owner` holds the lease `name` in [`JOB_LEASES`],
/// renewing it meanwhile; `None` without running it when another replica
/// holds it. The lease stays with its holder after `work` until it
/// expires, so a job done every few seconds keeps running on one replica.
pub async fn while_holding<T>(
    db: &DatabaseConnection,
    name: &'static str,
    owner: &str,
    work: impl std::future::Future<Output = T>,
) -> Result<Option<T>> {
    let lease = Lease {
        table: JOB_LEASES,
        name,
        owner,
        length_ns: JOB_LEASE_NS,
    };
    if !claim(db, lease, super::now_ns()).await? {
        return Ok(None);
    }
    let renewing = async {
        loop {
            tokio::time::sleep(std::time::Duration::from_nanos((JOB_LEASE_NS / 3) as u64)).await;
            if let Err(err) = claim(db, lease, super::now_ns()).await {
                tracing::warn!(%err, job = name, "lease not renewed");
            }
        }
    };
    tokio::select! {
        done = work => Ok(Some(done)),
        () = renewing => unreachable!("renewing never ends"),
    }
}
