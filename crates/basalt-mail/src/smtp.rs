//! [`SmtpMailer`]: the [`Mailer`] that speaks SMTP (lettre on tokio, TLS by rustls with the
//! aws-lc-rs provider and the platform's certificate store), and its [`SmtpConfig`].
//!
//! The configuration URL:
//!
//! ```text
//! smtp://[user[:password]@]host[:port]?from=SENDER[&tls=starttls|none]
//! smtps://[user[:password]@]host[:port]?from=SENDER
//! ```
//!
//! - `smtps://` is TLS from the first byte (port 465 unless given).
//! - `smtp://` upgrades with STARTTLS and fails if the server cannot (port 587 unless given).
//!   `tls=none` sends in clear text (port 25 unless given): only for a relay on the same host
//!   or a development catcher such as Mailpit.
//! - `from` (required) is the sender, `noreply@example.com` or `Example <noreply@example.com>`,
//!   percent-encoded as any query value. User and password are percent-decoded.

#[cfg(test)]
mod tests;

use std::fmt;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use percent_encoding::percent_decode_str;
use url::{Host, Url};

use crate::error::MailError;
use crate::mailer::{Mail, Mailer};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Clear text. Credentials and links travel readable by anyone on the path.
    None,
    /// Plain connection upgraded with STARTTLS; sending fails if the server does not offer it.
    StartTls,
    /// TLS from the first byte ("implicit TLS", SMTPS).
    Tls,
}

impl SmtpTls {
    /// The port used when the URL names none: 25, 587 or 465.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::None => 25,
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
        }
    }
}

/// Where and how to send mail. `Debug` never prints the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// The SMTP server's host name or IP address (no brackets around IPv6).
    pub host: String,
    /// The SMTP server's port.
    pub port: u16,
    /// The user to authenticate as; `None` sends without authenticating.
    pub username: Option<String>,
    /// The password for `username`.
    pub password: Option<String>,
    /// How the connection is protected.
    pub tls: SmtpTls,
    /// The sender of every mail: `noreply@example.com` or `Example <noreply@example.com>`.
    pub from: String,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .field("from", &self.from)
            .finish()
    }
}

impl SmtpConfig {
    /// Reads an `smtp://` or `smtps://` URL (see the module documentation).
    pub fn from_url(raw: &str) -> Result<SmtpConfig, MailError> {
        let url = Url::parse(raw).map_err(|e| config_error(format!("not a URL ({e})")))?;
        let mut tls = match url.scheme() {
            "smtp" => SmtpTls::StartTls,
            "smtps" => SmtpTls::Tls,
            other => {
                return Err(config_error(format!(
                    "unsupported scheme {other:?}; use smtp://, smtps:// or log:"
                )));
            }
        };
        let host = match url.host() {
            Some(Host::Domain(name)) if !name.is_empty() => name.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(config_error("the URL names no host")),
        };
        if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
            return Err(config_error("the URL must not have a path or fragment"));
        }
        let mut from = None;
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("from", sender) => from = Some(sender.to_owned()),
                ("tls", "starttls" | "required") if tls == SmtpTls::StartTls => {}
                ("tls", "none") if tls == SmtpTls::StartTls => tls = SmtpTls::None,
                ("tls", other) => {
                    return Err(config_error(format!(
                        "tls={other:?} is not valid for {}://; use tls=starttls or tls=none \
                         with smtp://, and nothing with smtps://",
                        url.scheme()
                    )));
                }
                (other, _) => {
                    return Err(config_error(format!(
                        "unknown parameter {other:?}; known: from, tls"
                    )));
                }
            }
        }
        let from = from.filter(|f| !f.is_empty()).ok_or_else(|| {
            config_error("the sender is missing: add ?from=noreply%40example.com to the URL")
        })?;
        let username = decode(url.username())?;
        let password = url.password().map(decode).transpose()?.flatten();
        if username.is_none() && password.is_some() {
            return Err(config_error("a password is given without a user name"));
        }
        Ok(SmtpConfig {
            port: url.port().unwrap_or(tls.default_port()),
            host,
            username,
            password,
            tls,
            from,
        })
    }
}

/// Sends mail through one SMTP server, opening a connection per message.
#[derive(Debug, Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// A mailer for `config`. Checks the sender address and the TLS settings; it does not
    /// connect (see [`SmtpMailer::check_connection`]).
    pub fn new(config: SmtpConfig) -> Result<SmtpMailer, MailError> {
        let from = mailbox(&config.from)?;
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls_parameters(&config.host)?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters(&config.host)?),
        };
        if config.tls == SmtpTls::None && config.username.is_some() {
            tracing::warn!(
                host = %config.host,
                "SMTP credentials are configured without TLS; they will travel in clear text"
            );
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls);
        if let Some(username) = config.username {
            builder = builder.credentials(Credentials::new(
                username,
                config.password.unwrap_or_default(),
            ));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
        })
    }

    /// Connects, greets the server (with STARTTLS and login as configured) and quits: a
    /// start-up check that the configuration reaches a server that accepts it.
    pub async fn check_connection(&self) -> Result<(), MailError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(MailError::Unavailable(
                "the SMTP server did not answer NOOP".into(),
            )),
            Err(e) => Err(smtp_error(e)),
        }
    }

    /// The message `mail` becomes: our sender, its recipient, plain text with an optional
    /// HTML alternative.
    fn message(&self, mail: Mail) -> Result<Message, MailError> {
        let builder = Message::builder()
            .from(self.from.clone())
            .to(mailbox(&mail.to)?)
            .subject(mail.subject);
        let built = match mail.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(mail.text, html)),
            None => builder.singlepart(SinglePart::plain(mail.text)),
        };
        built.map_err(|e| config_error(format!("the message cannot be built: {e}")))
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let message = self.message(mail)?;
        self.transport.send(message).await.map_err(smtp_error)?;
        Ok(())
    }
}

fn config_error(message: impl Into<String>) -> MailError {
    MailError::Config(message.into())
}

/// A percent-decoded URL user-info part; empty becomes `None`.
fn decode(part: &str) -> Result<Option<String>, MailError> {
    let decoded = percent_decode_str(part)
        .decode_utf8()
        .map_err(|_| config_error("the user name or password is not UTF-8 once decoded"))?;
    Ok((!decoded.is_empty()).then(|| decoded.into_owned()))
}

fn mailbox(address: &str) -> Result<Mailbox, MailError> {
    address.parse().map_err(|e| MailError::InvalidAddress {
        address: address.to_owned(),
        reason: format!("{e}"),
    })
}

fn tls_parameters(host: &str) -> Result<TlsParameters, MailError> {
    TlsParameters::new(host.to_owned())
        .map_err(|e| config_error(format!("TLS cannot be set up for {host:?}: {e}")))
}

/// A 5xx reply is final; everything else (network, TLS, timeout, 4xx) may pass.
fn smtp_error(err: lettre::transport::smtp::Error) -> MailError {
    if err.is_permanent() {
        MailError::Rejected(Box::new(err))
    } else {
        MailError::Unavailable(Box::new(err))
    }
}
