//! The OTLP forwarder: sends each organization's stored spans on to its
//! forwarding destinations.
//!
//! The span table is its outbox. Ingest acknowledges a span only once it is
//! stored (after the policy step, so what goes out is what was kept), and
//! each destination keeps a cursor over the table (a span row id) that
//! moves only when the destination acknowledged a batch, refused it for
//! good, or the batch was given up after the destination's retry budget.
//! What was acknowledged is therefore forwarded across restarts and
//! crashes (at least once: a batch sent just before a crash is sent again).
//!
//! One replica at a time runs the forwarder, holding the `forwarder` lease
//! in `forward_job`; it reads no further than the horizon below which the
//! table has no gaps that may still fill (`forwarding::services::follow`),
//! and runs one task per enabled destination, so that a destination that
//! is down or slow holds up no other. A task retries a failing destination
//! with exponential backoff (honouring `Retry-After`); while it fails,
//! spans older than its retry budget are dropped and counted.

mod send;

use std::{collections::HashMap, time::Duration};

use app::{
    forwarding::{
        services::{
            ForwardSettings,
            destinations::{self, BatchEnd, EnabledDestination, SendingDestination},
            follow::Horizon,
        },
        types::ForwardTest,
    },
    platform::services::{
        lease::{self, Lease},
        metrics::{FORWARD_REQUESTS, FORWARDED_SPANS, JobOutcome, job_pass},
        now_ns,
    },
    state::SpanForwarder,
    telemetry::{services::span_store, types::SpanView},
};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span, span::SpanKind},
};
use sea_orm::DatabaseConnection;
use tokio::{sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use self::send::{Answer, Client};
use super::encode::spans_to_otlp;

/// The job's table and row.
const JOB_TABLE: &str = "forward_job";
const JOB: &str = "forwarder";
const LEASE_NS: i64 = 30_000_000_000;
/// How often the leader looks for new spans and changed destinations.
const POLL: Duration = Duration::from_millis(500);
/// Spans per export request, at most.
const BATCH_SPANS: u64 = 512;
/// The first wait after a failed send; it doubles up to [`MOST_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MOST_BACKOFF: Duration = Duration::from_secs(30);
/// The longest wait a destination's `Retry-After` gets.
const MOST_RETRY_AFTER: Duration = Duration::from_secs(60);
/// How often a destination with nothing to send records that its cursor
/// passed other organizations' spans (so that a restart need not read them again).
const IDLE_PERSIST_NS: i64 = 30_000_000_000;

/// The test span's name and service.
pub const TEST_SPAN_NAME: &str = "Specula forwarding test";
const SERVICE_NAME: &str = "specula";

/// Sends "Send test span" for the pages and the API (`AppState::forwarder`).
#[derive(Debug)]
pub struct OtlpForwarder {
    pub settings: ForwardSettings,
}

#[async_trait::async_trait]
impl SpanForwarder for OtlpForwarder {
    async fn send_test(&self, destination: &SendingDestination) -> ForwardTest {
        let trace_id: [u8; 16] = rand::random();
        let client = Client::new(destination.clone(), &self.settings.outbound);
        let (answer, status) = client.export(test_request(trace_id, now_ns())).await;
        metrics::counter!(FORWARD_REQUESTS, "protocol" => destination.protocol.as_str(), "status" => status.clone())
            .increment(1);
        let trace_id = hex::encode(trace_id);
        match answer {
            Answer::Accepted { rejected: 0, .. } => ForwardTest {
                delivered: true,
                trace_id,
                answer: Some(answer_label(destination, &status)),
                error: None,
            },
            Answer::Accepted { message, .. } => ForwardTest {
                delivered: false,
                trace_id,
                answer: Some(answer_label(destination, &status)),
                error: Some(format!("the destination refused the span: {message}")),
            },
            Answer::Refused { error } | Answer::TooLarge { error } | Answer::Failed { error, .. } => {
                ForwardTest {
                    delivered: false,
                    trace_id,
                    answer: (status != "unreachable").then(|| answer_label(destination, &status)),
                    error: Some(error),
                }
            }
        }
    }
}

fn answer_label(destination: &SendingDestination, status: &str) -> String {
    match destination.protocol {
        app::forwarding::types::ForwardProtocol::HttpProtobuf => format!("HTTP {status}"),
        app::forwarding::types::ForwardProtocol::Grpc => format!("gRPC {status}"),
    }
}

/// One span, `specula` / "Specula forwarding test", in trace `trace_id`.
fn test_request(trace_id: [u8; 16], now: i64) -> ExportTraceServiceRequest {
    let text = |key: &str, value: &str| KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    };
    let span = Span {
        trace_id: trace_id.to_vec(),
        span_id: rand::random::<[u8; 8]>().to_vec(),
        name: TEST_SPAN_NAME.to_owned(),
        kind: SpanKind::Internal as i32,
        start_time_unix_nano: (now - 1_000_000).max(0) as u64,
        end_time_unix_nano: now.max(0) as u64,
        attributes: vec![text("specula.test", "forwarding")],
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", SERVICE_NAME)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "specula.forwarding".to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..Default::default()
                }),
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A destination's task, as the leader runs it.
struct Running {
    /// The destination as of which change: a change starts the task over.
    updated_at_ns: i64,
    stop: CancellationToken,
    task: JoinHandle<()>,
    /// Whether it has sent all it may (up to the horizon) and is not failing.
    caught_up: watch::Receiver<bool>,
}

/// Runs the forwarder until `stop`, as `owner` (unique per process).
pub async fn run(db: DatabaseConnection, settings: ForwardSettings, owner: String, stop: CancellationToken) {
    let lease = Lease {
        table: JOB_TABLE,
        name: JOB,
        owner: &owner,
        length_ns: LEASE_NS,
    };
    let (horizon_sender, horizon_receiver) = watch::channel(0_i64);
    let mut horizon: Option<Horizon> = None;
    let mut running: HashMap<Uuid, Running> = HashMap::new();
    while !stop.is_cancelled() {
        let outcome = match lead(&db, lease, &mut horizon, &horizon_sender).await {
            Ok(Some(enabled)) => {
                reconcile(&db, &settings, &enabled, &horizon_receiver, &mut running, &stop);
                let behind = running.values().any(|running| !*running.caught_up.borrow());
                if behind {
                    JobOutcome::Behind
                } else {
                    JobOutcome::Ok
                }
            }
            Ok(None) => {
                stop_all(&mut running).await;
                horizon = None;
                JobOutcome::Standby
            }
            Err(err) => {
                tracing::warn!(%err, "forwarder pass failed; retrying");
                JobOutcome::Error
            }
        };
        job_pass(JOB, outcome);
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(POLL) => {}
        }
    }
    stop_all(&mut running).await;
    if let Err(err) = lease::release(&db, lease).await {
        tracing::debug!(%err, "forwarder lease not released; it expires");
    }
}

/// One pass of the leader: the lease, the horizon and the enabled
/// destinations; `None` when another replica holds the lease.
async fn lead(
    db: &DatabaseConnection,
    lease: Lease<'_>,
    horizon: &mut Option<Horizon>,
    horizon_sender: &watch::Sender<i64>,
) -> app::error::Result<Option<Vec<EnabledDestination>>> {
    let now = now_ns();
    if !lease::claim(db, lease, now).await? {
        return Ok(None);
    }
    let enabled = destinations::enabled(db).await?;
    if enabled.is_empty() {
        *horizon = None;
        return Ok(Some(enabled));
    }
    let lowest = enabled
        .iter()
        .map(|destination| destination.position)
        .min()
        .unwrap_or(0);
    let horizon = horizon.get_or_insert_with(|| Horizon::at(lowest));
    let position = horizon.advance(db, now).await?;
    horizon_sender.send_replace(position);
    Ok(Some(enabled))
}

/// Starts a task for each enabled destination without one, and stops the
/// tasks of destinations removed, paused or changed (a changed one starts over).
fn reconcile(
    db: &DatabaseConnection,
    settings: &ForwardSettings,
    enabled: &[EnabledDestination],
    horizon: &watch::Receiver<i64>,
    running: &mut HashMap<Uuid, Running>,
    stop: &CancellationToken,
) {
    running.retain(|id, task| {
        let current = enabled
            .iter()
            .any(|destination| destination.id == *id && destination.updated_at_ns == task.updated_at_ns);
        let alive = current && !task.task.is_finished();
        if !alive {
            task.stop.cancel();
        }
        alive
    });
    for destination in enabled {
        if running.contains_key(&destination.id) {
            continue;
        }
        let task_stop = stop.child_token();
        let (caught_up_sender, caught_up) = watch::channel(false);
        let follower = Follower {
            db: db.clone(),
            settings: settings.clone(),
            destination: *destination,
            horizon: horizon.clone(),
            stop: task_stop.clone(),
            caught_up: caught_up_sender,
        };
        running.insert(
            destination.id,
            Running {
                updated_at_ns: destination.updated_at_ns,
                stop: task_stop,
                task: tokio::spawn(follower.run()),
                caught_up,
            },
        );
    }
}

async fn stop_all(running: &mut HashMap<Uuid, Running>) {
    for (_, task) in running.drain() {
        task.stop.cancel();
        if let Err(err) = task.task.await {
            tracing::warn!(%err, "forwarding task failed");
        }
    }
}

/// One destination's task: reads its spans up to the horizon in row id
/// order and sends them, batch by batch.
struct Follower {
    db: DatabaseConnection,
    settings: ForwardSettings,
    destination: EnabledDestination,
    horizon: watch::Receiver<i64>,
    stop: CancellationToken,
    caught_up: watch::Sender<bool>,
}

/// Where a destination's cursor stands: in the database, and as far as it
/// has read (past other organizations' spans).
struct Cursor {
    stored: i64,
    read: i64,
    stored_at_ns: i64,
}

impl Follower {
    async fn run(mut self) {
        let sending = match destinations::for_sending(
            &self.db,
            self.settings.sealing.as_ref(),
            self.destination.org_id,
            self.destination.id,
        )
        .await
        {
            Ok(sending) => sending,
            Err(err) => {
                tracing::warn!(%err, destination = %self.destination.id, "forwarding destination unreadable");
                return;
            }
        };
        let client = Client::new(sending, &self.settings.outbound);
        let position = client.destination().position;
        let mut cursor = Cursor {
            stored: position,
            read: position,
            stored_at_ns: now_ns(),
        };
        let mut batch_limit = BATCH_SPANS;
        let mut backoff = FIRST_BACKOFF;
        let mut failing: Option<String> = None;
        while !self.stop.is_cancelled() {
            let up_to = *self.horizon.borrow();
            let step = self
                .step(&client, &mut cursor, up_to, &mut batch_limit, &mut failing)
                .await;
            let pause = match step {
                Ok(Step::Sent) => {
                    backoff = FIRST_BACKOFF;
                    continue;
                }
                Ok(Step::Idle) => {
                    self.caught_up.send_replace(failing.is_none());
                    None
                }
                Ok(Step::Retry(retry_after)) => {
                    self.caught_up.send_replace(false);
                    let wait = retry_after.map_or(backoff, |after| after.min(MOST_RETRY_AFTER));
                    backoff = (backoff * 2).min(MOST_BACKOFF);
                    Some(jitter(wait))
                }
                Ok(Step::Moved) => {
                    tracing::info!(destination = %self.destination.id, "forwarding cursor moved elsewhere; stopping");
                    return;
                }
                Err(err) => {
                    tracing::warn!(%err, destination = %self.destination.id, "forwarding batch failed; retrying");
                    Some(FIRST_BACKOFF)
                }
            };
            match pause {
                Some(wait) => {
                    tokio::select! {
                        () = self.stop.cancelled() => return,
                        () = tokio::time::sleep(wait) => {}
                    }
                }
                None => {
                    tokio::select! {
                        () = self.stop.cancelled() => return,
                        _ = self.horizon.changed() => {}
                        () = tokio::time::sleep(POLL) => {}
                    }
                }
            }
        }
    }

    /// Reads and sends one batch.
    async fn step(
        &self,
        client: &Client,
        cursor: &mut Cursor,
        up_to: i64,
        batch_limit: &mut u64,
        failing: &mut Option<String>,
    ) -> app::error::Result<Step> {
        let destination = client.destination();
        let now = now_ns();
        if up_to <= cursor.read {
            return Ok(Step::Idle);
        }
        let spans = span_store::spans_to_forward(
            &self.db,
            destination.org_id,
            (cursor.read, up_to),
            &destination.services,
            *batch_limit,
        )
        .await?;
        let Some(last) = spans.last() else {
            // None of the destination's spans lie up to the horizon.
            cursor.read = up_to;
            if now - cursor.stored_at_ns >= IDLE_PERSIST_NS {
                return self.finish(cursor, up_to, BatchEnd::Skipped, now).await;
            }
            return Ok(Step::Idle);
        };
        let to = last.row_id;
        let count = spans.len() as u64;
        let newest_ingested = spans.iter().map(|span| span.ingested_at_ns).max().unwrap_or(now);
        let out_of_budget = now - newest_ingested > destination.retry_budget_ns;
        if let (Some(error), true) = (failing.as_ref(), out_of_budget) {
            // The destination fails and these spans have waited longer than
            // its retry budget: given up without another attempt.
            let end = BatchEnd::GaveUp {
                spans: count,
                error: error.clone(),
            };
            metrics::counter!(FORWARDED_SPANS, "outcome" => "dropped").increment(count);
            return self.finish(cursor, to, end, now).await;
        }
        let views: Vec<SpanView> = spans.into_iter().map(|span| span.view).collect();
        let request = tokio::task::spawn_blocking(move || spans_to_otlp(&views))
            .await
            .map_err(|err| app::error::AppError::Internal(err.to_string()))?;
        let (answer, status) = client.export(request).await;
        metrics::counter!(FORWARD_REQUESTS, "protocol" => destination.protocol.as_str(), "status" => status)
            .increment(1);
        let now = now_ns();
        let end = match answer {
            Answer::Accepted { rejected, message } => {
                let rejected = rejected.min(count);
                if rejected > 0 {
                    tracing::info!(destination = %destination.id, rejected, %message, "destination refused part of a batch");
                }
                metrics::counter!(FORWARDED_SPANS, "outcome" => "forwarded").increment(count - rejected);
                metrics::counter!(FORWARDED_SPANS, "outcome" => "refused").increment(rejected);
                *batch_limit = BATCH_SPANS;
                *failing = None;
                BatchEnd::Sent {
                    spans: count,
                    rejected,
                }
            }
            Answer::TooLarge { .. } if *batch_limit > 1 => {
                *batch_limit = (*batch_limit / 2).max(1);
                return Ok(Step::Sent);
            }
            Answer::Refused { error } | Answer::TooLarge { error } => {
                metrics::counter!(FORWARDED_SPANS, "outcome" => "refused").increment(count);
                *failing = None;
                BatchEnd::Refused { spans: count, error }
            }
            Answer::Failed { error, retry_after } => {
                if out_of_budget {
                    metrics::counter!(FORWARDED_SPANS, "outcome" => "dropped").increment(count);
                    *failing = Some(error.clone());
                    BatchEnd::GaveUp { spans: count, error }
                } else {
                    destinations::record_failure(&self.db, destination.id, &error, now).await?;
                    *failing = Some(error);
                    return Ok(Step::Retry(retry_after));
                }
            }
        };
        self.finish(cursor, to, end, now).await
    }

    /// Records the batch and moves the stored cursor to `to`.
    async fn finish(
        &self,
        cursor: &mut Cursor,
        to: i64,
        end: BatchEnd,
        now: i64,
    ) -> app::error::Result<Step> {
        let skipped = end == BatchEnd::Skipped;
        if !destinations::finish_batch(&self.db, self.destination.id, cursor.stored, to, &end, now).await? {
            return Ok(Step::Moved);
        }
        *cursor = Cursor {
            stored: to,
            read: to,
            stored_at_ns: now,
        };
        Ok(if skipped { Step::Idle } else { Step::Sent })
    }
}

/// What one step did.
enum Step {
    /// A batch finished (or the batch size changed): go on at once.
    Sent,
    /// Nothing to send up to the horizon.
    Idle,
    /// The send failed; try again after a backoff, or what the destination asked.
    Retry(Option<Duration>),
    /// Another replica moved the cursor (this one's lease had ended).
    Moved,
}

/// `wait` give or take a fifth, so that destinations failing together do
/// not retry in step.
fn jitter(wait: Duration) -> Duration {
    let factor = 0.8 + rand::random::<f64>() * 0.4;
    wait.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_span_names_itself() {
        let request = test_request([7; 16], 2_000_000_000);
        let resource = &request.resource_spans[0];
        let span = &resource.scope_spans[0].spans[0];
        assert_eq!(span.name, TEST_SPAN_NAME);
        assert_eq!(span.trace_id, vec![7; 16]);
        assert_eq!(span.end_time_unix_nano, 2_000_000_000);
        assert!(span.start_time_unix_nano < span.end_time_unix_nano);
        let service = &resource.resource.as_ref().unwrap().attributes[0];
        assert_eq!(service.key, "service.name");
    }

    #[test]
    fn jitter_stays_within_a_fifth() {
        for _ in 0..100 {
            let wait = jitter(Duration::from_secs(10));
            assert!(
                wait >= Duration::from_secs(8) && wait <= Duration::from_secs(12),
                "{wait:?}"
            );
        }
    }
}
