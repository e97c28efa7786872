//! One module per routed page.

pub mod account;
pub mod alerts;
pub mod audit;
pub mod costs;
pub mod forwarding;
pub mod home;
pub mod invitation;
pub mod login;
pub mod not_found;
pub mod policies;
pub mod prices;
pub mod settings;
pub mod similarity;
pub mod spans;
pub mod tokens;
pub mod trace;
pub mod traces;
