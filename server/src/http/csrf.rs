//! Cross-site request forgery defence for cookie-authenticated mutations.
//!
//! A browser attaches the session cookie to cross-site requests too, so an
//! unsafe request (POST, PUT, PATCH, DELETE) that carries a cookie and no
//! bearer token must come from our own origin. Browsers say where a request
//! comes from in `Sec-Fetch-Site` (all current ones) or `Origin`; a request
//! with neither is not from a browser and cannot ride on a victim's cookie.
//! `SameSite=Lax` cookies are a second line of defence.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use app::error::AppError;

/// The origins this server is reached at, e.g. `https://specula.example.com`.
#[derive(Clone, Debug)]
pub struct TrustedOrigins {
    public_origin: String,
}

impl TrustedOrigins {
    pub fn new(public_url: &str) -> Self {
        let public_origin = url::Url::parse(public_url)
            .map(|url| url.origin().ascii_serialization())
            .unwrap_or_else(|_| public_url.trim_end_matches('/').to_owned());
        Self { public_origin }
    }

    /// True for our public origin, or the origin of the `Host` the request was sent to.
    fn accepts(&self, origin: &str, headers: &HeaderMap) -> bool {
        if origin == self.public_origin {
            return true;
        }
        let host = headers.get(header::HOST).and_then(|host| host.to_str().ok());
        let origin_host = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        matches!((host, origin_host), (Some(host), Some(origin_host)) if host == origin_host)
    }
}

/// Decides whether a request may proceed; `Err` names the reason.
pub fn check(origins: &TrustedOrigins, method: &Method, headers: &HeaderMap) -> Result<(), &'static str> {
    let safe = matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    let cookie_auth = headers.contains_key(header::COOKIE) && !headers.contains_key(header::AUTHORIZATION);
    if safe || !cookie_auth {
        return Ok(());
    }
    if let Some(site) = headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
    {
        return match site {
            "same-origin" | "none" => Ok(()),
            _ => Err("cross-site request refused"),
        };
    }
    match headers.get(header::ORIGIN).map(|value| value.to_str()) {
        None => Ok(()),
        Some(Ok(origin)) if origins.accepts(origin, headers) => Ok(()),
        Some(_) => Err("cross-origin request refused"),
    }
}

pub async fn refuse_cross_site(
    State(origins): State<TrustedOrigins>,
    request: Request,
    next: Next,
) -> Response {
    match check(&origins, request.method(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(reason) => {
            tracing::warn!(method = %request.method(), path = %request.uri().path(), reason, "CSRF check failed");
            AppError::Forbidden(reason).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn cookie_mutations_need_our_origin() {
        let origins = TrustedOrigins::new("https://specula.example.com/");
        let post = Method::POST;
        let cookie = ("cookie", "specula_session=abc");
        let ok = |pairs: &[(&'static str, &str)]| check(&origins, &post, &headers(pairs)).is_ok();

        assert!(ok(&[cookie, ("sec-fetch-site", "same-origin")]));
        assert!(ok(&[cookie, ("sec-fetch-site", "none")]));
        assert!(!ok(&[cookie, ("sec-fetch-site", "cross-site")]));
        assert!(!ok(&[cookie, ("sec-fetch-site", "same-site")]));
        assert!(ok(&[cookie, ("origin", "https://specula.example.com")]));
        assert!(!ok(&[cookie, ("origin", "https://evil.example")]));
        assert!(ok(&[
            cookie,
            ("origin", "http://127.0.0.1:4318"),
            ("host", "127.0.0.1:4318")
        ]));
        assert!(!ok(&[cookie, ("origin", "null")]));
        // Not a browser: no ambient credentials to abuse.
        assert!(ok(&[cookie]));
        // Bearer tokens are not sent automatically by browsers.
        assert!(ok(&[
            cookie,
            ("authorization", "Bearer x"),
            ("sec-fetch-site", "cross-site")
        ]));
        // No cookie, nothing to forge.
        assert!(ok(&[("sec-fetch-site", "cross-site")]));
        // Reads are always allowed.
        assert!(
            check(
                &origins,
                &Method::GET,
                &headers(&[cookie, ("sec-fetch-site", "cross-site")])
            )
            .is_ok()
        );
    }
}
