//! The organization's audit log: every change to what governs its data
//! (prices, and the recomputes they lead to) with who made it and when.
//! Entries are written in the same transaction as the change they describe.

use entity::{audit_entry, user};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, prelude::*,
};
use serde_json::Value as Json;

use crate::{error::Result, platform::types::AuditEntry};

/// Who made a change: a signed-in user, or Specula itself (a background job).
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    pub name: String,
}

impl Actor {
    pub fn system() -> Self {
        Self {
            user_id: None,
            name: "Specula".to_owned(),
        }
    }
}

impl From<&user::Model> for Actor {
    fn from(user: &user::Model) -> Self {
        Self {
            user_id: Some(user.id),
            name: user.email.clone(),
        }
    }
}

pub async fn record(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    actor: &Actor,
    action: &str,
    summary: String,
    detail: Json,
) -> Result<()> {
    audit_entry::Entity::insert(audit_entry::ActiveModel {
        org_id: Set(org_id),
        actor_user_id: Set(actor.user_id),
        actor: Set(actor.name.clone()),
        action: Set(action.to_owned()),
        summary: Set(summary),
        detail: Set(detail.to_string()),
        at_ns: Set(super::now_ns()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// The newest entries whose action starts with `prefix`, newest first.
pub async fn recent(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    prefix: &str,
    limit: u64,
) -> Result<Vec<AuditEntry>> {
    let rows = audit_entry::Entity::find()
        .filter(audit_entry::Column::OrgId.eq(org_id))
        .filter(audit_entry::Column::Action.starts_with(prefix))
        .order_by_desc(audit_entry::Column::AtNs)
        .order_by_desc(audit_entry::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| AuditEntry {
            at: super::rfc3339(row.at_ns),
            actor: row.actor,
            action: row.action,
            summary: row.summary,
        })
        .collect())
}
