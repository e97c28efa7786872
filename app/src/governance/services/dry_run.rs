//! "Test against the last 1,000 spans": a draft policy applied to the
//! organization's newest stored spans, span by span, beside what the
//! version in force did to them when they arrived. Stored spans are what
//! that version kept, so the draft's redactions are those it would add;
//! nothing is written.

use std::collections::BTreeMap;

use entity::span;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{
    book::{self, PolicyBook},
    guardrails::BlockedPatterns,
    policies,
};
use crate::{
    costs::services::price_book::PriceBook,
    error::{AppError, Result},
    governance::types::{CaptureMode, DryRun, DryRunRequest, DryRunSpan},
    telemetry::services::{
        ingest::{self, policy::IngestPolicy, pricing::OrgPricing},
        span::{
            genai,
            marks::ContentCapture,
            payload,
            record::{SpanKind, SpanRecord, StatusCode},
        },
    },
};

/// Most spans a dry run reads.
pub const MAX_SPANS: u64 = 1_000;
/// Most spans a dry run lists (all are counted).
const LISTED: usize = 200;

/// Runs `request`'s draft over the newest stored spans of `org_id`.
pub async fn dry_run(
    db: &DatabaseConnection,
    book: &PolicyBook,
    prices: &PriceBook,
    org_id: Uuid,
    request: &DryRunRequest,
) -> Result<DryRun> {
    policies::validate(&request.document)?;
    let limit = request.spans.unwrap_or(MAX_SPANS);
    if !(1..=MAX_SPANS).contains(&limit) {
        return Err(AppError::BadRequest(format!("`spans` must be 1 to {MAX_SPANS}")));
    }
    let current = book.for_org(db, org_id).await?;
    let draft = book::compile(book.installation(), current.version + 1, &request.document)
        .map_err(AppError::BadRequest)?;
    let blocked = BlockedPatterns::compile(&request.document.guardrails)
        .map_err(|err| AppError::BadRequest(err.to_string()))?;
    let pricing = prices.for_org(db, org_id).await?;
    let rows = span::Entity::find()
        .filter(span::Column::OrgId.eq(org_id))
        .order_by_desc(span::Column::StartTimeNs)
        .order_by_desc(span::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let current_version = current.version;
    // Decompressing and scanning a thousand spans is CPU work.
    tokio::task::spawn_blocking(move || try_spans(rows, &draft, &pricing, blocked.as_ref(), current_version))
        .await
        .map_err(|err| AppError::Internal(format!("dry run: {err}")))?
}

fn capture_mode(capture: ContentCapture) -> CaptureMode {
    match capture {
        ContentCapture::Full => CaptureMode::Full,
        ContentCapture::Hashed => CaptureMode::Hashed,
        ContentCapture::None => CaptureMode::None,
    }
}

fn try_spans(
    rows: Vec<span::Model>,
    draft: &IngestPolicy,
    pricing: &OrgPricing,
    blocked: Option<&BlockedPatterns>,
    current_version: i64,
) -> Result<DryRun> {
    let mut outcome = DryRun {
        current_version,
        spans_checked: 0,
        would_redact: 0,
        would_truncate: 0,
        would_sample_out: 0,
        would_flag: 0,
        spans: Vec::new(),
    };
    for row in rows {
        let stored = payload::decode(&row.payload).map_err(|err| AppError::Internal(err.to_string()))?;
        let stored_capture = stored.policy.capture;
        let record = SpanRecord {
            trace_id: row.trace_id,
            span_id: row.span_id,
            parent_span_id: row.parent_span_id,
            name: row.name,
            kind: SpanKind::from_stored(&row.span_kind),
            start_time_ns: row.start_time_ns,
            end_time_ns: row.end_time_ns,
            status_code: StatusCode::from_stored(&row.status_code),
            status_message: row.status_message,
            service_name: row.service_name,
            resource_attributes: stored.resource,
            scope: stored.scope,
            attributes: stored.attributes,
            events: stored.events,
            links: stored.links,
        };
        let span = ingest::normalize(record, draft, pricing);
        let sampled_out = draft
            .sampling
            .as_ref()
            .is_some_and(|sampling| !sampling.keeps(&span));
        let prompt = genai::derive(&span.record.name, &span.record.attributes, &span.record.events).prompt;
        let flagged_by: Vec<String> = match (prompt.as_deref(), blocked) {
            (Some(prompt), Some(blocked)) => blocked
                .matching(prompt)
                .into_iter()
                .map(|(id, _)| id.to_owned())
                .collect(),
            _ => Vec::new(),
        };
        let capture = (span.policy.capture != stored_capture).then(|| capture_mode(span.policy.capture));
        let truncated: Vec<String> = span
            .policy
            .truncated
            .iter()
            .map(|cut| cut.field.clone())
            .collect();
        let redactions: BTreeMap<String, u64> = span.policy.redactions.clone();
        outcome.spans_checked += 1;
        outcome.would_redact += u64::from(!redactions.is_empty());
        outcome.would_truncate += u64::from(!truncated.is_empty());
        outcome.would_sample_out += u64::from(sampled_out);
        outcome.would_flag += u64::from(!flagged_by.is_empty());
        let differs = !redactions.is_empty()
            || !truncated.is_empty()
            || capture.is_some()
            || sampled_out
            || !flagged_by.is_empty();
        if differs && outcome.spans.len() < LISTED {
            outcome.spans.push(DryRunSpan {
                trace_id: span.record.trace_id,
                span_id: span.record.span_id,
                name: span.record.name,
                service_name: span.record.service_name,
                redactions,
                truncated,
                capture,
                sampled_out,
                flagged_by,
            });
        }
    }
    Ok(outcome)
}
