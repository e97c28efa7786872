//! OTLP over HTTP (`POST /v1/traces`, protobuf or JSON, gzip or deflate) and
//! gRPC (`TraceService/Export`). The only module that knows OTLP wire types: requests are
//! decoded here and turned into Specula's `SpanRecord`s, which go to the
//! batching writer; the answer (in the request's encoding) follows the OTLP
//! specification, including partial success. `forward` sends stored spans
//! on to organizations' forwarding destinations.

mod convert;
mod convert_metrics;
mod decode;
mod demo;
mod encode;
mod encoding;
mod error;
mod export;
mod forward;
mod grpc;
mod http;
mod observe;
mod org_transfer;
#[cfg(test)]
mod payload_dictionary;
mod trace_formats;

pub use decode::DecodeLimits;
pub use demo::OtlpDemo;
pub use encode::{trace_to_jaeger_json, trace_to_otlp_json, trace_to_zipkin_json};
pub use error::IngestError;
pub use forward::{OtlpForwarder, TEST_SPAN_NAME, run as run_forwarder};
pub use grpc::router as grpc_router;
pub use http::routes;
pub use org_transfer::{Moved, export_org, import_org};

/// Decoders must never panic, whatever a client sends.
#[cfg(test)]
mod robustness {
    use opentelemetry_proto::tonic::collector::{
        metrics::v1::ExportMetricsServiceRequest, trace::v1::ExportTraceServiceRequest,
    };
    use proptest::prelude::*;

    use super::{
        convert::convert,
        convert_metrics::convert_metrics,
        decode::{decode, prepare_metrics_json, prepare_trace_json},
        encoding::Encoding,
    };

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_protobuf(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            if let Ok(request) = decode::<ExportTraceServiceRequest>(Encoding::Protobuf, &bytes, prepare_trace_json) {
                let _ = convert(request);
            }
            if let Ok(request) = decode::<ExportMetricsServiceRequest>(Encoding::Protobuf, &bytes, prepare_metrics_json) {
                let _ = convert_metrics(request);
            }
        }

        #[test]
        fn arbitrary_json_text(text in "\\PC{0,600}") {
            if let Ok(request) = decode::<ExportTraceServiceRequest>(Encoding::Json, text.as_bytes(), prepare_trace_json) {
                let _ = convert(request);
            }
        }

        #[test]
        fn odd_but_well_formed_json(
            kind in prop_oneof![any::<i64>().prop_map(serde_json::Value::from), "[A-Z_]{0,24}".prop_map(serde_json::Value::from)],
            trace_id in "[0-9a-fA-Fxz]{0,40}",
            span_id in "[0-9a-f]{0,20}",
            start in any::<u64>(),
            end in prop_oneof![any::<u64>().prop_map(|n| serde_json::Value::from(n.to_string())), any::<i64>().prop_map(serde_json::Value::from)],
            value in prop_oneof![
                any::<i64>().prop_map(|n| serde_json::json!({"intValue": n.to_string()})),
                any::<f64>().prop_map(|n| serde_json::json!({"doubleValue": n})),
                "[a-zA-Z0-9+/=]{0,12}".prop_map(|b| serde_json::json!({"bytesValue": b})),
                Just(serde_json::json!({"kvlistValue": {"values": [{"key": "k", "value": {"arrayValue": {"values": [{}]}}}]}})),
            ],
        ) {
            let document = serde_json::json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
                "traceId": trace_id, "spanId": span_id, "name": "x", "kind": kind,
                "startTimeUnixNano": start.to_string(), "endTimeUnixNano": end,
                "attributes": [{"key": "gen_ai.usage.input_tokens", "value": value}],
                "status": {"code": "STATUS_CODE_ERROR"}
            }]}]}]});
            let bytes = document.to_string().into_bytes();
            if let Ok(request) = decode::<ExportTraceServiceRequest>(Encoding::Json, &bytes, prepare_trace_json) {
                let converted = convert(request);
                prop_assert_eq!(converted.spans.len() as u64 + converted.rejected, 1);
            }
        }
    }
}
