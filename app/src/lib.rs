//! Specula's Leptos application, shared by the server (`ssr`) and the browser
//! (`hydrate`).
//!
//! One folder per domain (`accounts`, `telemetry`, `costs`, and `platform`
//! for what they all lean on), each in three parts: `types` shared with the
//! browser, `services` (server only: queries and rules) and `server_fns`
//! (adapters from the request's session to the services). `state` (what
//! every request may need) and `server_context` (what a server function
//! takes from its request) sit above the domains. Pages and components
//! import types and server functions only. Everything that needs
//! the database or other server resources sits behind the `ssr` feature so
//! the wasm bundle never links it.

// Leptos views are nested types; the trace page's are deeper than the default allows.
#![recursion_limit = "256"]

pub mod accounts;
pub mod alerts;
#[cfg(feature = "ssr")]
pub mod charts;
pub mod components;
pub mod costs;
pub mod error;
pub mod format;
pub mod forwarding;
pub mod governance;
pub mod pages;
pub mod platform;
#[cfg(feature = "ssr")]
pub mod server_context;
pub mod similarity;
#[cfg(feature = "ssr")]
pub mod state;
pub mod telemetry;
pub mod time_zone;

use leptos::prelude::*;
use leptos_meta::{Link, Meta, MetaTags, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, StaticSegment,
    components::{Route, Router, Routes},
};

use components::session::provide_session_context;
use components::{error_panel::ErrorPanel, layout::Layout};
use pages::{
    account::AccountPage,
    home::HomePage,
    invitation::InvitationPage,
    login::{LoginPage, SignupPage},
    not_found::NotFound,
    settings::SettingsPage,
    tokens::TokensPage,
};

/// The name of the browser bundle (`/pkg/specula.js`, `/pkg/specula_bg.wasm`)
/// and the stylesheet (`/pkg/specula.css`); the build adds a hash of their
/// content (`specula-<hash>`), which the server passes on in the options.
pub const OUTPUT_NAME: &str = "specula";

/// The HTML document around the app, rendered only on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                // Applied before first paint so a dark-theme user never sees a light flash.
                <script inner_html=components::theme_toggle::THEME_BOOT_SCRIPT></script>
                <script inner_html=time_zone::ZONE_BOOT_SCRIPT></script>
                <link rel="stylesheet" id="specula-css" href=format!("/pkg/{}.css", options.output_name) />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_session_context();
    components::send_traces::provide_instance_info();

    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Meta name="description" content="Specula: OpenTelemetry telemetry for LLM agents" />
        <Title formatter=|page: String| {
            if page.is_empty() { "Specula".to_owned() } else { format!("{page} · Specula") }
        } />
        <Router>
            <Layout>
                <ErrorBoundary fallback=|errors| view! { <ErrorPanel errors /> }>
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=HomePage />
                    <Route path=StaticSegment("spans") view=pages::spans::SpansPage />
                    <Route path=StaticSegment("traces") view=pages::traces::TracesPage />
                    <Route path=(StaticSegment("traces"), ParamSegment("trace_id")) view=pages::trace::TracePage />
                    <Route path=StaticSegment("costs") view=pages::costs::CostsPage />
                    <Route path=(StaticSegment("costs"), StaticSegment("prices")) view=pages::prices::PricesPage />
                    <Route path=StaticSegment("similarity") view=pages::similarity::SimilarityPage />
                    <Route path=StaticSegment("policies") view=pages::policies::PoliciesPage />
                    <Route path=StaticSegment("alerts") view=pages::alerts::AlertsPage />
                    <Route path=StaticSegment("settings") view=SettingsPage />
                    <Route path=(StaticSegment("settings"), StaticSegment("tokens")) view=TokensPage />
                    <Route path=(StaticSegment("settings"), StaticSegment("audit")) view=pages::audit::AuditPage />
                    <Route path=(StaticSegment("settings"), StaticSegment("forwarding")) view=pages::forwarding::ForwardingPage />
                    <Route path=StaticSegment("account") view=AccountPage />
                    <Route path=StaticSegment("login") view=LoginPage />
                    <Route path=StaticSegment("signup") view=SignupPage />
                    <Route path=(StaticSegment("invitations"), ParamSegment("token")) view=InvitationPage />
                </Routes>
                </ErrorBoundary>
            </Layout>
        </Router>
    }
}
