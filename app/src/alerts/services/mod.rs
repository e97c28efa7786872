//! Alert rules and their evaluator, silences, history, channels and the
//! outbox their notifications go through.

use std::{sync::Arc, time::Duration};

use crate::platform::services::sealed::SealingKey;

pub mod channels;
pub mod deliveries;
pub mod email;
pub mod evaluator;
pub mod events;
pub mod measure;
pub mod notify;
pub mod outbound;
pub mod rules;
pub mod silences;

use outbound::Outbound;
use sea_orm::{ConnectionTrait, Statement};
use uuid::Uuid;

use crate::{
    error::{AppError, Result},
    platform::services::transaction::placeholder,
};

/// Refuses a new row of `table` (a constant of ours) when the organization
/// already keeps `most`; `what` names them in the message.
async fn ensure_room(
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

/// The installation's alert settings (cheap to clone).
#[derive(Clone, Debug)]
pub struct AlertSettings {
    /// How often the evaluator checks every rule.
    pub interval: Duration,
    /// The guarded HTTP client for webhooks and Slack.
    pub outbound: Outbound,
    /// Seals channels' secrets; without it, channels cannot be added.
    pub sealing: Option<SealingKey>,
    /// PEM certificates trusted beside the public roots for SMTP (an internal relay's CA).
    pub smtp_roots: Option<Arc<[u8]>>,
    /// Links in notifications start with it.
    pub public_url: String,
}
