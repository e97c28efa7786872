//! The outbox of notifications. The evaluator adds a delivery per channel
//! in the same transaction as the events it carries, so what was recorded
//! is sent even across a restart; a worker (one replica at a time, by a
//! lease) sends what is due, and retries with backoff what failed for a
//! reason that may pass (no answer, a 5xx, 408, 429, an SMTP 4xx). Each
//! attempt is recorded on the delivery and the channel.

use std::time::Duration;
use tracing::Instrument;

use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Statement, Value};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    AlertSettings,
    channels::{self, SendingChannel},
    email::{self, Mailer, Sent},
    notify::{Notification, slack_body, webhook_body, webhook_signature},
};
use crate::{
    accounts::{services::orgs, types::Action},
    alerts::types::{ChannelSettings, Delivery},
    error::{AppError, Result},
    platform::services::{
        audit::{self, Actor},
        lease::{self, Lease},
        now_ns, rfc3339,
        transaction::{assignments, placeholder, placeholder_list},
    },
};

const JOB_TABLE: &str = "alert_job";
const JOB: &str = "deliveries";
const LEASE_NS: i64 = 60 * 1_000_000_000;
const POLL: Duration = Duration::from_secs(1);
const BATCH: i64 = 20;
/// The wait before each retry; after the last, the delivery has failed.
const BACKOFF_SECS: [i64; 7] = [10, 30, 60, 120, 300, 600, 1_200];
const SECOND_NS: i64 = 1_000_000_000;

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub delivered: bool,
    /// Worth trying again (the failure may pass).
    pub retry: bool,
    /// HTTP status or SMTP reply code.
    pub code: Option<i64>,
    pub error: Option<String>,
}

/// Adds a delivery of `notification` to `channel_id`, due now; its id.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    channel_id: Uuid,
    notification: &Notification,
    now: i64,
) -> Result<i64> {
    let backend = db.get_database_backend();
    let body = serde_json::to_string(notification).map_err(|err| AppError::Internal(err.to_string()))?;
    let values: Vec<Value> = vec![
        org_id.into(),
        channel_id.into(),
        body.into(),
        notification.test.into(),
        "pending".into(),
        now.into(),
        now.into(),
    ];
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO alert_deliveries (org_id, channel_id, notification, test, status, next_attempt_ns, \
                 created_at_ns) VALUES ({}) RETURNING id",
                placeholder_list(backend, 1, values.len())
            ),
            values,
        ))
        .await?
        .ok_or_else(|| AppError::Internal("the delivery insert returned no id".into()))?;
    Ok(row.try_get("", "id")?)
}

/// Sends due deliveries until `stop`, as `owner` (this replica).
pub async fn run(db: DatabaseConnection, settings: AlertSettings, owner: String, stop: CancellationToken) {
    let lease = Lease {
        table: JOB_TABLE,
        name: JOB,
        owner: &owner,
        length_ns: LEASE_NS,
    };
    loop {
        let sent = send_due(&db, &settings, lease, &stop).await;
        crate::platform::services::metrics::job_result("alert_deliveries", &sent);
        match sent {
            Ok(sent) if sent > 0 => tracing::debug!(sent, "alert deliveries attempted"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "alert deliveries failed; trying again shortly"),
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = stop.cancelled() => break,
        }
    }
    if let Err(err) = lease::release(&db, lease).await {
        tracing::warn!(error = %err, "alert deliveries: giving the lease up failed; it will expire");
    }
}

/// Attempts the deliveries due now, if this replica holds the lease; how many.
pub async fn send_due(
    db: &DatabaseConnection,
    settings: &AlertSettings,
    lease: Lease<'_>,
    stop: &CancellationToken,
) -> Result<usize> {
    let now = now_ns();
    let backend = db.get_database_backend();
    let due = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT id, org_id, channel_id, notification, attempts FROM alert_deliveries \
                 WHERE status = 'pending' AND next_attempt_ns <= {} ORDER BY next_attempt_ns, id LIMIT {BATCH}",
                placeholder(backend, 1)
            ),
            [now.into()],
        ))
        .await?;
    if due.is_empty() || !lease::claim(db, lease, now).await? {
        return Ok(0);
    }
    let Some(key) = settings.sealing.as_ref() else {
        return Err(AppError::Unavailable("alert deliveries need SPECULA_SECRETS_KEY"));
    };
    let mut attempted = 0;
    for row in &due {
        // A slow receiver can hold a batch past the lease's length: renewed
        // (or found lost to another replica) before each send, so no
        // delivery goes out from two replicas.
        if stop.is_cancelled() || !lease::claim(db, lease, now_ns()).await? {
            break;
        }
        let id: i64 = row.try_get("", "id")?;
        let org_id: Uuid = row.try_get("", "org_id")?;
        let channel_id: Uuid = row.try_get("", "channel_id")?;
        let attempts: i64 = row.try_get("", "attempts")?;
        let notification: Notification = serde_json::from_str(&row.try_get::<String>("", "notification")?)
            .map_err(|err| AppError::Internal(format!("alert delivery {id}: {err}")))?;
        let attempt = match channels::for_sending(db, key, org_id, channel_id).await {
            Ok(channel) => {
                send(settings, &channel, &notification, id)
                    .instrument(tracing::info_span!("alert delivery", delivery = id, %channel_id))
                    .await
            }
            Err(AppError::NotFound(_)) => continue, // removed with its channel meanwhile
            Err(err) => Attempt {
                delivered: false,
                retry: false,
                code: None,
                error: Some(err.to_string()),
            },
        };
        finish(db, id, attempts + 1, &attempt, now_ns()).await?;
        channels::record_outcome(db, channel_id, attempt.delivered, attempt.error.as_deref()).await?;
        attempted += 1;
    }
    Ok(attempted)
}

/// Records an attempt: delivered, due again after its backoff, or failed.
async fn finish(
    db: &impl ConnectionTrait,
    id: i64,
    attempts: i64,
    attempt: &Attempt,
    now: i64,
) -> Result<()> {
    let backoff = usize::try_from(attempts - 1)
        .ok()
        .and_then(|index| BACKOFF_SECS.get(index));
    let (status, next, finished) = match (attempt.delivered, attempt.retry, backoff) {
        (true, _, _) => ("delivered", now, now),
        (false, true, Some(wait)) => ("pending", now + wait * SECOND_NS, 0),
        (false, _, _) => ("failed", now, now),
    };
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE alert_deliveries SET {} WHERE id = {}",
            assignments(
                backend,
                &[
                    "status",
                    "attempts",
                    "next_attempt_ns",
                    "finished_at_ns",
                    "response_code",
                    "last_error"
                ],
                1
            ),
            placeholder(backend, 7)
        ),
        [
            status.into(),
            attempts.into(),
            next.into(),
            finished.into(),
            attempt.code.into(),
            attempt.error.clone().into(),
            id.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// One attempt at sending `notification` on `channel`; `delivery_id` is
/// given to webhook receivers (`X-Specula-Delivery`) to drop repeats.
pub async fn send(
    settings: &AlertSettings,
    channel: &SendingChannel,
    notification: &Notification,
    delivery_id: i64,
) -> Attempt {
    match &channel.settings {
        ChannelSettings::Webhook { url } => {
            let body = webhook_body(notification);
            let signature = webhook_signature(
                channel.signing_secret.as_deref().unwrap_or_default(),
                now_ns() / SECOND_NS,
                &body,
            );
            let headers = [
                ("x-specula-signature", signature),
                ("x-specula-delivery", delivery_id.to_string()),
            ];
            http_attempt(
                settings
                    .outbound
                    .post(url, "application/json", &headers, body)
                    .await,
            )
        }
        ChannelSettings::Slack { url } => http_attempt(
            settings
                .outbound
                .post(url, "application/json", &[], slack_body(notification))
                .await,
        ),
        ChannelSettings::Email {
            host,
            port,
            security,
            username,
            password,
            from,
            to,
        } => {
            let mailer = Mailer {
                host,
                port: *port,
                security: *security,
                username: username.as_deref(),
                password: password.as_deref(),
                from,
                to,
            };
            match email::send(
                &mailer,
                &settings.outbound,
                settings.smtp_roots.as_deref(),
                notification,
            )
            .await
            {
                Sent::Accepted(code) => Attempt {
                    delivered: true,
                    retry: false,
                    code: Some(i64::from(code)),
                    error: None,
                },
                Sent::Rejected {
                    code,
                    message,
                    permanent,
                } => Attempt {
                    delivered: false,
                    retry: !permanent,
                    code: code.map(i64::from),
                    error: Some(message),
                },
            }
        }
    }
}

fn http_attempt(
    answer: std::result::Result<
        crate::platform::services::outbound::Answer,
        crate::platform::services::outbound::OutboundError,
    >,
) -> Attempt {
    match answer {
        Ok(answer) if (200..300).contains(&answer.status) => Attempt {
            delivered: true,
            retry: false,
            code: Some(i64::from(answer.status)),
            error: None,
        },
        Ok(answer) => Attempt {
            delivered: false,
            retry: answer.status >= 500 || answer.status == 408 || answer.status == 429,
            code: Some(i64::from(answer.status)),
            error: Some(format!(
                "the receiver answered {}: {}",
                answer.status, answer.body
            )),
        },
        Err(crate::platform::services::outbound::OutboundError::Refused(message)) => Attempt {
            delivered: false,
            retry: false,
            code: None,
            error: Some(message),
        },
        Err(err @ crate::platform::services::outbound::OutboundError::Unreachable(_)) => Attempt {
            delivered: false,
            retry: true,
            code: None,
            error: Some(err.to_string()),
        },
    }
}

/// "Send test": sends a test notification now (owners and admins), records
/// it as a delivery, and answers how it went. Not retried.
pub async fn send_test(
    db: &DatabaseConnection,
    settings: &AlertSettings,
    org_id: Uuid,
    actor: &Actor,
    channel_id: Uuid,
) -> Result<Delivery> {
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let key = channels::sealing_key(settings)?;
    let channel = channels::for_sending(db, key, org_id, channel_id).await?;
    let organization = orgs::name(db, org_id).await?;
    let now = now_ns();
    let notification = Notification::test(
        org_id,
        &organization,
        rfc3339(now),
        format!("{}/alerts", settings.public_url),
    );
    // Recorded first, so that a test is listed with the channel's deliveries.
    let id = enqueue(db, org_id, channel_id, &notification, now).await?;
    let attempt = send(settings, &channel, &notification, id).await;
    finish(
        db,
        id,
        1,
        &Attempt {
            retry: false,
            ..attempt.clone()
        },
        now_ns(),
    )
    .await?;
    channels::record_outcome(db, channel_id, attempt.delivered, attempt.error.as_deref()).await?;
    audit::record(
        db,
        org_id,
        actor,
        "alerts.channel.test",
        format!(
            "sent a test to the alert channel {}: {}",
            channel.name,
            if attempt.delivered { "delivered" } else { "failed" }
        ),
        json!({"channel_id": channel_id, "delivery_id": id, "delivered": attempt.delivered, "code": attempt.code}),
    )
    .await?;
    list(db, org_id, channel_id, 1)
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound("delivery"))
}

/// A channel's newest deliveries (at most `limit`).
pub async fn list(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    channel_id: Uuid,
    limit: u64,
) -> Result<Vec<Delivery>> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT id, channel_id, status, attempts, response_code, last_error, test, created_at_ns, \
                 next_attempt_ns, finished_at_ns FROM alert_deliveries \
                 WHERE org_id = {} AND channel_id = {} ORDER BY id DESC LIMIT {}",
                placeholder(backend, 1),
                placeholder(backend, 2),
                limit.min(500)
            ),
            [org_id.into(), channel_id.into()],
        ))
        .await?;
    rows.iter().map(delivery_of).collect()
}

fn delivery_of(row: &QueryResult) -> Result<Delivery> {
    let status: String = row.try_get("", "status")?;
    let next: i64 = row.try_get("", "next_attempt_ns")?;
    let finished: i64 = row.try_get("", "finished_at_ns")?;
    let attempts: i64 = row.try_get("", "attempts")?;
    Ok(Delivery {
        id: row.try_get("", "id")?,
        channel_id: row.try_get("", "channel_id")?,
        next_attempt_at: (status == "pending").then(|| rfc3339(next)),
        status,
        attempts: u64::try_from(attempts).unwrap_or(0),
        response_code: row.try_get("", "response_code")?,
        last_error: row.try_get("", "last_error")?,
        test: row.try_get("", "test")?,
        created_at: rfc3339(row.try_get("", "created_at_ns")?),
        finished_at: (finished > 0).then(|| rfc3339(finished)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_that_may_pass_are_retried() {
        let answer = |status| {
            Ok(crate::platform::services::outbound::Answer {
                status,
                body: String::new(),
            })
        };
        assert!(http_attempt(answer(204)).delivered);
        for status in [500, 502, 503, 408, 429] {
            let attempt = http_attempt(answer(status));
            assert!(!attempt.delivered && attempt.retry, "{status}");
        }
        for status in [400, 401, 403, 404, 410] {
            assert!(!http_attempt(answer(status)).retry, "{status}");
        }
        assert!(
            http_attempt(Err(
                crate::platform::services::outbound::OutboundError::Unreachable("reset".into())
            ))
            .retry
        );
        assert!(
            !http_attempt(Err(crate::platform::services::outbound::OutboundError::Refused(
                "private".into()
            )))
            .retry
        );
    }
}
