//! The port: [`Mailer`] sends one [`Mail`]. [`LogMailer`] writes mail to the log instead of
//! sending it, for development. [`from_url`] picks an implementation from configuration.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::MailError;
use crate::smtp::{SmtpConfig, SmtpMailer};

/// One message to one recipient. The sender is the mailer's configuration, not the message's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipient's address (`someone@example.com` or `Name <someone@example.com>`).
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body; always sent.
    pub text: String,
    /// An HTML alternative to `text`, sent as `multipart/alternative` when present.
    pub html: Option<String>,
}

/// Delivers mail. Implementations are shared as `Arc<dyn Mailer>`.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Sends `mail`, returning once the mail server has accepted it.
    async fn send(&self, mail: Mail) -> Result<(), MailError>;
}

/// Writes each mail to the log at `info` level instead of sending it. For development and
/// tests only: the log then holds verification and password-reset links, which are secrets.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        tracing::info!(
            to = %mail.to,
            subject = %mail.subject,
            text = %mail.text,
            has_html = mail.html.is_some(),
            "mail not sent: the log mailer is configured"
        );
        Ok(())
    }
}

/// The mailer a configuration URL names:
/// - `log:` (or `log://`): [`LogMailer`];
/// - `smtp://…` or `smtps://…`: [`SmtpMailer`], see [`SmtpConfig::from_url`].
pub fn from_url(url: &str) -> Result<Arc<dyn Mailer>, MailError> {
    if url == "log:" || url == "log://" {
        return Ok(Arc::new(LogMailer));
    }
    let config = SmtpConfig::from_url(url)?;
    Ok(Arc::new(SmtpMailer::new(config)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn log_mailer_accepts_mail() {
        let mail = Mail {
            to: "a@example.com".into(),
            subject: "s".into(),
            text: "t".into(),
            html: None,
        };

        let mailer = from_url("log:").unwrap();

        mailer.send(mail).await.unwrap();
    }

    #[test]
    fn unknown_schemes_are_configuration_errors() {
        let err = from_url("http://example.com").err().unwrap();

        assert!(matches!(err, MailError::Config(_)), "{err}");
    }
}
