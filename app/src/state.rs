//! The server's shared state, handed to axum handlers through `State` and to
//! components and server functions through Leptos context.

use std::{fmt::Debug, sync::Arc};

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use sea_orm::DatabaseConnection;

use crate::{
    accounts::services::{
        throttle::LoginThrottle,
        tokens::{TokenCache, TokenPrincipal},
    },
    alerts::services::AlertSettings,
    costs::services::price_book::PriceBook,
    error::Result,
    forwarding::{
        services::{ForwardSettings, destinations::SendingDestination},
        types::ForwardTest,
    },
    governance::services::{book::PolicyBook, events::EventLog, limits::Limits},
    similarity::services::{abuse::AbuseGuard, index::PromptIndex, semantic_worker::SemanticTier},
    telemetry::services::{ingest::writer::IngestWriter, live::LiveHub},
};

/// One cheaply clonable bundle of what every request may need.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub leptos_options: LeptosOptions,
    pub instance: Arc<InstanceIdentity>,
    pub accounts: Arc<AccountSettings>,
    pub login_throttle: Arc<LoginThrottle>,
    /// API tokens recently looked up.
    pub tokens: TokenCache,
    /// Hands spans to the batching writer; answers once they are committed.
    pub ingest: IngestWriter,
    /// What ingest keeps of each organization's spans: its policy over the installation's settings.
    pub policies: PolicyBook,
    /// Rate limit buckets, ingest counts for the quota, the month's spend for budgets.
    pub limits: Limits,
    /// Writes the evaluate API's decisions.
    pub governance_events: EventLog,
    /// Announces organizations with new spans to live tails.
    pub live: LiveHub,
    /// Each organization's prices, as ingest prices spans with them.
    pub prices: PriceBook,
    /// Sends the demo workload through OTLP ingest ("Run demo").
    pub demo: Arc<dyn DemoIngest>,
    /// The organizations' prompt vectors, for similarity search.
    pub prompts: PromptIndex,
    /// The organizations' abuse patterns, for the abuse check.
    pub abuse: AbuseGuard,
    /// The semantic embedding model and its index, where one is configured.
    pub semantic: Option<SemanticTier>,
    /// Alert evaluation and notification settings: the interval, the guarded client, the sealing key.
    pub alerts: AlertSettings,
    /// Forwarding destinations' guard and sealing key.
    pub forwarding: ForwardSettings,
    /// Sends a forwarding destination its test span (the server's OTLP clients).
    pub forwarder: Arc<dyn SpanForwarder>,
}

/// How accounts behave on this installation.
#[derive(Clone, Debug)]
pub struct AccountSettings {
    /// Anyone may sign up; when false, only invitations create accounts.
    pub open_signup: bool,
}

/// Who this installation is and how the outside world reaches it.
#[derive(Clone, Debug)]
pub struct InstanceIdentity {
    pub instance_id: sea_orm::prelude::Uuid,
    /// Base URL browsers and SDKs use, without a trailing slash.
    pub public_url: String,
    /// The OTLP/gRPC endpoint SDKs use, e.g. `http://localhost:4317`.
    pub public_grpc_url: String,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for DatabaseConnection {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}

/// What one demo workload sent and what ingest stored of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DemoCounts {
    pub traces: u64,
    pub spans: u64,
    pub metric_points: u64,
}

/// Sends the demo workload ("Run demo") through OTLP ingest. Implemented
/// by the server, which owns the OTLP types; `marker` starts every trace id
/// and is the value of the `specula.demo` attribute on every resource.
#[async_trait::async_trait]
pub trait DemoIngest: Send + Sync + Debug {
    async fn ingest(
        &self,
        state: &AppState,
        principal: &TokenPrincipal,
        marker: &str,
        now_ns: i64,
    ) -> Result<DemoCounts>;
}

/// Sends "Send test span" to a forwarding destination. Implemented by the
/// server, which owns the OTLP types and the clients the forwarder sends
/// with; the test goes the same way its spans do.
#[async_trait::async_trait]
pub trait SpanForwarder: Send + Sync + Debug {
    async fn send_test(&self, destination: &SendingDestination) -> ForwardTest;
}
