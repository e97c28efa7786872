//! Keyboard navigation through a list of rows, as in a mail reader.

use leptos::prelude::*;

/// `/` focuses the search box, `j`/`k` move the selection through `rows`
/// (each a key and the link it opens), `Enter` opens the selected one; keys
/// typed into fields are theirs.
pub fn keyboard_navigation(
    selected: RwSignal<Option<String>>,
    rows: impl Fn() -> Vec<(String, String)> + 'static,
) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::{wasm_bindgen::JsCast, web_sys};
        let navigate = leptos_router::hooks::use_navigate();
        let handle = window_event_listener(leptos::ev::keydown, move |event: web_sys::KeyboardEvent| {
            let in_field = event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|element| {
                    matches!(element.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA")
                });
            if in_field || event.ctrl_key() || event.meta_key() || event.alt_key() {
                return;
            }
            let rows = rows();
            let position = selected.with_untracked(|key| {
                key.as_ref()
                    .and_then(|key| rows.iter().position(|(row, _)| row == key))
            });
            match event.key().as_str() {
                "/" => {
                    event.prevent_default();
                    if let Some(search) = document()
                        .query_selector("[data-testid=search]")
                        .ok()
                        .flatten()
                        .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok())
                    {
                        let _ = search.focus();
                    }
                }
                "j" | "k" if !rows.is_empty() => {
                    let next = match (event.key().as_str(), position) {
                        ("j", None) => 0,
                        ("j", Some(index)) => (index + 1).min(rows.len() - 1),
                        (_, None) => 0,
                        (_, Some(index)) => index.saturating_sub(1),
                    };
                    selected.set(Some(rows[next].0.clone()));
                    request_animation_frame(|| {
                        if let Ok(Some(row)) = document().query_selector("tr.row-selected") {
                            row.scroll_into_view_with_bool(false);
                        }
                    });
                }
                "Enter" => {
                    if let Some(index) = position {
                        navigate(&rows[index].1, Default::default());
                    }
                }
                _ => {}
            }
        });
        on_cleanup(move || handle.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (selected, rows);
}
