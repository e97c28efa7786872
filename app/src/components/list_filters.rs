//! What the Spans and Traces pages share: filters read from and written to
//! the URL query, the time-range picker (quick ranges or a custom window),
//! and the pager.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_query_map, params::ParamsMap};

use crate::{
    components::session::urlencode,
    telemetry::types::{CUSTOM_RANGE, TIME_RANGES},
    time_zone::use_display_zone,
};

/// A parameter's last non-empty value.
pub fn param(params: &ParamsMap, name: &str) -> Option<String> {
    params.get(name).filter(|value| !value.is_empty())
}

/// Every non-empty value of a repeated parameter.
pub fn params_all(params: &ParamsMap, name: &str) -> Vec<String> {
    params
        .get_all(name)
        .unwrap_or_default()
        .into_iter()
        .filter(|value| !value.is_empty())
        .collect()
}

/// `path?…` with the `names` parameters of `params` (every value of a
/// repeated one), `changes` applied (`None` removes one), in the order of
/// `names`.
pub fn list_href(path: &str, names: &[&str], params: &ParamsMap, changes: &[(&str, Option<&str>)]) -> String {
    let mut pairs: Vec<String> = Vec::new();
    for name in names {
        let values = match changes.iter().find(|(changed, _)| changed == name) {
            Some((_, value)) => value.map(|value| vec![value.to_owned()]).unwrap_or_default(),
            None => params_all(params, name),
        };
        pairs.extend(
            values
                .into_iter()
                .map(|value| format!("{name}={}", urlencode(&value))),
        );
    }
    if pairs.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", pairs.join("&"))
    }
}

/// The explicit window, `(since, until)`, which counts only with the custom
/// range (or no range): a quick range picked later wins over stale fields.
pub fn custom_window(params: &ParamsMap) -> (Option<String>, Option<String>) {
    match param(params, "range").as_deref() {
        None | Some(CUSTOM_RANGE) => (param(params, "since"), param(params, "until")),
        Some(_) => (None, None),
    }
}

/// Quick ranges of a range select: `range` value, label, and a length.
pub type QuickRanges = &'static [(&'static str, &'static str, i64)];

/// The range select and, shown by CSS only while "Custom" is selected (so it
/// works without JavaScript too), the window's two ends in the zone times
/// are shown in (the page's server function reads them in it). The quick
/// ranges default to the explorer's, with "all" chosen when none is set.
#[component]
pub fn TimeRangeFields(
    #[prop(optional)] ranges: Option<QuickRanges>,
    #[prop(optional)] default_range: Option<&'static str>,
) -> impl IntoView {
    let params = use_query_map();
    let ranges = ranges.unwrap_or(TIME_RANGES);
    let default_range = default_range.unwrap_or("all");
    let value = move |name: &'static str| params.with(|params| param(params, name).unwrap_or_default());
    let zone = use_display_zone().name;
    let current = move || {
        let range = value("range");
        if range.is_empty() && (!value("since").is_empty() || !value("until").is_empty()) {
            CUSTOM_RANGE.to_owned()
        } else if range.is_empty() {
            default_range.to_owned()
        } else {
            range
        }
    };
    view! {
        <select class="input" name="range" aria-label="Time range">
            {ranges.iter().map(|(range, label, _)| view! {
                <option value=*range selected=move || current() == *range>{*label}</option>
            }).collect_view()}
            <option value=CUSTOM_RANGE selected=move || current() == CUSTOM_RANGE>"Custom…"</option>
        </select>
        <span class="custom-range">
            <label>"From" <input class="input" type="datetime-local" name="since" step="1"
                aria-label=format!("From ({zone})") prop:value=move || value("since") /></label>
            <label>"to" <input class="input" type="datetime-local" name="until" step="1"
                aria-label=format!("To ({zone})") prop:value=move || value("until") /></label>
            <span class="muted" data-testid="range-zone">{zone.clone()}</span>
        </span>
    }
}

/// "Newest" back to the first page and "Older" to the next, for pages that
/// page by links (they work without JavaScript and keep the URL shareable).
#[component]
pub fn Pager(
    path: &'static str,
    names: &'static [&'static str],
    next_cursor: Option<String>,
    older_label: &'static str,
) -> impl IntoView {
    let params = use_query_map();
    view! {
        <nav class="pager" aria-label="Pages">
            <Show when=move || params.with(|params| param(params, "cursor").is_some())>
                <A href=move || list_href(path, names, &params.get(), &[("cursor", None)]) attr:class="button">"Newest"</A>
            </Show>
            {next_cursor.map(|cursor| view! {
                <A href=move || list_href(path, names, &params.get(), &[("cursor", Some(cursor.as_str()))])
                    attr:class="button" attr:data-testid="older">{older_label}</A>
            })}
        </nav>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_every_value_of_repeated_parameters() {
        let mut params = ParamsMap::new();
        params.insert("attr", "a=1".to_owned());
        params.insert("attr", "b=2".to_owned());
        params.insert("kind", "request".to_owned());
        assert_eq!(
            list_href("/spans", &["kind", "attr"], &params, &[]),
            "/spans?kind=request&attr=a%3D1&attr=b%3D2"
        );
        assert_eq!(
            list_href("/spans", &["kind", "attr"], &params, &[("attr", None)]),
            "/spans?kind=request"
        );
    }

    #[test]
    fn the_custom_window_counts_only_without_a_quick_range() {
        let mut params = ParamsMap::new();
        params.insert("since", "2026-01-01T00:00".to_owned());
        assert_eq!(custom_window(&params).0.as_deref(), Some("2026-01-01T00:00"));
        params.insert("range", CUSTOM_RANGE.to_owned());
        assert_eq!(custom_window(&params).0.as_deref(), Some("2026-01-01T00:00"));
        params.insert("range", "1h".to_owned());
        assert_eq!(custom_window(&params), (None, None));
    }
}
