//! The organization's audit log: every administrative change with who made
//! it (user, token or Specula itself), when, from where, and what it was
//! before and after. Entries are written in the same transaction as the
//! change they describe, and chained by hash per organization (see
//! `entity::audit_entry`): [`verify`] proves the chain unbroken. Nothing
//! updates an entry (a trigger refuses it); only the organization's deletion
//! removes its entries.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, header};
use entity::{audit_entry, organization, user};
use ipnet::IpNet;
use sea_orm::{
    ActiveValue::NotSet, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement, TransactionTrait, prelude::*,
};
use serde_json::Value as Json;

use crate::{
    error::{AppError, Result},
    format::push_csv_row,
    platform::{
        services::paging,
        types::{AuditChainReport, AuditEntry, AuditLogPage, AuditLogQuery},
    },
};

/// Longest user agent kept; longer ones are cut (on a character boundary).
const MAX_USER_AGENT_CHARS: usize = 512;

/// Where a request came from: the client's address and its user agent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestOrigin {
    pub client_address: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl RequestOrigin {
    /// The origin of a request that reached us from `peer`. When `peer` is
    /// one of `trusted_proxies`, the client is the nearest address in
    /// `X-Forwarded-For` that is not itself a trusted proxy (each proxy
    /// appends the address it was reached from, so only the entries our
    /// own proxies appended can be believed).
    pub fn from_request(headers: &HeaderMap, peer: Option<IpAddr>, trusted_proxies: &[IpNet]) -> Self {
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(MAX_USER_AGENT_CHARS).collect::<String>())
            .filter(|agent| !agent.is_empty());
        Self {
            client_address: peer.map(|peer| forwarded_client(headers, peer, trusted_proxies)),
            user_agent,
        }
    }
}

fn forwarded_client(headers: &HeaderMap, peer: IpAddr, trusted_proxies: &[IpNet]) -> IpAddr {
    let trusted = |address: &IpAddr| trusted_proxies.iter().any(|net| net.contains(address));
    let mut client = peer;
    if !trusted(&client) {
        return client;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    for hop in hops.into_iter().rev() {
        let hop = hop.trim();
        let Some(address) = hop
            .parse::<IpAddr>()
            .ok()
            .or_else(|| hop.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        else {
            break;
        };
        client = address;
        if !trusted(&client) {
            break;
        }
    }
    client
}

/// Who made a change: a signed-in user, an API token, or Specula itself (a
/// background job), and from where.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    pub token_id: Option<Uuid>,
    /// The user's email, the token's name, or `Specula`.
    pub name: String,
    pub origin: RequestOrigin,
}

impl Actor {
    pub fn system() -> Self {
        Self {
            user_id: None,
            token_id: None,
            name: "Specula".to_owned(),
            origin: RequestOrigin::default(),
        }
    }

    pub fn user(user: &user::Model, origin: RequestOrigin) -> Self {
        Self {
            user_id: Some(user.id),
            token_id: None,
            name: user.email.clone(),
            origin,
        }
    }

    pub fn token(token_id: Uuid, token_name: &str, origin: RequestOrigin) -> Self {
        Self {
            user_id: None,
            token_id: Some(token_id),
            name: format!("token \u{201c}{token_name}\u{201d}"),
            origin,
        }
    }

    /// The signed-in user behind the change; 403 for a token or the system,
    /// for changes only a person may make.
    pub fn acting_user(&self) -> Result<Uuid> {
        self.user_id.ok_or(AppError::Forbidden(
            "this change needs a signed-in user, not an API token",
        ))
    }
}

/// Appends an entry to the organization's chain. `db` is usually the
/// transaction of the change being recorded, so both commit or neither.
pub async fn record<C>(
    db: &C,
    org_id: Uuid,
    actor: &Actor,
    action: &str,
    summary: String,
    detail: Json,
) -> Result<()>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let txn = db.begin().await?;
    lock_chain(&txn, org_id).await?;
    let previous: Option<(i64, String)> = audit_entry::Entity::find()
        .select_only()
        .column(audit_entry::Column::Seq)
        .column(audit_entry::Column::Hash)
        .filter(audit_entry::Column::OrgId.eq(org_id))
        .order_by_desc(audit_entry::Column::Seq)
        .into_tuple()
        .one(&txn)
        .await?;
    let (previous_seq, prev_hash) = previous.unwrap_or_default();
    let mut entry = audit_entry::Model {
        id: 0,
        org_id,
        seq: previous_seq + 1,
        actor_user_id: actor.user_id,
        actor_token_id: actor.token_id,
        actor: actor.name.clone(),
        action: action.to_owned(),
        summary,
        detail: detail.to_string(),
        at_ns: super::now_ns(),
        client_address: actor.origin.client_address.map(|address| address.to_string()),
        user_agent: actor.origin.user_agent.clone(),
        prev_hash,
        hash: String::new(),
    };
    entry.hash = entry.chain_hash();
    let mut row: audit_entry::ActiveModel = entry.into();
    row.id = NotSet;
    audit_entry::Entity::insert(row).exec(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// Makes appends to one organization's chain take turns until the
/// transaction ends, so two never link to the same previous entry. On
/// PostgreSQL an advisory lock per organization; on SQLite any write takes
/// the database's one write lock, and a write that changes nothing takes it
/// before the previous entry is read (reading first could fail the commit
/// with `SQLITE_BUSY_SNAPSHOT` once another connection wrote).
async fn lock_chain(txn: &impl ConnectionTrait, org_id: Uuid) -> Result<()> {
    let statement = match txn.get_database_backend() {
        DatabaseBackend::Postgres => Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [chain_lock_key(org_id).into()],
        ),
        backend => Statement::from_string(backend, "DELETE FROM audit_log WHERE 0 = 1"),
    };
    txn.execute_raw(statement).await?;
    Ok(())
}

/// The organization's advisory-lock key: its id folded to 64 bits, in a
/// namespace of its own so other locks on organization ids do not collide.
fn chain_lock_key(org_id: Uuid) -> i64 {
    const AUDIT_CHAIN_NAMESPACE: i64 = 0x4155_4449_545f_4c4f; // "AUDIT_LO"
    let (high, low) = org_id.as_u64_pair();
    (high ^ low) as i64 ^ AUDIT_CHAIN_NAMESPACE
}

/// Which entries to list, newest first.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Actions starting with this, e.g. `token.` or `prices.updated`.
    pub action: Option<String>,
    /// Entries whose actor (email or token name) contains this.
    pub actor: Option<String>,
    pub since_ns: Option<i64>,
    pub until_ns: Option<i64>,
    /// Entries before this `seq` (the next page).
    pub before_seq: Option<i64>,
    pub limit: u64,
}

/// The organization's entries that match `query`, newest first.
pub async fn list(db: &impl ConnectionTrait, org_id: Uuid, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
    let mut select = audit_entry::Entity::find().filter(audit_entry::Column::OrgId.eq(org_id));
    if let Some(action) = query.action.as_deref().filter(|action| !action.is_empty()) {
        select = select.filter(audit_entry::Column::Action.starts_with(action));
    }
    if let Some(actor) = query.actor.as_deref().filter(|actor| !actor.is_empty()) {
        select = select.filter(audit_entry::Column::Actor.contains(actor));
    }
    if let Some(since) = query.since_ns {
        select = select.filter(audit_entry::Column::AtNs.gte(since));
    }
    if let Some(until) = query.until_ns {
        select = select.filter(audit_entry::Column::AtNs.lt(until));
    }
    if let Some(before) = query.before_seq {
        select = select.filter(audit_entry::Column::Seq.lt(before));
    }
    let rows = select
        .order_by_desc(audit_entry::Column::Seq)
        .limit(query.limit)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(view).collect())
}

/// One page of the organization's audit log, newest first.
pub async fn page(db: &impl ConnectionTrait, org_id: Uuid, query: &AuditLogQuery) -> Result<AuditLogPage> {
    let csv = paging::wants_csv(query.format.as_deref())?;
    let text = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
    let limit = paging::page_rows(query.limit, csv)?;
    let before_seq = text(&query.cursor)
        .map(|cursor| {
            cursor
                .parse::<i64>()
                .map_err(|_| AppError::BadRequest("`cursor` is not one this API gave".into()))
        })
        .transpose()?;
    let selection = AuditQuery {
        action: text(&query.action),
        actor: text(&query.actor),
        since_ns: text(&query.since)
            .map(|since| super::parse_time("since", &since))
            .transpose()?,
        until_ns: text(&query.until)
            .map(|until| super::parse_time("until", &until))
            .transpose()?,
        before_seq,
        limit: limit + 1,
    };
    let mut entries = list(db, org_id, &selection).await?;
    let next_cursor = if entries.len() as u64 > limit {
        entries.truncate(limit as usize);
        entries.last().map(|entry| entry.seq.to_string())
    } else {
        None
    };
    Ok(AuditLogPage { entries, next_cursor })
}

/// The page as CSV, with a header row; times in UTC.
pub fn to_csv(page: &AuditLogPage) -> String {
    let mut out = String::from(
        "seq,time_utc,actor,actor_user_id,actor_token_id,action,summary,detail,client_address,user_agent,hash\n",
    );
    let id = |id: Option<Uuid>| id.map(|id| id.to_string()).unwrap_or_default();
    for entry in &page.entries {
        let fields = [
            entry.seq.to_string(),
            entry.at.clone(),
            entry.actor.clone(),
            id(entry.actor_user_id),
            id(entry.actor_token_id),
            entry.action.clone(),
            entry.summary.clone(),
            entry.detail.to_string(),
            entry.client_address.clone().unwrap_or_default(),
            entry.user_agent.clone().unwrap_or_default(),
            entry.hash.clone(),
        ];
        push_csv_row(&mut out, &fields);
        out.push('\n');
    }
    out
}

/// The newest entries whose action starts with `prefix`, newest first.
pub async fn recent(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    prefix: &str,
    limit: u64,
) -> Result<Vec<AuditEntry>> {
    let query = AuditQuery {
        action: Some(prefix.to_owned()),
        limit,
        ..AuditQuery::default()
    };
    list(db, org_id, &query).await
}

fn view(row: audit_entry::Model) -> AuditEntry {
    AuditEntry {
        seq: row.seq,
        at: super::rfc3339(row.at_ns),
        actor: row.actor,
        actor_user_id: row.actor_user_id,
        actor_token_id: row.actor_token_id,
        action: row.action,
        summary: row.summary,
        detail: serde_json::from_str(&row.detail).unwrap_or(Json::String(row.detail)),
        client_address: row.client_address,
        user_agent: row.user_agent,
        hash: row.hash,
    }
}

/// Entries read per query while checking a chain: memory stays flat
/// however long the log is.
const VERIFY_PAGE: u64 = 1_000;

/// Checks the organization's chain from its oldest entry to its newest:
/// numbering without gaps, each entry linking to the one before, and each
/// hash matching what it seals.
pub async fn verify(db: &impl ConnectionTrait, org_id: Uuid) -> Result<AuditChainReport> {
    let mut report = AuditChainReport {
        organization_id: org_id,
        entries: 0,
        first_seq: None,
        head_hash: None,
        intact: true,
        break_at_seq: None,
        problem: None,
    };
    let mut previous: Option<(i64, String)> = None;
    loop {
        let after = previous.as_ref().map_or(i64::MIN, |(seq, _)| *seq);
        let page = audit_entry::Entity::find()
            .filter(audit_entry::Column::OrgId.eq(org_id))
            .filter(audit_entry::Column::Seq.gt(after))
            .order_by_asc(audit_entry::Column::Seq)
            .limit(VERIFY_PAGE)
            .all(db)
            .await?;
        let full_page = page.len() as u64 == VERIFY_PAGE;
        for entry in page {
            if let Some(problem) = chain_problem(previous.as_ref(), &entry) {
                report.intact = false;
                report.break_at_seq = Some(entry.seq);
                report.problem = Some(problem);
                return Ok(report);
            }
            report.entries += 1;
            report.first_seq.get_or_insert(entry.seq);
            report.head_hash = Some(entry.hash.clone());
            previous = Some((entry.seq, entry.hash));
        }
        if !full_page {
            return Ok(report);
        }
    }
}

/// What is wrong with `entry` following `previous` (seq and hash), if anything.
fn chain_problem(previous: Option<&(i64, String)>, entry: &audit_entry::Model) -> Option<String> {
    let seq = entry.seq;
    match previous {
        // The oldest entry left: the first ever links to nothing; a later
        // one (older entries removed by retention) is taken as the anchor.
        None if seq == 1 && !entry.prev_hash.is_empty() => {
            return Some(format!("entry {seq} is the first but links to an earlier one"));
        }
        None => {}
        Some((previous_seq, _)) if seq == previous_seq + 2 => {
            return Some(format!("entry {} is missing", previous_seq + 1));
        }
        Some((previous_seq, _)) if seq != previous_seq + 1 => {
            return Some(format!("entries {} to {} are missing", previous_seq + 1, seq - 1));
        }
        Some((previous_seq, previous_hash)) if entry.prev_hash != *previous_hash => {
            return Some(format!(
                "entry {seq} does not link to entry {previous_seq}: one of them was changed"
            ));
        }
        Some(_) => {}
    }
    (entry.chain_hash() != entry.hash).then(|| format!("entry {seq} was changed after it was written"))
}

/// [`verify`] for every organization, in id order.
pub async fn verify_all(db: &impl ConnectionTrait) -> Result<Vec<AuditChainReport>> {
    let org_ids: Vec<Uuid> = organization::Entity::find()
        .select_only()
        .column(organization::Column::Id)
        .order_by_asc(organization::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let mut reports = Vec::with_capacity(org_ids.len());
    for org_id in org_ids {
        reports.push(verify(db, org_id).await?);
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_peer_is_the_client_unless_it_is_a_trusted_proxy() {
        let forwarded = headers(&[("x-forwarded-for", "203.0.113.9")]);
        let origin = RequestOrigin::from_request(&forwarded, Some(ip("198.51.100.7")), &[]);
        assert_eq!(origin.client_address, Some(ip("198.51.100.7")));

        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let origin = RequestOrigin::from_request(&forwarded, Some(ip("10.1.2.3")), &proxies);
        assert_eq!(origin.client_address, Some(ip("203.0.113.9")));
    }

    #[test]
    fn only_hops_our_proxies_appended_are_believed() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // The client wrote "1.1.1.1" itself; 203.0.113.9 is what our proxy saw.
        let forwarded = headers(&[
            ("x-forwarded-for", "1.1.1.1, 203.0.113.9"),
            ("x-forwarded-for", "10.0.0.5"),
        ]);
        let origin = RequestOrigin::from_request(&forwarded, Some(ip("10.1.2.3")), &proxies);
        assert_eq!(origin.client_address, Some(ip("203.0.113.9")));

        let garbled = headers(&[("x-forwarded-for", "not-an-address, 10.0.0.5")]);
        let origin = RequestOrigin::from_request(&garbled, Some(ip("10.1.2.3")), &proxies);
        assert_eq!(origin.client_address, Some(ip("10.0.0.5")));

        let with_port = headers(&[("x-forwarded-for", "[2001:db8::1]:4711")]);
        let origin = RequestOrigin::from_request(&with_port, Some(ip("10.1.2.3")), &proxies);
        assert_eq!(origin.client_address, Some(ip("2001:db8::1")));
    }

    #[test]
    fn user_agents_are_kept_short() {
        let long = "x".repeat(2_000);
        let origin = RequestOrigin::from_request(&headers(&[("user-agent", &long)]), None, &[]);
        assert_eq!(
            origin.user_agent.map(|agent| agent.len()),
            Some(MAX_USER_AGENT_CHARS)
        );
        assert_eq!(
            RequestOrigin::from_request(&HeaderMap::new(), None, &[]).user_agent,
            None
        );
    }

    fn entry(seq: i64, prev_hash: &str) -> audit_entry::Model {
        let mut entry = audit_entry::Model {
            id: seq,
            org_id: Uuid::nil(),
            seq,
            actor_user_id: None,
            actor_token_id: None,
            actor: "admin@example.com".into(),
            action: "token.minted".into(),
            summary: "minted a token".into(),
            detail: "{}".into(),
            at_ns: seq * 1_000,
            client_address: Some("203.0.113.9".into()),
            user_agent: None,
            prev_hash: prev_hash.into(),
            hash: String::new(),
        };
        entry.hash = entry.chain_hash();
        entry
    }

    #[test]
    fn a_chain_breaks_where_an_entry_was_changed_removed_or_relinked() {
        let first = entry(1, "");
        let second = entry(2, &first.hash);
        assert_eq!(chain_problem(None, &first), None);
        let after_first = (1, first.hash.clone());
        assert_eq!(chain_problem(Some(&after_first), &second), None);

        let mut edited = second.clone();
        edited.summary = "minted nothing".into();
        assert!(
            chain_problem(Some(&after_first), &edited)
                .unwrap()
                .contains("changed after")
        );

        let third = entry(3, &second.hash);
        assert!(
            chain_problem(Some(&after_first), &third)
                .unwrap()
                .contains("missing")
        );

        let relinked = entry(2, "0000");
        assert!(
            chain_problem(Some(&after_first), &relinked)
                .unwrap()
                .contains("does not link")
        );

        // Retention may remove the oldest entries: the first left anchors the chain.
        assert_eq!(chain_problem(None, &third), None);
        assert!(chain_problem(None, &entry(1, "abcd")).is_some());
    }
}
