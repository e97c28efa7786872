//! What a table shows while its rows load.

use leptos::prelude::*;

#[component]
pub fn SkeletonTable() -> impl IntoView {
    view! {
        <div class="skeleton-table" aria-busy="true" aria-label="Loading spans">
            {(0..8).map(|_| view! { <div class="skeleton skeleton-row"></div> }).collect_view()}
        </div>
    }
}
