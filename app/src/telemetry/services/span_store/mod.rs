//! The span store: the only module that names the span tables (`spans`,
//! their payloads, the `traces` rollups and the `span_search` index). Ingest
//! writes through [`write_spans`]; the REST API, the pages, the live tail and
//! the cost services read (and a cost recompute re-prices) through the
//! functions re-exported here, and nothing else of it is visible outside.
//!
//! No trait stands in front of it while one store exists. A column store
//! (ClickHouse, as the largest peers use for spans) would be a second module
//! with these functions, chosen where the state is built; rollups, accounts
//! and policies stay in the relational database.

mod forwarding;
mod prompts;
mod query;
mod removal;
mod repricing;
mod request_models;
mod row;
mod search;
mod spans;
mod traces;
mod upkeep;
mod views;
mod write;

pub use forwarding::{ForwardSpan, count_spans_after, span_ids_after, spans_to_forward};
pub use prompts::{PromptSource, prompt_sources_after, spans_still_stored};
pub use query::parse_time;
pub use removal::{RemovedTraces, delete_spans_before, delete_traces_before, delete_traces_with_prefix};
pub use repricing::{PricedRange, PricedSpan, add_to_trace_cost, priced_spans, set_span_cost};
pub use request_models::backfill_request_models;
pub use row::{SpanBatch, SpanRow};
pub use search::{backfill_index, searchable_text};
pub use spans::{
    UsageSpans, check_query, known_models, latest_row_id, list_spans, list_usage_spans, spans_after,
};
pub use traces::{get_span, get_trace, last_ingested_at, list_traces, most_expensive};
pub use upkeep::{newest_span_id, refresh_statistics};
pub use write::{StoredSpan, write_spans};
