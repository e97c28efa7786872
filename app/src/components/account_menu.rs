//! The header's right side: the organization switcher and the account menu
//! for a signed-in user, or the sign-in links for everyone else.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::{
    accounts::{
        server_fns::session::{LogOut, SetTimesInUtc, SwitchOrganization},
        types::SessionInfo,
    },
    components::server_form::{FormFields, ServerForm},
    components::session::{refresh_session_after, use_session},
};

#[component]
pub fn AccountMenu() -> impl IntoView {
    let session = use_session();
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match session.info.await {
                    Ok(Some(info)) => view! { <SignedInMenu info /> }.into_any(),
                    _ => view! {
                        <nav class="auth-links" aria-label="Account">
                            <A href="/login">"Log in"</A>
                            <A href="/signup" attr:class="button button-primary button-small">"Sign up"</A>
                        </nav>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn SignedInMenu(info: SessionInfo) -> impl IntoView {
    let switch = ServerAction::<SwitchOrganization>::new();
    let log_out = ServerAction::<LogOut>::new();
    let set_zone = ServerAction::<SetTimesInUtc>::new();
    refresh_session_after(switch);
    refresh_session_after(log_out);
    refresh_session_after(set_zone);
    let zone = info.time_zone.clone();
    let local = zone
        .browser
        .clone()
        .unwrap_or_else(|| "your time zone".to_owned());
    let (shown, offer) = if zone.is_utc() {
        ("UTC".to_owned(), local)
    } else {
        (zone.name.clone(), "UTC".to_owned())
    };
    let to_utc = !zone.utc_chosen;
    let active = info.active_org.as_ref().map(|org| org.id);
    let options = info
        .organizations
        .iter()
        .map(|org| {
            let selected = Some(org.id) == active;
            view! { <option value=org.id.to_string() selected=selected>{org.name.clone()}</option> }
        })
        .collect_view();

    view! {
        <ServerForm action=switch class="org-switcher" args=|fields: &FormFields| SwitchOrganization { org_id: fields.text("org_id").parse().unwrap_or_default() }>
            <label class="visually-hidden" for="org-switcher">"Organization"</label>
            <select
                id="org-switcher"
                name="org_id"
                data-testid="org-switcher"
                // Submit on change once hydrated; without JavaScript the button does it.
                onchange="this.form.requestSubmit()"
            >
                {options}
            </select>
            <noscript>
                <button type="submit" class="button button-small">"Switch"</button>
            </noscript>
        </ServerForm>
        <button type="button" class="button button-small zone-toggle" data-testid="zone-toggle"
            title=format!("Times are shown in {shown}; click to show them in {offer}")
            on:click=move |_| { set_zone.dispatch(SetTimesInUtc { utc: to_utc }); }>
            {shown.clone()}
        </button>
        <A href="/account" attr:class="account-link" attr:data-testid="account-link">
            {info.user.email.clone()}
        </A>
        <ServerForm action=log_out class="inline-form" args=|_: &FormFields| LogOut {}>
            <button type="submit" class="button button-small" data-testid="log-out">"Log out"</button>
        </ServerForm>
    }
}
