//! What the account, organization and token pages call: adapters from the
//! signed-in user's session to the accounts services.

pub mod organization;
pub mod session;
