//! Ingest, after decoding: the pipeline each decoded span goes through
//! (the policy, the LLM meaning derived from what it kept, pricing, the
//! stored payload and search words), assembled here from stages that each
//! return their own part, and durable storage through one batching writer.
//! OTLP wire types never reach this module; the server's `otlp` module turns
//! them into [`SpanRecord`]s.

pub mod commit;
pub mod cpu_pool;
pub mod demo;
pub mod metric_rollups;
pub mod metrics;
pub mod policy;
pub mod pricing;
pub mod usage;
pub mod writer;

use policy::IngestPolicy;
use pricing::OrgPricing;

use crate::telemetry::services::{
    span::{cost::SpanCost, genai, normalized::NormalizedSpan, payload, record::SpanRecord},
    span_store::{self, SpanRow},
};

/// Everything a decoded span goes through before storage. The policy runs
/// first, on the attributes and events that are stored; the LLM fields are
/// then derived from what it kept, so derived and stored text never differ
/// and the span can be read back by deriving again. The span is priced with
/// its organization's prices in force when it started.
pub fn normalize(mut record: SpanRecord, policy: &IngestPolicy, pricing: &OrgPricing) -> NormalizedSpan {
    let marks = policy.apply(&mut record);
    let llm = genai::derive(&record.name, &record.attributes, &record.events);
    let cost = pricing.cost(llm.model.as_deref(), &llm.tokens, record.start_time_ns);
    NormalizedSpan {
        record,
        policy: marks,
        llm,
        cost,
    }
}

/// An export's spans, ready for the writer.
#[derive(Debug, Default)]
pub struct PreparedSpans {
    pub rows: Vec<SpanRow>,
    /// Spans the organization's sampling left out.
    pub sampled_out: u64,
}

/// Normalizes decoded spans, samples them, and turns those kept into rows
/// for the writer. CPU work (policy, derivation, compression): callers run
/// it off the async workers.
pub fn prepare(records: Vec<SpanRecord>, policy: &IngestPolicy, pricing: &OrgPricing) -> PreparedSpans {
    let mut spans: Vec<NormalizedSpan> = records
        .into_iter()
        .map(|record| normalize(record, policy, pricing))
        .collect();
    let received = spans.len();
    if let Some(sampling) = &policy.sampling {
        spans.retain(|span| sampling.keeps(span));
    }
    let sampled_out = (received - spans.len()) as u64;
    let agents = usage::attribute_agents(&spans);
    let rows = spans
        .into_iter()
        .zip(agents)
        .map(|(span, agent)| SpanRow { agent, ..row(span) })
        .collect();
    PreparedSpans { rows, sampled_out }
}

/// The stored row of a normalized span: its columns, compressed payload and
/// search words.
pub fn row(span: NormalizedSpan) -> SpanRow {
    let payload = payload::encode(&span);
    let search_text = span_store::searchable_text(&span.llm);
    let NormalizedSpan {
        record,
        mut llm,
        cost,
        ..
    } = span;
    let request_model = llm
        .request_model
        .take()
        .filter(|asked| Some(asked) != llm.model.as_ref());
    SpanRow {
        span_kind: record.kind.as_str(),
        llm_kind: llm.kind.as_str(),
        start_time_ns: record.start_time_ns,
        end_time_ns: record.end_time_ns,
        status_code: record.status_code,
        cost_nanos: cost.nanos(),
        unpriced: cost == SpanCost::Unpriced,
        trace_id: record.trace_id,
        span_id: record.span_id,
        parent_span_id: record.parent_span_id,
        name: record.name,
        service_name: record.service_name,
        status_message: record.status_message,
        operation: llm.operation,
        provider: llm.provider,
        model: llm.model,
        request_model,
        tokens: llm.tokens,
        tool_name: llm.tool_name,
        tool_call_id: llm.tool_call_id,
        session_id: llm.session_id,
        end_user_id: llm.end_user_id,
        payload,
        search_text,
        agent: None,
    }
}
