//! "Send test span": one span sent to a destination the way its spans go
//! (by the server's OTLP clients, through `AppState::forwarder`), and what
//! it did recorded in the audit log.

use serde_json::json;
use uuid::Uuid;

use super::destinations::{for_sending, get};
use crate::{
    accounts::{services::orgs, types::Action},
    error::Result,
    forwarding::types::ForwardTest,
    platform::services::audit::{self, Actor},
    state::AppState,
};

/// Sends the test span (owners and admins); the destination's counts are
/// left as they are.
pub async fn send_test(state: &AppState, org_id: Uuid, actor: &Actor, id: Uuid) -> Result<ForwardTest> {
    let db = &state.db;
    orgs::authorize(db, org_id, actor.acting_user()?, Action::ManagePolicies).await?;
    let destination = get(db, org_id, id).await?;
    let sending = for_sending(db, state.forwarding.sealing.as_ref(), org_id, id).await?;
    let test = state.forwarder.send_test(&sending).await;
    audit::record(
        db,
        org_id,
        actor,
        "forwarding.destination.test",
        format!(
            "sent a test span to the forwarding destination {}: {}",
            destination.name,
            if test.delivered { "delivered" } else { "failed" }
        ),
        json!({
            "destination_id": id,
            "trace_id": test.trace_id,
            "delivered": test.delivered,
            "answer": test.answer,
            "error": test.error,
        }),
    )
    .await?;
    Ok(test)
}
