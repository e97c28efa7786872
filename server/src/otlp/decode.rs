//! Request bodies: content type (protobuf or JSON), content encoding (gzip,
//! deflate) with a cap on the decompressed size, and decoding into OTLP
//! messages. Answers are encoded the way the request was.

use std::io::Read;

use axum::{
    body::Bytes,
    http::{HeaderMap, header},
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{encoding::Encoding, error::IngestError};

impl Encoding {
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, IngestError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-protobuf" | "application/protobuf" => Ok(Self::Protobuf),
            "application/json" => Ok(Self::Json),
            "" => Err(IngestError::UnsupportedMediaType(
                "missing Content-Type: use application/x-protobuf or application/json".to_owned(),
            )),
            other => Err(IngestError::UnsupportedMediaType(format!(
                "unsupported Content-Type {other:?}: use application/x-protobuf or application/json"
            ))),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct DecodeLimits {
    /// Largest body accepted once decompressed (a gzip bomb stops here).
    pub max_decompressed_bytes: usize,
}

/// Undoes `Content-Encoding`, reading at most the limit plus one byte.
pub fn decompress(headers: &HeaderMap, body: Bytes, limits: DecodeLimits) -> Result<Bytes, IngestError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let limit = limits.max_decompressed_bytes;
    let read = |reader: &mut dyn Read, name: &str| -> Result<Bytes, IngestError> {
        let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
        reader
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|err| IngestError::Malformed(format!("invalid {name} body: {err}")))?;
        if out.len() > limit {
            return Err(IngestError::TooLarge(format!(
                "the decompressed body exceeds {limit} bytes"
            )));
        }
        Ok(Bytes::from(out))
    };
    match encoding.as_str() {
        "" | "identity" => {
            if body.len() > limit {
                return Err(IngestError::TooLarge(format!("the body exceeds {limit} bytes")));
            }
            Ok(body)
        }
        "gzip" | "x-gzip" => read(&mut flate2::read::MultiGzDecoder::new(&body[..]), "gzip"),
        // HTTP's "deflate" is zlib-wrapped, but some clients send raw deflate.
        "deflate" if body.first().is_some_and(|byte| byte & 0x0f == 8) => {
            read(&mut flate2::read::ZlibDecoder::new(&body[..]), "deflate")
        }
        "deflate" => read(&mut flate2::read::DeflateDecoder::new(&body[..]), "deflate"),
        other => Err(IngestError::UnsupportedMediaType(format!(
            "unsupported Content-Encoding {other:?}: use gzip, deflate or none"
        ))),
    }
}

/// Decodes an OTLP message; `prepare_json` adapts a JSON document first.
pub fn decode<M: prost::Message + Default + DeserializeOwned>(
    encoding: Encoding,
    body: &[u8],
    prepare_json: fn(&mut Value),
) -> Result<M, IngestError> {
    match encoding {
        Encoding::Protobuf => {
            M::decode(body).map_err(|err| IngestError::Malformed(format!("invalid OTLP protobuf: {err}")))
        }
        Encoding::Json => {
            let mut document: Value = serde_json::from_slice(body)
                .map_err(|err| IngestError::Malformed(format!("invalid JSON: {err}")))?;
            // serde would read an array as a message's fields in order; OTLP/JSON is an object.
            if !document.is_object() {
                return Err(IngestError::Malformed(
                    "invalid OTLP/JSON: the body must be a JSON object".to_owned(),
                ));
            }
            prepare_json(&mut document);
            serde_json::from_value(document)
                .map_err(|err| IngestError::Malformed(format!("invalid OTLP/JSON: {err}")))
        }
    }
}

const SPAN_KINDS: [&str; 6] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];
const STATUS_CODES: [&str; 3] = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

/// Accepts what real exporters send beyond the strict OTLP/JSON mapping:
/// enum names instead of numbers, and ids that are not hex (blanked, so the
/// span is rejected on its own instead of failing the whole request).
pub fn prepare_trace_json(document: &mut Value) {
    fn enum_by_name(value: Option<&mut Value>, names: &[&str]) {
        if let Some(value) = value
            && let Some(name) = value.as_str()
            && let Some(index) = names
                .iter()
                .position(|candidate| candidate.eq_ignore_ascii_case(name))
        {
            *value = Value::from(index);
        }
    }
    fn hex_or_blank(value: Option<&mut Value>) {
        if let Some(value) = value
            && let Some(text) = value.as_str()
            && (text.len() % 2 != 0 || !text.bytes().all(|byte| byte.is_ascii_hexdigit()))
        {
            *value = Value::String(String::new());
        }
    }
    let resource_spans = document.get_mut("resourceSpans").and_then(Value::as_array_mut);
    for resource in resource_spans.into_iter().flatten() {
        let scopes = resource.get_mut("scopeSpans").and_then(Value::as_array_mut);
        for scope in scopes.into_iter().flatten() {
            let spans = scope.get_mut("spans").and_then(Value::as_array_mut);
            for span in spans.into_iter().flatten() {
                enum_by_name(span.get_mut("kind"), &SPAN_KINDS);
                enum_by_name(
                    span.get_mut("status").and_then(|status| status.get_mut("code")),
                    &STATUS_CODES,
                );
                for id in ["traceId", "spanId", "parentSpanId"] {
                    hex_or_blank(span.get_mut(id));
                }
                let links = span.get_mut("links").and_then(Value::as_array_mut);
                for link in links.into_iter().flatten() {
                    hex_or_blank(link.get_mut("traceId"));
                    hex_or_blank(link.get_mut("spanId"));
                }
            }
        }
    }
}

const TEMPORALITIES: [&str; 3] = [
    "AGGREGATION_TEMPORALITY_UNSPECIFIED",
    "AGGREGATION_TEMPORALITY_DELTA",
    "AGGREGATION_TEMPORALITY_CUMULATIVE",
];

/// Metrics JSON: aggregation temporality given by name becomes its number.
pub fn prepare_metrics_json(document: &mut Value) {
    let resources = document.get_mut("resourceMetrics").and_then(Value::as_array_mut);
    for resource in resources.into_iter().flatten() {
        let scopes = resource.get_mut("scopeMetrics").and_then(Value::as_array_mut);
        for scope in scopes.into_iter().flatten() {
            let metrics = scope.get_mut("metrics").and_then(Value::as_array_mut);
            for metric in metrics.into_iter().flatten() {
                for data in ["sum", "histogram", "exponentialHistogram"] {
                    if let Some(value) = metric
                        .get_mut(data)
                        .and_then(|data| data.get_mut("aggregationTemporality"))
                        && let Some(name) = value.as_str()
                        && let Some(index) = TEMPORALITIES
                            .iter()
                            .position(|candidate| candidate.eq_ignore_ascii_case(name))
                    {
                        *value = Value::from(index);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn json_bodies_must_be_objects() {
        for body in ["[]", "[null, null]", "\"x\"", "3"] {
            let decoded = decode::<opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest>(
                Encoding::Json,
                body.as_bytes(),
                prepare_trace_json,
            );
            assert!(decoded.is_err(), "{body}");
        }
        assert!(
            decode::<opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest>(
                Encoding::Json,
                b"{}",
                prepare_trace_json
            )
            .is_ok()
        );
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn content_types() {
        assert_eq!(
            Encoding::from_headers(&headers(&[("content-type", "application/x-protobuf")])).unwrap(),
            Encoding::Protobuf
        );
        assert_eq!(
            Encoding::from_headers(&headers(&[("content-type", "application/json; charset=utf-8")])).unwrap(),
            Encoding::Json
        );
        assert!(matches!(
            Encoding::from_headers(&headers(&[("content-type", "text/plain")])),
            Err(IngestError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            Encoding::from_headers(&HeaderMap::new()),
            Err(IngestError::UnsupportedMediaType(_))
        ));
    }

    fn gzip(data: &[u8]) -> Bytes {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).unwrap();
        Bytes::from(encoder.finish().unwrap())
    }

    #[test]
    fn gzip_and_deflate_are_undone_within_the_limit() {
        let limits = DecodeLimits {
            max_decompressed_bytes: 1024,
        };
        let data = vec![b'x'; 1000];
        let out = decompress(&headers(&[("content-encoding", "gzip")]), gzip(&data), limits).unwrap();
        assert_eq!(&out[..], &data[..]);
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(&data).unwrap();
        let out = decompress(
            &headers(&[("content-encoding", "deflate")]),
            Bytes::from(zlib.finish().unwrap()),
            limits,
        )
        .unwrap();
        assert_eq!(out.len(), 1000);
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(&data).unwrap();
        let out = decompress(
            &headers(&[("content-encoding", "deflate")]),
            Bytes::from(raw.finish().unwrap()),
            limits,
        )
        .unwrap();
        assert_eq!(out.len(), 1000);
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        let limits = DecodeLimits {
            max_decompressed_bytes: 1 << 20,
        };
        let bomb = gzip(&vec![0u8; 64 << 20]);
        assert!(
            bomb.len() < 100_000,
            "64 MiB of zeros compresses to {} bytes",
            bomb.len()
        );
        let err = decompress(&headers(&[("content-encoding", "gzip")]), bomb, limits).unwrap_err();
        assert!(matches!(err, IngestError::TooLarge(_)), "{err}");
        let err = decompress(
            &headers(&[("content-encoding", "gzip")]),
            Bytes::from_static(b"not gzip"),
            limits,
        )
        .unwrap_err();
        assert!(matches!(err, IngestError::Malformed(_)));
        let err = decompress(&headers(&[("content-encoding", "br")]), Bytes::new(), limits).unwrap_err();
        assert!(matches!(err, IngestError::UnsupportedMediaType(_)));
    }

    #[test]
    fn enum_names_and_bad_ids_are_prepared() {
        let mut document = serde_json::json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
            "kind": "SPAN_KIND_CLIENT", "status": {"code": "STATUS_CODE_ERROR"},
            "traceId": "zz", "spanId": "0102030405060708", "links": [{"traceId": "xyz"}]
        }]}]}]});
        prepare_trace_json(&mut document);
        let span = &document["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["kind"], 3);
        assert_eq!(span["status"]["code"], 2);
        assert_eq!(span["traceId"], "");
        assert_eq!(span["spanId"], "0102030405060708");
        assert_eq!(span["links"][0]["traceId"], "");
    }
}
