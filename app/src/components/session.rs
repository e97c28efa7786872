//! The signed-in user as the whole UI sees it: one resource, refetched when
//! something changes who is signed in or which organization is active.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_location};

use crate::{
    accounts::{
        server_fns::session::get_session_info,
        types::{OrgSummary, SessionInfo},
    },
    error::ApiError,
};

#[derive(Clone, Copy)]
pub struct SessionContext {
    pub info: Resource<Result<Option<SessionInfo>, ApiError>>,
    version: RwSignal<u32>,
}

impl SessionContext {
    /// Refetches the session: call after signing in or out or switching organization.
    pub fn refresh(&self) {
        self.version.update(|version| *version += 1);
    }

    /// Changes with every refresh: a resource keyed on it reloads with the
    /// session (another organization, another time zone).
    pub fn version(&self) -> u32 {
        self.version.get()
    }
}

pub fn provide_session_context() {
    let version = RwSignal::new(0);
    let info = Resource::new(move || version.get(), |_| get_session_info());
    provide_context(SessionContext { info, version });
}

pub fn use_session() -> SessionContext {
    expect_context::<SessionContext>()
}

impl SessionContext {
    /// The active organization's id once the session is known; `None` when
    /// signed out or without an organization. A page's resources await it
    /// in their fetchers and are created at the page's top level: created
    /// under [`RequireUser`], whose children server rendering may build
    /// twice, each would load its data twice.
    pub async fn active_org_id(self) -> Option<uuid::Uuid> {
        match self.info.await {
            Ok(Some(info)) => info.active_org.map(|org| org.id),
            _ => None,
        }
    }
}

/// Refreshes the session whenever `action` completes successfully.
pub fn refresh_session_after<I, O, E>(action: ServerAction<I>)
where
    I: leptos::server_fn::ServerFn<Output = O, Error = E> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    let session = use_session();
    Effect::new(move |_| {
        if matches!(action.value().get(), Some(Ok(_))) {
            session.refresh();
        }
    });
}

/// Renders `children` with the signed-in user and their active organization,
/// or an invitation to sign in that comes back to this page afterwards.
#[component]
pub fn RequireUser<F, V>(children: F) -> impl IntoView
where
    F: Fn(SessionInfo, Option<OrgSummary>) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let session = use_session();
    let location = use_location();
    let children = std::sync::Arc::new(children);
    view! {
        <Transition fallback=|| view! { <p class="skeleton" aria-busy="true">"Loading…"</p> }>
            {move || {
                let children = children.clone();
                Suspend::new(async move {
                    match session.info.await {
                        Ok(Some(info)) => {
                            let org = info.active_org.clone();
                            provide_context(info.time_zone.clone());
                            children(info, org).into_any()
                        }
                        Ok(None) => {
                            let next = format!("{}{}", location.pathname.get_untracked(), location.search.get_untracked());
                            view! { <SignInPrompt next /> }.into_any()
                        }
                        Err(err) => view! { <p class="inline-error" role="alert">{err.message}</p> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn SignInPrompt(next: String) -> impl IntoView {
    let login = format!("/login?next={}", urlencode(&next));
    view! {
        <div class="empty-state" data-testid="sign-in-prompt">
            <p class="empty-state-title">"Sign in to continue"</p>
            <p class="muted">"This page shows your organization's data."</p>
            <div class="button-row">
                <A href=login attr:class="button button-primary">"Log in"</A>
                <A href="/signup" attr:class="button">"Create an account"</A>
            </div>
        </div>
    }
}

/// Percent-encodes a path for use as a query value.
pub fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn urlencode_keeps_paths_readable() {
        assert_eq!(
            super::urlencode("/traces/ab?span=1&x=é"),
            "/traces/ab%3Fspan%3D1%26x%3D%C3%A9"
        );
    }
}
