//! Accounts: users, sign-in sessions, organizations and their members,
//! invitations, API tokens, passwords and the sign-in throttle.

pub mod server_fns;
#[cfg(feature = "ssr")]
pub mod services;
pub mod types;
