//! Domain services: the queries and rules that server functions and REST
//! handlers share. Each takes a `&DatabaseConnection` (or the state it needs)
//! and returns plain types; none knows about HTTP.

pub mod accounts;
pub mod cost_dashboard;
pub mod cost_logs;
pub mod genai_metrics;
pub mod ingest;
pub mod instance;
pub mod live;
pub mod orgs;
pub mod passwords;
pub mod search;
pub mod secrets;
pub mod sessions;
pub mod spans;
pub mod throttle;
pub mod tokens;
pub mod traces;
pub mod usage;
