//! The REST API's rate limits: a request made with an API token takes one
//! from its organization's API bucket (and its token's, when the policy
//! gives it one); over the limit it gets 429 with `Retry-After`. Every
//! answer to such a request carries `RateLimit-Policy` and `RateLimit`.
//! Requests made from a browser session are people at work, not clients in
//! a loop, and are not counted.

use app::{
    accounts::services::tokens,
    error::AppError,
    governance::services::limits::{Counted, LimitHeaders},
    platform::services::now_ns,
    state::AppState,
};
use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderName, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::bearer::bearer_secret;

pub async fn limit_api_rate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let principal = match bearer_secret(&parts) {
        // A bad or missing token is the handler's to refuse.
        Ok(Some(secret)) => tokens::authenticate(&state.db, &state.tokens, secret).await.ok(),
        _ => None,
    };
    let request = Request::from_parts(parts, body);
    let Some(principal) = principal else {
        return next.run(request).await;
    };
    let policy = match state.policies.policy_for(&state.db, principal.org_id).await {
        Ok(policy) => policy,
        Err(err) => return err.into_response(),
    };
    match state
        .limits
        .admit_api(&policy.limits, principal.org_id, principal.token_id)
        .await
    {
        Ok(limits) => {
            let mut response = next.run(request).await;
            insert_limit_headers(response.headers_mut(), &limits);
            response
        }
        Err(refusal) => {
            state
                .limits
                .counts
                .add(principal.org_id, Counted::RateLimitedRequest, 1, now_ns());
            let mut response = AppError::RateLimited {
                message: refusal.message,
                retry_after_secs: refusal.retry_after_secs,
            }
            .into_response();
            insert_limit_headers(response.headers_mut(), &refusal.headers);
            response
        }
    }
}

/// `RateLimit-Policy` and `RateLimit` for the limits that applied, if any.
pub fn insert_limit_headers(headers: &mut HeaderMap, limits: &LimitHeaders) {
    if limits.is_empty() {
        return;
    }
    for (name, value) in [
        ("ratelimit-policy", limits.policy()),
        ("ratelimit", limits.current()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}
