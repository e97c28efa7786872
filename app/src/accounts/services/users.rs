//! Users as the other accounts services look them up: by id, by email
//! (normalized one way everywhere), in bulk for "who did this" columns.

use chrono::Utc;
use entity::user;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter,
};
use uuid::Uuid;

use crate::{
    accounts::types::UserInfo,
    error::{AppError, Result},
};

pub const MAX_EMAIL_LEN: usize = 254;

/// Trims and lower-cases an email and checks its shape (`local@domain.tld`).
pub fn normalize_email(raw: &str) -> Result<String> {
    let email = raw.trim().to_lowercase();
    let invalid = || AppError::BadRequest("enter a valid email address".to_owned());
    if email.len() > MAX_EMAIL_LEN || email.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok =
        domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@');
    if local.is_empty() || !domain_ok {
        return Err(invalid());
    }
    Ok(email)
}

pub fn user_info(user: &user::Model) -> UserInfo {
    UserInfo {
        id: user.id,
        email: user.email.clone(),
        instance_admin: user.instance_admin,
        created_at: user.created_at.to_rfc3339(),
    }
}

/// Inserts a user; the installation's first becomes its instance admin.
pub(super) async fn insert_user(
    conn: &impl ConnectionTrait,
    email: String,
    password_hash: String,
) -> Result<user::Model> {
    let now = Utc::now();
    // Written before anything is read: on SQLite a transaction that reads
    // first cannot write once another connection has written since.
    let mut user = user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email),
        password_hash: Set(password_hash),
        instance_admin: Set(false),
        created_at: Set(now),
        password_changed_at: Set(now),
        times_in_utc: Set(false),
    }
    .insert(conn)
    .await
    .map_err(|err| AppError::conflict_on_unique(err, "an account with this email already exists"))?;
    // The installation's first user is its admin.
    if user::Entity::find().count(conn).await? == 1 {
        user = user::ActiveModel {
            id: Set(user.id),
            instance_admin: Set(true),
            ..Default::default()
        }
        .update(conn)
        .await?;
    }
    Ok(user)
}

/// Records whether the user reads times in UTC.
pub async fn set_times_in_utc(db: &impl ConnectionTrait, user_id: Uuid, utc: bool) -> Result<()> {
    user::Entity::update_many()
        .col_expr(user::Column::TimesInUtc, sea_orm::sea_query::Expr::value(utc))
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// True once the installation has at least one account.
pub async fn has_users(db: &DatabaseConnection) -> Result<bool> {
    Ok(user::Entity::find().count(db).await? > 0)
}

pub async fn find_user(db: &impl sea_orm::ConnectionTrait, user_id: Uuid) -> Result<Option<user::Model>> {
    Ok(user::Entity::find_by_id(user_id).one(db).await?)
}

/// The emails of the users among `ids` that still exist, by id: who
/// changed or asked for something, in one query.
pub async fn emails_of(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<std::collections::HashMap<Uuid, String>> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|user| (user.id, user.email))
        .collect())
}
