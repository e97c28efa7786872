//! Email notifications over SMTP (lettre): STARTTLS (required, never
//! skipped) or TLS from the first byte, with the channel's credentials.
//! The server's name is resolved and checked like a webhook's host, and
//! the connection is made to the address checked, the certificate verified
//! against the name.

use std::{net::IpAddr, time::Duration};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::{
        authentication::Credentials,
        client::{Certificate, Tls, TlsParameters},
    },
};

use super::notify::{Notification, email_parts};
use crate::{
    alerts::types::SmtpSecurity,
    platform::services::outbound::{Outbound, describe, is_public},
};

const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

/// An email channel's server and addresses.
#[derive(Debug, Clone)]
pub struct Mailer<'a> {
    pub host: &'a str,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    pub from: &'a str,
    pub to: &'a [String],
}

/// How a send went: the server's reply code, or why none came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Accepted(u16),
    Rejected {
        code: Option<u16>,
        message: String,
        permanent: bool,
    },
}

/// Sends `notification` through `mailer`; `extra_roots` are PEM
/// certificates trusted beside the public roots (an internal relay's CA).
pub async fn send(
    mailer: &Mailer<'_>,
    outbound: &Outbound,
    extra_roots: Option<&[u8]>,
    notification: &Notification,
) -> Sent {
    match try_send(mailer, outbound, extra_roots, notification).await {
        Ok(code) => Sent::Accepted(code),
        Err(rejected) => rejected,
    }
}

async fn try_send(
    mailer: &Mailer<'_>,
    outbound: &Outbound,
    extra_roots: Option<&[u8]>,
    notification: &Notification,
) -> Result<u16, Sent> {
    let permanent = |message: String| Sent::Rejected {
        code: None,
        message,
        permanent: true,
    };
    let address = resolve(mailer.host, mailer.port, outbound.allows_private()).await?;
    let (subject, text, html) = email_parts(notification);
    let mailbox = |text: &str| {
        text.parse::<Mailbox>()
            .map_err(|err| permanent(format!("{text:?}: {err}")))
    };
    let mut message = Message::builder().from(mailbox(mailer.from)?).subject(subject);
    for recipient in mailer.to {
        message = message.to(mailbox(recipient)?);
    }
    let message = message
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|err| permanent(err.to_string()))?;
    let mut tls = TlsParameters::builder(mailer.host.to_owned());
    if let Some(pem) = extra_roots {
        for certificate in pem_certificates(pem) {
            let certificate =
                Certificate::from_pem(&certificate).map_err(|err| permanent(err.to_string()))?;
            tls = tls.add_root_certificate(certificate);
        }
    }
    let tls = tls.build_rustls().map_err(|err| permanent(err.to_string()))?;
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address.to_string())
        .port(mailer.port)
        .timeout(Some(SMTP_TIMEOUT))
        .tls(match mailer.security {
            SmtpSecurity::Starttls => Tls::Required(tls),
            SmtpSecurity::Tls => Tls::Wrapper(tls),
        });
    if let (Some(username), Some(password)) = (mailer.username, mailer.password) {
        transport = transport.credentials(Credentials::new(username.to_owned(), password.to_owned()));
    }
    match transport.build().send(message).await {
        Ok(response) => Ok(u16::from(response.code())),
        Err(err) => Err(Sent::Rejected {
            code: err.status().map(u16::from),
            permanent: err.is_permanent(),
            message: describe(&err),
        }),
    }
}

/// The SMTP server's address, refused (permanently) unless public or allowed.
async fn resolve(host: &str, port: u16, allow_private: bool) -> Result<IpAddr, Sent> {
    let found: Vec<IpAddr> = match tokio::net::lookup_host((host, port)).await {
        Ok(found) => found.map(|address| address.ip()).collect(),
        Err(err) => {
            return Err(Sent::Rejected {
                code: None,
                message: format!("could not resolve {host}: {err}"),
                permanent: false,
            });
        }
    };
    found
        .iter()
        .copied()
        .find(|address| allow_private || is_public(*address))
        .ok_or_else(|| Sent::Rejected {
            code: None,
            message: format!(
                "{host} resolves to no public address (private ranges are refused unless the installation \
                 sets SPECULA_ALERTS_ALLOW_PRIVATE_NETWORKS)"
            ),
            permanent: true,
        })
}

/// Each `-----BEGIN CERTIFICATE-----` block of a PEM bundle.
fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(pem);
    const END: &str = "-----END CERTIFICATE-----";
    text.split_inclusive(END)
        .filter_map(|part| {
            part.find("-----BEGIN CERTIFICATE-----")
                .map(|start| part.as_bytes()[start..].to_vec())
        })
        .filter(|block| block.ends_with(END.as_bytes()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_split_into_certificates() {
        let bundle = b"junk\n-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n\
                       -----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----\ntrailing";
        let blocks = pem_certificates(bundle);
        assert_eq!(blocks.len(), 2);
        assert!(String::from_utf8_lossy(&blocks[1]).contains("BBB"));
    }

    #[tokio::test]
    async fn private_mail_servers_are_refused_unless_allowed() {
        let refused = resolve("127.0.0.1", 25, false).await.unwrap_err();
        assert!(
            matches!(refused, Sent::Rejected { permanent: true, .. }),
            "{refused:?}"
        );
        assert_eq!(
            resolve("127.0.0.1", 25, true).await.unwrap(),
            IpAddr::from([127, 0, 0, 1])
        );
    }
}
