//! `GET /api/v1/live`: Server-Sent Events of newly stored spans.

use std::{collections::VecDeque, convert::Infallible, time::Duration};

use app::{
    error::Result,
    state::AppState,
    telemetry::{
        services::{live::LiveHub, span_store},
        types::{SpanQuery, SpanSummary},
    },
};
use axum::{
    extract::{RawQuery, State},
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
};
use futures_util::{Stream, stream};
use sea_orm::DatabaseConnection;
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

use super::{
    extract::{ApiQuery, Caller, attribute_filters, search_words},
    openapi::ApiErrors,
    traces::{OrgQuery, org_for},
};

/// Spans read per query; a burst larger than this arrives over several reads.
const READ_BATCH: u64 = 200;
/// Without announcements (a lost notification), look anyway this often.
const FALLBACK_POLL: Duration = Duration::from_secs(5);
/// A comment line this often keeps proxies from closing an idle stream.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// Streams the caller's new spans matching the explorer's filters, oldest
/// first, as Server-Sent Events: each event `span` carries a `SpanSummary`
/// and an id; a client that reconnects with `Last-Event-ID` gets what it
/// missed first. A comment every 15 s keeps the stream open. `limit` and
/// `cursor` are checked as on `/spans` but page nothing; `attr.<key>=<value>`
/// filters apply.
#[utoipa::path(
    get, path = "/live", operation_id = "live_spans", tag = "spans",
    params(
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event"),
        OrgQuery, SpanQuery,
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream`", content_type = "text/event-stream", body = SpanSummary),
        ApiErrors,
    ),
    security(("bearer" = []), ("session" = [])),
)]
pub async fn live(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(org): ApiQuery<OrgQuery>,
    ApiQuery(mut query): ApiQuery<SpanQuery>,
    RawQuery(raw): RawQuery,
) -> Result<Sse<impl Stream<Item = std::result::Result<Event, Infallible>>>> {
    let org_id = org_for(&state, &caller, org.org).await?;
    query.q = search_words(query.q);
    span_store::check_query(state.db.get_database_backend(), &query)?;
    // Subscribe before reading where to start, so nothing falls in between.
    let announcements = state.live.subscribe();
    let resume = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<i64>().ok());
    let after_id = match resume {
        Some(id) => id,
        None => span_store::latest_row_id(&state.db, org_id).await?,
    };
    let tail = Tail {
        db: state.db.clone(),
        hub: state.live.clone(),
        announcements,
        org_id,
        query: SpanQuery {
            cursor: None,
            attributes: attribute_filters(raw.as_deref()),
            ..query
        },
        after_id,
        pending: VecDeque::new(),
    };
    Ok(Sse::new(stream::unfold(tail, Tail::next)).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}

struct Tail {
    db: DatabaseConnection,
    hub: LiveHub,
    announcements: broadcast::Receiver<Uuid>,
    org_id: Uuid,
    query: SpanQuery,
    after_id: i64,
    pending: VecDeque<(i64, SpanSummary)>,
}

impl Tail {
    async fn next(mut self) -> Option<(std::result::Result<Event, Infallible>, Self)> {
        loop {
            if let Some((id, span)) = self.pending.pop_front() {
                let event = Event::default()
                    .event("span")
                    .id(id.to_string())
                    .json_data(&span)
                    .unwrap_or_else(|_| Event::default().comment("unserializable span"));
                return Some((Ok(event), self));
            }
            match span_store::spans_after(&self.db, self.org_id, &self.query, self.after_id, READ_BATCH).await
            {
                Ok(found) if !found.is_empty() => {
                    self.after_id = found.last().map_or(self.after_id, |(id, _)| *id);
                    self.pending.extend(found);
                    continue;
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "live tail read failed; retrying"),
            }
            if !self.wait_for_news().await {
                return None;
            }
        }
    }

    /// Waits until this organization may have new spans; false once the server closes.
    async fn wait_for_news(&mut self) -> bool {
        let deadline = tokio::time::sleep(FALLBACK_POLL);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = self.hub.closed().cancelled() => return false,
                () = &mut deadline => return true,
                announcement = self.announcements.recv() => match announcement {
                    Ok(org_id) if org_id == self.org_id => return true,
                    Ok(_) => {}
                    // Missed announcements: read the database to be sure.
                    Err(RecvError::Lagged(_)) => return true,
                    Err(RecvError::Closed) => return false,
                },
            }
        }
    }
}
