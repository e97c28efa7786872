//! Structured logs and self-tracing: one subscriber for the whole process,
//! logs human-readable or JSON, filtered by `SPECULA_LOG`, on stderr so
//! stdout stays free for command output such as `specula config`.
//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) set, the
//! process's own spans (each HTTP request, background job passes) go there
//! over OTLP/HTTP through `tracing-opentelemetry`, configured by the
//! standard `OTEL_*` variables, and JSON log lines carry the `trace_id` and
//! `span_id` they were written in. An endpoint that is this server itself
//! is left alone unless `SPECULA_TRACE_TO_SELF` asks for it: every export
//! would be traced and exported again.

use std::{io::IsTerminal, net::SocketAddr};

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use tracing::Subscriber;
use tracing_subscriber::{
    EnvFilter,
    fmt::{self, FmtContext, FormatEvent, FormatFields, format::Writer},
    prelude::*,
    registry::LookupSpan,
};

use crate::config::{LogFormat, ServeConfig};

/// What the process sends its own spans to; flushed by [`SelfTracing::shutdown`].
pub struct SelfTracing {
    provider: SdkTracerProvider,
    endpoint: String,
    /// The gRPC exporter's runtime (tonic's connection lives on one), kept
    /// until the provider has flushed.
    grpc_runtime: Option<tokio::runtime::Runtime>,
}

impl SelfTracing {
    /// Where the spans go.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Exports what is still batched; call once the server has stopped.
    pub fn shutdown(self) {
        if let Err(err) = self.provider.shutdown() {
            tracing::warn!(error = %err, "self-tracing: the last spans were not exported");
        }
        if let Some(runtime) = self.grpc_runtime {
            runtime.shutdown_background();
        }
    }
}

/// Why self-tracing is not on, when it is not.
#[derive(Debug, PartialEq, Eq)]
pub enum Off {
    /// No endpoint, `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
    NotConfigured,
    /// The endpoint is this server, and `SPECULA_TRACE_TO_SELF` is not set.
    WouldTraceItself(String),
}

/// Installs the global subscriber: the log filter (validated by the config
/// parser), the log format, and self-tracing when the `OTEL_*` variables
/// ask for it (for `specula serve`; other commands pass no config).
pub fn init(
    filter: &str,
    format: LogFormat,
    serve: Option<&ServeConfig>,
) -> anyhow::Result<Result<SelfTracing, Off>> {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.trim().is_empty());
    let tracing = match serve {
        Some(config) => self_tracing(config, &env)?,
        None => Err(Off::NotConfigured),
    };
    let otel_layer = tracing.as_ref().ok().map(|tracing| {
        tracing_opentelemetry::layer()
            .with_tracer(tracing.provider.tracer("specula"))
            .with_location(false)
            .with_threads(false)
    });
    let filter = EnvFilter::builder().parse(filter)?;
    let registry = tracing_subscriber::registry().with(filter).with(otel_layer);
    match format {
        LogFormat::Pretty => registry
            .with(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .try_init()?,
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .map_event_format(WithTraceIds),
            )
            .try_init()?,
    }
    if tracing.is_ok() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
    }
    Ok(tracing)
}

/// The exporter and provider the `OTEL_*` variables describe, if any.
fn self_tracing(
    config: &ServeConfig,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Result<SelfTracing, Off>> {
    let protocol = env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_else(|| "http/protobuf".to_owned());
    let protocol = match protocol.as_str() {
        "http/protobuf" => Protocol::HttpBinary,
        "http/json" => Protocol::HttpJson,
        "grpc" => Protocol::Grpc,
        other => anyhow::bail!(
            "OTEL_EXPORTER_OTLP_PROTOCOL={other}: Specula exports its own spans over grpc, http/protobuf \
             or http/json; set one of them or leave it unset (http/protobuf)"
        ),
    };
    let endpoint = match traces_endpoint(env, protocol) {
        Some(endpoint) => endpoint,
        None => return Ok(Err(Off::NotConfigured)),
    };
    if !config.trace_to_self && is_this_server(&endpoint, config) {
        return Ok(Err(Off::WouldTraceItself(endpoint)));
    }
    // The builders read the endpoint, headers, timeout and compression
    // from the same variables.
    let mut grpc_runtime = None;
    let exporter = match protocol {
        Protocol::Grpc => {
            // Tonic's connection runs on a runtime of its own, made here
            // before the server's, and the batch processor's thread sends through it.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("self-tracing")
                .enable_all()
                .build()?;
            let exporter =
                runtime.block_on(async { opentelemetry_otlp::SpanExporter::builder().with_tonic().build() });
            grpc_runtime = Some(runtime);
            exporter
        }
        _ => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .build(),
    }
    .map_err(|err| anyhow::anyhow!("self-tracing exporter for {endpoint}: {err}"))?;
    let mut resource = Resource::builder().with_attribute(opentelemetry::KeyValue::new(
        "service.version",
        env!("CARGO_PKG_VERSION"),
    ));
    let named = env("OTEL_SERVICE_NAME").is_some()
        || env("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|attributes| attributes.contains("service.name="));
    if !named {
        resource = resource.with_service_name("specula");
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    Ok(Ok(SelfTracing {
        provider,
        endpoint,
        grpc_runtime,
    }))
}

/// Where spans would go, as the exporters make it: for OTLP/HTTP the base
/// endpoint gets `/v1/traces`; gRPC takes the address as it is.
fn traces_endpoint(env: &impl Fn(&str) -> Option<String>, protocol: Protocol) -> Option<String> {
    if env("OTEL_SDK_DISABLED").is_some_and(|value| value.eq_ignore_ascii_case("true"))
        || env("OTEL_TRACES_EXPORTER").is_some_and(|value| value == "none")
    {
        return None;
    }
    env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| {
        env("OTEL_EXPORTER_OTLP_ENDPOINT").map(|base| match protocol {
            Protocol::Grpc => base,
            _ => format!("{}/v1/traces", base.trim_end_matches('/')),
        })
    })
}

/// Whether `endpoint` reaches this server: its public URL's host and port,
/// or a local address on one of its listening ports.
fn is_this_server(endpoint: &str, config: &ServeConfig) -> bool {
    let Ok(url) = url::Url::parse(endpoint) else {
        return false;
    };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Some(public) = &config.public_url
        && public.host_str() == url.host_str()
        && public.port_or_known_default() == Some(port)
    {
        return true;
    }
    let listening: [SocketAddr; 2] = [config.listen, config.grpc_listen];
    listening.iter().any(|address| {
        address.port() == port
            && (host == "localhost"
                || host.parse::<std::net::IpAddr>().is_ok_and(|ip| {
                    ip.is_loopback()
                        || ip.is_unspecified()
                        || ip == address.ip()
                        || address.ip().is_unspecified()
                }))
    })
}

/// JSON log lines with the `trace_id` and `span_id` of the span they were
/// written in, so a log line leads to its trace in the tracing backend.
struct WithTraceIds<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        let ids = ctx.lookup_current().and_then(|span| {
            tracing::dispatcher::get_default(|dispatch| {
                tracing_opentelemetry::get_otel_context(&span.id(), dispatch)
            })
        });
        let ids = ids.and_then(|context| {
            let span = context.span();
            let span_context = span.span_context();
            span_context
                .is_valid()
                .then(|| (span_context.trace_id(), span_context.span_id()))
        });
        match (ids, line.strip_prefix('{')) {
            (Some((trace_id, span_id)), Some(rest)) if !rest.starts_with('}') => {
                write!(
                    writer,
                    "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\",{rest}"
                )
            }
            _ => writer.write_str(&line),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::{Cli, Command};

    fn config(args: &[&str]) -> ServeConfig {
        let mut all = vec!["specula", "serve"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all).unwrap().command {
            Command::Serve(config) => config,
            _ => unreachable!(),
        }
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn the_endpoint_is_made_as_exporters_make_it() {
        assert_eq!(traces_endpoint(&env_of(&[]), Protocol::HttpBinary), None);
        assert_eq!(
            traces_endpoint(
                &env_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]),
                Protocol::HttpBinary
            ),
            Some("http://collector:4318/v1/traces".to_owned())
        );
        assert_eq!(
            traces_endpoint(
                &env_of(&[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                    (
                        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                        "https://tempo.example.com/otlp/v1/traces"
                    ),
                ]),
                Protocol::HttpBinary
            ),
            Some("https://tempo.example.com/otlp/v1/traces".to_owned())
        );
        assert_eq!(
            traces_endpoint(
                &env_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")]),
                Protocol::Grpc
            ),
            Some("http://collector:4317".to_owned())
        );
        for off in [("OTEL_SDK_DISABLED", "true"), ("OTEL_TRACES_EXPORTER", "none")] {
            let pairs: &'static [(&str, &str)] = Box::leak(
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"), off].into_boxed_slice(),
            );
            assert_eq!(traces_endpoint(&env_of(pairs), Protocol::Grpc), None, "{off:?}");
        }
    }

    #[test]
    fn this_server_is_recognised_by_its_addresses() {
        let config = config(&[
            "--listen=0.0.0.0:4318",
            "--public-url=https://specula.example.com",
        ]);
        for itself in [
            "http://localhost:4318/v1/traces",
            "http://127.0.0.1:4318/v1/traces",
            "http://[::1]:4318/v1/traces",
            "http://127.0.0.1:4317",
            "https://specula.example.com/v1/traces",
        ] {
            assert!(is_this_server(itself, &config), "{itself}");
        }
        for other in [
            "http://collector:4318/v1/traces",
            "http://127.0.0.1:14318/v1/traces",
            "https://specula.example.com:8443/v1/traces",
            "not a url",
        ] {
            assert!(!is_this_server(other, &config), "{other}");
        }
    }

    #[test]
    fn the_three_protocols_are_spoken_and_itself_is_refused_unless_asked() {
        let grpc = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        let on = self_tracing(&config(&[]), &grpc).unwrap().unwrap();
        assert_eq!(
            on.endpoint(),
            "http://collector:4317",
            "gRPC takes the address as it is"
        );
        on.shutdown();
        let json = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
        ]);
        let on = self_tracing(&config(&[]), &json).unwrap().unwrap();
        assert_eq!(on.endpoint(), "http://collector:4318/v1/traces");
        on.shutdown();
        let unknown = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
        ]);
        let error = self_tracing(&config(&[]), &unknown).err().unwrap().to_string();
        assert!(error.contains("grpc, http/protobuf or http/json"), "{error}");
        let grpc_itself = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        assert!(matches!(
            self_tracing(&config(&[]), &grpc_itself).unwrap(),
            Err(Off::WouldTraceItself(_))
        ));
        let itself = env_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")]);
        assert!(matches!(
            self_tracing(&config(&[]), &itself).unwrap(),
            Err(Off::WouldTraceItself(_))
        ));
        assert!(matches!(
            self_tracing(&config(&[]), &env_of(&[])).unwrap(),
            Err(Off::NotConfigured)
        ));
    }
}
