//! API tokens: mint (the secret is shown once), list, revoke.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    accounts::{
        server_fns::organization::{MintToken, RevokeToken, list_tokens},
        types::{Action, OrgSummary, TokenInfo, role_allows},
    },
    components::server_form::{FormFields, ServerForm},
    components::{
        copy_button::CopyButton,
        form_status::action_error,
        session::{RequireUser, use_session},
    },
    error::ApiError,
    pages::settings::{SettingsHeader, short_date},
};

#[component]
pub fn TokensPage() -> impl IntoView {
    let session = use_session();
    let mint = ServerAction::<MintToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (mint.version().get(), revoke.version().get()),
        move |_| async move {
            let org_id = session.active_org_id().await?;
            Some(list_tokens(org_id).await)
        },
    );
    view! {
        <Title text="API tokens" />
        <SettingsHeader title="API tokens" />
        <RequireUser children=move |session, org| match org {
            Some(org) => {
                let instance_admin = session.user.instance_admin;
                view! { <Tokens org instance_admin mint revoke tokens /> }.into_any()
            }
            None => view! { <p class="muted">"Join or create an organization first."</p> }.into_any(),
        } />
    }
}

#[component]
fn Tokens(
    org: OrgSummary,
    /// Only instance administrators mint `metrics` tokens (the installation's figures).
    instance_admin: bool,
    mint: ServerAction<MintToken>,
    revoke: ServerAction<RevokeToken>,
    tokens: Resource<Option<Result<Vec<TokenInfo>, ApiError>>>,
) -> impl IntoView {
    let org_id = org.id;
    let can_mint = role_allows(org.role, Action::MintOwnIngestToken);
    let can_mint_any = role_allows(org.role, Action::ManageTokens);

    view! {
        <Show when=move || can_mint>
            <section class="card" aria-labelledby="mint-heading">
                <h2 id="mint-heading">"Mint a token"</h2>
                <p class="muted">
                    "Tokens authenticate SDKs and scripts to " {org.name.clone()} ". "
                    {if can_mint_any { "" } else { "Your role can mint ingest tokens." }}
                </p>
                <ServerForm action=mint class="form form-inline" args=move |fields: &FormFields| MintToken { org_id, name: fields.text("name"), scope_ingest: fields.optional("scope_ingest"), scope_read: fields.optional("scope_read"), scope_evaluate: fields.optional("scope_evaluate"), scope_metrics: fields.optional("scope_metrics"), expires_in_days: fields.text("expires_in_days").parse().ok() }>
                    <input type="hidden" name="org_id" value=org_id.to_string() />
                    <label>"Name" <input class="input" type="text" name="name" maxlength="100" placeholder="e.g. CI agents" required /></label>
                    <fieldset class="checkboxes">
                        <legend>"Scopes"</legend>
                        <label><input type="checkbox" name="scope_ingest" checked /> " ingest"</label>
                        <Show when=move || can_mint_any>
                            <label><input type="checkbox" name="scope_read" /> " read"</label>
                            <label><input type="checkbox" name="scope_evaluate" /> " evaluate"</label>
                        </Show>
                        <Show when=move || instance_admin && can_mint_any>
                            <label><input type="checkbox" name="scope_metrics" /> " metrics"</label>
                        </Show>
                    </fieldset>
                    <label>
                        "Expires in"
                        <select name="expires_in_days" class="input">
                            <option value="">"never"</option>
                            <option value="7">"7 days"</option>
                            <option value="30">"30 days"</option>
                            <option value="90">"90 days"</option>
                            <option value="365">"1 year"</option>
                        </select>
                    </label>
                    <button type="submit" class="button button-primary" data-testid="mint-token">"Mint token"</button>
                </ServerForm>
                {move || match mint.value().get() {
                    Some(Ok(minted)) => {
                        let secret = minted.secret.clone();
                        view! {
                            <div class="notice" role="status">
                                <p>"Copy the token now: it will not be shown again."</p>
                                <p class="secret">
                                    <code data-testid="minted-secret">{minted.secret}</code>
                                    <CopyButton value=Signal::stored(secret) label="API token" />
                                </p>
                            </div>
                        }.into_any()
                    }
                    Some(Err(err)) => view! { <p class="inline-error" role="alert">{err.message}</p> }.into_any(),
                    None => ().into_any(),
                }}
            </section>
        </Show>
        <section class="card" aria-labelledby="tokens-heading">
            <h2 id="tokens-heading">"Tokens"</h2>
            {action_error(revoke.value())}
            <Transition fallback=|| view! { <p class="skeleton">"Loading tokens…"</p> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        None => ().into_any(),
                        Some(Ok(tokens)) if tokens.is_empty() => view! { <p class="muted">"No tokens yet."</p> }.into_any(),
                        Some(Ok(tokens)) => view! {
                            <table class="table" data-testid="tokens">
                                <thead><tr>
                                    <th>"Name"</th><th>"Token"</th><th>"Scopes"</th><th>"Created by"</th>
                                    <th>"Created"</th><th>"Last used"</th><th>"Expires"</th><th></th>
                                </tr></thead>
                                <tbody>
                                    {tokens.into_iter().map(|token| {
                                        let revoked = token.revoked_at.is_some();
                                        view! {
                                            <tr class:revoked=revoked>
                                                <td>{token.name}</td>
                                                <td><code>{token.prefix} "…"</code></td>
                                                <td>{token.scopes.iter().map(|scope| view! { <span class="badge">{scope.as_str()}</span> " " }).collect_view()}</td>
                                                <td>{token.created_by.unwrap_or_else(|| "—".to_owned())}</td>
                                                <td class="muted">{short_date(&token.created_at)}</td>
                                                <td class="muted">{token.last_used_at.as_deref().map(short_date).unwrap_or_else(|| "never".to_owned())}</td>
                                                <td class="muted">{token.expires_at.as_deref().map(short_date).unwrap_or_else(|| "never".to_owned())}</td>
                                                <td>
                                                    {if revoked {
                                                        view! { <span class="badge badge-muted">"revoked"</span> }.into_any()
                                                    } else {
                                                        view! {
                                                            <ServerForm action=revoke class="inline-form" args=move |_: &FormFields| RevokeToken { org_id, token_id: token.id }>
                                                                <input type="hidden" name="org_id" value=org_id.to_string() />
                                                                <input type="hidden" name="token_id" value=token.id.to_string() />
                                                                <button type="submit" class="button button-small button-danger">"Revoke"</button>
                                                            </ServerForm>
                                                        }.into_any()
                                                    }}
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Some(Err(err)) => view! { <p class="inline-error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
