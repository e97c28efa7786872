//! What the configuration card shows about ingest: whether spans arrive, and
//! a demo trace to try the pipeline end to end.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestStatus {
    /// When the organization's latest span was stored (Unix ns), if ever.
    pub last_span_at_ns: Option<i64>,
    /// The server's clock, so the browser can say "N s ago" without trusting its own.
    pub now_ns: i64,
}

impl IngestStatus {
    /// Whole seconds since the last span, if there was one.
    pub fn seconds_since_last_span(&self) -> Option<i64> {
        self.last_span_at_ns
            .map(|last| (self.now_ns - last).max(0) / 1_000_000_000)
    }
}

#[server]
pub async fn get_ingest_status(org_id: Uuid) -> Result<IngestStatus, ApiError> {
    use crate::{accounts::Action, services::orgs};

    let (state, _, user) = crate::server_context::signed_in().await?;
    orgs::authorize(&state.db, org_id, user.id, Action::Read).await?;
    let last_span_at_ns = crate::services::traces::last_ingested_at(&state.db, org_id).await?;
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    Ok(IngestStatus {
        last_span_at_ns,
        now_ns,
    })
}

/// Ingests the demo agent trace into the organization; returns its trace id.
#[server]
pub async fn send_test_trace(org_id: Uuid) -> Result<String, ApiError> {
    use crate::{
        accounts::Action,
        error::AppError,
        services::{ingest::demo, orgs},
    };

    let (state, _, user) = crate::server_context::signed_in().await?;
    orgs::authorize(&state.db, org_id, user.id, Action::MintOwnIngestToken).await?;
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let pricing = state.prices.for_org(&state.db, org_id).await?;
    let (trace_id, spans) = demo::demo_trace(now_ns, &state.ingest_policy, &pricing);
    state.ingest.write(org_id, None, spans).await.map_err(|err| {
        AppError::Unavailable(
            if err == crate::services::ingest::writer::WriteError::Overloaded {
                "the server is busy; try again"
            } else {
                "the test trace could not be stored"
            },
        )
    })?;
    Ok(trace_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_since_last_span() {
        let status = IngestStatus {
            last_span_at_ns: Some(1_000_000_000),
            now_ns: 43_500_000_000,
        };
        assert_eq!(status.seconds_since_last_span(), Some(42));
        assert_eq!(
            IngestStatus {
                last_span_at_ns: None,
                now_ns: 5
            }
            .seconds_since_last_span(),
            None
        );
        // A clock slightly behind the span's is not negative.
        assert_eq!(
            IngestStatus {
                last_span_at_ns: Some(10),
                now_ns: 5
            }
            .seconds_since_last_span(),
            Some(0)
        );
    }
}
