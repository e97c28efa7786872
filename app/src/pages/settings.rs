//! Organization settings: members and their roles, invitations, and new
//! organizations. Controls a role may not use are not shown; the server
//! refuses them anyway.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::{
    accounts::{
        server_fns::organization::{
            ChangeMemberRole, CreateOrganization, DeleteOrganization, InviteMember, RemoveMember,
            RevokeInvitation, list_invitations, list_members,
        },
        types::{Action, OrgSummary, Role, role_allows},
    },
    components::server_form::{FormFields, ServerForm},
    components::{
        copy_button::CopyButton,
        demo_data::DemoDataCard,
        form_status::action_error,
        session::{RequireUser, refresh_session_after},
    },
};

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <Title text="Settings" />
        <SettingsHeader title="Settings" />
        <RequireUser children=|_, org| match org {
            Some(org) => view! {
                <Members org=org.clone() />
                <DemoDataCard org_id=org.id can_manage=role_allows(org.role, Action::ManagePolicies) />
                <NewOrganization />
                <DangerZone org />
            }.into_any(),
            None => view! { <NewOrganization /> }.into_any(),
        } />
    }
}

/// The settings pages' title and their shared navigation.
#[component]
pub(crate) fn SettingsHeader(title: &'static str) -> impl IntoView {
    view! {
        <header class="page-header">
            <h1>{title}</h1>
            <nav class="subnav" aria-label="Settings">
                <A href="/settings" exact=true>"Members"</A>
                <A href="/settings/tokens">"API tokens"</A>
                <A href="/settings/audit">"Audit log"</A>
                <A href="/settings/forwarding">"Forwarding"</A>
                <A href="/account">"Account"</A>
            </nav>
        </header>
    }
}

#[component]
fn Members(org: OrgSummary) -> impl IntoView {
    let org_id = org.id;
    let can_manage = role_allows(org.role, Action::ManageMembers);
    let can_manage_owners = role_allows(org.role, Action::ManageOwners);
    let invite = ServerAction::<InviteMember>::new();
    let change_role = ServerAction::<ChangeMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();
    let members = Resource::new(
        move || (change_role.version().get(), remove.version().get()),
        move |_| list_members(org_id),
    );
    let invitations = Resource::new(
        move || (invite.version().get(), revoke.version().get()),
        move |_| list_invitations(org_id),
    );
    let roles_for_actor = move || {
        Role::ALL
            .into_iter()
            .filter(move |role| can_manage_owners || *role != Role::Owner)
            .collect::<Vec<_>>()
    };

    view! {
        <section class="card" aria-labelledby="members-heading">
            <h2 id="members-heading">"Members of " {org.name.clone()}</h2>
            <p class="muted">"Your role: " <span class="badge">{org.role.as_str()}</span></p>
            {action_error(change_role.value())}
            {action_error(remove.value())}
            <Transition fallback=|| view! { <p class="skeleton">"Loading members…"</p> }>
                {move || Suspend::new(async move {
                    match members.await {
                        Ok(members) => view! {
                            <table class="table" data-testid="members">
                                <thead><tr><th>"Email"</th><th>"Role"</th><th>"Joined"</th><th></th></tr></thead>
                                <tbody>
                                    {members.into_iter().map(|member| {
                                        let editable = can_manage && (can_manage_owners || member.role != Role::Owner);
                                        let user_id = member.user_id.to_string();
                                        view! {
                                            <tr>
                                                <td>{member.email.clone()}</td>
                                                <td>
                                                    {if editable {
                                                        view! {
                                                            <ServerForm action=change_role class="inline-form" args=move |fields: &FormFields| ChangeMemberRole { org_id, user_id: member.user_id, role: Role::parse(&fields.text("role")).unwrap_or(member.role) }>
                                                                <input type="hidden" name="org_id" value=org_id.to_string() />
                                                                <input type="hidden" name="user_id" value=member.user_id.to_string() />
                                                                <select name="role" class="input input-small" aria-label="Role">
                                                                    {roles_for_actor().into_iter().map(|role| view! {
                                                                        <option value=role.as_str() selected=role == member.role>{role.as_str()}</option>
                                                                    }).collect_view()}
                                                                </select>
                                                                <button type="submit" class="button button-small">"Save"</button>
                                                            </ServerForm>
                                                        }.into_any()
                                                    } else {
                                                        view! { <span class="badge">{member.role.as_str()}</span> }.into_any()
                                                    }}
                                                </td>
                                                <td class="muted">{short_date(&member.joined_at)}</td>
                                                <td>
                                                    {editable.then(|| view! {
                                                        <ServerForm action=remove class="inline-form" args=move |_: &FormFields| RemoveMember { org_id, user_id: member.user_id }>
                                                            <input type="hidden" name="org_id" value=org_id.to_string() />
                                                            <input type="hidden" name="user_id" value=user_id.clone() />
                                                            <button type="submit" class="button button-small button-danger">"Remove"</button>
                                                        </ServerForm>
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(err) => view! { <p class="inline-error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>

        <Show when=move || can_manage>
            <section class="card" aria-labelledby="invite-heading">
                <h2 id="invite-heading">"Invite someone"</h2>
                <p class="muted">"Invitations are links: copy the link and send it. It works once, for that email, for 7 days."</p>
                <ServerForm action=invite class="form form-inline" args=move |fields: &FormFields| InviteMember { org_id, email: fields.text("email"), role: Role::parse(&fields.text("role")).unwrap_or(Role::Member) }>
                    <input type="hidden" name="org_id" value=org_id.to_string() />
                    <label>"Email" <input class="input" type="email" name="email" required /></label>
                    <label>
                        "Role"
                        <select name="role" class="input">
                            {roles_for_actor().into_iter().map(|role| view! {
                                <option value=role.as_str() selected=role == Role::Member>{role.as_str()}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <button type="submit" class="button button-primary">"Create invitation"</button>
                </ServerForm>
                {move || match invite.value().get() {
                    Some(Ok(created)) => {
                        let link = created.link.clone();
                        view! {
                            <div class="notice" role="status">
                                <p>"Invitation for " {created.invitation.email.clone()} ". Send them this link:"</p>
                                <p class="secret"><code data-testid="invitation-link">{created.link}</code>
                                <CopyButton value=Signal::stored(link) label="invitation link" /></p>
                            </div>
                        }.into_any()
                    }
                    Some(Err(err)) => view! { <p class="inline-error" role="alert">{err.message}</p> }.into_any(),
                    None => ().into_any(),
                }}
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let pending = invitations.await.unwrap_or_default();
                        (!pending.is_empty()).then(|| view! {
                            <h3>"Pending invitations"</h3>
                            <table class="table">
                                <thead><tr><th>"Email"</th><th>"Role"</th><th>"Expires"</th><th></th></tr></thead>
                                <tbody>
                                    {pending.into_iter().map(|invitation| view! {
                                        <tr>
                                            <td>{invitation.email}</td>
                                            <td><span class="badge">{invitation.role.as_str()}</span></td>
                                            <td class="muted">{short_date(&invitation.expires_at)}</td>
                                            <td>
                                                <ServerForm action=revoke class="inline-form" args=move |_: &FormFields| RevokeInvitation { org_id, invitation_id: invitation.id }>
                                                    <input type="hidden" name="org_id" value=org_id.to_string() />
                                                    <input type="hidden" name="invitation_id" value=invitation.id.to_string() />
                                                    <button type="submit" class="button button-small">"Revoke"</button>
                                                </ServerForm>
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        })
                    })}
                </Transition>
            </section>
        </Show>
    }
}

/// Owners may delete the organization with everything it holds.
#[component]
fn DangerZone(org: OrgSummary) -> impl IntoView {
    let delete = ServerAction::<DeleteOrganization>::new();
    refresh_session_after(delete);
    let confirm = format!(
        "return confirm('Delete {} and all its data? This cannot be undone.')",
        org.name.replace(['\'', '\\'], "")
    );
    role_allows(org.role, Action::ManageOrganization).then(|| {
        view! {
            <section class="card danger-zone" aria-labelledby="danger-heading">
                <h2 id="danger-heading">"Delete organization"</h2>
                <p class="muted">"Deletes " {org.name.clone()} " with its members, invitations, tokens and telemetry."</p>
                <ServerForm action=delete args=move |_: &FormFields| DeleteOrganization { org_id: org.id }>
                    <input type="hidden" name="org_id" value=org.id.to_string() />
                    <button type="submit" class="button button-danger" onclick=confirm>"Delete organization"</button>
                </ServerForm>
                {action_error(delete.value())}
            </section>
        }
    })
}

#[component]
fn NewOrganization() -> impl IntoView {
    let create = ServerAction::<CreateOrganization>::new();
    refresh_session_after(create);
    view! {
        <section class="card" aria-labelledby="new-org-heading">
            <h2 id="new-org-heading">"New organization"</h2>
            <p class="muted">"Organizations keep their spans, tokens and members apart. You own the ones you create."</p>
            <ServerForm action=create class="form form-inline" args=|fields: &FormFields| CreateOrganization { name: fields.text("name") }>
                <label>"Name" <input class="input" type="text" name="name" maxlength="100" required /></label>
                <button type="submit" class="button">"Create organization"</button>
            </ServerForm>
            {action_error(create.value())}
        </section>
    }
}

/// `2026-11-23T05:23:48+00:00` → `2026-11-23 05:23`.
pub(crate) fn short_date(rfc3339: &str) -> String {
    rfc3339
        .get(..16)
        .map(|prefix| prefix.replace('T', " "))
        .unwrap_or_else(|| rfc3339.to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_shortened_to_the_minute() {
        assert_eq!(
            super::short_date("2026-11-23T05:23:48.123+00:00"),
            "2026-11-23 05:23"
        );
        assert_eq!(super::short_date("soon"), "soon");
    }
}
