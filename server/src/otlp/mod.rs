//! OTLP over HTTP (`POST /v1/traces`, protobuf or JSON, gzip or deflate) and
//! gRPC (`TraceService/Export`). The only module that knows OTLP wire types: requests are
//! decoded here and turned into Specula's `SpanRecord`s, which go to the
//! batching writer; the answer (in the request's encoding) follows the OTLP
//! specification, including partial success.

mod convert;
mod decode;
mod error;
mod export;
mod grpc;
mod http;

pub use decode::DecodeLimits;
pub use error::IngestError;
pub use grpc::router as grpc_router;
pub use http::routes;
