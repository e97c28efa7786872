//! Re-pricing stored spans after a price change: a job per request that
//! walks the organization's spans in a time range in bounded batches, each
//! one transaction that updates the spans whose cost changed, adds the
//! differences to their traces' and usage rollups' sums, and moves the
//! job's cursor. A batch either happens whole or not at all, so a crash or
//! a restart resumes where the last committed batch ended and no difference
//! is ever added twice.
//!
//! Several replicas may run the worker: a job is claimed with a lease, and
//! a batch commits only if the cursor it started from is still the job's,
//! so two replicas can never both apply the same batch.

use std::{collections::HashMap, time::Duration};
use tracing::Instrument;

use entity::cost_recompute;
use sea_orm::{
    ActiveValue::Set, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait, prelude::*, sea_query::Expr,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::{
    accounts::{
        services::{orgs, users},
        types::Action,
    },
    costs::{
        services::price_book::load_pricing,
        types::{RecomputeJob, RecomputeRequest},
    },
    error::{AppError, Result},
    format::usd_exact,
    platform::services::{
        audit::{self, Actor},
        metrics::{JobOutcome, job_pass, job_result},
        now_ns, rfc3339,
    },
    telemetry::services::{
        ingest::{
            pricing::OrgPricing,
            usage::{self, UsageCounters, UsageKey},
        },
        span::cost::SpanCost,
        span_store::{self, PricedRange, PricedSpan, parse_time},
    },
};

/// Spans read per batch: one transaction each, short enough not to hold
/// up the ingest writer on SQLite.
pub const BATCH_SPANS: u64 = 500;

/// How long a claimed job is its replica's without a committed batch.
const LEASE_NS: i64 = 60_000_000_000;

/// A batch that fails this many times in a row leaves the job to be
/// claimed again once its lease ends.
const BATCH_RETRIES: u32 = 5;
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// How often an idle worker looks for new jobs.
const POLL: Duration = Duration::from_secs(1);

const QUEUED: &str = "queued";
const RUNNING: &str = "running";
const DONE: &str = "done";

/// Jobs listed on the Prices page.
const RECENT_JOBS: u64 = 10;

/// Queues a recompute of `org_id`'s spans that started in the range (admins).
pub async fn request(
    db: &DatabaseConnection,
    org_id: Uuid,
    actor: &Actor,
    request: &RecomputeRequest,
) -> Result<RecomputeJob> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let since_ns = parse_time("since", request.since.trim())?;
    let until_ns = parse_time("until", request.until.trim())?;
    if since_ns >= until_ns {
        return Err(AppError::BadRequest("`since` must be before `until`".to_owned()));
    }
    let txn = db.begin().await?;
    let job = cost_recompute::ActiveModel {
        org_id: Set(org_id),
        requested_by: Set(actor.user_id),
        since_ns: Set(since_ns),
        until_ns: Set(until_ns),
        status: Set(QUEUED.to_owned()),
        created_at_ns: Set(now_ns()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        org_id,
        actor,
        "costs.recompute_requested",
        format!(
            "Asked to recompute costs of spans from {} to {}",
            rfc3339(since_ns),
            rfc3339(until_ns)
        ),
        json!({ "job": job.id }),
    )
    .await?;
    txn.commit().await?;
    Ok(view(job, Some(actor.name.clone())))
}

/// The organization's newest jobs, newest first.
pub async fn recent(db: &impl ConnectionTrait, org_id: Uuid) -> Result<Vec<RecomputeJob>> {
    let jobs = cost_recompute::Entity::find()
        .filter(cost_recompute::Column::OrgId.eq(org_id))
        .order_by_desc(cost_recompute::Column::Id)
        .limit(RECENT_JOBS)
        .all(db)
        .await?;
    views(db, jobs).await
}

/// One of the organization's jobs.
pub async fn get(db: &impl ConnectionTrait, org_id: Uuid, id: i64) -> Result<RecomputeJob> {
    let job = cost_recompute::Entity::find_by_id(id)
        .filter(cost_recompute::Column::OrgId.eq(org_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("recompute job"))?;
    let mut views = views(db, vec![job]).await?;
    views.pop().ok_or(AppError::NotFound("recompute job"))
}

async fn views(db: &impl ConnectionTrait, jobs: Vec<cost_recompute::Model>) -> Result<Vec<RecomputeJob>> {
    let emails = users::emails_of(db, jobs.iter().filter_map(|job| job.requested_by)).await?;
    Ok(jobs
        .into_iter()
        .map(|job| {
            let email = job.requested_by.and_then(|id| emails.get(&id).cloned());
            view(job, email)
        })
        .collect())
}

fn view(job: cost_recompute::Model, requested_by: Option<String>) -> RecomputeJob {
    let progress = match (job.status.as_str(), job.cursor_start_ns) {
        (DONE, _) => 1.0,
        (_, None) => 0.0,
        (_, Some(at)) => ((at - job.since_ns) as f64 / std::cmp::max(job.until_ns - job.since_ns, 1) as f64)
            .clamp(0.0, 1.0),
    };
    RecomputeJob {
        id: job.id,
        status: job.status,
        since: rfc3339(job.since_ns),
        until: rfc3339(job.until_ns),
        scanned_spans: job.scanned_spans,
        repriced_spans: job.repriced_spans,
        cost_delta_nanos: job.cost_delta_nanos,
        progress,
        requested_by,
        created_at: rfc3339(job.created_at_ns),
        finished_at: job.finished_at_ns.map(rfc3339),
        error: job.error,
    }
}

/// Runs queued jobs until `stop`: the background worker every replica starts.
/// The worker's name in `/metrics`.
const JOB: &str = "cost_recompute";

pub async fn run_jobs(db: DatabaseConnection, stop: CancellationToken) {
    loop {
        let worked = match claim(&db).await {
            Ok(Some(job)) => {
                let id = job.id;
                let ran = run_claimed(&db, job, &stop)
                    .instrument(tracing::info_span!("cost recompute", job = id))
                    .await;
                job_result(JOB, &ran);
                if let Err(err) = ran {
                    tracing::warn!(job = id, error = %err, "cost recompute batch failed; it will be retried");
                    note_error(&db, id, &err.to_string()).await;
                }
                true
            }
            Ok(None) => {
                job_pass(JOB, JobOutcome::Ok);
                false
            }
            Err(err) => {
                job_pass(JOB, JobOutcome::Error);
                tracing::warn!(error = %err, "could not look for cost recompute jobs");
                false
            }
        };
        if stop.is_cancelled() {
            return;
        }
        if !worked {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

/// Takes the oldest job that is waiting or whose replica stopped renewing
/// its lease.
async fn claim(db: &DatabaseConnection) -> Result<Option<cost_recompute::Model>> {
    let now = now_ns();
    let Some(job) = cost_recompute::Entity::find()
        .filter(cost_recompute::Column::Status.is_in([QUEUED, RUNNING]))
        .filter(cost_recompute::Column::LeaseUntilNs.lt(now))
        .order_by_asc(cost_recompute::Column::Id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let claimed = cost_recompute::Entity::update_many()
        .col_expr(cost_recompute::Column::Status, Expr::value(RUNNING))
        .col_expr(cost_recompute::Column::LeaseUntilNs, Expr::value(now + LEASE_NS))
        .filter(cost_recompute::Column::Id.eq(job.id))
        // Unchanged since read: not claimed by another replica meanwhile,
        // nor finished (a finished job's lease is 0 again).
        .filter(cost_recompute::Column::LeaseUntilNs.eq(job.lease_until_ns))
        .filter(cost_recompute::Column::Status.is_in([QUEUED, RUNNING]))
        .exec(db)
        .await?;
    Ok((claimed.rows_affected == 1).then_some(job))
}

async fn note_error(db: &DatabaseConnection, id: i64, error: &str) {
    let noted = cost_recompute::Entity::update_many()
        .col_expr(cost_recompute::Column::Error, Expr::value(error.to_owned()))
        .filter(cost_recompute::Column::Id.eq(id))
        .exec(db)
        .await;
    if let Err(err) = noted {
        tracing::warn!(job = id, error = %err, "could not note a recompute error");
    }
}

/// Runs batches of a claimed job until it is done, lost to another replica, or stopped.
async fn run_claimed(
    db: &DatabaseConnection,
    mut job: cost_recompute::Model,
    stop: &CancellationToken,
) -> Result<()> {
    let mut failures = 0;
    while !stop.is_cancelled() {
        match run_batch(db, &job).await {
            Ok(BatchOutcome::Continue(next)) => {
                job = next;
                failures = 0;
            }
            Ok(BatchOutcome::Finished | BatchOutcome::Lost) => return Ok(()),
            // A busy database (the ingest writer holding SQLite's lock
            // longer than the busy timeout) passes; the batch is retried
            // from the same cursor, since nothing of it was committed.
            Err(err) if failures < BATCH_RETRIES => {
                failures += 1;
                tracing::debug!(job = job.id, error = %err, failures, "cost recompute batch retried");
                tokio::time::sleep(RETRY_PAUSE * failures).await;
            }
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

enum BatchOutcome {
    Continue(cost_recompute::Model),
    Finished,
    /// Another replica moved the cursor first; this batch was rolled back.
    Lost,
}

/// The rollup row the span's usage was added to at ingest.
fn usage_key(span: &PricedSpan, org_id: Uuid) -> UsageKey {
    UsageKey {
        org_id,
        hour_ns: usage::hour_of(span.start_time_ns),
        model: span.model.clone().unwrap_or_default(),
        provider: span.provider.clone().unwrap_or_default(),
        service_name: span.service_name.clone(),
        agent: span.agent.clone().unwrap_or_default(),
        token_id: span.token_id.unwrap_or(Uuid::nil()),
    }
}

/// What re-pricing one span changes: its new cost and the differences.
#[derive(Debug, PartialEq, Eq)]
struct Repricing {
    cost_nanos: Option<i64>,
    unpriced: bool,
    cost_delta: i64,
    unpriced_delta: i64,
}

fn reprice(span: &PricedSpan, pricing: &OrgPricing) -> Option<Repricing> {
    let cost = pricing.cost(span.model.as_deref(), &span.tokens(), span.start_time_ns);
    let (cost_nanos, unpriced) = (cost.nanos(), cost == SpanCost::Unpriced);
    (cost_nanos != span.cost_nanos || unpriced != span.unpriced).then(|| Repricing {
        cost_nanos,
        unpriced,
        cost_delta: cost_nanos.unwrap_or(0) - span.cost_nanos.unwrap_or(0),
        unpriced_delta: i64::from(unpriced) - i64::from(span.unpriced),
    })
}

async fn next_spans(db: &impl ConnectionTrait, job: &cost_recompute::Model) -> Result<Vec<PricedSpan>> {
    let range = PricedRange {
        org_id: job.org_id,
        since_ns: job.since_ns,
        until_ns: job.until_ns,
        after: job.cursor_start_ns.map(|at| (at, job.cursor_id)),
    };
    Ok(span_store::priced_spans(db, range, BATCH_SPANS).await?)
}

/// The job's row, if its cursor is still where `job` says: the batch's
/// guard against another replica running the same job.
fn at_cursor(job: &cost_recompute::Model) -> Condition {
    let cursor = Condition::all()
        .add(cost_recompute::Column::Id.eq(job.id))
        .add(cost_recompute::Column::CursorId.eq(job.cursor_id));
    match job.cursor_start_ns {
        Some(at) => cursor.add(cost_recompute::Column::CursorStartNs.eq(at)),
        None => cursor.add(cost_recompute::Column::CursorStartNs.is_null()),
    }
}

async fn run_batch(db: &DatabaseConnection, job: &cost_recompute::Model) -> Result<BatchOutcome> {
    let txn = db.begin().await?;
    // Writing first takes SQLite's write lock before anything is read, so
    // the batch reads the latest rows and a commit by the ingest writer in
    // between cannot invalidate its snapshot; on PostgreSQL it locks the
    // job's row, so a second replica on the same job waits here and then
    // finds the cursor moved.
    let claimed = cost_recompute::Entity::update_many()
        .col_expr(
            cost_recompute::Column::LeaseUntilNs,
            Expr::value(now_ns() + LEASE_NS),
        )
        .filter(at_cursor(job))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(BatchOutcome::Lost);
    }
    let pricing = load_pricing(&txn, job.org_id).await?;
    let spans = next_spans(&txn, job).await?;

    let mut traces: HashMap<&str, (i64, i64)> = HashMap::new();
    let mut rollups: HashMap<UsageKey, UsageCounters> = HashMap::new();
    let (mut repriced, mut cost_delta) = (0i64, 0i64);
    for span in &spans {
        let Some(change) = reprice(span, &pricing) else {
            continue;
        };
        if !span_store::set_span_cost(&txn, span, change.cost_nanos, change.unpriced).await? {
            continue;
        }
        let trace = traces.entry(span.trace_id.as_str()).or_default();
        trace.0 += change.cost_delta;
        trace.1 += change.unpriced_delta;
        let rollup = rollups.entry(usage_key(span, job.org_id)).or_default();
        rollup.cost_nanos += change.cost_delta;
        rollup.unpriced += change.unpriced_delta;
        repriced += 1;
        cost_delta += change.cost_delta;
    }
    for (trace_id, (cost, unpriced)) in traces {
        span_store::add_to_trace_cost(&txn, job.org_id, trace_id, cost, unpriced).await?;
    }
    // The differences are added like ingest's deltas: every other counter is 0.
    usage::upsert(&txn, rollups.into_iter().collect()).await?;

    let finished = (spans.len() as u64) < BATCH_SPANS;
    let last = spans.last();
    let now = now_ns();
    let next = cost_recompute::Model {
        status: if finished { DONE } else { RUNNING }.to_owned(),
        scanned_spans: job.scanned_spans + spans.len() as i64,
        repriced_spans: job.repriced_spans + repriced,
        cost_delta_nanos: job.cost_delta_nanos + cost_delta,
        cursor_start_ns: last.map(|span| span.start_time_ns).or(job.cursor_start_ns),
        cursor_id: last.map_or(job.cursor_id, |span| span.id),
        lease_until_ns: if finished { 0 } else { now + LEASE_NS },
        finished_at_ns: finished.then_some(now),
        error: None,
        ..job.clone()
    };
    cost_recompute::Entity::update(cost_recompute::ActiveModel::from(next.clone()).reset_all())
        .exec(&txn)
        .await?;
    if finished {
        audit::record(
            &txn,
            job.org_id,
            &Actor::system(),
            "costs.recomputed",
            format!(
                "Recomputed costs from {} to {}: {} of {} spans re-priced, total changed by {} USD",
                rfc3339(job.since_ns),
                rfc3339(job.until_ns),
                next.repriced_spans,
                next.scanned_spans,
                usd_exact(next.cost_delta_nanos)
            ),
            json!({
                "job": job.id,
                "scanned_spans": next.scanned_spans,
                "repriced_spans": next.repriced_spans,
                "cost_delta_nanos": next.cost_delta_nanos,
            }),
        )
        .await?;
    }
    txn.commit().await?;
    if finished {
        tracing::info!(job = job.id, org_id = %job.org_id, repriced = next.repriced_spans, "cost recompute finished");
        Ok(BatchOutcome::Finished)
    } else {
        Ok(BatchOutcome::Continue(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::services::ingest::pricing::{ModelPrice, PriceOverride};

    fn span(model: &str, cost_nanos: Option<i64>, unpriced: bool) -> PricedSpan {
        PricedSpan {
            id: 1,
            trace_id: "t".into(),
            start_time_ns: 5_000,
            model: Some(model.into()),
            provider: None,
            service_name: "svc".into(),
            agent: None,
            token_id: None,
            input_tokens: Some(1_000_000),
            output_tokens: Some(0),
            cache_read_tokens: None,
            cache_write_tokens: None,
            reasoning_tokens: None,
            cost_nanos,
            unpriced,
        }
    }

    fn pricing(model: &str, input_micro: i64, from_ns: i64) -> OrgPricing {
        OrgPricing::new([PriceOverride {
            price: ModelPrice {
                provider: String::new(),
                model: model.into(),
                input: input_micro,
                output: 0,
                cache_read: None,
                cache_write: None,
                reasoning: None,
                source: String::new(),
                date: String::new(),
            },
            effective_from_ns: from_ns,
        }])
    }

    #[test]
    fn only_changed_costs_are_repriced_with_exact_differences() {
        let unpriced = span("acme-1", None, true);
        assert_eq!(
            reprice(&unpriced, &pricing("acme-*", 2_000_000, 0)),
            Some(Repricing {
                cost_nanos: Some(2_000_000_000),
                unpriced: false,
                cost_delta: 2_000_000_000,
                unpriced_delta: -1
            })
        );
        let priced = span("acme-1", Some(2_000_000_000), false);
        assert_eq!(
            reprice(&priced, &pricing("acme-*", 2_000_000, 0)),
            None,
            "same price: untouched"
        );
        assert_eq!(
            reprice(&priced, &pricing("acme-*", 3_000_000, 0)).map(|change| change.cost_delta),
            Some(1_000_000_000)
        );
        assert_eq!(
            reprice(&priced, &pricing("acme-*", 3_000_000, 6_000)),
            Some(Repricing {
                cost_nanos: None,
                unpriced: true,
                cost_delta: -2_000_000_000,
                unpriced_delta: 1
            }),
            "the override starts after the span, and the model is not built in"
        );
    }
}
