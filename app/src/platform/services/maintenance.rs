//! Progress of one-off maintenance jobs (the `maintenance_jobs` table): each
//! walks stored rows in id order and in batches, recording the last id done
//! with each batch, so a restart goes on from there.

use sea_orm::{
    ConnectionTrait,
    sea_query::{Alias, Expr, ExprTrait, Query},
};

use crate::error::Result;

/// Where job `name` stopped, unless it finished (or its migration did not
/// create it).
pub async fn unfinished(db: &impl ConnectionTrait, name: &str) -> Result<Option<i64>> {
    let job = db
        .query_one(
            Query::select()
                .columns([Alias::new("position"), Alias::new("finished")])
                .from(Alias::new("maintenance_jobs"))
                .and_where(Expr::col(Alias::new("name")).eq(name)),
        )
        .await?;
    let Some(job) = job else { return Ok(None) };
    if job.try_get::<bool>("", "finished")? {
        return Ok(None);
    }
    Ok(Some(job.try_get("", "position")?))
}

/// Records that job `name` is done up to row `position` (and whether that
/// is all of it).
pub async fn set_progress(
    db: &impl ConnectionTrait,
    name: &str,
    position: i64,
    finished: bool,
) -> Result<()> {
    db.execute(
        Query::update()
            .table(Alias::new("maintenance_jobs"))
            .value(Alias::new("position"), position)
            .value(Alias::new("finished"), finished)
            .and_where(Expr::col(Alias::new("name")).eq(name)),
    )
    .await?;
    Ok(())
}
