//! The account page: who you are, changing the password, signing out everywhere.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    accounts::server_fns::session::{ChangePassword, LogOutEverywhere},
    components::server_form::{FormFields, ServerForm},
    components::session::{RequireUser, refresh_session_after},
    pages::settings::SettingsHeader,
};

#[component]
pub fn AccountPage() -> impl IntoView {
    view! {
        <Title text="Account" />
        <SettingsHeader title="Account" />
        <RequireUser children=|info, _| view! { <AccountDetails email=info.user.email /> } />
    }
}

#[component]
fn AccountDetails(email: String) -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let everywhere = ServerAction::<LogOutEverywhere>::new();
    refresh_session_after(everywhere);
    view! {
        <section class="card">
            <h2>"Signed in as"</h2>
            <p data-testid="account-email">{email}</p>
        </section>
        <section class="card">
            <h2>"Change password"</h2>
            <p class="muted">"Your other sessions end when the password changes."</p>
            <ServerForm action=change class="form" args=|fields: &FormFields| ChangePassword { current_password: fields.text("current_password"), new_password: fields.text("new_password") }>
                <label>
                    "Current password"
                    <input class="input" type="password" name="current_password" autocomplete="current-password" required />
                </label>
                <label>
                    "New password"
                    <input class="input" type="password" name="new_password" autocomplete="new-password" minlength="10" required />
                </label>
                {move || match change.value().get() {
                    Some(Ok(())) => view! { <p class="notice" role="status">"Password changed."</p> }.into_any(),
                    Some(Err(err)) => view! { <p class="inline-error" role="alert">{err.message}</p> }.into_any(),
                    None => ().into_any(),
                }}
                <button type="submit" class="button button-primary">"Change password"</button>
            </ServerForm>
        </section>
        <section class="card">
            <h2>"Sessions"</h2>
            <p class="muted">"Sign out on every device, this one included."</p>
            <ServerForm action=everywhere args=|_: &FormFields| LogOutEverywhere {}>
                <button type="submit" class="button button-danger">"Log out everywhere"</button>
            </ServerForm>
        </section>
    }
}
