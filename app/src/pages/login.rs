//! Log in and sign up. Plain forms that post to server functions, so they
//! work before (or without) hydration; once hydrated they submit in place.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

use crate::{
    accounts::server_fns::session::{LogIn, SignUp},
    components::server_form::{FormFields, ServerForm},
    components::{
        form_status::action_error,
        session::{refresh_session_after, urlencode},
    },
};

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || {
        query
            .with(|query| query.get("next"))
            .unwrap_or_else(|| "/".to_owned())
    };
    let log_in = ServerAction::<LogIn>::new();
    refresh_session_after(log_in);

    view! {
        <Title text="Log in" />
        <div class="auth-card card">
            <h1>"Log in"</h1>
            <ServerForm action=log_in class="form" args=|fields: &FormFields| LogIn { email: fields.text("email"), password: fields.text("password"), next: fields.optional("next") }>
                <input type="hidden" name="next" value=next />
                <label>
                    "Email"
                    <input class="input" type="email" name="email" autocomplete="username" required />
                </label>
                <label>
                    "Password"
                    <input class="input" type="password" name="password" autocomplete="current-password" required />
                </label>
                {action_error(log_in.value())}
                <button type="submit" class="button button-primary" disabled=move || log_in.pending().get()>
                    "Log in"
                </button>
            </ServerForm>
            <p class="muted">"No account yet? " <A href="/signup">"Sign up"</A></p>
        </div>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let query = use_query_map();
    let invitation = move || query.with(|query| query.get("invitation")).unwrap_or_default();
    let email = move || query.with(|query| query.get("email")).unwrap_or_default();
    let sign_up = ServerAction::<SignUp>::new();
    refresh_session_after(sign_up);
    let invited = move || !invitation().is_empty();

    view! {
        <Title text="Sign up" />
        <div class="auth-card card">
            <h1>"Create your account"</h1>
            <p class="muted">
                {move || if invited() {
                    "You were invited: sign up with the invited email address to join."
                } else {
                    "You get an organization of your own; invite your team from Settings."
                }}
            </p>
            <ServerForm action=sign_up class="form" args=|fields: &FormFields| SignUp { email: fields.text("email"), password: fields.text("password"), organization_name: fields.optional("organization_name"), invitation: fields.optional("invitation") }>
                <input type="hidden" name="invitation" value=invitation />
                <label>
                    "Email"
                    <input class="input" type="email" name="email" autocomplete="email" value=email required />
                </label>
                <label>
                    "Password"
                    <input class="input" type="password" name="password" autocomplete="new-password" minlength="10" required />
                    <span class="hint">"At least 10 characters; common passwords are refused."</span>
                </label>
                <Show when=move || !invited()>
                    <label>
                        "Organization name " <span class="hint">"(optional)"</span>
                        <input class="input" type="text" name="organization_name" maxlength="100" />
                    </label>
                </Show>
                {action_error(sign_up.value())}
                <button type="submit" class="button button-primary" disabled=move || sign_up.pending().get()>
                    "Sign up"
                </button>
            </ServerForm>
            <p class="muted">
                "Already have an account? "
                <A href=move || {
                    if invited() { format!("/login?next={}", urlencode(&format!("/invitations/{}", invitation()))) } else { "/login".to_owned() }
                }>"Log in"</A>
            </p>
        </div>
    }
}
