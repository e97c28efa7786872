//! The installation's identity row.

use chrono::Utc;
use entity::instance;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait, prelude::Uuid};

/// Returns this installation's id, creating it on the first start.
///
/// Replicas starting together race to insert; `ON CONFLICT DO NOTHING` on the
/// singleton key lets exactly one win and everyone reads the winner's id.
pub async fn ensure_instance_id(db: &DatabaseConnection) -> Result<Uuid, DbErr> {
    let candidate = instance::ActiveModel {
        singleton: Set(instance::SINGLETON),
        instance_id: Set(Uuid::new_v4()),
        created_at: Set(Utc::now()),
    };
    instance::Entity::insert(candidate)
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
    let row = instance::Entity::find_by_id(instance::SINGLETON)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("instance".into()))?;
    Ok(row.instance_id)
}
