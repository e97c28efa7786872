//! Cross-cutting shapes shared with the browser: what the UI knows about
//! this installation (its version, where SDKs send telemetry) and the
//! audit log's entries.

use serde::{Deserialize, Serialize};

/// Public facts about this Specula installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfo {
    pub version: String,
    /// Base URL of the UI, REST API and OTLP/HTTP receiver.
    pub public_url: String,
    /// `{public_url}/v1/traces`: where OTLP/HTTP exporters post spans.
    pub otlp_http_traces_url: String,
    /// The OTLP/gRPC endpoint.
    pub otlp_grpc_url: String,
}

/// One entry of the organization's audit log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// The entry's place in the organization's chain: 1, 2, 3…
    pub seq: i64,
    /// RFC 3339, UTC.
    pub at: String,
    /// The user's email, the token's name, or `Specula` for the system.
    pub actor: String,
    pub actor_user_id: Option<uuid::Uuid>,
    pub actor_token_id: Option<uuid::Uuid>,
    /// A stable name such as `token.minted` or `member.role_changed`.
    pub action: String,
    pub summary: String,
    /// The particulars; changes carry `before` and `after`.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub detail: serde_json::Value,
    /// Where the request came from, as the server resolved it.
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    /// This entry's hash: SHA-256 over the previous entry's hash and this entry.
    pub hash: String,
}

/// What checking an organization's audit chain found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditChainReport {
    pub organization_id: uuid::Uuid,
    /// Entries checked.
    pub entries: u64,
    /// The first entry's `seq` (above 1 once retention has removed older entries).
    pub first_seq: Option<i64>,
    /// The newest entry's hash: write it down to prove later that nothing
    /// before it was rewritten.
    pub head_hash: Option<String>,
    /// True when every entry's hash matches and each links to the one before.
    pub intact: bool,
    /// Where the chain breaks, when it does.
    pub break_at_seq: Option<i64>,
    pub problem: Option<String>,
}

/// `GET /api/v1/orgs/{org}/audit`: which entries of the audit log to read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct AuditLogQuery {
    /// Actions starting with this: `token.` for every token change, `member.role_changed` for one kind.
    pub action: Option<String>,
    /// Entries whose actor (an email or a token's name) contains this.
    pub actor: Option<String>,
    /// Start of the range (RFC 3339, a UTC date and time, or Unix ns). Default: the first entry.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::time))]
    pub since: Option<String>,
    /// End of the range, exclusive. Default: now.
    #[cfg_attr(feature = "ssr", param(schema_with = crate::telemetry::types::query_schemas::time))]
    pub until: Option<String>,
    /// Entries per page: 1 to 10,000 (default 100); a JSON page holds at most 1,000.
    #[cfg_attr(feature = "ssr", param(minimum = 1, maximum = 10000))]
    pub limit: Option<u64>,
    /// From a previous page's `next_cursor`.
    #[cfg_attr(feature = "ssr", param(pattern = "^[0-9]*$"))]
    pub cursor: Option<String>,
    /// `json` (default) or `csv`.
    #[cfg_attr(feature = "ssr", param(schema_with = audit_format))]
    pub format: Option<String>,
}

#[cfg(feature = "ssr")]
fn audit_format() -> utoipa::openapi::Object {
    crate::telemetry::types::query_schemas::one_of(&["json", "csv"], "Answer as JSON or CSV")
}

/// One page of the audit log, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditLogPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last.
    pub next_cursor: Option<String>,
}

/// The kinds of change the Audit page filters by: action prefix and label.
pub const AUDIT_ACTION_KINDS: [(&str, &str); 10] = [
    ("organization.", "Organization"),
    ("member.", "Members and roles"),
    ("invitation.", "Invitations"),
    ("token.", "API tokens"),
    ("prices.", "Prices"),
    ("costs.", "Cost recomputes"),
    ("similarity.", "Similarity"),
    ("demo.", "Demo data"),
    ("policy.", "Policies"),
    ("forwarding.", "Forwarding"),
];
