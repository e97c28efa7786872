//! Reusable pieces of the UI: the page layout and small widgets.

pub mod account_menu;
pub mod copy_button;
pub mod demo_data;
pub mod diff_view;
pub mod error_panel;
pub mod form_status;
pub mod get_form;
pub mod keyboard_navigation;
pub mod kind_badge;
pub mod layout;
pub mod list_filters;
pub mod live_tail;
pub mod otlp_snippets;
pub mod send_traces;
pub mod server_form;
pub mod server_html;
pub mod session;

pub mod skeleton;
pub mod theme_toggle;
