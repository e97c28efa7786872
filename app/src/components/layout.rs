//! The frame around every page: header with the product name, the primary
//! navigation and the theme toggle, the page body, and a footer.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::{account_menu::AccountMenu, theme_toggle::ThemeToggle};

/// The sections of the product, in navigation order: `(path, label)`.
pub const SECTIONS: [(&str, &str); 7] = [
    ("/spans", "Spans"),
    ("/traces", "Traces"),
    ("/costs", "Costs"),
    ("/similarity", "Similarity"),
    ("/policies", "Policies"),
    ("/alerts", "Alerts"),
    ("/settings", "Settings"),
];

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <div class="app-frame">
            <a class="skip-link" href="#main">"Skip to content"</a>
            <header class="topbar">
                <A href="/" attr:class="brand">
                    <Logo />
                    <span class="brand-name">"Specula"</span>
                </A>
                <nav class="primary-nav" aria-label="Sections">
                    <ul>
                        {SECTIONS
                            .into_iter()
                            .map(|(href, label)| {
                                view! {
                                    <li>
                                        <A href=href>{label}</A>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </nav>
                <div class="topbar-actions">
                    <AccountMenu />
                    <ThemeToggle />
                </div>
            </header>
            <main id="main" class="page">
                {children()}
            </main>
            <footer class="footer">
                <span>"Specula " {env!("CARGO_PKG_VERSION")}</span>
                <span class="footer-sep" aria-hidden="true">"·"</span>
                <span>"LLM telemetry over OpenTelemetry"</span>
                <span class="footer-sep" aria-hidden="true">"·"</span>
                // Served by the server outside the app: a full page load.
                <a href="/api/docs/" rel="external">"REST API reference"</a>
            </footer>
        </div>
    }
}

/// The product mark: a lens over a trace line.
#[component]
fn Logo() -> impl IntoView {
    view! {
        <svg class="brand-mark" viewBox="0 0 32 32" width="24" height="24" aria-hidden="true">
            <circle cx="14" cy="14" r="9" fill="none" stroke="currentColor" stroke-width="2.5" />
            <path d="M20.5 20.5 28 28" stroke="currentColor" stroke-width="3" stroke-linecap="round" />
            <path
                d="M8 15h3l2-4 3 7 2-3h2"
                fill="none"
                stroke="currentColor"
                stroke-width="1.8"
                stroke-linejoin="round"
                stroke-linecap="round"
            />
        </svg>
    }
}
