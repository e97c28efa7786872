//! The Prices page's read-only parts, rendered to HTML on the server: the
//! built-in price table (hundreds of rows) and the activity log. They hold
//! nothing the browser acts on but a filter (a style rule the page writes,
//! see `pages/prices.rs`), so they cost the browser bundle no deserializer
//! or view code (BENCHMARKS.md).

use leptos::{prelude::*, tachys::view::RenderHtml};

use crate::{costs::types::BuiltinPrice, platform::types::AuditEntry, time_zone::DisplayZone};

fn optional_price(price: &Option<String>) -> String {
    price.clone().unwrap_or_else(|| "—".to_owned())
}

/// What the filter matches a row by: its model and provider, lower case.
pub fn filter_key(model: &str, provider: &str) -> String {
    format!("{} {}", model, provider).to_ascii_lowercase()
}

pub fn builtin_table(prices: Vec<BuiltinPrice>) -> String {
    view! {
        <div class="table-scroll">
            <table class="table prices-table" data-testid="builtin-prices">
                <thead><tr>
                    <th>"Provider"</th><th>"Model"</th>
                    <th class="num">"Input"</th><th class="num">"Output"</th>
                    <th class="num">"Cache read"</th><th class="num">"Cache write"</th><th class="num">"Reasoning"</th>
                    <th>"Source"</th><th>"Date"</th>
                </tr></thead>
                <tbody>
                    {prices.into_iter().map(|price| {
                        let key = filter_key(&price.model, &price.provider);
                        view! {
                        <tr data-match=key>
                            <td>{price.provider}</td>
                            <td><code>{price.model}</code></td>
                            <td class="num">{price.input_usd_per_mtok}</td>
                            <td class="num">{price.output_usd_per_mtok}</td>
                            <td class="num">{optional_price(&price.cache_read_usd_per_mtok)}</td>
                            <td class="num">{optional_price(&price.cache_write_usd_per_mtok)}</td>
                            <td class="num">{optional_price(&price.reasoning_usd_per_mtok)}</td>
                            <td class="muted source">{price.source}</td>
                            <td class="muted nowrap">{price.date}</td>
                        </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .to_html()
}

pub fn audit_list(entries: Vec<AuditEntry>, zone: &DisplayZone) -> String {
    if entries.is_empty() {
        return view! { <p class="muted">"No changes yet."</p> }.to_html();
    }
    view! {
        <ol class="audit-log" data-testid="audit-log">
            {entries.into_iter().map(|entry| view! {
                <li>
                    <time class="muted" datetime=entry.at.clone()>{zone.stored_time(&entry.at)}</time>
                    " " <strong>{entry.actor}</strong> " " {entry.summary}
                </li>
            }).collect_view()}
        </ol>
    }
    .to_html()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_read_as_people_write_them() {
        let utc = DisplayZone::default();
        assert_eq!(utc.stored_time("1970-01-01T00:00:00Z"), "always");
        assert_eq!(utc.stored_time("2026-01-01T01:00:00Z"), "2026-01-01 01:00:00 UTC");
        assert_eq!(
            utc.stored_time("2026-01-01T01:00:00+00:00"),
            "2026-01-01 01:00:00 UTC"
        );
    }

    #[test]
    fn rows_carry_what_the_filter_matches_and_text_is_escaped() {
        let html = builtin_table(vec![BuiltinPrice {
            provider: "OpenAI".into(),
            model: "gpt-4o<b>".into(),
            input_usd_per_mtok: "2.5".into(),
            output_usd_per_mtok: "10".into(),
            cache_read_usd_per_mtok: None,
            cache_write_usd_per_mtok: None,
            reasoning_usd_per_mtok: None,
            source: "https://openai.com/api/pricing".into(),
            date: "2026-11-01".into(),
        }]);
        assert!(html.contains(r#"data-match="gpt-4o&lt;b&gt; openai""#), "{html}");
        assert!(html.contains("<code>gpt-4o&lt;b"), "{html}");
        assert!(!html.contains("<b>"));
    }
}
