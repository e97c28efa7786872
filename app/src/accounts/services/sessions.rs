//! The tower-sessions store, over sea-orm so SQLite and PostgreSQL share one
//! code path: sessions survive restarts and are shared by replicas.
//!
//! The signed-in user's id is copied out of the session data into its own
//! column, which lets a password change end all of a user's other sessions.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::session;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, sea_query::OnConflict,
};
use tokio_util::sync::CancellationToken;
use tower_sessions::{
    Session, SessionStore,
    session::{Id, Record},
    session_store,
};
use uuid::Uuid;

use crate::{
    error::{AppError, Result},
    platform::services::{
        lease,
        metrics::{JobOutcome, job_pass},
    },
};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "specula_session";
/// The session key holding the signed-in user's id.
pub const USER_ID_KEY: &str = "user_id";
/// The session key holding the organization the UI shows.
pub const ACTIVE_ORG_KEY: &str = "active_org";

#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: DatabaseConnection,
}

impl DbSessionStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn backend(err: DbErr) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

fn expiry_to_chrono(record: &Record) -> DateTime<Utc> {
    DateTime::from_timestamp(
        record.expiry_date.unix_timestamp(),
        record.expiry_date.nanosecond(),
    )
    .unwrap_or_else(Utc::now)
}

fn to_row(record: &Record) -> session_store::Result<session::ActiveModel> {
    let data =
        serde_json::to_string(&record.data).map_err(|err| session_store::Error::Encode(err.to_string()))?;
    let user_id = record
        .data
        .get(USER_ID_KEY)
        .and_then(|value| serde_json::from_value::<Uuid>(value.clone()).ok());
    Ok(session::ActiveModel {
        id: Set(record.id.to_string()),
        data: Set(data),
        expires_at: Set(expiry_to_chrono(record)),
        user_id: Set(user_id),
    })
}

#[async_trait::async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are 128 random bits; on the astronomically rare collision, draw again.
        loop {
            let row = to_row(record)?;
            match session::Entity::insert(row)
                .exec_without_returning(&self.db)
                .await
            {
                Ok(_) => return Ok(()),
                Err(err) if matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
                    record.id = Id::default();
                }
                Err(err) => return Err(backend(err)),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        session::Entity::insert(to_row(record)?)
            .on_conflict(
                OnConflict::column(session::Column::Id)
                    .update_columns([
                        session::Column::Data,
                        session::Column::ExpiresAt,
                        session::Column::UserId,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = session::Entity::find_by_id(id.to_string())
            .filter(session::Column::ExpiresAt.gt(Utc::now()))
            .one(&self.db)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let data =
            serde_json::from_str(&row.data).map_err(|err| session_store::Error::Decode(err.to_string()))?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp(row.expires_at.timestamp())
            .map_err(|err| session_store::Error::Decode(err.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        session::Entity::delete_by_id(id.to_string())
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

fn session_error(err: tower_sessions::session::Error) -> AppError {
    AppError::Internal(format!("session store: {err}"))
}

/// Signs `user_id` in on `session` under a fresh id, so a session id planted
/// before sign-in is worthless after it.
pub async fn sign_in(session: &Session, user_id: Uuid) -> Result<()> {
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(USER_ID_KEY, user_id)
        .await
        .map_err(session_error)?;
    Ok(())
}

/// Ends `session`: its row is deleted and the cookie cleared.
pub async fn sign_out(session: &Session) -> Result<()> {
    session.flush().await.map_err(session_error)
}

/// Gives `session` a new id, keeping its data (used after a password change).
pub async fn rotate(session: &Session) -> Result<()> {
    session.cycle_id().await.map_err(session_error)
}

/// The user signed in on `session`, if any.
pub async fn signed_in_user_id(session: &Session) -> Result<Option<Uuid>> {
    session.get(USER_ID_KEY).await.map_err(session_error)
}

/// The organization the UI shows, if one was chosen.
pub async fn active_org(session: &Session) -> Result<Option<Uuid>> {
    session.get(ACTIVE_ORG_KEY).await.map_err(session_error)
}

pub async fn set_active_org(session: &Session, org_id: Uuid) -> Result<()> {
    session
        .insert(ACTIVE_ORG_KEY, org_id)
        .await
        .map_err(session_error)
}

/// Ends every session of `user_id` but the caller's `session`, which lives
/// on under a new id.
pub async fn end_other_sessions(db: &DatabaseConnection, session: &Session, user_id: Uuid) -> Result<u64> {
    // Rotating deletes this session's stored row and keeps its data in
    // memory; the new row is written when the response is sent, after every
    // stored row of the user has been deleted here.
    rotate(session).await?;
    let ended = end_user_sessions(db, user_id).await?;
    tracing::info!(%user_id, ended, "other sessions ended");
    Ok(ended)
}

/// The cleanup's lease and job name.
const CLEANUP_JOB: &str = "session_cleanup";

/// Removes expired sessions; returns how many.
pub async fn delete_expired(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let result = session::Entity::delete_many()
        .filter(session::Column::ExpiresAt.lte(Utc::now()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Ends every stored session of `user_id`.
pub async fn end_user_sessions(db: &DatabaseConnection, user_id: Uuid) -> Result<u64> {
    let query = session::Entity::delete_many().filter(session::Column::UserId.eq(user_id));
    Ok(query.exec(db).await?.rows_affected)
}

/// Deletes expired sessions every `period` until `shutdown` is cancelled,
/// on one replica at a time (`owner` is this process's name for leases).
pub async fn run_expired_cleanup(
    db: DatabaseConnection,
    period: Duration,
    owner: String,
    shutdown: CancellationToken,
) {
    let mut interval = tokio::time::interval(period);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = interval.tick() => {
                let pass = lease::while_holding(&db, CLEANUP_JOB, &owner, delete_expired(&db)).await;
                match pass {
                    Ok(None) => job_pass(CLEANUP_JOB, JobOutcome::Standby),
                    Ok(Some(Ok(removed))) => {
                        job_pass(CLEANUP_JOB, JobOutcome::Ok);
                        if removed > 0 {
                            tracing::debug!(removed, "expired sessions deleted");
                        }
                    }
                    Ok(Some(Err(err))) => {
                        job_pass(CLEANUP_JOB, JobOutcome::Error);
                        tracing::warn!(error = %err, "expired-session cleanup failed");
                    }
                    Err(err) => {
                        job_pass(CLEANUP_JOB, JobOutcome::Error);
                        tracing::warn!(error = %err, "expired-session cleanup's lease not read");
                    }
                }
            }
        }
    }
}
