//! The accounts rules and queries that server functions and REST handlers
//! share. Each takes a `&DatabaseConnection` (or the state it needs) and
//! returns plain types; none knows about HTTP.

pub mod accounts;
pub mod orgs;
pub mod passwords;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod users;
