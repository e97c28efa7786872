//! Light/dark theme switch. The server cannot know the user's choice, so the
//! `<html data-theme>` attribute is set by a tiny script before first paint
//! and the button only flips it; icons are chosen by CSS, which keeps the
//! server-rendered markup identical for every user (no hydration mismatch).

use leptos::prelude::*;

/// localStorage key holding `"light"` or `"dark"`.
pub const THEME_STORAGE_KEY: &str = "specula.theme";

/// Runs in `<head>`: stored choice first, else the operating system's preference.
pub const THEME_BOOT_SCRIPT: &str = "(function(){try{var t=localStorage.getItem('specula.theme');\
if(t!=='light'&&t!=='dark'){t=window.matchMedia('(prefers-color-scheme: dark)').matches?'dark':'light';}\
document.documentElement.setAttribute('data-theme',t);}catch(e){}})();";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }

    pub fn toggled(self) -> Self {
        match self {
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Light,
        }
    }
}

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let toggle = move |_| {
        #[cfg(feature = "hydrate")]
        browser::toggle_theme();
    };

    view! {
        <button
            type="button"
            class="icon-button theme-toggle"
            data-testid="theme-toggle"
            title="Switch between light and dark theme"
            aria-label="Switch between light and dark theme"
            on:click=toggle
        >
            <svg class="icon icon-sun" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
                <circle cx="12" cy="12" r="4.5" fill="none" stroke="currentColor" stroke-width="2" />
                <path
                    d="M12 2v2.5M12 19.5V22M2 12h2.5M19.5 12H22M4.9 4.9l1.8 1.8M17.3 17.3l1.8 1.8M4.9 19.1l1.8-1.8M17.3 6.7l1.8-1.8"
                    stroke="currentColor"
                    stroke-width="2"
                    stroke-linecap="round"
                />
            </svg>
            <svg class="icon icon-moon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
                <path
                    d="M20 14.5A8.5 8.5 0 0 1 9.5 4a8.5 8.5 0 1 0 10.5 10.5z"
                    fill="none"
                    stroke="currentColor"
                    stroke-width="2"
                    stroke-linejoin="round"
                />
            </svg>
        </button>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{THEME_STORAGE_KEY, Theme};

    pub fn toggle_theme() {
        let Some(root) = leptos::prelude::document().document_element() else {
            return;
        };
        let current = root
            .get_attribute("data-theme")
            .and_then(|value| Theme::parse(&value))
            .unwrap_or(Theme::Light);
        let next = current.toggled();
        // Attribute first: the page must switch even where storage is blocked.
        let _ = root.set_attribute("data-theme", next.as_str());
        if let Ok(Some(storage)) = leptos::prelude::window().local_storage() {
            let _ = storage.set_item(THEME_STORAGE_KEY, next.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theme_round_trips_and_toggles() {
        for theme in [Theme::Light, Theme::Dark] {
            assert_eq!(Theme::parse(theme.as_str()), Some(theme));
            assert_eq!(theme.toggled().toggled(), theme);
            assert_ne!(theme.toggled(), theme);
        }
        assert_eq!(Theme::parse("sepia"), None);
    }

    #[test]
    fn boot_script_uses_the_storage_key() {
        assert!(THEME_BOOT_SCRIPT.contains(THEME_STORAGE_KEY));
    }
}
