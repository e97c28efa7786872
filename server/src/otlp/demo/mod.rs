//! The demo workload behind "Run demo": a week of three services' agent
//! runs as their OpenTelemetry SDKs would export them (GenAI spans with
//! prompts and completions, tool calls with diffs, errors and retries, end
//! users and sessions) and the GenAI client metrics that go with them.
//! Every request is encoded as OTLP/protobuf and ingested through
//! [`export_traces`] and [`export_metrics`], decoded like an exporter's.
//!
//! The workload is drawn from a generator seeded with its marker, so one
//! marker always gives the same data.

use std::collections::BTreeMap;

use app::{
    accounts::services::tokens::TokenPrincipal,
    error::{AppError, Result},
    state::{AppState, DemoCounts, DemoIngest},
    telemetry::services::demo_workload::MARKER_ATTRIBUTE,
};
use opentelemetry_proto::tonic::{
    collector::{metrics::v1::ExportMetricsServiceRequest, trace::v1::ExportTraceServiceRequest},
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
    metrics::v1::{
        AggregationTemporality, Histogram, HistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics, metric,
    },
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span::SpanKind, status::StatusCode},
};
use prost::Message;
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::json;

mod runs;

use super::{
    decode::{decode, prepare_metrics_json, prepare_trace_json},
    encoding::Encoding,
    error::IngestError,
    export::{export_metrics, export_traces},
    observe::Transport,
};
use runs::{coding_run, research_run, support_run};

/// Agent runs in the week.
const TRACES: usize = 300;
/// Of them, how many ran in the last two hours (the Spans page opens on recent spans).
const RECENT_TRACES: usize = 24;
/// Traces per export request, as an SDK's batch processor would send them.
const TRACES_PER_EXPORT: usize = 25;

const SECOND_NS: i64 = 1_000_000_000;
const MINUTE_NS: i64 = 60 * SECOND_NS;
const HOUR_NS: i64 = 60 * MINUTE_NS;
const DAY_NS: i64 = 24 * HOUR_NS;

/// Sends the demo workload through the OTLP ingest path.
#[derive(Debug, Default)]
pub struct OtlpDemo;

#[async_trait::async_trait]
impl DemoIngest for OtlpDemo {
    async fn ingest(
        &self,
        state: &AppState,
        principal: &TokenPrincipal,
        marker: &str,
        now_ns: i64,
    ) -> Result<DemoCounts> {
        let workload = Workload::generate(marker, now_ns)?;
        let mut counts = DemoCounts {
            traces: workload.traces as u64,
            ..DemoCounts::default()
        };
        for request in workload.trace_exports {
            let sent: usize = request
                .resource_spans
                .iter()
                .flat_map(|resource| &resource.scope_spans)
                .map(|scope| scope.spans.len())
                .sum();
            let body = request.encode_to_vec();
            let answer = export_traces(state, principal, Transport::Demo, move || {
                decode::<ExportTraceServiceRequest>(Encoding::Protobuf, &body, prepare_trace_json)
            })
            .await
            .result
            .map_err(app_error)?;
            let rejected = answer.partial_success.map_or(0, |partial| partial.rejected_spans);
            counts.spans += (sent as u64).saturating_sub(rejected.max(0) as u64);
        }
        let sent: usize = workload
            .metrics_export
            .resource_metrics
            .iter()
            .flat_map(|resource| &resource.scope_metrics)
            .flat_map(|scope| &scope.metrics)
            .map(|metric| match &metric.data {
                Some(metric::Data::Histogram(histogram)) => histogram.data_points.len(),
                _ => 0,
            })
            .sum();
        let body = workload.metrics_export.encode_to_vec();
        let answer = export_metrics(state, principal, move || {
            decode::<ExportMetricsServiceRequest>(Encoding::Protobuf, &body, prepare_metrics_json)
        })
        .await
        .result
        .map_err(app_error)?;
        let rejected = answer
            .partial_success
            .map_or(0, |partial| partial.rejected_data_points);
        counts.metric_points = (sent as u64).saturating_sub(rejected.max(0) as u64);
        Ok(counts)
    }
}

fn app_error(err: IngestError) -> AppError {
    match err {
        IngestError::Overloaded | IngestError::ShuttingDown | IngestError::Unavailable(_) => {
            AppError::Unavailable("the server is busy; try the demo again in a moment")
        }
        IngestError::Refused(refusal) => AppError::RateLimited {
            message: format!("the demo workload was refused part way: {}", refusal.message),
            retry_after_secs: refusal.retry_after_secs,
        },
        other => AppError::Internal(format!("the demo workload was refused: {other}")),
    }
}

/// A model as the demo's agents call it.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Model {
    provider: &'static str,
    request: &'static str,
    /// The dated name the provider answers with.
    response: &'static str,
    server: &'static str,
    reasoning: bool,
}

const GPT_4O: Model = Model {
    provider: "openai",
    request: "gpt-4o",
    response: "gpt-4o-2024-08-06",
    server: "api.openai.com",
    reasoning: false,
};
const O4_MINI: Model = Model {
    provider: "openai",
    request: "o4-mini",
    response: "o4-mini-2025-04-16",
    server: "api.openai.com",
    reasoning: true,
};
const SONNET: Model = Model {
    provider: "anthropic",
    request: "claude-sonnet-4-5",
    response: "claude-sonnet-4-5-20250929",
    server: "api.anthropic.com",
    reasoning: false,
};
const HAIKU: Model = Model {
    provider: "anthropic",
    request: "claude-haiku-4-5",
    response: "claude-haiku-4-5-20251001",
    server: "api.anthropic.com",
    reasoning: false,
};

/// A service of the demo and the SDK it exports with.
struct Service {
    name: &'static str,
    version: &'static str,
    language: &'static str,
    scope: &'static str,
}

const SUPPORT: Service = Service {
    name: "demo-support-bot",
    version: "2.3.1",
    language: "python",
    scope: "opentelemetry.instrumentation.anthropic",
};
const CODER: Service = Service {
    name: "demo-code-agent",
    version: "0.9.4",
    language: "nodejs",
    scope: "@opentelemetry/instrumentation-genai",
};
const RESEARCH: Service = Service {
    name: "demo-research-assistant",
    version: "1.4.0",
    language: "python",
    scope: "opentelemetry.instrumentation.openai_v2",
};
const SERVICES: [&Service; 3] = [&SUPPORT, &CODER, &RESEARCH];

/// Token-usage histogram buckets the GenAI conventions advise.
const TOKEN_BUCKETS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];
/// Operation-duration histogram buckets (seconds) the GenAI conventions advise.
const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// The workload's requests, ready to send.
struct Workload {
    traces: usize,
    trace_exports: Vec<ExportTraceServiceRequest>,
    metrics_export: ExportMetricsServiceRequest,
}

/// One model call, remembered for the metrics.
struct Call {
    service: &'static str,
    model: &'static Model,
    start_ns: i64,
    duration_ns: i64,
    input_tokens: i64,
    output_tokens: i64,
    error_type: Option<&'static str>,
}

impl Workload {
    fn generate(marker: &str, now_ns: i64) -> Result<Self> {
        let seed = u64::from_str_radix(marker, 16)
            .map_err(|_| AppError::Internal(format!("not a demo marker: {marker}")))?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut marker_bytes = [0u8; 8];
        hex::decode_to_slice(marker, &mut marker_bytes)
            .map_err(|_| AppError::Internal(format!("not a demo marker: {marker}")))?;

        let mut traces: Vec<(&'static Service, Vec<Span>)> = Vec::with_capacity(TRACES);
        let mut calls = Vec::new();
        for index in 0..TRACES {
            let start_ns = start_time(&mut rng, now_ns, index < RECENT_TRACES);
            let mut trace = TraceBuilder::new(&mut rng, marker_bytes, start_ns);
            let service = match trace.rng.random_range(0..100) {
                0..45 => support_run(&mut trace),
                45..75 => coding_run(&mut trace),
                _ => research_run(&mut trace),
            };
            // Runs that would end in the future are moved back to end a minute ago.
            let overrun = trace.end_ns() - (now_ns - MINUTE_NS);
            if overrun > 0 {
                trace.shift(-overrun);
            }
            calls.extend(trace.calls.drain(..).map(|call| Call {
                service: service.name,
                ..call
            }));
            traces.push((service, trace.spans));
        }
        traces.sort_by_key(|(_, spans)| spans.first().map_or(0, |span| span.start_time_unix_nano));

        let trace_exports = traces
            .chunks(TRACES_PER_EXPORT)
            .map(|batch| {
                let resource_spans = SERVICES
                    .iter()
                    .filter_map(|service| {
                        let spans: Vec<Span> = batch
                            .iter()
                            .filter(|(owner, _)| owner.name == service.name)
                            .flat_map(|(_, spans)| spans.iter().cloned())
                            .collect();
                        (!spans.is_empty()).then(|| ResourceSpans {
                            resource: Some(resource(service, marker)),
                            scope_spans: vec![ScopeSpans {
                                scope: Some(scope(service)),
                                spans,
                                schema_url: String::new(),
                            }],
                            schema_url: String::new(),
                        })
                    })
                    .collect();
                ExportTraceServiceRequest { resource_spans }
            })
            .collect();
        Ok(Self {
            traces: traces.len(),
            trace_exports,
            metrics_export: metrics(&calls, marker, now_ns),
        })
    }
}

/// When a run starts: mostly in working hours over the last seven days;
/// `recent` ones in the last two hours.
fn start_time(rng: &mut StdRng, now_ns: i64, recent: bool) -> i64 {
    if recent {
        return now_ns - rng.random_range(3 * MINUTE_NS..2 * HOUR_NS);
    }
    let day_start = now_ns - now_ns.rem_euclid(DAY_NS) - rng.random_range(0..7) * DAY_NS;
    // Two busy stretches (UTC): Europe's and America's working days.
    let hour = if rng.random_bool(0.8) {
        *[7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21]
            .choose(rng)
            .expect("not empty")
    } else {
        rng.random_range(0..24)
    };
    let start = day_start + hour * HOUR_NS + rng.random_range(0..HOUR_NS);
    if start >= now_ns - 10 * MINUTE_NS {
        start - DAY_NS
    } else {
        start
    }
}

/// Builds one trace's spans, front to back.
struct TraceBuilder<'r> {
    rng: &'r mut StdRng,
    trace_id: Vec<u8>,
    /// Where the next span starts.
    cursor_ns: i64,
    spans: Vec<Span>,
    calls: Vec<Call>,
    /// Session and end user of the run, on every model call.
    context: Vec<KeyValue>,
}

/// What a model call sends and answers.
struct Chat<'a> {
    agent: &'a str,
    model: &'static Model,
    system: &'a str,
    user: &'a str,
    answer: Answer<'a>,
    input_tokens: i64,
    output_tokens: i64,
    cache_read: i64,
    cache_write: i64,
    temperature: f64,
}

enum Answer<'a> {
    Text(&'a str),
    ToolCall {
        id: &'a str,
        name: &'a str,
        arguments: serde_json::Value,
    },
}

/// What a tool call did.
struct Tool<'a> {
    name: &'a str,
    call_id: &'a str,
    arguments: serde_json::Value,
    result: &'a str,
    diff: Option<&'a str>,
    error: Option<&'a str>,
    duration_ms: i64,
}

impl<'r> TraceBuilder<'r> {
    fn new(rng: &'r mut StdRng, marker: [u8; 8], start_ns: i64) -> Self {
        let mut trace_id = marker.to_vec();
        trace_id.extend(rng.random::<[u8; 8]>());
        Self {
            rng,
            trace_id,
            cursor_ns: start_ns,
            spans: Vec::new(),
            calls: Vec::new(),
            context: Vec::new(),
        }
    }

    fn span_id(&mut self) -> Vec<u8> {
        // Never all zeros, which OTLP reserves for "no span".
        let mut id = self.rng.random::<[u8; 8]>();
        id[0] |= 1;
        id.to_vec()
    }

    fn end_ns(&self) -> i64 {
        self.spans
            .iter()
            .map(|span| span.end_time_unix_nano as i64)
            .max()
            .unwrap_or(self.cursor_ns)
    }

    fn shift(&mut self, by_ns: i64) {
        for span in &mut self.spans {
            span.start_time_unix_nano = (span.start_time_unix_nano as i64 + by_ns) as u64;
            span.end_time_unix_nano = (span.end_time_unix_nano as i64 + by_ns) as u64;
        }
        for call in &mut self.calls {
            call.start_ns += by_ns;
        }
    }

    /// Opens an agent span; close it with [`Self::close`] once its children are added.
    fn agent(&mut self, parent: Option<&[u8]>, agent: &str, description: &str) -> usize {
        let span_id = self.span_id();
        let mut attributes = vec![
            string("gen_ai.operation.name", "invoke_agent"),
            string("gen_ai.agent.name", agent),
            string("gen_ai.agent.description", description),
        ];
        attributes.extend(self.context.iter().cloned());
        self.spans.push(Span {
            trace_id: self.trace_id.clone(),
            span_id,
            parent_span_id: parent.map(<[u8]>::to_vec).unwrap_or_default(),
            name: format!("invoke_agent {agent}"),
            kind: SpanKind::Internal as i32,
            start_time_unix_nano: self.cursor_ns as u64,
            end_time_unix_nano: self.cursor_ns as u64,
            attributes,
            status: Some(Status::default()),
            ..Span::default()
        });
        self.cursor_ns += self.rng.random_range(5..40) * 1_000_000;
        self.spans.len() - 1
    }

    fn close(&mut self, index: usize, error: Option<&str>) {
        self.cursor_ns += self.rng.random_range(2..20) * 1_000_000;
        let span = &mut self.spans[index];
        span.end_time_unix_nano = self.cursor_ns as u64;
        if let Some(message) = error {
            span.status = Some(Status {
                code: StatusCode::Error as i32,
                message: message.to_owned(),
            });
        }
    }

    fn id_of(&self, index: usize) -> Vec<u8> {
        self.spans[index].span_id.clone()
    }

    /// A model call under `parent`; `failure` makes it fail with that error type.
    fn chat(&mut self, parent: &[u8], chat: &Chat, failure: Option<(&'static str, &str)>) {
        let model = chat.model;
        let span_id = self.span_id();
        let duration_ns = match failure {
            Some(_) => self.rng.random_range(150..900) * 1_000_000,
            // Time to first token plus output at the model's pace.
            None => {
                (self.rng.random_range(300..1200) + chat.output_tokens * self.rng.random_range(8..25))
                    * 1_000_000
            }
        };
        let input_messages = json!([{"role": "user", "parts": [{"type": "text", "content": chat.user}]}]);
        let mut attributes = vec![
            string("gen_ai.operation.name", "chat"),
            string("gen_ai.provider.name", model.provider),
            string("gen_ai.request.model", model.request),
            string("gen_ai.agent.name", chat.agent),
            double("gen_ai.request.temperature", chat.temperature),
            int("gen_ai.request.max_tokens", 4096),
            string("server.address", model.server),
            int("server.port", 443),
            string(
                "gen_ai.system_instructions",
                &json!([{"type": "text", "content": chat.system}]).to_string(),
            ),
            string("gen_ai.input.messages", &input_messages.to_string()),
        ];
        attributes.extend(self.context.iter().cloned());
        let mut status = Status::default();
        let (input_tokens, output_tokens) = match failure {
            Some((error_type, message)) => {
                attributes.push(string("error.type", error_type));
                status = Status {
                    code: StatusCode::Error as i32,
                    message: message.to_owned(),
                };
                (0, 0)
            }
            None => {
                let (finish_reason, parts) = match &chat.answer {
                    Answer::Text(text) => ("stop", json!([{"type": "text", "content": text}])),
                    Answer::ToolCall { id, name, arguments } => (
                        "tool_calls",
                        json!([{"type": "tool_call", "id": id, "name": name, "arguments": arguments}]),
                    ),
                };
                let output = json!([{"role": "assistant", "parts": parts, "finish_reason": finish_reason}]);
                attributes.extend([
                    string("gen_ai.response.model", model.response),
                    string(
                        "gen_ai.response.id",
                        &format!("resp_{}", hex::encode(self.rng.random::<[u8; 6]>())),
                    ),
                    strings("gen_ai.response.finish_reasons", &[finish_reason]),
                    string("gen_ai.output.messages", &output.to_string()),
                    int("gen_ai.usage.input_tokens", chat.input_tokens),
                    int("gen_ai.usage.output_tokens", chat.output_tokens),
                ]);
                if chat.cache_read > 0 {
                    attributes.push(int("gen_ai.usage.cache_read.input_tokens", chat.cache_read));
                }
                if chat.cache_write > 0 {
                    attributes.push(int("gen_ai.usage.cache_creation.input_tokens", chat.cache_write));
                }
                if model.reasoning {
                    let reasoning = chat.output_tokens * self.rng.random_range(40..75) / 100;
                    attributes.push(int("gen_ai.usage.reasoning.output_tokens", reasoning));
                }
                (chat.input_tokens, chat.output_tokens)
            }
        };
        self.push_child(
            span_id,
            parent,
            format!("chat {}", model.request),
            SpanKind::Client,
            duration_ns,
            attributes,
            status,
        );
        self.calls.push(Call {
            service: "",
            model,
            start_ns: self.cursor_ns,
            duration_ns,
            input_tokens,
            output_tokens,
            error_type: failure.map(|(error_type, _)| error_type),
        });
        self.cursor_ns += duration_ns + self.rng.random_range(5..60) * 1_000_000;
    }

    /// A finished span under `parent`, starting at the cursor.
    #[allow(clippy::too_many_arguments)] // A span's fields, named where it is built.
    fn push_child(
        &mut self,
        span_id: Vec<u8>,
        parent: &[u8],
        name: String,
        kind: SpanKind,
        duration_ns: i64,
        attributes: Vec<KeyValue>,
        status: Status,
    ) {
        self.spans.push(Span {
            trace_id: self.trace_id.clone(),
            span_id,
            parent_span_id: parent.to_vec(),
            name,
            kind: kind as i32,
            start_time_unix_nano: self.cursor_ns as u64,
            end_time_unix_nano: (self.cursor_ns + duration_ns) as u64,
            attributes,
            status: Some(status),
            ..Span::default()
        });
    }

    /// A tool execution under `parent`.
    fn tool(&mut self, parent: &[u8], tool: &Tool) {
        let span_id = self.span_id();
        let duration_ns = tool.duration_ms * 1_000_000;
        let mut attributes = vec![
            string("gen_ai.operation.name", "execute_tool"),
            string("gen_ai.tool.name", tool.name),
            string("gen_ai.tool.type", "function"),
            string("gen_ai.tool.call.id", tool.call_id),
            string("gen_ai.tool.call.arguments", &tool.arguments.to_string()),
            string("gen_ai.tool.call.result", tool.result),
        ];
        if let Some(diff) = tool.diff {
            attributes.push(string("tool.output.diff", diff));
        }
        let status = match tool.error {
            Some(message) => {
                attributes.push(string("error.type", "tool_error"));
                Status {
                    code: StatusCode::Error as i32,
                    message: message.to_owned(),
                }
            }
            None => Status::default(),
        };
        self.push_child(
            span_id,
            parent,
            format!("execute_tool {}", tool.name),
            SpanKind::Internal,
            duration_ns,
            attributes,
            status,
        );
        self.cursor_ns += duration_ns + self.rng.random_range(2..30) * 1_000_000;
    }

    fn call_id(&mut self) -> String {
        format!("call_{}", hex::encode(self.rng.random::<[u8; 6]>()))
    }

    /// A rate-limit or overload answer before the call that succeeds, now and then.
    fn maybe_fail_first(&mut self, parent: &[u8], chat: &Chat) {
        if self.rng.random_bool(0.08) {
            let failure = match chat.model.provider {
                "anthropic" => (
                    "overloaded_error",
                    "529 Overloaded: the API is temporarily overloaded",
                ),
                _ => (
                    "rate_limit_exceeded",
                    "429 Rate limit reached for requests per minute; retry after 2 s",
                ),
            };
            self.chat(parent, chat, Some(failure));
            // The SDK's backoff before the retry.
            self.cursor_ns += self.rng.random_range(1_000..4_000) * 1_000_000;
        }
        self.chat(parent, chat, None);
    }
}

fn resource(service: &Service, marker: &str) -> Resource {
    Resource {
        attributes: vec![
            string("service.name", service.name),
            string("service.version", service.version),
            string("deployment.environment.name", "demo"),
            string("telemetry.sdk.name", "opentelemetry"),
            string("telemetry.sdk.language", service.language),
            string(MARKER_ATTRIBUTE, marker),
        ],
        ..Resource::default()
    }
}

fn scope(service: &Service) -> InstrumentationScope {
    InstrumentationScope {
        name: service.scope.to_owned(),
        version: "0.1.0".to_owned(),
        ..InstrumentationScope::default()
    }
}

/// The GenAI client metrics of the calls, as hourly delta histograms per
/// service, model and token type (and error type for durations).
fn metrics(calls: &[Call], marker: &str, now_ns: i64) -> ExportMetricsServiceRequest {
    type Key = (&'static str, &'static Model, i64, Option<&'static str>);
    let mut tokens: BTreeMap<(Key, &'static str), Vec<f64>> = BTreeMap::new();
    let mut durations: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    for call in calls {
        let hour = call.start_ns - call.start_ns.rem_euclid(HOUR_NS);
        let key = (call.service, call.model, hour, call.error_type);
        durations
            .entry(key)
            .or_default()
            .push(call.duration_ns as f64 / 1e9);
        if call.error_type.is_none() {
            let key = (call.service, call.model, hour, None);
            tokens
                .entry((key, "input"))
                .or_default()
                .push(call.input_tokens as f64);
            tokens
                .entry((key, "output"))
                .or_default()
                .push(call.output_tokens as f64);
        }
    }
    let point = |key: &Key, values: &[f64], bounds: &[f64], extra: Vec<KeyValue>| {
        let (_, model, hour, error_type) = *key;
        let mut attributes = vec![
            string("gen_ai.operation.name", "chat"),
            string("gen_ai.provider.name", model.provider),
            string("gen_ai.request.model", model.request),
            string("gen_ai.response.model", model.response),
        ];
        attributes.extend(error_type.map(|error_type| string("error.type", error_type)));
        attributes.extend(extra);
        let mut bucket_counts = vec![0u64; bounds.len() + 1];
        for value in values {
            bucket_counts[bounds.partition_point(|bound| bound < value)] += 1;
        }
        HistogramDataPoint {
            attributes,
            start_time_unix_nano: hour as u64,
            time_unix_nano: (hour + HOUR_NS).min(now_ns) as u64,
            count: values.len() as u64,
            sum: Some(values.iter().sum()),
            bucket_counts,
            explicit_bounds: bounds.to_vec(),
            min: values.iter().copied().reduce(f64::min),
            max: values.iter().copied().reduce(f64::max),
            ..HistogramDataPoint::default()
        }
    };
    let resource_metrics = SERVICES
        .iter()
        .map(|service| {
            let token_points = tokens
                .iter()
                .filter(|((key, _), _)| key.0 == service.name)
                .map(|((key, token_type), values)| {
                    point(
                        key,
                        values,
                        &TOKEN_BUCKETS,
                        vec![string("gen_ai.token.type", token_type)],
                    )
                })
                .collect();
            let duration_points = durations
                .iter()
                .filter(|(key, _)| key.0 == service.name)
                .map(|(key, values)| point(key, values, &DURATION_BUCKETS, Vec::new()))
                .collect();
            ResourceMetrics {
                resource: Some(resource(service, marker)),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(scope(service)),
                    metrics: vec![
                        histogram(
                            "gen_ai.client.token.usage",
                            "Number of input and output tokens used",
                            "{token}",
                            token_points,
                        ),
                        histogram(
                            "gen_ai.client.operation.duration",
                            "GenAI operation duration",
                            "s",
                            duration_points,
                        ),
                    ],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }
        })
        .collect();
    ExportMetricsServiceRequest { resource_metrics }
}

fn histogram(name: &str, description: &str, unit: &str, data_points: Vec<HistogramDataPoint>) -> Metric {
    Metric {
        name: name.to_owned(),
        description: description.to_owned(),
        unit: unit.to_owned(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points,
            aggregation_temporality: AggregationTemporality::Delta as i32,
        })),
        ..Metric::default()
    }
}

fn value(value: any_value::Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(value) })
}

fn key_value(key: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value,
        ..KeyValue::default()
    }
}

fn string(key: &str, text: &str) -> KeyValue {
    key_value(key, value(any_value::Value::StringValue(text.to_owned())))
}

fn strings(key: &str, texts: &[&str]) -> KeyValue {
    let values = texts
        .iter()
        .map(|text| AnyValue {
            value: Some(any_value::Value::StringValue((*text).to_owned())),
        })
        .collect();
    key_value(
        key,
        value(any_value::Value::ArrayValue(
            opentelemetry_proto::tonic::common::v1::ArrayValue { values },
        )),
    )
}

fn int(key: &str, number: i64) -> KeyValue {
    key_value(key, value(any_value::Value::IntValue(number)))
}

fn double(key: &str, number: f64) -> KeyValue {
    key_value(key, value(any_value::Value::DoubleValue(number)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_NS: i64 = 1_780_000_000_000_000_000;

    fn spans(workload: &Workload) -> Vec<&Span> {
        workload
            .trace_exports
            .iter()
            .flat_map(|request| &request.resource_spans)
            .flat_map(|resource| &resource.scope_spans)
            .flat_map(|scope| &scope.spans)
            .collect()
    }

    fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a any_value::Value> {
        span.attributes
            .iter()
            .find(|attribute| attribute.key == key)
            .and_then(|attribute| attribute.value.as_ref()?.value.as_ref())
    }

    #[test]
    fn one_marker_gives_the_same_workload() {
        let first = Workload::generate("0123456789abcdef", NOW_NS).unwrap();
        let again = Workload::generate("0123456789abcdef", NOW_NS).unwrap();
        let other = Workload::generate("fedcba9876543210", NOW_NS).unwrap();
        assert_eq!(first.trace_exports, again.trace_exports);
        assert_ne!(first.trace_exports, other.trace_exports);
        assert!(Workload::generate("not hex", NOW_NS).is_err());
    }

    #[test]
    fn a_week_of_marked_traces_that_end_in_the_past() {
        let workload = Workload::generate("0123456789abcdef", NOW_NS).unwrap();
        assert_eq!(workload.traces, TRACES);
        let spans = spans(&workload);
        assert!(spans.len() > 5 * TRACES, "{} spans", spans.len());
        for span in &spans {
            assert_eq!(hex::encode(&span.trace_id[..8]), "0123456789abcdef");
            assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
            assert!((span.end_time_unix_nano as i64) < NOW_NS);
            assert!((span.start_time_unix_nano as i64) > NOW_NS - 8 * DAY_NS);
        }
        let recent = spans
            .iter()
            .filter(|span| span.start_time_unix_nano as i64 > NOW_NS - 2 * HOUR_NS)
            .count();
        assert!(recent > 0);
        for request in &workload.trace_exports {
            for resource in &request.resource_spans {
                let marked = resource
                    .resource
                    .as_ref()
                    .unwrap()
                    .attributes
                    .iter()
                    .any(|attribute| {
                        attribute.key == MARKER_ATTRIBUTE
                            && attribute.value
                                == value(any_value::Value::StringValue("0123456789abcdef".to_owned()))
                    });
                assert!(marked);
            }
        }
    }

    #[test]
    fn models_errors_retries_tools_diffs_users_and_sessions() {
        let workload = Workload::generate("00000000000000a1", NOW_NS).unwrap();
        let spans = spans(&workload);
        let text = |span: &Span, key: &str| match attribute(span, key) {
            Some(any_value::Value::StringValue(text)) => Some(text.clone()),
            _ => None,
        };
        let models: std::collections::BTreeSet<String> = spans
            .iter()
            .filter_map(|span| text(span, "gen_ai.request.model"))
            .collect();
        assert_eq!(
            models.into_iter().collect::<Vec<_>>(),
            ["claude-haiku-4-5", "claude-sonnet-4-5", "gpt-4o", "o4-mini"]
        );
        let errors = spans
            .iter()
            .filter(|span| {
                span.status
                    .as_ref()
                    .is_some_and(|status| status.code == StatusCode::Error as i32)
            })
            .count();
        assert!(errors > 10, "{errors} errors");
        assert!(
            spans
                .iter()
                .any(|span| text(span, "error.type").as_deref() == Some("rate_limit_exceeded"))
        );
        assert!(spans.iter().any(|span| text(span, "tool.output.diff").is_some()));
        assert!(
            spans
                .iter()
                .any(|span| attribute(span, "gen_ai.usage.reasoning.output_tokens").is_some())
        );
        assert!(
            spans
                .iter()
                .any(|span| attribute(span, "gen_ai.usage.cache_read.input_tokens").is_some())
        );
        assert!(
            spans
                .iter()
                .any(|span| attribute(span, "gen_ai.usage.cache_creation.input_tokens").is_some())
        );
        let users: std::collections::BTreeSet<String> =
            spans.iter().filter_map(|span| text(span, "user.id")).collect();
        assert!(users.len() >= 6);
        let sessions: std::collections::BTreeSet<String> = spans
            .iter()
            .filter_map(|span| text(span, "gen_ai.conversation.id"))
            .collect();
        assert!(sessions.len() > 10 && sessions.len() < TRACES);
        let services: std::collections::BTreeSet<&str> = workload
            .trace_exports
            .iter()
            .flat_map(|request| &request.resource_spans)
            .flat_map(|resource| &resource.resource.as_ref().unwrap().attributes)
            .filter(|attribute| attribute.key == "service.name")
            .filter_map(|attribute| match attribute.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(name) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(services.len(), 3);
        assert!(services.iter().all(|name| name.starts_with("demo-")));
    }

    #[test]
    fn metrics_count_every_call() {
        let workload = Workload::generate("0123456789abcdef", NOW_NS).unwrap();
        let chats = spans(&workload)
            .into_iter()
            .filter(|span| span.name.starts_with("chat "))
            .count() as u64;
        let counted: u64 = workload
            .metrics_export
            .resource_metrics
            .iter()
            .flat_map(|resource| &resource.scope_metrics)
            .flat_map(|scope| &scope.metrics)
            .filter(|metric| metric.name == "gen_ai.client.operation.duration")
            .flat_map(|metric| match &metric.data {
                Some(metric::Data::Histogram(histogram)) => histogram.data_points.iter(),
                _ => [].iter(),
            })
            .map(|point| {
                assert_eq!(point.bucket_counts.iter().sum::<u64>(), point.count);
                point.count
            })
            .sum();
        assert_eq!(counted, chats);
    }
}
