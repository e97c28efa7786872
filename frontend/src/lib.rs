//! The browser entry point: wasm-bindgen exports `hydrate`, which the
//! server-rendered page calls to attach Specula's reactive UI to its HTML.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Marks the page interactive: browser tests wait for it, and CSS may use it.
    if let Some(root) = leptos::prelude::document().document_element() {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
