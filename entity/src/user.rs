//! A person who signs in. The password is stored as an argon2id PHC string.

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Trimmed and lower-cased; unique.
    #[sea_orm(unique)]
    pub email: String,
    pub password_hash: String,
    /// The instance's first user administers the installation itself.
    pub instance_admin: bool,
    pub created_at: DateTimeUtc,
    pub password_changed_at: DateTimeUtc,
    /// Shows times in UTC instead of the browser's time zone.
    pub times_in_utc: bool,
}

// Hand-written so the password hash never reaches a log line.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("instance_admin", &self.instance_admin)
            .finish_non_exhaustive()
    }
}

// Memberships point here (`membership::Relation`); this side names none,
// so that entities depend one way, from the joining table to its ends.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
