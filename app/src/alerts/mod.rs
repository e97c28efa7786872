//! Alerts: rules over what the organization's spans, costs and ingest
//! figures say, evaluated by a background job; their history, silences and
//! the channels (webhook, Slack, email) that notifications go out on.

#[cfg(feature = "ssr")]
pub mod fragments;
pub mod server_fns;
pub mod types;

#[cfg(feature = "ssr")]
pub mod services;
