//! A span's payload: everything it carried besides its indexed columns
//! (resource, scope, attributes, events, links) plus what pricing and the
//! ingest policy made of it, stored once as zstd-compressed JSON.
//!
//! Prompts, completions, tool arguments and results and diffs are not
//! stored a second time: they live in the attributes and events and are
//! derived from them again when the span is read.
//!
//! Payloads are compressed with a dictionary trained on the payloads of the
//! real-SDK fixtures (`server/tests/fixtures`): a span's JSON is small, and
//! what repeats from span to span (attribute names, message structure,
//! resource attributes) is what a dictionary holds. With it, zstd also reuses
//! the dictionary's entropy tables instead of building its own per span,
//! which halved compression time (BENCHMARKS.md). The frame names its
//! dictionary by id, so frames compressed without one still decode.

use std::{cell::RefCell, sync::LazyLock};

use zstd::dict::{DecoderDictionary, EncoderDictionary};

use serde::{Deserialize, Serialize};

use crate::telemetry::services::span::{
    cost::SpanCost,
    marks::PolicyMarks,
    normalized::NormalizedSpan,
    record::{Attributes, Scope, SpanEvent, SpanLink},
};

/// zstd's fastest standard level: span JSON is small and repetitive, and
/// level 3 cost twice the CPU for a few percent less space (BENCHMARKS.md).
const COMPRESSION_LEVEL: i32 = 1;
/// The dictionary new payloads are compressed with. A dictionary that
/// compressed stored payloads must stay readable for as long as they are
/// kept: a new one is added beside it, never in its place. Regenerate with
/// `cargo test -p server --lib -- --ignored train_payload_dictionary`.
pub const DICTIONARY: &[u8] = include_bytes!("payload.zdict");

static ENCODER_DICTIONARY: LazyLock<EncoderDictionary<'static>> =
    LazyLock::new(|| EncoderDictionary::copy(DICTIONARY, COMPRESSION_LEVEL));
static DECODER_DICTIONARY: LazyLock<DecoderDictionary<'static>> =
    LazyLock::new(|| DecoderDictionary::copy(DICTIONARY));

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
    #[error("the span payload was compressed with an unknown dictionary ({0})")]
    UnknownDictionary(u32),
}

thread_local! {
    // Compression contexts are costly to set up: one of each per thread, reused.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

fn compress(json: Vec<u8>) -> Vec<u8> {
    COMPRESSOR.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = zstd::bulk::Compressor::with_prepared_dictionary(&ENCODER_DICTIONARY).ok();
        }
        slot.as_mut()
            .and_then(|compressor| compressor.compress(&json).ok())
            // Plain JSON is a valid payload too.
            .unwrap_or(json)
    })
}

/// The payload of `span` as uncompressed JSON (what [`encode`] compresses).
pub fn to_json(span: &NormalizedSpan) -> Vec<u8> {
    let record = &span.record;
    serde_json::to_vec(&PayloadRef {
        resource: &record.resource_attributes,
        scope: &record.scope,
        attributes: &record.attributes,
        events: &record.events,
        links: &record.links,
        cost: &span.cost,
        policy: &span.policy,
    })
    .expect("JSON values and string-keyed maps always serialize")
}

/// The payload of `span`, compressed.
pub fn encode(span: &NormalizedSpan) -> Vec<u8> {
    compress(to_json(span))
}

/// The largest decompressed size allocated up front from what a frame says;
/// a larger (or corrupt) claim is read as a stream, which grows as it reads.
const MAX_PREALLOCATED_JSON: usize = 64 << 20;

/// Decompresses a frame made with the payload dictionary.
fn decompress_with_dictionary(frame: &[u8]) -> std::io::Result<Vec<u8>> {
    // The compressor records the content size in every frame; a frame
    // without one is read as a stream instead.
    if let Ok(Some(size)) = zstd::zstd_safe::get_frame_content_size(frame)
        && let Ok(size) = usize::try_from(size)
        && size <= MAX_PREALLOCATED_JSON
    {
        return DECOMPRESSOR.with_borrow_mut(|slot| {
            if slot.is_none() {
                *slot = Some(zstd::bulk::Decompressor::with_prepared_dictionary(
                    &DECODER_DICTIONARY,
                )?);
            }
            slot.as_mut().expect("set just above").decompress(frame, size)
        });
    }
    let mut json = Vec::new();
    std::io::Read::read_to_end(
        &mut zstd::stream::read::Decoder::with_prepared_dictionary(
            std::io::BufReader::new(frame),
            &DECODER_DICTIONARY,
        )?,
        &mut json,
    )?;
    Ok(json)
}

/// Reads a payload: compressed with the dictionary, compressed without one
/// (older rows) or plain JSON (older still).
pub fn decode(bytes: &[u8]) -> Result<SpanPayload, PayloadError> {
    if !bytes.starts_with(&ZSTD_MAGIC) {
        return Ok(serde_json::from_slice(bytes)?);
    }
    let json = match zstd::zstd_safe::get_dict_id_from_frame(bytes) {
        None => zstd::stream::decode_all(bytes)?,
        Some(id) if Some(id) == zstd::zstd_safe::get_dict_id_from_dict(DICTIONARY) => {
            decompress_with_dictionary(bytes)?
        }
        Some(id) => return Err(PayloadError::UnknownDictionary(id.get())),
    };
    Ok(serde_json::from_slice(&json)?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::telemetry::services::span::record::{SpanKind, SpanRecord, StatusCode};

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
        }
    }

    fn span() -> NormalizedSpan {
        NormalizedSpan {
            record: record(),
            policy: PolicyMarks::default(),
            llm: Default::default(),
            cost: SpanCost::Unpriced,
        }
    }

    #[test]
    fn payloads_round_trip_compressed() {
        let span = span();
        let record = &span.record;
        let bytes = encode(&span);
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
        let mut span = span();
        span.record.scope = Scope::default();
        span.record.events.clear();
        span.record.links.clear();
        span.cost = SpanCost::NotApplicable;
        let json = String::from_utf8(to_json(&span)).unwrap();
        for left_out in ["scope", "events", "links", "cost", "policy"] {
            assert!(!json.contains(&format!("\"{left_out}\"")), "{left_out} in {json}");
        }
        let payload = decode(&encode(&span)).unwrap();
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

    #[test]
    fn frames_without_the_dictionary_are_read() {
        let span = span();
        let frame = zstd::bulk::compress(&to_json(&span), 1).unwrap();
        assert!(zstd::zstd_safe::get_dict_id_from_frame(&frame).is_none());
        assert_eq!(decode(&frame).unwrap().attributes, span.record.attributes);
    }

    #[test]
    fn new_frames_name_the_dictionary() {
        let frame = encode(&span());
        assert_eq!(
            zstd::zstd_safe::get_dict_id_from_frame(&frame),
            zstd::zstd_safe::get_dict_id_from_dict(DICTIONARY),
        );
        assert!(zstd::zstd_safe::get_dict_id_from_dict(DICTIONARY).is_some());
    }

    #[test]
    fn frames_of_an_unknown_dictionary_are_refused() {
        // A frame header claiming dictionary id 7: magic, descriptor with a
        // one-byte dictionary id field, window descriptor, the id.
        let frame = [0x28, 0xb5, 0x2f, 0xfd, 0x01, 0x00, 0x07, 0x01, 0x00, 0x00];
        assert_eq!(
            zstd::zstd_safe::get_dict_id_from_frame(&frame).map(|id| id.get()),
            Some(7)
        );
        assert!(matches!(decode(&frame), Err(PayloadError::UnknownDictionary(7))));
        assert!(decode(b"not json").is_err());
    }
}
