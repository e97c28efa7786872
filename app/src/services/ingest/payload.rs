//! A span's payload: everything it carried besides its indexed columns
//! (resource, scope, attributes, events, links) plus what pricing and the
//! ingest policy made of it, stored once as zstd-compressed JSON.
//!
//! Prompts, completions, tool arguments and results and diffs are not
//! stored a second time: they live in the attributes and events and are
//! derived from them again when the span is read.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use super::{
    policy::PolicyMarks,
    pricing::SpanCost,
    record::{Attributes, Scope, SpanEvent, SpanLink, SpanRecord},
};

/// zstd's fastest standard level: span JSON is small and repetitive, and
/// level 3 cost twice the CPU for a few percent less space (BENCHMARKS.md).
const COMPRESSION_LEVEL: i32 = 1;
/// Every zstd frame starts with these bytes; plain JSON starts with `{`.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// What is written: empty and default parts are left out (most spans have
/// no events, links, scope attributes, cost or policy marks), which matters
/// for small spans where zstd has little to work with.
#[derive(Serialize)]
struct PayloadRef<'a> {
    #[serde(skip_serializing_if = "Attributes::is_empty")]
    resource: &'a Attributes,
    #[serde(skip_serializing_if = "is_default")]
    scope: &'a Scope,
    attributes: &'a Attributes,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    events: &'a [SpanEvent],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    links: &'a [SpanLink],
    #[serde(skip_serializing_if = "is_not_applicable")]
    cost: &'a SpanCost,
    #[serde(skip_serializing_if = "is_default")]
    policy: &'a PolicyMarks,
}

fn is_default<T: Default + PartialEq>(value: &&T) -> bool {
    **value == T::default()
}

fn is_not_applicable(cost: &&SpanCost) -> bool {
    **cost == SpanCost::NotApplicable
}

/// A stored payload, read back.
#[derive(Debug, Deserialize)]
pub struct SpanPayload {
    #[serde(default)]
    pub resource: Attributes,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub attributes: Attributes,
    #[serde(default)]
    pub events: Vec<SpanEvent>,
    #[serde(default)]
    pub links: Vec<SpanLink>,
    #[serde(default = "not_applicable")]
    pub cost: SpanCost,
    #[serde(default)]
    pub policy: PolicyMarks,
    /// Text that spans stored before payloads were compressed kept beside
    /// their attributes; it wins over deriving because under hashed capture
    /// it was the only copy of the digests.
    pub content: Option<StoredContent>,
}

fn not_applicable() -> SpanCost {
    SpanCost::NotApplicable
}

#[derive(Debug, Default, Deserialize)]
pub struct StoredContent {
    pub prompt: Option<String>,
    pub completion: Option<String>,
    pub tool_arguments: Option<String>,
    pub tool_result: Option<String>,
    pub diff: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("the span payload does not decompress: {0}")]
    Decompress(#[from] std::io::Error),
    #[error("the span payload is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

thread_local! {
    // A compression context is costly to set up: one per thread, reused.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

fn compress(json: Vec<u8>) -> Vec<u8> {
    COMPRESSOR.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = zstd::bulk::Compressor::new(COMPRESSION_LEVEL).ok();
        }
        slot.as_mut()
            .and_then(|compressor| compressor.compress(&json).ok())
            // Plain JSON is a valid payload too.
            .unwrap_or(json)
    })
}

/// The payload of `record`, compressed.
pub fn encode(record: &SpanRecord) -> Vec<u8> {
    let json = serde_json::to_vec(&PayloadRef {
        resource: &record.resource_attributes,
        scope: &record.scope,
        attributes: &record.attributes,
        events: &record.events,
        links: &record.links,
        cost: &record.cost,
        policy: &record.policy,
    })
    .expect("JSON values and string-keyed maps always serialize");
    compress(json)
}

/// Reads a payload, compressed or (from older rows) plain JSON.
pub fn decode(bytes: &[u8]) -> Result<SpanPayload, PayloadError> {
    if bytes.starts_with(&ZSTD_MAGIC) {
        let json = zstd::stream::decode_all(bytes)?;
        Ok(serde_json::from_slice(&json)?)
    } else {
        Ok(serde_json::from_slice(bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::services::ingest::record::{SpanKind, StatusCode};

    fn record() -> SpanRecord {
        let attributes = |value: serde_json::Value| match value {
            serde_json::Value::Object(map) => map,
            _ => unreachable!(),
        };
        SpanRecord {
            trace_id: "01".repeat(16),
            span_id: "02".repeat(8),
            parent_span_id: None,
            name: "chat".into(),
            kind: SpanKind::Client,
            start_time_ns: 1,
            end_time_ns: 2,
            status_code: StatusCode::Ok,
            status_message: None,
            service_name: "agent".into(),
            resource_attributes: attributes(json!({"service.name": "agent", "host.name": "h"})),
            scope: Scope {
                name: "sdk".into(),
                version: Some("1.0".into()),
                attributes: Attributes::new(),
            },
            attributes: attributes(json!({
                "gen_ai.input.messages": "x".repeat(4000),
                "numbers": [1, 2.5, true],
                "nested": {"a": {"b": null}},
            })),
            events: vec![SpanEvent {
                name: "exception".into(),
                time_ns: 3,
                attributes: attributes(json!({"exception.message": "boom"})),
            }],
            links: vec![SpanLink {
                trace_id: "03".repeat(16),
                span_id: "04".repeat(8),
                attributes: Attributes::new(),
            }],
            llm: Default::default(),
            cost: SpanCost::Unpriced,
            policy: PolicyMarks::default(),
        }
    }

    #[test]
    fn payloads_round_trip_compressed() {
        let record = record();
        let bytes = encode(&record);
        assert!(bytes.starts_with(&ZSTD_MAGIC));
        assert!(
            bytes.len() < 1000,
            "repetitive text compresses: {} bytes",
            bytes.len()
        );
        let payload = decode(&bytes).unwrap();
        assert_eq!(payload.resource, record.resource_attributes);
        assert_eq!(payload.scope, record.scope);
        assert_eq!(payload.attributes, record.attributes);
        assert_eq!(payload.events, record.events);
        assert_eq!(payload.links, record.links);
        assert_eq!(payload.cost, SpanCost::Unpriced);
        assert!(payload.content.is_none());
    }

    #[test]
    fn defaults_are_left_out_and_read_back() {
        let mut record = record();
        record.scope = Scope::default();
        record.events.clear();
        record.links.clear();
        record.cost = SpanCost::NotApplicable;
        let json = String::from_utf8(zstd::stream::decode_all(&encode(&record)[..]).unwrap()).unwrap();
        for left_out in ["scope", "events", "links", "cost", "policy"] {
            assert!(!json.contains(&format!("\"{left_out}\"")), "{left_out} in {json}");
        }
        let payload = decode(&encode(&record)).unwrap();
        assert_eq!(payload.scope, Scope::default());
        assert_eq!(payload.cost, SpanCost::NotApplicable);
        assert_eq!(payload.policy, PolicyMarks::default());
        assert!(payload.events.is_empty() && payload.links.is_empty());
    }

    #[test]
    fn plain_json_from_older_rows_is_read() {
        let legacy = json!({
            "resource": {"service.name": "a"}, "scope": {"name": "s", "version": null, "attributes": {}},
            "attributes": {"k": 1}, "events": [], "links": [], "parameters": {}, "finish_reasons": [],
            "cost": {"status": "not_applicable"}, "policy": {"capture": "hashed", "redactions": {}, "truncated": []},
            "content": {"prompt": "sha256:ab", "completion": null, "tool_arguments": null, "tool_result": null, "diff": null},
        });
        let payload = decode(legacy.to_string().as_bytes()).unwrap();
        assert_eq!(payload.attributes["k"], 1);
        assert_eq!(payload.content.unwrap().prompt.as_deref(), Some("sha256:ab"));
        assert!(decode(b"\x28\xb5\x2f\xfdnot zstd").is_err());
        assert!(decode(b"not json").is_err());
    }
}
