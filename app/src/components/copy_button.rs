//! A button that copies a value to the clipboard and says so for a moment.

use leptos::prelude::*;

#[component]
pub fn CopyButton(
    /// The text put on the clipboard.
    #[prop(into)]
    value: Signal<String>,
    /// What is being copied, for screen readers ("Copy {label}").
    #[prop(into)]
    label: String,
) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let clipboard = leptos::prelude::window().navigator().clipboard();
            // The promise resolves or fails silently; the user can still select the text.
            let _ = clipboard.write_text(&value.get_untracked());
            copied.set(true);
            set_timeout(move || copied.set(false), std::time::Duration::from_millis(1500));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = value;
    };

    view! {
        <button
            type="button"
            class="button button-small copy-button"
            aria-label=format!("Copy {label}")
            on:click=copy
        >
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}
