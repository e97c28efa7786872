//! Token buckets several replicas share on one PostgreSQL. A replica takes
//! what a request lacks plus a little more (an allotment) in one statement
//! and serves the next requests from the allotment in memory, so most
//! requests cost no round trip; nothing is let in that the shared bucket
//! did not grant. The bucket refills by the database's clock, not the
//! replicas'.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};

use super::bucket::Rate;

/// A take from a shared bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Granted {
    /// 0 when the bucket held less than one unit.
    pub granted: f64,
    /// The bucket's level afterwards (or, when nothing was granted, now).
    pub level: f64,
}

/// The database's time in seconds, and a bucket's level at that time.
const NOW: &str = "EXTRACT(EPOCH FROM clock_timestamp())::double precision";

/// Takes `amount` plus up to `extra` from the bucket `key` when it holds a unit.
pub async fn take(
    db: &DatabaseConnection,
    key: &str,
    rate: Rate,
    amount: f64,
    extra: f64,
) -> Result<Granted, DbErr> {
    let level = format!("LEAST($4, b.level + GREATEST({NOW} - b.updated_at, 0) * $5)");
    let grant = format!("CASE WHEN {level} >= 1 THEN GREATEST($6, LEAST({level}, $7)) ELSE 0 END");
    let sql = format!(
        "INSERT INTO rate_buckets AS b (bucket, level, updated_at, granted) VALUES ($1, $2, {NOW}, $3) \
         ON CONFLICT (bucket) DO UPDATE SET granted = {grant}, level = {level} - {grant}, updated_at = {NOW} \
         RETURNING granted, level"
    );
    // A new bucket starts full.
    let first_grant = amount.max((amount + extra).min(rate.burst));
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            sql,
            [
                key.into(),
                (rate.burst - first_grant).into(),
                first_grant.into(),
                rate.burst.into(),
                rate.per_second.into(),
                amount.into(),
                (amount + extra).into(),
            ],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("rate bucket".into()))?;
    let (granted, level): (f64, f64) = row.try_get_many_by_index()?;
    Ok(Granted { granted, level })
}
