//! Accounts: sign-up, sign-in and password changes.

use chrono::Utc;
use entity::user;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait,
};
use std::net::IpAddr;

use uuid::Uuid;

use crate::{
    accounts::services::{
        orgs, passwords,
        throttle::LoginThrottle,
        users::{self, insert_user, normalize_email},
    },
    error::{AppError, Result},
    platform::services::audit::{Actor, RequestOrigin},
};

/// What a new account starts with.
pub struct SignUp {
    pub email: String,
    pub password: String,
    /// Name of the first organization; defaults to one derived from the email.
    pub organization_name: Option<String>,
}

/// Creates a user with their first organization, where they are owner.
/// The first user of the installation becomes its instance admin.
pub async fn sign_up(db: &DatabaseConnection, request: SignUp, origin: RequestOrigin) -> Result<user::Model> {
    let email = normalize_email(&request.email)?;
    passwords::check_policy(&request.password, &email)?;
    let org_name = match request.organization_name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => orgs::validate_name(name)?,
        _ => format!("{}'s organization", email.split('@').next().unwrap_or("my")),
    };
    let password_hash = passwords::hash(request.password).await?;

    let txn = db.begin().await?;
    let user = insert_user(&txn, email, password_hash).await?;
    let org = orgs::insert_with_owner(&txn, org_name, &Actor::user(&user, origin)).await?;
    txn.commit().await?;
    tracing::info!(user_id = %user.id, org_id = %org.id, instance_admin = user.instance_admin, "account created");
    Ok(user)
}

/// Creates an account without an organization, for someone joining through an invitation.
pub async fn sign_up_invited(db: &DatabaseConnection, email: &str, password: String) -> Result<user::Model> {
    let email = normalize_email(email)?;
    passwords::check_policy(&password, &email)?;
    let password_hash = passwords::hash(password).await?;
    insert_user(db, email, password_hash).await
}

/// The user for these credentials. Unknown emails and wrong passwords fail
/// alike, and take the same time (a dummy hash is verified).
pub async fn authenticate(db: &DatabaseConnection, email: &str, password: String) -> Result<user::Model> {
    let email = email.trim().to_lowercase();
    let user = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(db)
        .await?;
    let stored = user.as_ref().map(|user| user.password_hash.clone());
    if passwords::verify(password, stored).await? {
        user.ok_or(AppError::Unauthenticated("wrong email or password"))
    } else {
        Err(AppError::Unauthenticated("wrong email or password"))
    }
}

/// Signs in with throttling of failed attempts per email and client address.
pub async fn log_in(
    db: &DatabaseConnection,
    throttle: &LoginThrottle,
    email: &str,
    password: String,
    address: Option<IpAddr>,
) -> Result<user::Model> {
    let email = email.trim().to_lowercase();
    if let Err(wait) = throttle.check(&email, address) {
        return Err(AppError::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    match authenticate(db, &email, password).await {
        Ok(user) => {
            throttle.record_success(&email);
            Ok(user)
        }
        Err(err @ AppError::Unauthenticated(_)) => {
            throttle.record_failure(&email, address);
            Err(err)
        }
        Err(err) => Err(err),
    }
}

/// A sign-up request as the REST API and the sign-up page receive it.
pub struct SignUpRequest {
    pub email: String,
    pub password: String,
    pub organization_name: Option<String>,
    /// An invitation secret: join that organization instead of creating one.
    pub invitation: Option<String>,
}

/// Creates an account: through an invitation (joining its organization), or
/// openly (with an organization of one's own) when sign-up is open or no
/// account exists yet — otherwise nobody could ever invite anyone.
pub async fn register(
    db: &DatabaseConnection,
    open_signup: bool,
    request: SignUpRequest,
    origin: RequestOrigin,
) -> Result<user::Model> {
    match request
        .invitation
        .as_deref()
        .map(str::trim)
        .filter(|token| !token.is_empty())
    {
        Some(token) => {
            let invitation = orgs::find_open_invitation(db, token).await?;
            let email = normalize_email(&request.email)?;
            if invitation.email != email {
                return Err(AppError::Forbidden(
                    "this invitation was sent to another email address",
                ));
            }
            let user = sign_up_invited(db, &email, request.password).await?;
            orgs::accept_invitation(db, token, &user, origin).await?;
            Ok(user)
        }
        None if !open_signup && users::has_users(db).await? => Err(AppError::Forbidden(
            "sign-up is by invitation only on this installation",
        )),
        None => {
            sign_up(
                db,
                SignUp {
                    email: request.email,
                    password: request.password,
                    organization_name: request.organization_name,
                },
                origin,
            )
            .await
        }
    }
}

/// The account with this email, if any.
pub async fn find_by_email(db: &DatabaseConnection, email: &str) -> Result<Option<user::Model>> {
    let email = normalize_email(email)?;
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(db)
        .await?)
}

/// Sets a new password without the current one (an administrator from the
/// shell) and ends every session of the account.
pub async fn reset_password(db: &DatabaseConnection, email: &str, new: String) -> Result<user::Model> {
    let user = find_by_email(db, email)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    passwords::check_policy(&new, &user.email)?;
    let password_hash = passwords::hash(new).await?;
    let mut active: user::ActiveModel = user.into();
    active.password_hash = Set(password_hash);
    active.password_changed_at = Set(Utc::now());
    let user = active.update(db).await?;
    let ended = super::sessions::end_user_sessions(db, user.id).await?;
    tracing::info!(user_id = %user.id, ended, "password reset from the shell");
    Ok(user)
}

/// Makes the account an instance administrator, or no longer one.
pub async fn set_instance_admin(db: &DatabaseConnection, email: &str, admin: bool) -> Result<user::Model> {
    let user = find_by_email(db, email)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    let mut active: user::ActiveModel = user.into();
    active.instance_admin = Set(admin);
    let user = active.update(db).await?;
    tracing::info!(user_id = %user.id, admin, "instance administrator role set from the shell");
    Ok(user)
}

/// Changes a password after checking the current one.
pub async fn change_password(
    db: &DatabaseConnection,
    user_id: Uuid,
    current: String,
    new: String,
) -> Result<()> {
    let user = users::find_user(db, user_id)
        .await?
        .ok_or(AppError::Unauthenticated("sign in first"))?;
    if !passwords::verify(current, Some(user.password_hash.clone())).await? {
        return Err(AppError::Forbidden("the current password is wrong"));
    }
    passwords::check_policy(&new, &user.email)?;
    let password_hash = passwords::hash(new).await?;
    let mut active: user::ActiveModel = user.into();
    active.password_hash = Set(password_hash);
    active.password_changed_at = Set(Utc::now());
    active.update(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(normalize_email("  Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "ada@.com",
            "a da@x.io",
            "a@b@c.io",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert!(normalize_email(&format!("{}@x.io", "a".repeat(260))).is_err());
    }
}
