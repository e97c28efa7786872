//! The audit log becomes tamper-evident and says where a change came from:
//! each organization's entries are numbered (`seq`) and chained by hash
//! (`prev_hash`, `hash`, see `entity::audit_entry::Model::chain_hash`), with
//! the acting token, client address and user agent. Entries written before
//! are sealed here, in their order, and from now on no entry can be updated.

use entity::audit_entry;
use sea_orm_migration::{
    prelude::*,
    sea_orm::{EntityTrait, QueryOrder, prelude::Uuid},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_ADD_COLUMNS: &[&str] = &[
    "ALTER TABLE audit_log ADD COLUMN seq BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE audit_log ADD COLUMN actor_token_id uuid_text NULL",
    "ALTER TABLE audit_log ADD COLUMN client_address TEXT NULL",
    "ALTER TABLE audit_log ADD COLUMN user_agent TEXT NULL",
    "ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT ''",
];

const POSTGRES_ADD_COLUMNS: &[&str] = &[
    "ALTER TABLE audit_log ADD COLUMN seq BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE audit_log ADD COLUMN actor_token_id UUID NULL",
    "ALTER TABLE audit_log ADD COLUMN client_address TEXT NULL",
    "ALTER TABLE audit_log ADD COLUMN user_agent TEXT NULL",
    "ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT ''",
];

const SQLITE_SEAL: &[&str] = &[
    "CREATE UNIQUE INDEX idx_audit_log_org_seq ON audit_log (org_id, seq)",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log \
     BEGIN SELECT RAISE(ABORT, 'audit log entries cannot be changed'); END",
];

const POSTGRES_SEAL: &[&str] = &[
    "CREATE UNIQUE INDEX idx_audit_log_org_seq ON audit_log (org_id, seq)",
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN RAISE EXCEPTION 'audit log entries cannot be changed'; END $$",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log \
     FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER audit_log_append_only",
    "DROP INDEX idx_audit_log_org_seq",
    "ALTER TABLE audit_log DROP COLUMN hash",
    "ALTER TABLE audit_log DROP COLUMN prev_hash",
    "ALTER TABLE audit_log DROP COLUMN user_agent",
    "ALTER TABLE audit_log DROP COLUMN client_address",
    "ALTER TABLE audit_log DROP COLUMN actor_token_id",
    "ALTER TABLE audit_log DROP COLUMN seq",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER audit_log_append_only ON audit_log",
    "DROP FUNCTION audit_log_append_only()",
    "DROP INDEX idx_audit_log_org_seq",
    "ALTER TABLE audit_log DROP COLUMN hash",
    "ALTER TABLE audit_log DROP COLUMN prev_hash",
    "ALTER TABLE audit_log DROP COLUMN user_agent",
    "ALTER TABLE audit_log DROP COLUMN client_address",
    "ALTER TABLE audit_log DROP COLUMN actor_token_id",
    "ALTER TABLE audit_log DROP COLUMN seq",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, SQLITE_ADD_COLUMNS, POSTGRES_ADD_COLUMNS).await?;
        seal_existing_entries(manager).await?;
        crate::run_per_backend(manager, SQLITE_SEAL, POSTGRES_SEAL).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_per_backend(manager, SQLITE_DOWN, POSTGRES_DOWN).await
    }
}

/// Numbers and chains the entries already there, per organization in the
/// order they were written.
async fn seal_existing_entries(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    let entries = audit_entry::Entity::find()
        .order_by_asc(audit_entry::Column::OrgId)
        .order_by_asc(audit_entry::Column::Id)
        .all(connection)
        .await?;
    let mut previous: Option<(Uuid, i64, String)> = None;
    for mut entry in entries {
        let (seq, prev_hash) = match previous.take() {
            Some((org_id, seq, hash)) if org_id == entry.org_id => (seq + 1, hash),
            _ => (1, String::new()),
        };
        entry.seq = seq;
        entry.prev_hash = prev_hash;
        entry.hash = entry.chain_hash();
        let statement = Query::update()
            .table(Alias::new("audit_log"))
            .value(Alias::new("seq"), entry.seq)
            .value(Alias::new("prev_hash"), entry.prev_hash.clone())
            .value(Alias::new("hash"), entry.hash.clone())
            .and_where(Expr::col(Alias::new("id")).eq(entry.id))
            .to_owned();
        manager.exec_stmt(statement).await?;
        previous = Some((entry.org_id, entry.seq, entry.hash));
    }
    Ok(())
}
