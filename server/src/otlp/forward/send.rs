//! Sending one export request to a forwarding destination, over OTLP/HTTP
//! (protobuf, gzip) or OTLP/gRPC (gzip; TLS for `https://`), and what its
//! answer means for the forwarder, following the OTLP specification's
//! retry rules: 429, 502, 503, 504 and gRPC's retryable codes are retried,
//! honouring `Retry-After`; a 400 or `INVALID_ARGUMENT` is final; a 413
//! asks for smaller batches. Errors an administrator can mend (a wrong
//! token: 401, 403; a wrong path: 404) are retried within the retry budget
//! too, so that fixing the destination in time loses nothing.
//!
//! Both clients resolve and connect through the outbound guard: no private
//! address unless the installation allows it.

use std::time::Duration;

use app::{
    forwarding::{services::destinations::SendingDestination, types::ForwardProtocol},
    platform::services::outbound::{self, Outbound, OutboundError},
};
use flate2::{Compression, write::GzEncoder};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse, trace_service_client::TraceServiceClient,
};
use prost::Message;
use tonic::{
    codec::CompressionEncoding,
    metadata::{MetadataKey, MetadataValue},
    transport::{Channel, ClientTlsConfig, Endpoint},
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a refusal's message is kept.
const MAX_MESSAGE_CHARS: usize = 300;

/// What a destination's answer means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Acknowledged; the destination refused `rejected` of the spans (partial success).
    Accepted { rejected: u64, message: String },
    /// Refused for good: retrying the same spans cannot help.
    Refused { error: String },
    /// The batch is too large for the destination.
    TooLarge { error: String },
    /// Failed in a way that may pass: try again later.
    Failed {
        error: String,
        retry_after: Option<Duration>,
    },
}

/// A connection to one destination (cheap to clone).
#[derive(Clone, Debug)]
pub struct Client {
    destination: SendingDestination,
    transport: Transport,
}

#[derive(Clone, Debug)]
enum Transport {
    Http(Outbound),
    /// The channel connects lazily, and again after a failure.
    Grpc(Channel),
    /// The destination's address cannot be used at all.
    Unusable(String),
}

impl Client {
    pub fn new(destination: SendingDestination, outbound: &Outbound) -> Self {
        let transport = match destination.protocol {
            ForwardProtocol::HttpProtobuf => Transport::Http(outbound.clone()),
            ForwardProtocol::Grpc => match grpc_channel(&destination.endpoint, outbound.allows_private()) {
                Ok(channel) => Transport::Grpc(channel),
                Err(error) => Transport::Unusable(error),
            },
        };
        Self {
            destination,
            transport,
        }
    }

    pub fn destination(&self) -> &SendingDestination {
        &self.destination
    }

    /// Sends `request`; the answer, and the status it came with (for the
    /// metrics: an HTTP status, a gRPC code's name, or `unreachable`).
    pub async fn export(&self, request: ExportTraceServiceRequest) -> (Answer, String) {
        match &self.transport {
            Transport::Http(outbound) => self.export_http(outbound, request).await,
            Transport::Grpc(channel) => self.export_grpc(channel.clone(), request).await,
            Transport::Unusable(error) => (
                Answer::Failed {
                    error: error.clone(),
                    retry_after: None,
                },
                "unreachable".to_owned(),
            ),
        }
    }

    async fn export_http(&self, outbound: &Outbound, request: ExportTraceServiceRequest) -> (Answer, String) {
        let body = match gzip(&request.encode_to_vec()) {
            Ok(body) => body,
            Err(err) => {
                return (
                    failed(format!("compressing the batch: {err}")),
                    "unreachable".to_owned(),
                );
            }
        };
        let mut headers: Vec<(&str, &str)> = vec![
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "gzip"),
        ];
        headers.extend(
            self.destination
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        );
        match outbound
            .post_raw(&self.destination.endpoint, &headers, body)
            .await
        {
            Ok(raw) => (
                http_answer(raw.status, raw.retry_after_secs, &raw.body),
                raw.status.to_string(),
            ),
            Err(err @ (OutboundError::Refused(_) | OutboundError::Unreachable(_))) => {
                (failed(err.to_string()), "unreachable".to_owned())
            }
        }
    }

    async fn export_grpc(&self, channel: Channel, request: ExportTraceServiceRequest) -> (Answer, String) {
        let mut client = TraceServiceClient::new(channel)
            .send_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(outbound::MAX_RAW_ANSWER);
        let mut call = tonic::Request::new(request);
        call.set_timeout(REQUEST_TIMEOUT);
        for (name, value) in &self.destination.headers {
            // Checked when the destination was saved; a header that still
            // does not fit gRPC metadata is left out rather than failing every batch.
            if let (Ok(key), Ok(value)) = (
                MetadataKey::from_bytes(name.as_bytes()),
                MetadataValue::try_from(value.as_str()),
            ) {
                call.metadata_mut().insert(key, value);
            }
        }
        match client.export(call).await {
            Ok(response) => (accepted(response.into_inner()), "Ok".to_owned()),
            Err(status) => {
                let code = format!("{:?}", status.code());
                (grpc_answer(&status), code)
            }
        }
    }
}

/// A lazily connecting channel to `endpoint` whose connections go through
/// the outbound guard's lookup.
fn grpc_channel(endpoint: &str, allow_private: bool) -> Result<Channel, String> {
    let mut built = Endpoint::from_shared(endpoint.to_owned())
        .map_err(|err| format!("not a gRPC endpoint: {err}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("Specula/", env!("CARGO_PKG_VERSION")))
        .map_err(|err| err.to_string())?;
    if endpoint.starts_with("https://") {
        built = built
            .tls_config(ClientTlsConfig::new().with_webpki_roots())
            .map_err(|err| format!("TLS: {err}"))?;
    }
    let tls = endpoint.starts_with("https://");
    let connector = tower::service_fn(move |uri: http::Uri| async move {
        let host = uri
            .host()
            .ok_or_else(|| std::io::Error::other("the endpoint has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let addresses = outbound::resolve(&host, port, allow_private).await?;
        let stream = tokio::net::TcpStream::connect(&addresses[..]).await?;
        stream.set_nodelay(true)?;
        Ok::<_, std::io::Error>(TokioIo::new(stream))
    });
    Ok(built.connect_with_connector_lazy(connector))
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::fast());
    encoder.write_all(bytes)?;
    encoder.finish()
}

fn failed(error: String) -> Answer {
    Answer::Failed {
        error,
        retry_after: None,
    }
}

fn accepted(response: ExportTraceServiceResponse) -> Answer {
    let (rejected, message) = response
        .partial_success
        .map(|partial| (partial.rejected_spans.max(0) as u64, partial.error_message))
        .unwrap_or_default();
    Answer::Accepted { rejected, message }
}

/// An OTLP/HTTP answer's meaning.
fn http_answer(status: u16, retry_after_secs: Option<u64>, body: &[u8]) -> Answer {
    let message = || {
        let text: String = String::from_utf8_lossy(body)
            .chars()
            .filter(|character| !character.is_control())
            .take(MAX_MESSAGE_CHARS)
            .collect();
        format!("HTTP {status}{}{text}", if text.is_empty() { "" } else { ": " })
    };
    match status {
        200..=299 => match ExportTraceServiceResponse::decode(body) {
            Ok(response) => accepted(response),
            // A receiver that acknowledged without a protobuf body (some
            // proxies answer empty or in JSON) still acknowledged.
            Err(_) => Answer::Accepted {
                rejected: 0,
                message: String::new(),
            },
        },
        400 => Answer::Refused { error: message() },
        413 => Answer::TooLarge { error: message() },
        _ => Answer::Failed {
            error: message(),
            retry_after: retry_after_secs.map(Duration::from_secs),
        },
    }
}

/// An OTLP/gRPC error's meaning.
fn grpc_answer(status: &tonic::Status) -> Answer {
    let error: String = format!("gRPC {:?}: {}", status.code(), status.message())
        .chars()
        .take(MAX_MESSAGE_CHARS)
        .collect();
    let retry_after =
        tonic_types::StatusExt::get_details_retry_info(status).and_then(|info| info.retry_delay);
    match status.code() {
        tonic::Code::InvalidArgument => Answer::Refused { error },
        tonic::Code::ResourceExhausted if status.message().contains("message length too large") => {
            Answer::TooLarge { error }
        }
        _ => Answer::Failed { error, retry_after },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;

    #[test]
    fn http_answers_follow_the_otlp_retry_rules() {
        let partial = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 2,
                error_message: "2 spans had no id".into(),
            }),
        }
        .encode_to_vec();
        assert_eq!(
            http_answer(200, None, &partial),
            Answer::Accepted {
                rejected: 2,
                message: "2 spans had no id".into()
            }
        );
        assert_eq!(
            http_answer(200, None, b""),
            Answer::Accepted {
                rejected: 0,
                message: String::new()
            }
        );
        assert!(
            matches!(http_answer(400, None, b"bad"), Answer::Refused { error } if error == "HTTP 400: bad")
        );
        assert!(matches!(http_answer(413, None, b""), Answer::TooLarge { .. }));
        for status in [429, 502, 503, 504, 500, 401, 404] {
            assert!(
                matches!(http_answer(status, None, b""), Answer::Failed { .. }),
                "{status}"
            );
        }
        assert!(matches!(
            http_answer(503, Some(7), b""),
            Answer::Failed { retry_after: Some(after), .. } if after == Duration::from_secs(7)
        ));
    }

    #[test]
    fn grpc_codes_follow_the_otlp_retry_rules() {
        assert!(matches!(
            grpc_answer(&tonic::Status::invalid_argument("no spans")),
            Answer::Refused { .. }
        ));
        for status in [
            tonic::Status::unavailable("down"),
            tonic::Status::resource_exhausted("slow down"),
            tonic::Status::unauthenticated("token"),
            tonic::Status::deadline_exceeded("late"),
        ] {
            assert!(
                matches!(grpc_answer(&status), Answer::Failed { .. }),
                "{status:?}"
            );
        }
    }

    #[tokio::test]
    async fn grpc_endpoints_are_checked_before_any_connection() {
        assert!(grpc_channel("not a url", false).is_err());
        assert!(grpc_channel("http://collector.example.com:4317", false).is_ok());
    }
}
