//! Copy-paste setup for OpenTelemetry exporters, with this server's endpoint
//! and the user's token filled in. Pure text, so every variant is tested.

/// Shown where a token belongs until the user has one.
pub const TOKEN_PLACEHOLDER: &str = "<your-ingest-token>";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snippet {
    pub id: &'static str,
    pub label: &'static str,
    pub code: String,
}

/// The snippets for `base_url` (e.g. `https://specula.example.com`, no
/// trailing slash) and `token` (`None` leaves a placeholder).
pub fn snippets(base_url: &str, token: Option<&str>) -> Vec<Snippet> {
    let token = token
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .unwrap_or(TOKEN_PLACEHOLDER);
    let traces = format!("{base_url}/v1/traces");
    vec![
        Snippet {
            id: "shell",
            label: "Environment",
            // Header values in OTEL_EXPORTER_OTLP_HEADERS are percent-encoded: %20 is the space.
            code: format!(
                "export OTEL_EXPORTER_OTLP_ENDPOINT=\"{base_url}\"\n\
                 export OTEL_EXPORTER_OTLP_PROTOCOL=\"http/protobuf\"\n\
                 export OTEL_EXPORTER_OTLP_HEADERS=\"Authorization=Bearer%20{token}\"\n"
            ),
        },
        Snippet {
            id: "python",
            label: "Python",
            code: format!(
                "# pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http\n\
                 from opentelemetry import trace\n\
                 from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter\n\
                 from opentelemetry.sdk.trace import TracerProvider\n\
                 from opentelemetry.sdk.trace.export import BatchSpanProcessor\n\
                 \n\
                 provider = TracerProvider()\n\
                 provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(\n\
                 \x20   endpoint=\"{traces}\",\n\
                 \x20   headers={{\"Authorization\": \"Bearer {token}\"}},\n\
                 )))\n\
                 trace.set_tracer_provider(provider)\n"
            ),
        },
        Snippet {
            id: "typescript",
            label: "TypeScript",
            code: format!(
                "// npm install @opentelemetry/sdk-trace-node @opentelemetry/exporter-trace-otlp-proto\n\
                 import {{ BatchSpanProcessor, NodeTracerProvider }} from \"@opentelemetry/sdk-trace-node\";\n\
                 import {{ OTLPTraceExporter }} from \"@opentelemetry/exporter-trace-otlp-proto\";\n\
                 \n\
                 const exporter = new OTLPTraceExporter({{\n\
                 \x20 url: \"{traces}\",\n\
                 \x20 headers: {{ Authorization: \"Bearer {token}\" }},\n\
                 }});\n\
                 const provider = new NodeTracerProvider({{ spanProcessors: [new BatchSpanProcessor(exporter)] }});\n\
                 provider.register();\n"
            ),
        },
        Snippet {
            id: "rust",
            label: "Rust",
            code: format!(
                "// cargo add opentelemetry opentelemetry_sdk opentelemetry-otlp --features opentelemetry-otlp/http-proto\n\
                 use std::collections::HashMap;\n\
                 use opentelemetry_otlp::{{SpanExporter, WithExportConfig, WithHttpConfig}};\n\
                 use opentelemetry_sdk::trace::SdkTracerProvider;\n\
                 \n\
                 let exporter = SpanExporter::builder()\n\
                 \x20   .with_http()\n\
                 \x20   .with_endpoint(\"{traces}\")\n\
                 \x20   .with_headers(HashMap::from([(\"Authorization\".into(), \"Bearer {token}\".into())]))\n\
                 \x20   .build()?;\n\
                 let provider = SdkTracerProvider::builder().with_batch_exporter(exporter).build();\n\
                 opentelemetry::global::set_tracer_provider(provider);\n"
            ),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_snippet_carries_the_endpoint_and_the_token() {
        let token = "spk_0123456789abcdefghijABCDEFGHIJkl";
        let all = snippets("https://specula.example.com", Some(token));
        assert_eq!(
            all.iter().map(|s| s.id).collect::<Vec<_>>(),
            ["shell", "python", "typescript", "rust"]
        );
        for snippet in &all {
            assert!(snippet.code.contains(token), "{}", snippet.id);
            assert!(
                snippet.code.contains("https://specula.example.com"),
                "{}",
                snippet.id
            );
            assert!(!snippet.code.contains(TOKEN_PLACEHOLDER), "{}", snippet.id);
        }
        assert!(
            all[0]
                .code
                .contains("OTEL_EXPORTER_OTLP_HEADERS=\"Authorization=Bearer%20spk_")
        );
        assert!(
            all[1]
                .code
                .contains("endpoint=\"https://specula.example.com/v1/traces\"")
        );
        assert!(
            all[1]
                .code
                .contains("    headers={\"Authorization\": \"Bearer spk_"),
            "{}",
            all[1].code
        );
        assert!(
            all[2]
                .code
                .contains("  url: \"https://specula.example.com/v1/traces\"")
        );
        assert!(
            all[3]
                .code
                .contains(".with_endpoint(\"https://specula.example.com/v1/traces\")")
        );
    }

    #[test]
    fn a_missing_token_leaves_a_placeholder() {
        for token in [None, Some(""), Some("   ")] {
            assert!(
                snippets("http://localhost:4318", token)
                    .iter()
                    .all(|s| s.code.contains(TOKEN_PLACEHOLDER))
            );
        }
    }
}
