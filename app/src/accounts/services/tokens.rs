//! API tokens: minting, listing, revoking, and turning a bearer secret into
//! the caller's organization and scopes.
//!
//! A token is `spk_` followed by 32 alphanumerics (190 bits of randomness).
//! Only its SHA-256 and its first characters are stored. A token looked up
//! is trusted for [`TOKEN_CACHE_TTL`] before it is looked up again: an
//! exporter sends hundreds of requests a second with one token, and a
//! database round trip for each cost ingest a tenth of its CPU. Revoking
//! drops the token from this replica's cache at once, so the next request
//! is refused; other replicas refuse it within the TTL.

use chrono::{DateTime, Duration, Utc};
use entity::{api_token, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, TransactionTrait, sea_query::Expr,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    accounts::{
        services::orgs,
        types::{Action, MintedToken, TokenInfo, TokenScope},
    },
    error::{AppError, Result},
    platform::services::{
        audit::{self, Actor},
        expiring_cache::ExpiringCache,
        secrets,
    },
};

pub const TOKEN_PREFIX: &str = "spk_";
const SECRET_LEN: usize = 32;
/// Characters of the secret kept for display: the prefix and 8 more.
const DISPLAY_LEN: usize = TOKEN_PREFIX.len() + 8;
pub const MAX_TOKEN_NAME_LEN: usize = 100;
/// `last_used_at` is written at most this often per token, not on every request.
pub const LAST_USED_RESOLUTION: Duration = Duration::seconds(60);

/// How long a looked-up token is trusted without looking it up again.
pub const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Valid tokens recently looked up, by the SHA-256 of their secret (never
/// the secret itself), with their expiry. Unknown and refused tokens are
/// not kept.
#[derive(Clone, Debug)]
pub struct TokenCache {
    entries: ExpiringCache<String, (Option<DateTime<Utc>>, TokenPrincipal)>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::with_ttl(TOKEN_CACHE_TTL)
    }
}

impl TokenCache {
    fn with_ttl(ttl: std::time::Duration) -> Self {
        Self {
            entries: ExpiringCache::new(ttl),
        }
    }

    fn get(&self, digest: &str, now: DateTime<Utc>) -> Option<TokenPrincipal> {
        self.entries
            .get(digest)
            .filter(|(expires_at, _)| expires_at.is_none_or(|at| at > now))
            .map(|(_, principal)| principal)
    }

    fn insert(&self, digest: String, expires_at: Option<DateTime<Utc>>, principal: TokenPrincipal) {
        self.entries.insert(digest, (expires_at, principal));
    }

    /// Forgets a token (it was revoked): its next request is looked up.
    pub fn forget(&self, token_id: Uuid) {
        self.entries
            .retain(|(_, principal)| principal.token_id != token_id);
    }
}

/// Who is calling with a valid token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPrincipal {
    pub token_id: Uuid,
    /// The token's name, as the audit log calls it.
    pub name: String,
    pub org_id: Uuid,
    pub scopes: Vec<TokenScope>,
}

impl TokenPrincipal {
    pub fn allows(&self, scope: TokenScope) -> bool {
        self.scopes.contains(&scope)
    }
}

fn encode_scopes(scopes: &[TokenScope]) -> String {
    scopes
        .iter()
        .map(|scope| scope.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn decode_scopes(stored: &str) -> Vec<TokenScope> {
    stored.split_whitespace().filter_map(TokenScope::parse).collect()
}

/// True when `secret` has the shape of a Specula token.
pub fn is_well_formed(secret: &str) -> bool {
    secret
        .strip_prefix(TOKEN_PREFIX)
        .is_some_and(|rest| rest.len() == SECRET_LEN && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn token_info(row: &api_token::Model, created_by: Option<String>) -> TokenInfo {
    TokenInfo {
        id: row.id,
        name: row.name.clone(),
        prefix: row.display_prefix.clone(),
        scopes: decode_scopes(&row.scopes),
        created_by,
        created_at: row.created_at.to_rfc3339(),
        last_used_at: row.last_used_at.map(|at| at.to_rfc3339()),
        expires_at: row.expires_at.map(|at| at.to_rfc3339()),
        revoked_at: row.revoked_at.map(|at| at.to_rfc3339()),
    }
}

pub struct NewToken {
    pub name: String,
    pub scopes: Vec<TokenScope>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new token's secret and row (not yet inserted): stored as its hash and
/// first characters only, unexpired and not revoked.
fn new_token(
    org_id: Uuid,
    name: String,
    scopes: &[TokenScope],
    creator: Option<Uuid>,
) -> (String, api_token::ActiveModel) {
    let secret = format!("{TOKEN_PREFIX}{}", secrets::random_alphanumeric(SECRET_LEN));
    let row = api_token::ActiveModel {
        id: Set(Uuid::new_v4()),
        org_id: Set(org_id),
        name: Set(name),
        token_hash: Set(secrets::sha256_hex(&secret)),
        display_prefix: Set(secret[..DISPLAY_LEN].to_owned()),
        scopes: Set(encode_scopes(scopes)),
        created_by: Set(creator),
        created_at: Set(Utc::now()),
        expires_at: Set(None),
        revoked_at: Set(None),
        last_used_at: Set(None),
    };
    (secret, row)
}

/// Mints a token. Ingest-only tokens need `MintOwnIngestToken` (members);
/// any other scope needs `ManageTokens` (admins).
pub async fn mint(
    db: &DatabaseConnection,
    org_id: Uuid,
    acting: &Actor,
    request: NewToken,
) -> Result<MintedToken> {
    let creator = acting.acting_user()?;
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_TOKEN_NAME_LEN {
        return Err(AppError::BadRequest(format!(
            "the token name must have 1 to {MAX_TOKEN_NAME_LEN} characters"
        )));
    }
    let mut scopes = request.scopes;
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(AppError::BadRequest("choose at least one scope".to_owned()));
    }
    if request.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(AppError::BadRequest(
            "the expiry must be in the future".to_owned(),
        ));
    }
    let needed = if scopes == [TokenScope::Ingest] {
        Action::MintOwnIngestToken
    } else {
        Action::ManageTokens
    };
    orgs::authorize(db, org_id, creator, needed).await?;
    if scopes.contains(&TokenScope::Metrics) {
        let instance_admin = user::Entity::find_by_id(creator)
            .one(db)
            .await?
            .is_some_and(|user| user.instance_admin);
        if !instance_admin {
            return Err(AppError::Forbidden(
                "only an instance administrator mints a token with the `metrics` scope",
            ));
        }
    }

    let (secret, row) = new_token(org_id, name, &scopes, Some(creator));
    let txn = db.begin().await?;
    let row = api_token::ActiveModel {
        expires_at: Set(request.expires_at),
        ..row
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        org_id,
        acting,
        "token.minted",
        format!("minted the API token “{}” ({})", row.name, row.scopes),
        json!({
            "token_id": row.id,
            "after": {
                "name": row.name,
                "prefix": row.display_prefix,
                "scopes": row.scopes,
                "expires_at": row.expires_at.map(|at| at.to_rfc3339()),
            },
        }),
    )
    .await?;
    txn.commit().await?;
    let creator_email = user::Entity::find_by_id(creator)
        .one(db)
        .await?
        .map(|user| user.email);
    tracing::info!(token_id = %row.id, %org_id, %creator, scopes = %row.scopes, "API token minted");
    Ok(MintedToken {
        token: token_info(&row, creator_email),
        secret,
    })
}

/// A token no one holds, for what Specula ingests itself on the
/// organization's behalf (the demo workload): created revoked with a secret
/// that is never kept, so it authenticates nothing, yet the usage it is
/// credited with is labelled with its name. Returns its id.
pub async fn create_internal(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    name: &str,
    creator: Option<Uuid>,
) -> Result<Uuid> {
    let (_, row) = new_token(org_id, name.to_owned(), &[TokenScope::Ingest], creator);
    let row = api_token::ActiveModel {
        revoked_at: Set(Some(Utc::now())),
        ..row
    }
    .insert(db)
    .await?;
    Ok(row.id)
}

/// Deletes a token made by [`create_internal`], once what it was
/// credited with is gone.
pub async fn delete_internal(db: &impl ConnectionTrait, org_id: Uuid, token_id: Uuid) -> Result<()> {
    api_token::Entity::delete_many()
        .filter(api_token::Column::OrgId.eq(org_id))
        .filter(api_token::Column::Id.eq(token_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Every token of the organization, newest first, revoked ones included.
pub async fn list(db: &DatabaseConnection, org_id: Uuid) -> Result<Vec<TokenInfo>> {
    let rows = api_token::Entity::find()
        .filter(api_token::Column::OrgId.eq(org_id))
        .find_also_related(user::Entity)
        .order_by_desc(api_token::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(rows
        .iter()
        .map(|(row, creator)| token_info(row, creator.as_ref().map(|user| user.email.clone())))
        .collect())
}

/// Revokes a token: admins any token, members their own. It is refused
/// from the next request on (`cache` is this replica's [`TokenCache`]).
pub async fn revoke(
    db: &DatabaseConnection,
    cache: &TokenCache,
    org_id: Uuid,
    acting: &Actor,
    token_id: Uuid,
) -> Result<TokenInfo> {
    let actor = acting.acting_user()?;
    let role = orgs::authorize(db, org_id, actor, Action::MintOwnIngestToken).await?;
    let row = api_token::Entity::find_by_id(token_id)
        .filter(api_token::Column::OrgId.eq(org_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("token"))?;
    let own = row.created_by == Some(actor);
    if !own && !crate::accounts::types::role_allows(role, Action::ManageTokens) {
        return Err(AppError::Forbidden(
            "only admins can revoke other people's tokens",
        ));
    }
    if row.revoked_at.is_some() {
        return Ok(token_info(&row, None));
    }
    let txn = db.begin().await?;
    let mut active: api_token::ActiveModel = row.into();
    active.revoked_at = Set(Some(Utc::now()));
    let row = active.update(&txn).await?;
    audit::record(
        &txn,
        org_id,
        acting,
        "token.revoked",
        format!("revoked the API token “{}” ({})", row.name, row.scopes),
        json!({
            "token_id": row.id,
            "before": { "name": row.name, "prefix": row.display_prefix, "scopes": row.scopes, "revoked": false },
            "after": { "revoked": true },
        }),
    )
    .await?;
    txn.commit().await?;
    cache.forget(token_id);
    tracing::info!(%token_id, %org_id, %actor, "API token revoked");
    Ok(token_info(&row, None))
}

/// The principal for a bearer secret, or `InvalidToken` when it is
/// malformed, unknown, revoked or expired. A token `cache` holds is not
/// looked up again until its entry is [`TOKEN_CACHE_TTL`] old.
pub async fn authenticate(
    db: &DatabaseConnection,
    cache: &TokenCache,
    secret: &str,
) -> Result<TokenPrincipal> {
    if !is_well_formed(secret) {
        return Err(AppError::InvalidToken("malformed API token"));
    }
    let digest = secrets::sha256_hex(secret);
    let now = Utc::now();
    if let Some(principal) = cache.get(&digest, now) {
        return Ok(principal);
    }
    let row = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(digest.as_str()))
        .one(db)
        .await?
        .ok_or(AppError::InvalidToken("unknown API token"))?;
    if row.revoked_at.is_some() {
        return Err(AppError::InvalidToken("this API token has been revoked"));
    }
    if row.expires_at.is_some_and(|at| at <= now) {
        return Err(AppError::InvalidToken("this API token has expired"));
    }
    if row.last_used_at.is_none_or(|at| now - at >= LAST_USED_RESOLUTION) {
        // In the background: on SQLite the write waits for the span writer's
        // transaction, and an export must not wait for bookkeeping.
        tokio::spawn(record_use(db.clone(), row.id, now));
    }
    let principal = TokenPrincipal {
        token_id: row.id,
        name: row.name.clone(),
        org_id: row.org_id,
        scopes: decode_scopes(&row.scopes),
    };
    cache.insert(digest, row.expires_at, principal.clone());
    Ok(principal)
}

/// Stamps `last_used_at`; a failure here must not fail the request.
async fn record_use(db: DatabaseConnection, token_id: Uuid, now: DateTime<Utc>) {
    let result = api_token::Entity::update_many()
        .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
        .filter(api_token::Column::Id.eq(token_id))
        .exec(&db)
        .await;
    if let Err(err) = result {
        tracing::warn!(%token_id, error = %err, "could not record API token use");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> TokenPrincipal {
        TokenPrincipal {
            token_id: Uuid::new_v4(),
            name: "ci".to_owned(),
            org_id: Uuid::new_v4(),
            scopes: vec![TokenScope::Ingest],
        }
    }

    #[test]
    fn cached_tokens_expire_forget_and_age_out() {
        let cache = TokenCache::default();
        let now = Utc::now();
        let lasting = principal();
        cache.insert("a".into(), None, lasting.clone());
        assert_eq!(cache.get("a", now), Some(lasting.clone()));
        assert_eq!(cache.get("b", now), None);

        // A token that expires is refused from its expiry on, cached or not.
        let expiring = principal();
        cache.insert("e".into(), Some(now + Duration::seconds(30)), expiring.clone());
        assert_eq!(cache.get("e", now), Some(expiring));
        assert_eq!(cache.get("e", now + Duration::seconds(30)), None);

        cache.forget(lasting.token_id);
        assert_eq!(cache.get("a", now), None);

        let aged = TokenCache::with_ttl(std::time::Duration::ZERO);
        aged.insert("old".into(), None, principal());
        assert_eq!(aged.get("old", now), None);
    }

    #[test]
    fn token_shape_is_checked() {
        let secret = format!("{TOKEN_PREFIX}{}", secrets::random_alphanumeric(SECRET_LEN));
        assert!(is_well_formed(&secret));
        assert!(!is_well_formed(&secret[..secret.len() - 1]));
        assert!(!is_well_formed(&secret.replace(TOKEN_PREFIX, "xyz_")));
        assert!(!is_well_formed(&format!(
            "{TOKEN_PREFIX}{}",
            "-".repeat(SECRET_LEN)
        )));
        assert!(!is_well_formed(""));
    }

    #[test]
    fn scopes_round_trip_through_storage() {
        let scopes = vec![TokenScope::Ingest, TokenScope::Read];
        assert_eq!(encode_scopes(&scopes), "ingest read");
        assert_eq!(decode_scopes("ingest read"), scopes);
        assert_eq!(decode_scopes("read bogus"), vec![TokenScope::Read]);
    }
}
