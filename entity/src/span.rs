//! A stored span: identity, timing, status and the derived LLM fields as
//! columns for filtering; everything else in the compressed `payload`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "spans")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: Uuid,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    /// OTLP span kind: `internal`, `server`, `client`, `producer`, `consumer`, `unspecified`.
    pub span_kind: String,
    /// `request`, `response`, `tool_call`, `tool_result`, `agent`, `embedding`, `retrieval`, `other`.
    pub llm_kind: String,
    pub service_name: String,
    pub start_time_ns: i64,
    pub end_time_ns: i64,
    pub duration_ns: i64,
    /// `unset`, `ok` or `error`.
    pub status_code: String,
    pub status_message: Option<String>,
    pub operation: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    /// The model asked for, when the answer names another.
    pub request_model: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    pub tool_name: Option<String>,
    pub tool_call_id: Option<String>,
    pub session_id: Option<String>,
    pub end_user_id: Option<String>,
    /// Nano-dollars (1e-9 USD); `None` when not priced.
    pub cost_nanos: Option<i64>,
    /// Tokens were used by a model without a price.
    pub unpriced: bool,
    /// Everything else the span carried (resource, scope, attributes,
    /// events, links, cost and policy marks) as zstd-compressed JSON; rows
    /// from before compression hold the plain JSON.
    #[sea_orm(column_type = "Blob")]
    pub payload: Vec<u8>,
    pub ingested_at_ns: i64,
    /// The agent a usage span was rolled up under (`None`: unattributed, or
    /// not a usage span).
    pub agent: Option<String>,
    /// The API token that sent a usage span (`None`: none, or not a usage span).
    pub token_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
