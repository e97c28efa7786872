//! One trace: the span tree as a waterfall and the selected span in detail
//! (correlation ids, model and cost, the conversation, tool arguments, the
//! diff rendered, every attribute). `?span=` selects a span, so links to a
//! span deep-link here.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};
use serde_json::Value;

use crate::{
    components::{
        copy_button::CopyButton,
        diff_view::DiffView,
        kind_badge::{KindBadge, flagged_badge},
        server_html::ServerHtml,
        session::{RequireUser, use_session},
    },
    error::ApiError,
    format,
    similarity::server_fns::similarity_html,
    telemetry::{
        server_fns::load_trace,
        types::{SpanView, TraceDetail},
    },
    time_zone::use_display_zone,
};

#[component]
pub fn TracePage() -> impl IntoView {
    let params = use_params_map();
    let session = use_session();
    let trace = Resource::new(
        move || params.with(|params| params.get("trace_id").unwrap_or_default()),
        move |trace_id| async move {
            let org_id = session.active_org_id().await?;
            Some(load_trace(org_id, trace_id).await)
        },
    );
    // The selected request span's similar prompts (made here, not under
    // `RequireUser`: see ARCHITECTURE.md); nothing for other spans.
    let query = use_query_map();
    let similar = Resource::new(
        move || {
            let trace_id = params.with(|params| params.get("trace_id").unwrap_or_default());
            (
                trace_id,
                query.with(|query| (query.get("span"), query.get("__err"))),
            )
        },
        move |(trace_id, (span_id, error))| async move {
            let org_id = session.active_org_id().await?;
            let trace = trace.await?.ok()?;
            let span = match span_id {
                Some(id) => trace.spans.iter().find(|span| span.summary.span_id == id),
                None => trace.spans.first(),
            }?;
            if span.summary.llm_kind != "request" || span.prompt.is_none() {
                return None;
            }
            let span_id = Some(span.summary.span_id.clone());
            Some(similarity_html(org_id, Some(trace_id), span_id, None, None, None, error).await)
        },
    );
    view! {
        <Title text="Trace" />
        <RequireUser children=move |_, org| match org {
            Some(_) => view! { <TraceView trace similar /> }.into_any(),
            None => view! { <p class="muted">"Join or create an organization first."</p> }.into_any(),
        } />
    }
}

/// One waterfall row: a span placed in the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TreeRow {
    /// The span's position in the trace's span list.
    span: usize,
    depth: usize,
    /// The parent's row, when the parent is in the trace.
    parent_row: Option<usize>,
    /// Rows under this one, at any depth: what collapsing it hides.
    descendants: usize,
}

/// Spans in tree order (parents before children, siblings by start), as rows.
fn tree_rows(spans: &[SpanView]) -> Vec<TreeRow> {
    let order = tree_order(spans);
    let mut rows: Vec<TreeRow> = Vec::with_capacity(order.len());
    // Pre-order: a row's parent is the nearest earlier row one level up.
    let mut open: Vec<usize> = Vec::new();
    for (row, &(span, depth)) in order.iter().enumerate() {
        open.truncate(depth);
        let parent_row = open.last().copied();
        for &ancestor in &open {
            rows[ancestor].descendants += 1;
        }
        rows.push(TreeRow {
            span,
            depth,
            parent_row,
            descendants: 0,
        });
        open.push(row);
    }
    rows
}

/// Spans in tree order with their depth.
fn tree_order(spans: &[SpanView]) -> Vec<(usize, usize)> {
    use std::collections::HashMap;
    let index_of: HashMap<&str, usize> = spans
        .iter()
        .enumerate()
        .map(|(index, span)| (span.summary.span_id.as_str(), index))
        .collect();
    // Spans arrive sorted by start time, so each child list is too.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (index, span) in spans.iter().enumerate() {
        match span
            .summary
            .parent_span_id
            .as_deref()
            .and_then(|parent| index_of.get(parent))
        {
            Some(&parent) if parent != index => children[parent].push(index),
            _ => roots.push(index),
        }
    }
    let mut order = Vec::with_capacity(spans.len());
    let mut stack: Vec<(usize, usize)> = roots.into_iter().rev().map(|index| (index, 0)).collect();
    // A parent cycle sent by a broken client must not loop forever.
    let mut seen = vec![false; spans.len()];
    while let Some((index, depth)) = stack.pop() {
        if std::mem::replace(&mut seen[index], true) {
            continue;
        }
        order.push((index, depth));
        stack.extend(children[index].iter().rev().map(|&child| (child, depth + 1)));
    }
    order
}

#[component]
fn TraceView(
    trace: Resource<Option<Result<TraceDetail, ApiError>>>,
    similar: Resource<Option<Result<String, ApiError>>>,
) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <div class="skeleton skeleton-block" aria-busy="true"></div> }>
            {move || Suspend::new(async move {
                match trace.await {
                    None => ().into_any(),
                    Some(Ok(trace)) => view! { <TraceBody trace similar /> }.into_any(),
                    Some(Err(err)) => view! {
                        <header class="page-header"><h1>"Trace"</h1></header>
                        <p class="inline-error" role="alert">{err.message}</p>
                        <A href="/spans">"Back to spans"</A>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn TraceBody(trace: TraceDetail, similar: Resource<Option<Result<String, ApiError>>>) -> impl IntoView {
    let query = use_query_map();
    let summary = trace.trace.clone();
    let trace_id = summary.trace_id.clone();
    let spans = StoredValue::new(trace.spans);
    let selected = move || {
        let wanted = query.with(|query| query.get("span"));
        spans.with_value(|spans| {
            wanted
                .and_then(|id| spans.iter().position(|span| span.summary.span_id == id))
                .or(if spans.is_empty() { None } else { Some(0) })
        })
    };
    let start = summary.start_time_ns;
    let total = summary.duration_ns.max(1) as f64;
    let rows = spans.with_value(|spans| tree_rows(spans));
    // Rows whose subtree is folded away.
    let collapsed = RwSignal::new(std::collections::HashSet::<usize>::new());
    let row_parents: StoredValue<Vec<Option<usize>>> =
        StoredValue::new(rows.iter().map(|row| row.parent_row).collect());
    let hidden = move |row: usize| {
        collapsed.with(|collapsed| {
            row_parents.with_value(|parents| {
                let mut ancestor = parents[row];
                while let Some(up) = ancestor {
                    if collapsed.contains(&up) {
                        return true;
                    }
                    ancestor = parents[up];
                }
                false
            })
        })
    };
    let export = format!("/api/v1/traces/{trace_id}/export");
    let export_as = |format: &str| format!("{export}?format={format}");
    let (export_otlp, export_zipkin, export_jaeger) =
        (export_as("otlp"), export_as("zipkin"), export_as("jaeger"));
    view! {
        <div class="trace-page">
        <header class="page-header">
            <h1>{summary.root_span_name.clone().unwrap_or_else(|| "Trace".to_owned())}</h1>
            <p class="lead trace-facts">
                <span>{summary.service_name.clone()}</span>
                <span class="mono">{use_display_zone().timestamp(summary.start_time_ns)} " " {use_display_zone().name}</span>
                <span>{format::duration(summary.duration_ns)}</span>
                <span>{format!("{} spans", summary.span_count)}</span>
                {(summary.error_count > 0).then(|| view! { <span class="status status-error">{format!("{} errors", summary.error_count)}</span> })}
                <span>{format!("{} in / {} out tokens", format::count(summary.input_tokens), format::count(summary.output_tokens))}</span>
                <span>{format::cost(Some(summary.cost_nanos))}{(summary.unpriced_spans > 0).then_some(" + unpriced")}</span>
            </p>
            <div class="button-row button-row-start">
                <span class="mono muted">{trace_id.clone()}</span>
                <CopyButton value=trace_id.clone() label="trace id" />
                <a class="button button-small" href=export download>"Export JSON"</a>
                <a class="button button-small" href=export_otlp download>"Export OTLP/JSON"</a>
                <a class="button button-small" href=export_zipkin download title="Zipkin v2 JSON">"Zipkin"</a>
                <a class="button button-small" href=export_jaeger download title="Jaeger JSON">"Jaeger"</a>
            </div>
        </header>
        <div class="trace-layout">
            <section class="waterfall" aria-label="Span tree" data-testid="waterfall">
                {rows.into_iter().enumerate().map(|(row, TreeRow { span: index, depth, descendants, .. })| {
                    let span = spans.with_value(|spans| spans[index].clone());
                    let left = (span.summary.start_time_ns - start) as f64 / total * 100.0;
                    let width = (span.summary.duration_ns as f64 / total * 100.0).max(0.4);
                    let href = format!("/traces/{}?span={}", span.summary.trace_id, span.summary.span_id);
                    let error = span.summary.status_code == "error";
                    let is_collapsed = move || collapsed.with(|collapsed| collapsed.contains(&row));
                    let toggle = move |_| collapsed.update(|collapsed| {
                        if !collapsed.remove(&row) {
                            collapsed.insert(row);
                        }
                    });
                    let row_class = move || if selected() == Some(index) { "waterfall-row selected" } else { "waterfall-row" };
                    view! {
                        <div class=row_class class:hidden=move || hidden(row) style=format!("--depth: {depth}")>
                        // A sibling laid over the row's link: a button may not sit inside a link.
                        <span class="waterfall-toggle">
                            {(descendants > 0).then(|| view! {
                                <button type="button" class="tree-toggle" on:click=toggle
                                    aria-expanded=move || (!is_collapsed()).to_string()
                                    aria-label=move || format!("{} {} spans below", if is_collapsed() { "Show" } else { "Hide" }, descendants)
                                    title=move || if is_collapsed() { format!("Show {descendants} spans below") } else { format!("Hide {descendants} spans below") }>
                                    {move || if is_collapsed() { "▸" } else { "▾" }}
                                </button>
                            })}
                        </span>
                        <A href=href attr:class="waterfall-link">
                            <span class="waterfall-label">
                                <KindBadge kind=span.summary.llm_kind.clone() />
                                <span class="waterfall-name" title=span.summary.name.clone()>{span.summary.name.clone()}</span>
                                {span.summary.flagged.then(flagged_badge)}
                                {move || is_collapsed().then(|| view! { <span class="folded-count">{format!("+{descendants}")}</span> })}
                            </span>
                            <span class="waterfall-track">
                                <span class="waterfall-bar" class:bar-error=error
                                    style=format!("left: {}%; width: {}%", format::fixed(left, 3), format::fixed(width.min(100.0 - left.min(99.6)), 3))></span>
                            </span>
                            <span class="waterfall-duration mono">{format::duration(span.summary.duration_ns)}</span>
                        </A>
                        </div>
                    }
                }).collect_view()}
            </section>
            <section class="span-detail" aria-label="Selected span" data-testid="span-detail">
                {move || selected().map(|index| spans.with_value(|spans| view! { <SpanDetail span=spans[index].clone() similar /> }))}
            </section>
        </div>
        </div>
    }
}

/// The size cap's mark on the span's diff, if ingest cut it: its original
/// size and the SHA-256 of the whole value.
fn diff_truncation(details: &serde_json::Value) -> Option<(usize, String)> {
    details["policy"]["truncated"]
        .as_array()?
        .iter()
        .find(|mark| {
            matches!(
                mark["field"].as_str(),
                Some("diff" | "attributes.tool.output.diff")
            )
        })
        .and_then(|mark| {
            let bytes = usize::try_from(mark["original_bytes"].as_u64()?).ok()?;
            Some((bytes, mark["sha256"].as_str().unwrap_or_default().to_owned()))
        })
}

#[component]
fn SpanDetail(span: SpanView, similar: Resource<Option<Result<String, ApiError>>>) -> impl IntoView {
    let details = span.details.clone();
    let truncated_diff = diff_truncation(&details);
    let redactions = details["policy"]["redactions"]
        .as_object()
        .map(|kinds| {
            kinds
                .iter()
                .map(|(kind, count)| format!("{kind} × {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|text| !text.is_empty());
    let cost = if span.summary.unpriced {
        "unpriced".to_owned()
    } else {
        format::cost(span.summary.cost_nanos)
    };
    let parameters = details["parameters"].as_object().cloned().unwrap_or_default();
    view! {
        <h2 class="span-detail-title"><KindBadge kind=span.summary.llm_kind.clone() /> " " {span.summary.name.clone()} {span.summary.flagged.then(flagged_badge)}</h2>
        <dl class="facts">
            <dt>"Trace id"</dt><dd class="mono">{span.summary.trace_id.clone()} <CopyButton value=span.summary.trace_id.clone() label="trace id" /></dd>
            <dt>"Span id"</dt><dd class="mono">{span.summary.span_id.clone()} <CopyButton value=span.summary.span_id.clone() label="span id" /></dd>
            <dt>"Parent id"</dt><dd class="mono">{span.summary.parent_span_id.clone().map(|parent| view! { {parent.clone()} <CopyButton value=parent label="parent id" /> }.into_any()).unwrap_or_else(|| "—".into_any())}</dd>
            <dt>"Service"</dt><dd>{span.summary.service_name.clone()}</dd>
            <dt>"Started"</dt><dd class="mono">{use_display_zone().timestamp(span.summary.start_time_ns)} " " {use_display_zone().name}</dd>
            <dt>"Duration"</dt><dd>{format::duration(span.summary.duration_ns)}</dd>
            <dt>"Status"</dt><dd>{span.summary.status_code.clone()}{span.status_message.clone().map(|message| format!(": {message}"))}</dd>
            {span.summary.model.clone().map(|model| view! { <dt>"Model"</dt><dd>{model}</dd> })}
            {span.summary.provider.clone().map(|provider| view! { <dt>"Provider"</dt><dd>{provider}</dd> })}
            {span.summary.tool_name.clone().map(|tool| view! { <dt>"Tool"</dt><dd>{tool}</dd> })}
            {span.tool_call_id.clone().map(|id| view! { <dt>"Tool call id"</dt><dd class="mono">{id}</dd> })}
            {(span.summary.tokens.input.is_some() || span.summary.tokens.output.is_some()).then(|| view! {
                <dt>"Tokens"</dt>
                <dd>{format!(
                    "{} in ({} cached) / {} out",
                    format::count(span.summary.tokens.input.unwrap_or_default()),
                    format::count(span.summary.tokens.cache_read.unwrap_or_default()),
                    format::count(span.summary.tokens.output.unwrap_or_default())
                )}</dd>
                <dt>"Cost"</dt><dd>{cost.clone()}</dd>
            })}
            {(!parameters.is_empty()).then(|| view! {
                <dt>"Parameters"</dt>
                <dd class="mono">{parameters.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join("  ")}</dd>
            })}
            {span.summary.session_id.clone().map(|id| view! { <dt>"Session"</dt><dd class="mono">{id}</dd> })}
            {span.summary.end_user_id.clone().map(|id| view! { <dt>"End user"</dt><dd class="mono">{id}</dd> })}
            {redactions.map(|text| view! { <dt>"Redacted"</dt><dd><span class="badge badge-warning">{text}</span></dd> })}
            {decision_view(&details["decision"])}
        </dl>
        {span.prompt.clone().map(|prompt| view! { <h3>"Prompt"</h3><Conversation text=prompt /> })}
        {(span.summary.llm_kind == "request" && span.prompt.is_some()).then(|| view! {
            <ServerHtml html=similar class="similar-prompts" />
        })}
        {span.completion.clone().map(|completion| view! { <h3>"Completion"</h3><Conversation text=completion /> })}
        {span.tool_arguments.clone().map(|arguments| view! { <h3>"Tool arguments"</h3><pre class="code-block">{pretty_json(&arguments)}</pre> })}
        {span.tool_result.clone().map(|result| view! { <h3>"Tool result"</h3><pre class="code-block">{pretty_json(&result)}</pre> })}
        {span.diff.clone().map(|diff| view! { <h3>"Diff"</h3><DiffView diff truncated=truncated_diff.clone() /> })}
        <h3>"Attributes"</h3>
        <KeyValues value=details["attributes"].clone() />
        <h3>"Resource"</h3>
        <KeyValues value=details["resource"].clone() />
        {details["events"].as_array().filter(|events| !events.is_empty()).map(|events| view! {
            <h3>"Events"</h3>
            {events.iter().map(|event| view! {
                <p class="mono">{event["name"].as_str().unwrap_or_default().to_owned()} " · " {use_display_zone().timestamp(event["time_ns"].as_i64().unwrap_or_default())}</p>
                <KeyValues value=event["attributes"].clone() />
            }).collect_view()}
        })}
        {details["links"].as_array().filter(|links| !links.is_empty()).map(|links| view! {
            <h3>"Links"</h3>
            <ul>{links.iter().map(|link| {
                let trace = link["trace_id"].as_str().unwrap_or_default().to_owned();
                let span_id = link["span_id"].as_str().unwrap_or_default().to_owned();
                view! { <li class="mono"><A href=format!("/traces/{trace}?span={span_id}")>{format!("{trace} / {span_id}")}</A></li> }
            }).collect_view()}</ul>
        })}
    }
}

/// The governance decision the span's `specula.decision_id` names: the
/// answer, the policy version and every reason.
fn decision_view(decision: &Value) -> Option<impl IntoView + use<>> {
    let action = decision["action"].as_str()?.to_owned();
    let badge = match action.as_str() {
        "deny" => "badge badge-danger",
        "allow" => "badge badge-muted",
        _ => "badge badge-warning",
    };
    let routed = decision["routed_model"]
        .as_str()
        .filter(|routed| Some(*routed) != decision["model"].as_str())
        .map(|routed| format!(" to {routed}"));
    let summary = format!(
        "{}policy v{} · decision {}",
        routed.map(|to| format!("{to} · ")).unwrap_or_default(),
        decision["policy_version"],
        decision["id"].as_str().unwrap_or_default()
    );
    let reasons: Vec<String> = decision["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|reason| {
            format!(
                "{} ({}): {}",
                reason["kind"].as_str().unwrap_or_default(),
                reason["rule_id"].as_str().unwrap_or_default(),
                reason["detail"].as_str().unwrap_or_default()
            )
        })
        .collect();
    Some(view! {
        <dt>"Decision"</dt>
        <dd class="decision">
            <span class=badge>{action}</span> " " <span class="muted">{summary}</span>
            <ul class="decision-reasons">{reasons.into_iter().map(|reason| view! { <li>{reason}</li> }).collect_view()}</ul>
        </dd>
    })
}

fn pretty_json(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| text.to_owned())
}

#[component]
fn KeyValues(value: Value) -> impl IntoView {
    let pairs: Vec<(String, String)> = value
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(key, value)| {
                    let shown = match value {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    (key.clone(), shown)
                })
                .collect()
        })
        .unwrap_or_default();
    if pairs.is_empty() {
        return view! { <p class="muted">"None"</p> }.into_any();
    }
    view! {
        <table class="table kv-table">
            <tbody>
                {pairs.into_iter().map(|(key, value)| view! {
                    <tr><th scope="row" class="mono">{key}</th><td class="mono kv-value">{value}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// One message of a conversation, whatever the dialect wrote.
#[derive(Clone, Debug, PartialEq)]
struct ChatMessage {
    role: String,
    parts: Vec<ChatPart>,
}

#[derive(Clone, Debug, PartialEq)]
enum ChatPart {
    Text(String),
    ToolCall { name: String, arguments: String },
    ToolResult(String),
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

fn tool_call(value: &Value) -> ChatPart {
    let function = value.get("function").unwrap_or(value);
    ChatPart::ToolCall {
        name: text_of(&function["name"]),
        arguments: pretty_json(&text_of(&function["arguments"])),
    }
}

/// Messages from OTel GenAI parts (`{role, parts: [{type, content}]}`), or
/// chat-completion style (`{role, content, tool_calls}`); `None` for plain text.
fn chat_messages(text: &str) -> Option<Vec<ChatMessage>> {
    let Ok(Value::Array(messages)) = serde_json::from_str::<Value>(text) else {
        return None;
    };
    Some(
        messages
            .iter()
            .map(|message| {
                let mut parts = Vec::new();
                if let Some(items) = message["parts"].as_array() {
                    for part in items {
                        parts.push(match part["type"].as_str() {
                            Some("tool_call") => tool_call(part),
                            Some("tool_call_response") => ChatPart::ToolResult(text_of(&part["response"])),
                            _ => ChatPart::Text(text_of(part.get("content").unwrap_or(part))),
                        });
                    }
                }
                match &message["content"] {
                    Value::Null => {}
                    Value::Array(items) => parts.extend(items.iter().map(|item| {
                        ChatPart::Text(text_of(item.get("text").or(item.get("content")).unwrap_or(item)))
                    })),
                    content if message["role"] == "tool" => {
                        parts.push(ChatPart::ToolResult(text_of(content)))
                    }
                    content => parts.push(ChatPart::Text(text_of(content))),
                }
                if let Some(calls) = message["tool_calls"].as_array() {
                    parts.extend(calls.iter().map(tool_call));
                }
                ChatMessage {
                    role: message["role"].as_str().unwrap_or("message").to_owned(),
                    parts,
                }
            })
            .collect(),
    )
}

#[component]
fn Conversation(text: String) -> impl IntoView {
    match chat_messages(&text) {
        // Plain text reads as prose: wrapped, with its line breaks kept.
        None => view! { <pre class="code-block wrap-block">{text}</pre> }.into_any(),
        Some(messages) => view! {
            <div class="chat">
                {messages.into_iter().map(|message| view! {
                    <div class=format!("chat-message chat-{}", message.role)>
                        <div class="chat-role">{message.role.clone()}</div>
                        {message.parts.into_iter().map(|part| match part {
                            ChatPart::Text(text) => view! { <div class="chat-text">{text}</div> }.into_any(),
                            ChatPart::ToolCall { name, arguments } => view! {
                                <div class="tool-card"><div class="tool-card-title">"Tool call · " <strong>{name}</strong></div><pre class="code-block">{arguments}</pre></div>
                            }.into_any(),
                            ChatPart::ToolResult(result) => view! {
                                <div class="tool-card"><div class="tool-card-title">"Tool result"</div><pre class="code-block">{result}</pre></div>
                            }.into_any(),
                        }).collect_view()}
                    </div>
                }).collect_view()}
            </div>
        }
        .into_any(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn span(id: &str, parent: Option<&str>) -> SpanView {
        serde_json::from_value(json!({
            "trace_id": "t", "span_id": id, "parent_span_id": parent, "name": id, "span_kind": "internal",
            "llm_kind": "other", "service_name": "s", "start_time_ns": 0, "end_time_ns": 1, "duration_ns": 1,
            "status_code": "ok", "status_message": null, "operation": null, "provider": null, "model": null,
            "tokens": {"input": null, "output": null, "cache_read": null, "cache_write": null, "reasoning": null},
            "tool_name": null, "tool_call_id": null, "session_id": null, "end_user_id": null, "cost_nanos": null,
            "unpriced": false, "prompt": null, "completion": null, "tool_arguments": null, "tool_result": null,
            "diff": null, "details": {}
        }))
        .unwrap()
    }

    #[test]
    fn only_a_diff_the_size_cap_cut_is_marked_truncated() {
        assert_eq!(diff_truncation(&json!({})), None, "no policy marks");
        assert_eq!(
            diff_truncation(&json!({"policy": {"truncated": [
                {"field": "attributes.tool.output.diff", "original_bytes": 190_000, "sha256": "ab"}
            ]}})),
            Some((190_000, "ab".to_owned()))
        );
        assert_eq!(
            diff_truncation(&json!({"policy": {"truncated": [
                {"field": "prompt", "original_bytes": 90_000, "sha256": "cd"}
            ]}})),
            None,
            "another value was cut"
        );
    }

    #[test]
    fn the_tree_puts_children_under_parents() {
        let spans = [
            span("root", None),
            span("a", Some("root")),
            span("b", Some("root")),
            span("a1", Some("a")),
            span("orphan", Some("missing")),
        ];
        let order: Vec<(&str, usize)> = tree_order(&spans)
            .into_iter()
            .map(|(index, depth)| (spans[index].summary.span_id.as_str(), depth))
            .collect();
        assert_eq!(order, [("root", 0), ("a", 1), ("a1", 2), ("b", 1), ("orphan", 0)]);
    }

    #[test]
    fn rows_know_their_parent_and_what_folding_hides() {
        let spans = [
            span("root", None),
            span("a", Some("root")),
            span("b", Some("root")),
            span("a1", Some("a")),
            span("a1x", Some("a1")),
            span("orphan", Some("missing")),
        ];
        let rows = tree_rows(&spans);
        let named: Vec<(&str, Option<usize>, usize)> = rows
            .iter()
            .map(|row| {
                (
                    spans[row.span].summary.span_id.as_str(),
                    row.parent_row,
                    row.descendants,
                )
            })
            .collect();
        assert_eq!(
            named,
            [
                ("root", None, 4),
                ("a", Some(0), 2),
                ("a1", Some(1), 1),
                ("a1x", Some(2), 0),
                ("b", Some(0), 0),
                ("orphan", None, 0),
            ]
        );
    }

    #[test]
    fn conversations_from_each_shape() {
        let otel = r#"[{"role":"user","parts":[{"type":"text","content":"fix it"}]},{"role":"assistant","parts":[{"type":"tool_call","name":"apply_patch","arguments":{"path":"a.rs"}}]}]"#;
        let messages = chat_messages(otel).unwrap();
        assert_eq!(messages[0].parts, [ChatPart::Text("fix it".into())]);
        assert!(matches!(&messages[1].parts[0], ChatPart::ToolCall { name, .. } if name == "apply_patch"));
        let chat = r#"[{"role":"tool","content":"42","tool_call_id":"c"},{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{}"}}]}]"#;
        let messages = chat_messages(chat).unwrap();
        assert_eq!(messages[0].parts, [ChatPart::ToolResult("42".into())]);
        assert!(matches!(&messages[1].parts[0], ChatPart::ToolCall { name, .. } if name == "f"));
        assert_eq!(chat_messages("plain text"), None);
    }
}
