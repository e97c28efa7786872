//! The span-payload compression dictionary (`app/src/telemetry/services/span/payload.zdict`)
//! is trained here, on the payloads of the spans that real SDKs sent
//! (`tests/fixtures`), put through the ingest pipeline as the server does.
//! Only real SDKs' spans train it, never the benchmark's, so that what the
//! benchmark measures is what any deployment gets.

use app::telemetry::services::{
    ingest::{normalize, policy::IngestPolicy, pricing::OrgPricing},
    span::payload,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::convert::convert;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
/// Large enough for the fixtures' attribute names and message structure;
/// each compressor and decompressor holds a copy.
const DICTIONARY_BYTES: usize = 8 * 1024;

/// The uncompressed payload of every span in the protobuf fixtures.
fn fixture_payloads() -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "pb"))
        .collect();
    // Training sees the samples in a fixed order: the same fixtures give the same dictionary.
    files.sort();
    let (policy, pricing) = (IngestPolicy::default(), OrgPricing::new([]));
    let mut payloads = Vec::new();
    for file in files {
        let request = ExportTraceServiceRequest::decode(&std::fs::read(&file).unwrap()[..]).unwrap();
        for record in convert(request).spans {
            payloads.push(payload::to_json(&normalize(record, &policy, &pricing)));
        }
    }
    payloads
}

#[test]
#[ignore = "writes the payload dictionary; run it only to make a new one"]
fn train_payload_dictionary() {
    let dictionary = zstd::dict::from_samples(&fixture_payloads(), DICTIONARY_BYTES).unwrap();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../app/src/telemetry/services/span/payload.zdict"
    );
    std::fs::write(path, dictionary).unwrap();
}

#[test]
fn the_dictionary_shrinks_every_fixture_payload() {
    let payloads = fixture_payloads();
    assert!(payloads.len() >= 10, "{} fixture spans", payloads.len());
    let (mut with_dictionary, mut without) = (0, 0);
    let mut compressor = zstd::bulk::Compressor::with_dictionary(1, payload::DICTIONARY).unwrap();
    for json in &payloads {
        let compressed = zstd::bulk::compress(json, 1).unwrap().len();
        let with = compressor.compress(json).unwrap().len();
        assert!(with < compressed, "{with} >= {compressed} bytes");
        with_dictionary += with;
        without += compressed;
    }
    assert!(
        with_dictionary * 2 < without,
        "{with_dictionary} bytes with the dictionary, {without} without"
    );
}
