//! Domain services: the queries and rules that server functions and REST
//! handlers share. Each takes a `&DatabaseConnection` (or the state it needs)
//! and returns plain types; none knows about HTTP.

pub mod instance;
