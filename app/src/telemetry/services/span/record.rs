//! A decoded span: every OTLP field, attribute values as typed JSON. What
//! the ingest stages derive from it sits beside it in [`super::normalized`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Attributes as a JSON object: strings, booleans, integers, doubles,
/// arrays and key-value lists keep their types.
pub type Attributes = Map<String, Value>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanKind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "unspecified",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }

    /// The kind [`SpanKind::as_str`] stored; anything else is unspecified.
    pub fn from_stored(text: &str) -> Self {
        [
            Self::Internal,
            Self::Server,
            Self::Client,
            Self::Producer,
            Self::Consumer,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
        .unwrap_or(Self::Unspecified)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusCode {
    Unset,
    Ok,
    Error,
}

impl StatusCode {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusCode::Unset => "unset",
            StatusCode::Ok => "ok",
            StatusCode::Error => "error",
        }
    }

    /// The status [`StatusCode::as_str`] stored; anything else is unset.
    pub fn from_stored(text: &str) -> Self {
        match text {
            "ok" => Self::Ok,
            "error" => Self::Error,
            _ => Self::Unset,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanEvent {
    pub name: String,
    pub time_ns: i64,
    pub attributes: Attributes,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanLink {
    pub trace_id: String,
    pub span_id: String,
    pub attributes: Attributes,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    pub name: String,
    pub version: Option<String>,
    pub attributes: Attributes,
}

/// One span, validated: ids are lower-case hex of the right length, the end
/// is not before the start.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRecord {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub kind: SpanKind,
    pub start_time_ns: i64,
    pub end_time_ns: i64,
    pub status_code: StatusCode,
    pub status_message: Option<String>,
    pub service_name: String,
    pub resource_attributes: Attributes,
    pub scope: Scope,
    pub attributes: Attributes,
    pub events: Vec<SpanEvent>,
    pub links: Vec<SpanLink>,
}

impl SpanRecord {
    pub fn duration_ns(&self) -> i64 {
        self.end_time_ns.saturating_sub(self.start_time_ns)
    }
}
