//! The Prices page: the built-in table with its sources, the organization's
//! own prices (admins add, change and remove them), recompute jobs with
//! their progress, and the audit log of what changed.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

use crate::{
    accounts::types::OrgSummary,
    components::server_form::{FormFields, ServerForm},
    components::{form_status::action_error, session::RequireUser},
    costs::{
        server_fns::{DeletePrice, SavePrice, StartRecompute, load_prices_page},
        types::{PriceOverride, PricesPage as PricesData, RecomputeJob},
    },
    format,
    format::parse_utc_rfc3339,
    time_zone::use_display_zone,
};

#[component]
pub fn PricesPage() -> impl IntoView {
    view! {
        <Title text="Prices" />
        <header class="page-header">
            <h1>"Prices"</h1>
            <p class="lead">
                "What each model costs your organization. Your prices take precedence over the built-in table "
                "from their effective time; spans already stored keep their cost until you recompute their time range."
            </p>
            <p><A href="/costs">"← Costs"</A></p>
        </header>
        <RequireUser children=|_, org| match org {
            Some(org) => view! { <Prices org /> }.into_any(),
            None => view! { <p class="muted">"Join or create an organization first."</p> }.into_any(),
        } />
    }
}

fn is_active(job: &RecomputeJob) -> bool {
    matches!(job.status.as_str(), "queued" | "running")
}

#[component]
fn Prices(org: OrgSummary) -> impl IntoView {
    let org_id = org.id;
    let save = ServerAction::<SavePrice>::new();
    let delete = ServerAction::<DeletePrice>::new();
    let start = ServerAction::<StartRecompute>::new();
    // Bumped while a recompute runs, so its progress is read again.
    let tick = RwSignal::new(0u32);
    let page = Resource::new(
        move || {
            (
                save.version().get(),
                delete.version().get(),
                start.version().get(),
                tick.get(),
            )
        },
        move |_| load_prices_page(org_id),
    );
    Effect::new(move |_| {
        let running = page
            .get()
            .and_then(Result::ok)
            .is_some_and(|page| page.jobs.iter().any(is_active));
        if running {
            set_timeout(
                move || tick.update(|tick| *tick += 1),
                std::time::Duration::from_secs(1),
            );
        }
    });

    view! {
        <Transition fallback=|| view! { <p class="skeleton" aria-busy="true">"Loading prices…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(err) => view! { <p class="inline-error" role="alert">{err.message}</p> }.into_any(),
                    Ok(data) => view! { <PricesView org_id=org_id data save delete start /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PricesView(
    org_id: uuid::Uuid,
    data: PricesData,
    save: ServerAction<SavePrice>,
    delete: ServerAction<DeletePrice>,
    start: ServerAction<StartRecompute>,
) -> impl IntoView {
    let PricesData {
        overrides,
        builtin_html,
        jobs,
        audit_html,
        can_edit,
    } = data;
    let params = use_query_map();
    let editing_id = params
        .read_untracked()
        .get("edit")
        .and_then(|id| id.parse::<i64>().ok());
    let editing = editing_id.and_then(|id| overrides.iter().find(|price| price.id == id).cloned());
    view! {
        <section class="card" aria-labelledby="overrides-heading">
            <h2 id="overrides-heading">"Your prices"</h2>
            {action_error(delete.value())}
            <OverridesTable overrides org_id can_edit delete />
        </section>
        <Show when=move || can_edit>
            <PriceForm org_id editing=editing.clone() save />
        </Show>
        <section class="card" aria-labelledby="recompute-heading">
            <h2 id="recompute-heading">"Recompute costs"</h2>
            <p class="muted">
                "Re-prices the stored spans that started in a time range with the prices in force now, "
                "and corrects their traces' and the dashboards' sums. It runs in the background, in batches."
            </p>
            <Show when=move || can_edit>
                <ServerForm action=start class="form-grid recompute-form" args=move |fields: &FormFields| StartRecompute { org_id, since: fields.text("since"), until: fields.text("until") }>
                    <input type="hidden" name="org_id" value=org_id.to_string() />
                    <label>{use_display_zone().titled("From")} <input class="input" type="datetime-local" name="since" required /></label>
                    <label>{use_display_zone().titled("Until")} <input class="input" type="datetime-local" name="until" required /></label>
                    <div class="form-actions">
                        <button type="submit" class="button button-primary" data-testid="start-recompute">"Recompute"</button>
                    </div>
                </ServerForm>
                {action_error(start.value())}
            </Show>
            <JobsTable jobs />
        </section>
        <section class="card" aria-labelledby="builtin-heading">
            <h2 id="builtin-heading">"Built-in prices"</h2>
            <p class="muted">"USD per million tokens, from public price lists; the source and date of each row are given."</p>
            <BuiltinFilter />
            <div inner_html=builtin_html></div>
        </section>
        <section class="card" aria-labelledby="activity-heading">
            <h2 id="activity-heading">"Activity"</h2>
            <div inner_html=audit_html></div>
        </section>
    }
}

fn optional_price(price: &Option<String>) -> String {
    price.clone().unwrap_or_else(|| "—".to_owned())
}

#[component]
fn OverridesTable(
    overrides: Vec<PriceOverride>,
    org_id: uuid::Uuid,
    can_edit: bool,
    delete: ServerAction<DeletePrice>,
) -> impl IntoView {
    if overrides.is_empty() {
        return view! {
            <p class="muted" data-testid="no-overrides">"No prices of your own: every model is priced with the built-in table."</p>
        }
        .into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="table prices-table" data-testid="price-overrides">
                <thead><tr>
                    <th>"Model or pattern"</th><th>"Provider"</th>
                    <th class="num">"Input"</th><th class="num">"Output"</th>
                    <th class="num">"Cache read"</th><th class="num">"Cache write"</th><th class="num">"Reasoning"</th>
                    <th>"Effective from"</th><th>"Note"</th><th>"Changed by"</th>
                    {can_edit.then(|| view! { <th><span class="visually-hidden">"Actions"</span></th> })}
                </tr></thead>
                <tbody>
                    {overrides.into_iter().map(|price| {
                        let id = price.id;
                        view! {
                            <tr>
                                <td>
                                    <code>{price.model.clone()}</code>
                                    {price.is_pattern.then(|| view! { " " <span class="badge">"pattern"</span> })}
                                </td>
                                <td>{price.provider.clone()}</td>
                                <td class="num">{price.input_usd_per_mtok.clone()}</td>
                                <td class="num">{price.output_usd_per_mtok.clone()}</td>
                                <td class="num">{optional_price(&price.cache_read_usd_per_mtok)}</td>
                                <td class="num">{optional_price(&price.cache_write_usd_per_mtok)}</td>
                                <td class="num">{optional_price(&price.reasoning_usd_per_mtok)}</td>
                                <td class="muted">{effective(&price.effective_from)}</td>
                                <td>{price.note.clone()}</td>
                                <td class="muted">{price.updated_by.clone().unwrap_or_else(|| "—".to_owned())}</td>
                                {can_edit.then(|| view! {
                                    <td>
                                        <div class="row-actions">
                                            <a class="button button-small" href=format!("?edit={id}#price-form")>"Edit"</a>
                                            <ServerForm action=delete class="inline-form" args=move |_: &FormFields| DeletePrice { org_id, id }>
                                                <input type="hidden" name="org_id" value=org_id.to_string() />
                                                <input type="hidden" name="id" value=id.to_string() />
                                                <button type="submit" class="button button-small button-danger">"Remove"</button>
                                            </ServerForm>
                                        </div>
                                    </td>
                                })}
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <p class="muted">"USD per million tokens. Cache prices default to the input price, reasoning to the output price."</p>
    }
    .into_any()
}

/// A stored time in the zone times are shown in; the epoch means "always".
fn effective(from: &str) -> String {
    use_display_zone().stored_time(from)
}

/// A stored time as a `datetime-local` value in the zone times are shown in
/// (the server reads the field back in the same zone); empty for "always".
fn datetime_local(rfc3339: &str) -> String {
    match parse_utc_rfc3339(rfc3339) {
        Some(0) | None => String::new(),
        Some(nanos) => use_display_zone().minute(nanos).replace(' ', "T"),
    }
}

#[component]
fn PriceForm(
    org_id: uuid::Uuid,
    editing: Option<PriceOverride>,
    save: ServerAction<SavePrice>,
) -> impl IntoView {
    let value = |field: fn(&PriceOverride) -> String| editing.as_ref().map(field).unwrap_or_default();
    let model = value(|p| p.model.clone());
    let provider = value(|p| p.provider.clone());
    let input = value(|p| p.input_usd_per_mtok.clone());
    let output = value(|p| p.output_usd_per_mtok.clone());
    let cache_read = value(|p| p.cache_read_usd_per_mtok.clone().unwrap_or_default());
    let cache_write = value(|p| p.cache_write_usd_per_mtok.clone().unwrap_or_default());
    let reasoning = value(|p| p.reasoning_usd_per_mtok.clone().unwrap_or_default());
    let effective_from = value(|p| datetime_local(&p.effective_from));
    let note = value(|p| p.note.clone());
    let editing_id = editing.as_ref().map(|price| price.id);
    let heading = if editing_id.is_some() {
        "Change a price"
    } else {
        "Add a price"
    };
    view! {
        <section class="card" id="price-form" aria-labelledby="price-form-heading">
            <h2 id="price-form-heading">{heading}</h2>
            <p class="muted">
                "Name a model exactly (dated snapshots and provider prefixes are included: "
                <code>"gpt-4o"</code> " also prices " <code>"openai/gpt-4o-2024-08-06"</code>
                "), or give a pattern where " <code>"*"</code> " matches any text, for custom and fine-tuned models ("
                <code>"ft:gpt-4o:acme:*"</code> "). To change a price from a date on, add a second price for the same model "
                "with that effective time; the earlier one keeps pricing the spans before it."
            </p>
            <ServerForm action=save class="form form-grid" args=move |fields: &FormFields| SavePrice { org_id, id: editing_id, model: fields.text("model"), provider: fields.optional("provider"), input_usd_per_mtok: fields.text("input_usd_per_mtok"), output_usd_per_mtok: fields.text("output_usd_per_mtok"), cache_read_usd_per_mtok: fields.optional("cache_read_usd_per_mtok"), cache_write_usd_per_mtok: fields.optional("cache_write_usd_per_mtok"), reasoning_usd_per_mtok: fields.optional("reasoning_usd_per_mtok"), effective_from: fields.optional("effective_from"), note: fields.optional("note") }>
                <input type="hidden" name="org_id" value=org_id.to_string() />
                {editing_id.map(|id| view! { <input type="hidden" name="id" value=id.to_string() /> })}
                <label>"Model or pattern"
                    <input class="input" type="text" name="model" required maxlength="200" placeholder="e.g. acme-llm-*" value=model />
                </label>
                <label>"Provider"
                    <input class="input" type="text" name="provider" maxlength="100" placeholder="optional" value=provider />
                </label>
                <label>"Input (USD / Mtok)"
                    <input class="input" type="text" inputmode="decimal" name="input_usd_per_mtok" required placeholder="2.5" value=input />
                </label>
                <label>"Output (USD / Mtok)"
                    <input class="input" type="text" inputmode="decimal" name="output_usd_per_mtok" required placeholder="10" value=output />
                </label>
                <label>"Cache read"
                    <input class="input" type="text" inputmode="decimal" name="cache_read_usd_per_mtok" placeholder="= input" value=cache_read />
                </label>
                <label>"Cache write"
                    <input class="input" type="text" inputmode="decimal" name="cache_write_usd_per_mtok" placeholder="= input" value=cache_write />
                </label>
                <label>"Reasoning"
                    <input class="input" type="text" inputmode="decimal" name="reasoning_usd_per_mtok" placeholder="= output" value=reasoning />
                </label>
                <label>{use_display_zone().titled("Effective from")}
                    <input class="input" type="datetime-local" name="effective_from" value=effective_from />
                    <span class="hint">"Empty: every span, past and future."</span>
                </label>
                <label class="span-2">"Note"
                    <input class="input" type="text" name="note" maxlength="500" placeholder="e.g. contract price from 2026-12" value=note />
                </label>
                <div class="form-actions">
                    <button type="submit" class="button button-primary" data-testid="save-price">
                        {if editing_id.is_some() { "Save changes" } else { "Add price" }}
                    </button>
                    {editing_id.is_some().then(|| view! { <a class="button" href="/costs/prices">"Cancel"</a> })}
                </div>
            </ServerForm>
            {action_error(save.value())}
            {move || matches!(save.value().get(), Some(Ok(_))).then(|| view! {
                <p class="notice" role="status">"Saved. New spans use it; recompute a time range to re-price stored ones."</p>
            })}
        </section>
    }
}

#[component]
fn JobsTable(jobs: Vec<RecomputeJob>) -> impl IntoView {
    if jobs.is_empty() {
        return view! { <p class="muted">"No recomputes yet."</p> }.into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="table prices-table" data-testid="recompute-jobs">
                <thead><tr>
                    <th>"Range"</th><th>"Status"</th><th>"Progress"</th>
                    <th class="num">"Spans read"</th><th class="num">"Re-priced"</th><th class="num">"Cost change"</th>
                    <th>"Asked by"</th><th>"Asked"</th>
                </tr></thead>
                <tbody>
                    {jobs.into_iter().map(|job| {
                        let percent = format::fixed(job.progress * 100.0, 0);
                        view! {
                            <tr>
                                <td>{effective(&job.since)} " – " {effective(&job.until)}</td>
                                <td>
                                    <span class="badge" class:badge-muted=job.status == "done">{job.status.clone()}</span>
                                    {job.error.clone().map(|error| view! { <span class="inline-error">" " {error}</span> })}
                                </td>
                                <td>
                                    <progress max="100" value=percent.clone() aria-label="progress"></progress>
                                    " " {format!("{percent}%")}
                                </td>
                                <td class="num">{format::count(job.scanned_spans)}</td>
                                <td class="num">{format::count(job.repriced_spans)}</td>
                                <td class="num">{signed_cost(job.cost_delta_nanos)}</td>
                                <td class="muted">{job.requested_by.clone().unwrap_or_else(|| "—".to_owned())}</td>
                                <td class="muted">{effective(&job.created_at)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

fn signed_cost(nanos: i64) -> String {
    let sign = if nanos < 0 {
        "−"
    } else if nanos > 0 {
        "+"
    } else {
        ""
    };
    format!("{sign}{}", format::cost(Some(nanos.saturating_abs())))
}

/// Filters the built-in table (rendered on the server) as one types: a
/// style rule hides the rows whose model and provider do not contain the
/// text.
#[component]
fn BuiltinFilter() -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let rule = move || {
        // Only characters a model or provider name has: the text goes into a CSS selector.
        let needle: String = filter
            .get()
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ' | '/' | ':'))
            .collect();
        if needle.is_empty() {
            String::new()
        } else {
            format!(
                r#"[data-testid="builtin-prices"] tbody tr:not([data-match*="{needle}"]) {{ display: none; }}"#
            )
        }
    };
    view! {
        <style prop:textContent=rule></style>
        <label class="filter">
            "Filter "
            <input class="input" type="search" placeholder="model or provider" prop:value=filter
                on:input=move |event| filter.set(event_target_value(&event)) />
        </label>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_people_write_them() {
        assert_eq!(effective("1970-01-01T00:00:00Z"), "always");
        assert_eq!(effective("2026-01-01T01:00:00Z"), "2026-01-01 01:00:00 UTC");
        assert_eq!(effective("2026-01-01T01:00:00+00:00"), "2026-01-01 01:00:00 UTC");
        assert_eq!(datetime_local("2026-01-01T01:30:00Z"), "2026-01-01T01:30");
        assert_eq!(datetime_local("1970-01-01T00:00:00Z"), "");
    }

    #[test]
    fn cost_changes_carry_their_sign() {
        assert!(signed_cost(-1_500_000_000).starts_with('−'));
        assert!(signed_cost(1_500_000_000).starts_with('+'));
        assert!(!signed_cost(0).starts_with(['+', '−']));
    }
}
