//! The Similarity page's body and the trace view's "Similar prompts" panel,
//! rendered to HTML on the server. Both are read far more than they are
//! used, so they carry no browser code: their forms post to the server
//! functions' URLs, which answer with a redirect back to the page (and an
//! error, if any, in its URL). This keeps their tables out of the browser
//! bundle, whose budget the pages share (BENCHMARKS.md).

use leptos::{prelude::*, tachys::view::RenderHtml};
use uuid::Uuid;

use super::{
    services::embed::HASH_EMBEDDER,
    types::{
        AbusePattern, PromptClusters, SemanticProgress, SimilarPrompt, SimilarityLog, SimilarityResults,
    },
};
use crate::{format, time_zone::DisplayZone};

/// Where the forms post: the URLs of the server functions that add and
/// remove abuse patterns.
#[derive(Clone, Copy)]
pub struct FormActions {
    pub add_pattern: &'static str,
    pub remove_pattern: &'static str,
}

/// What the Similarity page shows.
pub struct PageData {
    pub search: Option<SimilarityResults>,
    pub clusters: PromptClusters,
    pub patterns: Vec<AbusePattern>,
    /// The threshold patterns flag at.
    pub threshold: f32,
    /// The newest flagged prompts.
    pub flags: Vec<SimilarityLog>,
}

/// `text` cut to a line's worth, whole characters.
pub fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 160;
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Where a span is seen in its trace.
fn trace_link(trace_id: &str, span_id: &str) -> String {
    format!("/traces/{trace_id}?span={span_id}")
}

fn percent(score: f32) -> String {
    format!("{:.0}%", score * 100.0)
}

/// The failed submission's message, when a form's redirect brought one back.
fn error_note(error: Option<String>) -> impl IntoView {
    error.map(|message| view! { <p class="inline-error" role="alert" data-testid="form-error">{message}</p> })
}

/// The Similarity page below its search bar.
pub fn page(
    data: PageData,
    actions: FormActions,
    zone: &DisplayZone,
    org_id: Uuid,
    can_manage: bool,
    error: Option<String>,
) -> String {
    let PageData {
        search,
        clusters,
        patterns,
        threshold,
        flags,
    } = data;
    let progress = clusters.progress.clone();
    view! {
        <p class="muted" data-testid="embedding-progress">
            {format!("{} distinct prompts indexed", format::count(progress.indexed_prompts))}
            {(progress.spans_behind > 0).then(|| format!(" · {} new spans still to embed", format::count(progress.spans_behind)))}
        </p>
        {progress.semantic.map(semantic_progress)}
        {error_note(error)}
        {search.map(|results| view! {
            <section class="card" aria-labelledby="search-heading">
                <h2 id="search-heading">"Nearest prompts"</h2>
                <p class="muted" data-testid="search-embedder">{answered_by(&results.embedder)}</p>
                {prompt_table(results.prompts, zone)}
            </section>
        })}
        {clusters_card(clusters)}
        <section class="card" aria-labelledby="patterns-heading">
            <h2 id="patterns-heading">"Abuse patterns"</h2>
            <p class="muted">{format!(
                "A new prompt at least {} similar to a pattern is flagged, in the similarity log and on its span. \
                 Mark a prompt from its request span in a trace, or add its text here.",
                percent(threshold)
            )}</p>
            {patterns_table(patterns, zone, org_id, can_manage.then_some(actions.remove_pattern))}
            {can_manage.then(|| view! {
                <form method="post" action=actions.add_pattern class="form-grid" data-testid="add-pattern">
                    <input type="hidden" name="org_id" value=org_id.to_string() />
                    <label>"Label" <input class="input" name="label" required maxlength="100" placeholder="jailbreak" /></label>
                    <label class="span-2">"Prompt" <textarea class="input" name="text" required rows="3"></textarea></label>
                    <div class="form-actions"><button type="submit" class="button button-primary">"Add pattern"</button></div>
                </form>
            })}
        </section>
        <section class="card" aria-labelledby="flags-heading">
            <h2 id="flags-heading">"Flagged lately"</h2>
            <p class="muted"><a href="/spans?flagged=true">"Flagged spans in the explorer"</a>" · "
                <a href="/api/v1/similarity-logs?flagged=true&format=csv" rel="external" download>"Similarity log (CSV)"</a></p>
            {flags_table(flags, zone)}
        </section>
    }
    .to_html()
}

/// How far the semantic model has embedded the organization's prompts,
/// and whether it answers searches yet.
fn semantic_progress(progress: SemanticProgress) -> impl IntoView {
    let total = progress.indexed_prompts + progress.prompts_waiting;
    let share = if total == 0 {
        100
    } else {
        progress.indexed_prompts * 100 / total
    };
    view! {
        <p class="muted" data-testid="semantic-progress">
            <span>{format!(
                "Semantic model {}: {} of {} prompts embedded",
                progress.embedder,
                format::count(progress.indexed_prompts),
                format::count(total)
            )}</span>
            " "
            <progress max="100" value=share.to_string() aria-label="Prompts embedded by the semantic model"></progress>
            {if progress.serving {
                " · searches find prompts by meaning"
            } else {
                " · searches match words until it has caught up"
            }}
        </p>
    }
}

/// Which index a search's scores come from.
fn answered_by(embedder: &str) -> String {
    if embedder == HASH_EMBEDDER {
        format!("Matched by words and phrasing ({embedder}).")
    } else {
        format!("Matched by meaning ({embedder}).")
    }
}

/// A request span's similar prompts and, for admins, the form that marks
/// its prompt as an abuse pattern (or the pattern it already is).
pub struct SpanPanel<'a> {
    pub results: Result<SimilarityResults, String>,
    /// The label of the abuse pattern the span's prompt is, if any.
    pub pattern_label: Option<String>,
    pub org_id: Uuid,
    pub trace_id: &'a str,
    pub span_id: &'a str,
    /// Where the mark form posts, for admins; `None` for others.
    pub mark_action: Option<&'static str>,
    pub error: Option<String>,
}

pub fn span_panel(panel: SpanPanel, zone: &DisplayZone) -> String {
    let SpanPanel {
        results,
        pattern_label,
        org_id,
        trace_id,
        span_id,
        mark_action,
        error,
    } = panel;
    let marking = match pattern_label {
        Some(label) => Some(
            view! {
                <p data-testid="marked"><span class="badge badge-danger">{label}</span>
                    " This prompt is an abuse pattern: new prompts like it are flagged."</p>
            }
            .into_any(),
        ),
        None => mark_action.map(|action| {
            view! {
                <form method="post" action=action class="inline-form mark-abusive" data-testid="mark-abusive">
                    <input type="hidden" name="org_id" value=org_id.to_string() />
                    <input type="hidden" name="trace_id" value=trace_id.to_owned() />
                    <input type="hidden" name="span_id" value=span_id.to_owned() />
                    <input class="input" name="label" required maxlength="100" placeholder="e.g. jailbreak" aria-label="Pattern label" />
                    <button type="submit" class="button button-small">"Mark as abusive"</button>
                </form>
            }
            .into_any()
        }),
    };
    view! {
        <h3>"Similar prompts"</h3>
        {match results {
            Ok(results) => view! {
                <p class="muted">{answered_by(&results.embedder)}</p>
                {prompt_table(results.prompts, zone)}
            }
            .into_any(),
            Err(message) => view! { <p class="muted">{message}</p> }.into_any(),
        }}
        {marking}
        {error_note(error)}
    }
    .to_html()
}

fn prompt_table(prompts: Vec<SimilarPrompt>, zone: &DisplayZone) -> impl IntoView + use<> {
    if prompts.is_empty() {
        return view! { <p class="muted">"No similar prompts yet."</p> }.into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="table" data-testid="similar-prompts">
                <thead><tr><th class="num">"Similarity"</th><th>"Prompt"</th><th class="num">"Spans"</th><th class="num">"Cost"</th><th>"Last seen"</th></tr></thead>
                <tbody>
                    {prompts.into_iter().map(|prompt| view! {
                        <tr>
                            <td class="num">{percent(prompt.score)}</td>
                            <td><a href=trace_link(&prompt.example_trace_id, &prompt.example_span_id)>{excerpt(&prompt.text)}</a></td>
                            <td class="num">{format::count(prompt.span_count)}</td>
                            <td class="num">{format::cost(Some(prompt.cost_nanos))}</td>
                            <td class="mono nowrap">{zone.timestamp(prompt.last_seen_ns)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

fn clusters_card(clusters: PromptClusters) -> impl IntoView {
    let PromptClusters {
        clusters,
        prompts_in_range,
        prompts_grouped,
        threshold,
        ..
    } = clusters;
    let note = format!(
        "Prompts at least {} similar to a cluster's costliest (or most sent) prompt. {} distinct prompts in the range{}.",
        percent(threshold),
        format::count(prompts_in_range),
        if prompts_grouped < prompts_in_range {
            format!(", the top {} grouped", format::count(prompts_grouped))
        } else {
            String::new()
        }
    );
    let body = if clusters.is_empty() {
        view! { <p class="muted" data-testid="no-clusters">"No near-duplicates in this range."</p> }
            .into_any()
    } else {
        view! {
            <div class="table-scroll">
                <table class="table" data-testid="clusters">
                    <thead><tr><th>"Representative prompt"</th><th class="num">"Prompts"</th><th class="num">"Spans"</th>
                        <th class="num">"Cost"</th><th>"Services"</th><th class="num">"End users"</th></tr></thead>
                    <tbody>
                        {clusters.into_iter().map(|cluster| view! {
                            <tr>
                                <td><a href=trace_link(&cluster.example_trace_id, &cluster.example_span_id)>{excerpt(&cluster.text)}</a></td>
                                <td class="num">{format::count(cluster.prompts)}</td>
                                <td class="num">{format::count(cluster.span_count)}</td>
                                <td class="num">{format::cost(Some(cluster.cost_nanos))}</td>
                                <td>{cluster.services.join(", ")}</td>
                                <td class="num">{format::count(cluster.end_users)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="card" aria-labelledby="clusters-heading">
            <h2 id="clusters-heading">"Near-duplicate clusters"</h2>
            <p class="muted">{note}</p>
            {body}
        </section>
    }
}

/// The patterns; with `remove_action`, each with a form that removes it.
fn patterns_table(
    patterns: Vec<AbusePattern>,
    zone: &DisplayZone,
    org_id: Uuid,
    remove_action: Option<&'static str>,
) -> impl IntoView + use<> {
    if patterns.is_empty() {
        return view! { <p class="muted" data-testid="no-patterns">"No abuse patterns."</p> }.into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="table" data-testid="abuse-patterns">
                <thead><tr><th>"Label"</th><th>"Prompt"</th><th class="num">"Caught"</th><th>"Marked"</th>
                    {remove_action.map(|_| view! { <th><span class="visually-hidden">"Actions"</span></th> })}</tr></thead>
                <tbody>
                    {patterns.into_iter().map(|pattern| view! {
                        <tr>
                            <td><span class="badge badge-danger">{pattern.label}</span></td>
                            <td>{excerpt(&pattern.text)}</td>
                            <td class="num">{format::count(pattern.caught)}</td>
                            <td class="muted">{zone.timestamp(pattern.created_at_ns)} " " {pattern.created_by}</td>
                            {remove_action.map(|action| view! {
                                <td>
                                    <form method="post" action=action class="inline-form">
                                        <input type="hidden" name="org_id" value=org_id.to_string() />
                                        <input type="hidden" name="id" value=pattern.id.to_string() />
                                        <button type="submit" class="button button-small">"Remove"</button>
                                    </form>
                                </td>
                            })}
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

fn flags_table(flags: Vec<SimilarityLog>, zone: &DisplayZone) -> impl IntoView + use<> {
    if flags.is_empty() {
        return view! { <p class="muted" data-testid="no-flags">"Nothing flagged in this range."</p> }
            .into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="table" data-testid="flags">
                <thead><tr><th>{zone.titled("Time")}</th><th>"Why"</th><th class="num">"Similarity"</th><th>"End user"</th></tr></thead>
                <tbody>
                    {flags.into_iter().map(|flag| view! {
                        <tr>
                            <td class="mono nowrap"><a href=trace_link(&flag.trace_id, &flag.span_id)>{zone.timestamp(flag.time_ns)}</a></td>
                            <td>{if flag.reason == "pattern" { "abuse pattern" } else { "burst of near-duplicates" }}</td>
                            <td class="num">{percent(flag.score)}</td>
                            <td class="mono">{flag.end_user.unwrap_or_else(|| "—".to_owned())}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_prompts_are_cut_at_a_character_boundary() {
        let long = "é".repeat(200);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), 161);
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt("short"), "short");
    }

    #[test]
    fn the_panel_escapes_prompt_text_and_offers_the_mark_to_admins_only() {
        let results = SimilarityResults {
            prompts: vec![SimilarPrompt {
                prompt_hash: "ab".into(),
                text: "<script>alert(1)</script>".into(),
                score: 0.9,
                span_count: 2,
                first_seen_ns: 0,
                last_seen_ns: 0,
                cost_nanos: 1_000,
                example_trace_id: "t".into(),
                example_span_id: "s".into(),
            }],
            ..Default::default()
        };
        let panel = |mark_action| SpanPanel {
            results: Ok(results.clone()),
            pattern_label: None,
            org_id: Uuid::nil(),
            trace_id: "t",
            span_id: "s",
            mark_action,
            error: None,
        };
        let html = span_panel(panel(Some("/api/add_abuse_pattern")), &DisplayZone::default());
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"));
        assert!(html.contains("Mark as abusive"));
        assert!(html.contains(r#"action="/api/add_abuse_pattern""#));
        assert!(html.contains("90%"));
        assert!(!span_panel(panel(None), &DisplayZone::default()).contains("Mark as abusive"));
    }

    #[test]
    fn the_semantic_model_s_progress_says_which_index_answers() {
        let catching_up = semantic_progress(SemanticProgress {
            embedder: "bert-0123456789ab".into(),
            indexed_prompts: 1_500,
            prompts_waiting: 4_500,
            serving: false,
        })
        .to_html();
        assert!(
            catching_up.contains("bert-0123456789ab: 1,500 of 6,000 prompts embedded"),
            "{catching_up}"
        );
        assert!(catching_up.contains(r#"value="25""#), "{catching_up}");
        assert!(catching_up.contains("match words until it has caught up"));
        let serving = semantic_progress(SemanticProgress {
            embedder: "bert-0123456789ab".into(),
            serving: true,
            ..SemanticProgress::default()
        })
        .to_html();
        assert!(
            serving.contains("0 of 0 prompts") && serving.contains(r#"value="100""#),
            "{serving}"
        );
        assert!(serving.contains("by meaning"));
        assert_eq!(
            answered_by(HASH_EMBEDDER),
            "Matched by words and phrasing (hash-v1)."
        );
        assert_eq!(
            answered_by("bert-0123456789ab"),
            "Matched by meaning (bert-0123456789ab)."
        );
    }
}
