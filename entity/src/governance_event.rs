//! One decision of the governance evaluate API.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "governance_events")]
pub struct Model {
    /// The `decision_id` the caller was given (a UUIDv7: time-ordered).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub created_at_ns: i64,
    /// `evaluation` for now.
    pub event_type: String,
    /// The policy version that decided (0: the defaults).
    pub policy_version: i64,
    /// `allow`, `deny`, `redact` or `route`.
    pub action: String,
    /// Every reason that applied, as a JSON array.
    #[sea_orm(column_type = "Text")]
    pub reasons: String,
    /// The model asked for.
    pub model: Option<String>,
    /// The model the caller was told to use.
    pub routed_model: Option<String>,
    pub end_user: Option<String>,
    pub region: Option<String>,
    pub service: Option<String>,
    /// The API token that asked, if a token did.
    pub token_id: Option<Uuid>,
    /// The signed-in user that asked, if one did.
    pub user_id: Option<Uuid>,
    pub prompt_chars: i64,
    /// The prompt's digest: equal prompts stay recognizable, the text is not kept.
    pub prompt_sha256: String,
    /// Nano-dollars, as given or estimated from the price table.
    pub estimated_cost_nanos: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
