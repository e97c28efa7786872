//! Specula's integration tests, each against a real server on a random port
//! with a real SQLite file and a real PostgreSQL database. One binary, so
//! the shared helpers (`common`) and the server are compiled and linked once.

#[macro_use]
mod common;

mod accounts;
mod admin;
mod alerts;
mod audit;
mod cli;
mod costs;
mod demo;
mod evaluate;
mod explorer;
mod faults;
mod forwarding;
mod golden;
mod http;
mod ingest;
mod limits;
mod metrics;
mod policies;
mod prices;
mod replicas;
mod retention;
mod sdk;
mod self_tracing;
mod semantic;
mod similarity;
mod time_zone;
