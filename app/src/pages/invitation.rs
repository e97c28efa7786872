//! `/invitations/{token}`: what the link offers, and accepting it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_params_map};

use crate::{
    accounts::server_fns::organization::{AcceptInvitation, preview_invitation},
    components::server_form::{FormFields, ServerForm},
    components::{
        form_status::action_error,
        session::{refresh_session_after, urlencode, use_session},
    },
};

#[component]
pub fn InvitationPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.with(|params| params.get("token")).unwrap_or_default();
    let preview = Resource::new(token, preview_invitation);
    let session = use_session();
    let accept = ServerAction::<AcceptInvitation>::new();
    refresh_session_after(accept);

    view! {
        <Title text="Invitation" />
        <div class="auth-card card">
            <Suspense fallback=|| view! { <p class="skeleton">"Loading the invitation…"</p> }>
                {move || Suspend::new(async move {
                    let signed_in = matches!(session.info.await, Ok(Some(_)));
                    match preview.await {
                        Ok(preview) => {
                            let token = token();
                            let signup = format!("/signup?invitation={}&email={}", urlencode(&token), urlencode(&preview.email));
                            let login = format!("/login?next={}", urlencode(&format!("/invitations/{token}")));
                            view! {
                                <h1>"Join " {preview.organization.clone()}</h1>
                                <p>"You are invited as " <span class="badge">{preview.role.as_str()}</span> " with " <strong>{preview.email.clone()}</strong> "."</p>
                                {if signed_in {
                                    view! {
                                        <ServerForm action=accept args=|fields: &FormFields| AcceptInvitation { token: fields.text("token") }>
                                            <input type="hidden" name="token" value=token.clone() />
                                            <button type="submit" class="button button-primary">"Accept invitation"</button>
                                        </ServerForm>
                                        {action_error(accept.value())}
                                        {move || matches!(accept.value().get(), Some(Ok(_))).then(|| view! {
                                            <p class="notice" role="status">"Welcome aboard. " <A href="/spans">"Go to Spans"</A></p>
                                        })}
                                    }.into_any()
                                } else {
                                    view! {
                                        <div class="button-row">
                                            <A href=signup attr:class="button button-primary">"Sign up to join"</A>
                                            <A href=login attr:class="button">"Log in to join"</A>
                                        </div>
                                    }.into_any()
                                }}
                            }.into_any()
                        }
                        Err(err) => view! {
                            <h1>"Invitation unavailable"</h1>
                            <p class="inline-error" role="alert">{err.message}</p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}
