//! A span kind's badge: its label with an icon, so a kind reads by shape as
//! well as by colour, wherever spans are listed.

use leptos::prelude::*;

/// Every span kind with its label, in the order the filters offer them.
pub const KINDS: &[(&str, &str)] = &[
    ("request", "Request"),
    ("response", "Response"),
    ("tool_call", "Tool call"),
    ("tool_result", "Tool result"),
    ("agent", "Agent"),
    ("embedding", "Embedding"),
    ("retrieval", "Retrieval"),
    ("other", "Other"),
];

fn kind_label(kind: &str) -> &'static str {
    KINDS
        .iter()
        .find(|(value, _)| *value == kind)
        .map_or("Other", |(_, label)| label)
}

/// Each kind's icon as SVG path data on a 16×16 grid (stroked), so a kind
/// reads by shape as well as by colour.
fn kind_icon(kind: &str) -> &'static str {
    match kind {
        // An arrow going out: the request to the model.
        "request" => "M4 12 12 4M6 4h6v6",
        // An arrow coming back.
        "response" => "M12 4 4 12M10 12H4V6",
        // A wrench.
        "tool_call" => {
            "M10.5 2.5a3 3 0 0 0-3.3 4.1L2.5 11.3l2.2 2.2 4.7-4.7a3 3 0 0 0 4.1-3.3l-1.8 1.8-1.9-.5-.5-1.9z"
        }
        // A tick in a box: what the tool gave back.
        "tool_result" => "M3 3h10v10H3zM5.5 8l2 2 3-4",
        // A small robot head.
        "agent" => "M4 6h8v6H4zM8 3v3M6.5 9h0M9.5 9h0",
        // Points in a space.
        "embedding" => "M4 11h0M8 5h0M12 9h0M5 5h0M11 12h0",
        // A magnifier.
        "retrieval" => "M7 3a4 4 0 1 0 0 8 4 4 0 0 0 0-8zM10 10l3.5 3.5",
        _ => "M8 6a2 2 0 1 0 0 4 2 2 0 0 0 0-4z",
    }
}

#[component]
pub fn KindBadge(#[prop(into)] kind: String) -> impl IntoView {
    let label = kind_label(&kind);
    view! {
        <span class=format!("kind-badge kind-{kind}") title=label>
            <svg class="kind-icon" viewBox="0 0 16 16" width="12" height="12" aria-hidden="true">
                <path d=kind_icon(&kind) />
            </svg>
            {label}
        </span>
    }
}

/// The mark of a span whose prompt the similarity checks flagged.
pub fn flagged_badge() -> impl IntoView {
    view! {
        <span class="badge badge-danger flagged-badge" data-testid="flagged-badge"
            title="Flagged: near an abuse pattern, or one of a burst of near-duplicates">"flagged"</span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_icon() {
        let icons: std::collections::HashSet<&str> = KINDS.iter().map(|(kind, _)| kind_icon(kind)).collect();
        assert_eq!(icons.len(), KINDS.len());
    }
}
