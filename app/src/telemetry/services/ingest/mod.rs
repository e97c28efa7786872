//! Ingest, after decoding: Specula's own span record, the ingest policy, the
//! LLM meaning derived from what the policy kept, pricing, and durable
//! storage through one batching writer.
//! OTLP wire types never reach this module; the server's `otlp` module turns
//! them into [`record::SpanRecord`]s.

pub mod cpu_pool;
pub mod demo;
pub mod genai;
pub mod metric_rollups;
pub mod metrics;
pub mod payload;
pub mod policy;
pub mod pricing;
pub mod record;
pub mod sqlite_connection;
pub mod store;
pub mod transaction;
pub mod usage;
pub mod writer;

use policy::IngestPolicy;
use pricing::OrgPricing;
use record::SpanRecord;
use store::SpanRow;

/// Everything a decoded span goes through before storage. The policy runs
/// first, on the attributes and events that are stored; the LLM fields are
/// then derived from what it kept, so derived and stored text never differ
/// and the span can be read back by deriving again. The span is priced with
/// its organization's prices in force when it started.
pub fn normalize(record: &mut SpanRecord, policy: &IngestPolicy, pricing: &OrgPricing) {
    policy.apply(record);
    record.llm = genai::derive(&record.name, &record.attributes, &record.events);
    record.cost = pricing.cost(
        record.llm.model.as_deref(),
        &record.llm.tokens,
        record.start_time_ns,
    );
}

/// Normalizes decoded spans and turns them into rows for the writer. CPU
/// work (policy, derivation, compression): callers run it off the async workers.
pub fn prepare(mut records: Vec<SpanRecord>, policy: &IngestPolicy, pricing: &OrgPricing) -> Vec<SpanRow> {
    for record in &mut records {
        normalize(record, policy, pricing);
    }
    let agents = usage::attribute_agents(&records);
    records
        .into_iter()
        .zip(agents)
        .map(|(record, agent)| SpanRow {
            agent,
            ..SpanRow::from(record)
        })
        .collect()
}
