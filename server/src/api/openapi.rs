//! The OpenAPI 3 description of the REST API, built from the handlers'
//! `#[utoipa::path]` attributes as the routes are registered (so a route
//! cannot exist without being documented), served at
//! `/api/v1/openapi.json` and browsable with Swagger UI at `/api/docs`.

use app::error::ErrorBody;
use utoipa::{
    IntoResponses, Modify, OpenApi,
    openapi::{
        OpenApi as Document,
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use app::accounts::services::sessions::SESSION_COOKIE;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";
/// Where Swagger UI shows it.
pub const BROWSER_PATH: &str = "/api/docs";

/// Security scheme names, as the handlers' `security(...)` refer to them.
pub const BEARER: &str = "bearer";
pub const SESSION: &str = "session";

/// The document's fixed parts; the paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Specula API",
        description = "Read spans, traces, usage and cost, manage organizations, members and API tokens. \
            Errors are `{\"error\": {\"code\", \"message\"}}`. Authenticate with \
            `Authorization: Bearer <token>` (a token minted in the UI; reads need the `read` \
            scope, OTLP ingest the `ingest` scope) or, from the browser, the session cookie. \
            Cookie-authenticated changes must come from Specula's own origin.",
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "spans", description = "Find spans, follow them live"),
        (name = "traces", description = "Trace rollups, whole traces and their export"),
        (name = "costs", description = "Usage and cost: rollups by time, model, service, agent and token; the per-span cost log; prices and cost recomputes"),
        (name = "similarity", description = "Prompts compared with prompts: similar-prompt search, abuse patterns, similarity settings and the similarity log"),
        (name = "governance", description = "The organization's policy (content capture, redaction, size limits, sampling, retention, guardrails), its versions and restores"),
        (name = "alerts", description = "Alert rules and their state, silences, the history of firings and resolves, notification channels (webhook, Slack, email) and their deliveries"),
        (name = "forwarding", description = "OTLP forwarding: destinations the organization's spans are also sent to, their counts and a test span"),
        (name = "organizations", description = "Organizations, members, invitations and the audit log"),
        (name = "tokens", description = "API tokens: minted once, stored hashed, revocable"),
        (name = "auth", description = "Sign-up, sign-in and sessions"),
        (name = "ingest", description = "OpenTelemetry (OTLP/HTTP) ingest; OTLP/gRPC serves the same on the gRPC listener"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token (`spk_…`) minted under Settings → API tokens"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The browser session set by signing in",
            ))),
        );
    }
}

/// Errors any API call can answer with.
#[derive(IntoResponses)]
#[allow(dead_code)] // Only its documentation is used.
pub enum ApiErrors {
    /// A parameter or the request body is invalid; the message says which and why.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No session, or no valid bearer token where one is accepted (`WWW-Authenticate: Bearer`).
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// The caller's role or token scope does not allow this, or a cookie-authenticated
    /// change came from another site.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Nothing by that id in the caller's organization.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// A request made with an API token is over its organization's (or the token's) API rate
    /// limit; retry after `Retry-After` seconds. Every answer to a token's request that a limit
    /// applies to states it in `RateLimit-Policy` and `RateLimit` (IETF httpapi draft).
    #[response(
        status = 429,
        headers(
            ("Retry-After" = u64, description = "Seconds to wait"),
            ("RateLimit-Policy" = String, description = "The limits: `\"org-api\";q=<burst>;w=<seconds>`"),
            ("RateLimit" = String, description = "What is left: `\"org-api\";r=<remaining>;t=<seconds>`"),
        )
    )]
    RateLimited(ErrorBody),
}

/// What a route with a JSON body can also answer.
#[derive(IntoResponses)]
#[allow(dead_code)] // Only its documentation is used.
pub enum BodyErrors {
    /// The body is larger than the server accepts (`SPECULA_MAX_BODY_SIZE`).
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The body is not sent as `application/json`.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
}

/// Too many failed attempts; retry after `Retry-After` seconds.
#[derive(IntoResponses)]
#[response(
    status = 429,
    headers(("Retry-After" = u64, description = "Seconds to wait"))
)]
#[allow(dead_code)] // Only its documentation is used.
pub struct Throttled(ErrorBody);

/// The change conflicts with what exists (a duplicate, the last owner…).
#[derive(IntoResponses)]
#[response(status = 409)]
#[allow(dead_code)] // Only its documentation is used.
pub struct Conflict(ErrorBody);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_schemes_are_declared() {
        let document = ApiDoc::openapi();
        let schemes = &document.components.expect("components").security_schemes;
        assert!(schemes.contains_key(BEARER));
        assert!(schemes.contains_key(SESSION));
    }
}
