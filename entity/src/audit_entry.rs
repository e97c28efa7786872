//! One entry of an organization's audit log: who changed what, when and from
//! where. The log is a hash chain per organization: each entry stores the
//! hash of the one before it and its own hash over both, so an entry that is
//! edited, removed from the middle or reordered breaks the chain.

use sea_orm::entity::prelude::*;
use sha2::{Digest, Sha256};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: Uuid,
    /// 1, 2, 3… within the organization: the entry's place in the chain.
    pub seq: i64,
    pub actor_user_id: Option<Uuid>,
    /// Set when an API token made the change.
    pub actor_token_id: Option<Uuid>,
    /// The actor's email, token name or the system, as it was then.
    pub actor: String,
    /// A stable name such as `prices.updated`.
    pub action: String,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    /// JSON with the particulars (`before` and `after` for changes).
    #[sea_orm(column_type = "Text")]
    pub detail: String,
    pub at_ns: i64,
    /// The client's address as the server resolved it (see trusted proxies).
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    /// The previous entry's `hash`; empty for an organization's first entry.
    pub prev_hash: String,
    /// Lower-case hex SHA-256, see [`Model::chain_hash`].
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// SHA-256 over `prev_hash` and every recorded field, encoded as one JSON
    /// array so that no two different entries share an encoding. The row id
    /// is left out: it is the database's, and `seq` orders the chain.
    pub fn chain_hash(&self) -> String {
        let fields = serde_json::json!([
            self.prev_hash,
            self.org_id.to_string(),
            self.seq,
            self.at_ns,
            self.actor_user_id.map(|id| id.to_string()),
            self.actor_token_id.map(|id| id.to_string()),
            self.actor,
            self.action,
            self.summary,
            self.detail,
            self.client_address,
            self.user_agent,
        ]);
        hex::encode(Sha256::digest(fields.to_string().as_bytes()))
    }
}
