//! Reusable pieces of the UI: the page layout and small widgets.

pub mod copy_button;
pub mod error_panel;
pub mod layout;
pub mod theme_toggle;
