//! The HTTP client notifications and forwarded spans go out with, guarded
//! so that a tenant cannot use Specula to reach the network it runs in: a
//! receiver's host is
//! resolved by the client's own resolver, which drops loopback, private,
//! link-local and other non-public addresses, and the connection is made to
//! what it kept (no second lookup a DNS rebinding could answer otherwise).
//! Addresses written into the URL are checked the same way, and redirects
//! are not followed. An installation that means to reach its own network
//! (an internal receiver or collector) sets
//! `SPECULA_ALERTS_ALLOW_PRIVATE_NETWORKS` or
//! `SPECULA_FORWARDING_ALLOW_PRIVATE_NETWORKS`.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a receiver's answer is kept for the delivery's record.
const MAX_KEPT_ANSWER: usize = 300;

/// Why a URL may not be used, or a send failed before an answer came.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutboundError {
    #[error("{0}")]
    Refused(String),
    #[error("could not reach the receiver: {0}")]
    Unreachable(String),
}

/// A receiver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// The start of its body, for the record.
    pub body: String,
}

/// The guarded client (cheap to clone).
#[derive(Clone, Debug)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
}

impl Outbound {
    pub fn new(allow_private: bool) -> Self {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(PublicOnly { allow_private }))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("Specula/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client's settings are valid");
        Self {
            client,
            allow_private,
        }
    }

    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// `text` as a URL notifications may be sent to: `http` or `https`, a
    /// host, no credentials, and no address the guard refuses.
    pub fn check_url(&self, text: &str) -> Result<Url, OutboundError> {
        let url =
            Url::parse(text.trim()).map_err(|err| OutboundError::Refused(format!("not a URL: {err}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundError::Refused("the URL must be http or https".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OutboundError::Refused(
                "the URL must not carry credentials; put a token in its path or query".into(),
            ));
        }
        let literal = match url.host() {
            None => return Err(OutboundError::Refused("the URL has no host".into())),
            Some(Host::Ipv4(address)) => Some(IpAddr::V4(address)),
            Some(Host::Ipv6(address)) => Some(IpAddr::V6(address)),
            Some(Host::Domain(domain)) => domain.parse::<IpAddr>().ok(),
        };
        if let Some(address) = literal
            && !self.allow_private
            && !is_public(address)
        {
            return Err(refused_address(address));
        }
        Ok(url)
    }

    /// POSTs `body` to `url` with `headers`; the answer, whatever its status.
    pub async fn post(
        &self,
        url: &str,
        content_type: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Answer, OutboundError> {
        let url = self.check_url(url)?;
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|err| OutboundError::Unreachable(describe(&err)))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Ok(Answer {
            status,
            body: text.chars().take(MAX_KEPT_ANSWER).collect(),
        })
    }
}

/// A receiver's whole answer, for a caller that reads its body (an OTLP
/// export response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAnswer {
    pub status: u16,
    /// What `Retry-After` asked for, in seconds.
    pub retry_after_secs: Option<u64>,
    /// Its body, up to [`MAX_RAW_ANSWER`] bytes.
    pub body: Vec<u8>,
}

/// How much of a raw answer is read.
pub const MAX_RAW_ANSWER: usize = 64 * 1024;

impl Outbound {
    /// POSTs `body` to `url` with `headers` (the content type among them);
    /// the answer with its body, whatever its status.
    pub async fn post_raw(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<RawAnswer, OutboundError> {
        let url = self.check_url(url)?;
        let mut request = self.client.post(url).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request
            .send()
            .await
            .map_err(|err| OutboundError::Unreachable(describe(&err)))?;
        let status = response.status().as_u16();
        let retry_after_secs = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            let room = MAX_RAW_ANSWER - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= MAX_RAW_ANSWER {
                break;
            }
        }
        Ok(RawAnswer {
            status,
            retry_after_secs,
            body,
        })
    }
}

/// The system's lookup of `host`, keeping public addresses only unless
/// `allow_private`: for clients that connect by other means than the
/// guarded HTTP client (OTLP/gRPC).
pub async fn resolve(host: &str, port: u16, allow_private: bool) -> std::io::Result<Vec<SocketAddr>> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    let kept: Vec<SocketAddr> = found
        .iter()
        .copied()
        .filter(|address| allow_private || is_public(address.ip()))
        .collect();
    match (kept.is_empty(), found.first()) {
        (false, _) => Ok(kept),
        (true, Some(address)) => Err(std::io::Error::other(format!(
            "{host} resolves to {}",
            refused_address(address.ip())
        ))),
        (true, None) => Err(std::io::Error::other(format!("{host} has no address"))),
    }
}

/// The error and its causes in one line (reqwest's and lettre's own
/// messages name only the outermost).
pub fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn refused_address(address: IpAddr) -> OutboundError {
    OutboundError::Refused(format!(
        "{address} is not a public address (loopback, private, link-local and reserved ranges are \
         refused unless the installation sets SPECULA_ALERTS_ALLOW_PRIVATE_NETWORKS)"
    ))
}

/// The resolver: the system's lookup, keeping public addresses only.
#[derive(Debug)]
struct PublicOnly {
    allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let kept = resolve(name.as_str(), 0, allow_private).await?;
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// Whether `address` is on the public internet: not loopback, private
/// (RFC 1918, unique local), link-local, shared (CGNAT), multicast,
/// documentation, benchmarking or otherwise reserved.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    !(address.is_unspecified()
        || address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_broadcast()
        || address.is_multicast()
        || address.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    let segments = address.segments();
    !(address.is_unspecified()
        || address.is_loopback()
        || address.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        // NAT64 and the deprecated IPv4-compatible form reach IPv4 hosts.
        || (segments[0] == 0x0064 && segments[1] == 0xff9b)
        || segments[..6].iter().all(|segment| *segment == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "::127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private} must be refused");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public} must pass");
        }
    }

    #[test]
    fn urls_are_checked_before_any_lookup() {
        let guard = Outbound::new(false);
        assert!(guard.check_url("https://hooks.example.com/x?y=1").is_ok());
        for refused in [
            "http://127.0.0.1:9000/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.5/",
            "ftp://example.com/",
            "https://user:secret@example.com/",
            "not a url",
        ] {
            assert!(guard.check_url(refused).is_err(), "{refused} must be refused");
        }
        assert!(
            Outbound::new(true)
                .check_url("http://127.0.0.1:9000/hook")
                .is_ok()
        );
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_not_connected_to() {
        let guard = Outbound::new(false);
        let error = guard
            .post("http://localhost:9/hook", "application/json", &[], b"{}".to_vec())
            .await
            .unwrap_err();
        let OutboundError::Unreachable(message) = error else {
            panic!("expected the lookup to be refused, got {error:?}");
        };
        assert!(message.contains("not a public address"), "{message}");
    }
}
