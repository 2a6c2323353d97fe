//! `MailError`, what configuring or sending mail fails with, and its one mapping into
//! `basalt_core::Error`. None of these is the client's fault: every kind becomes `Internal`
//! (code 1 on the wire, the cause in the log).

/// A boxed cause from the mail library, kept as the error's `source`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why mail could not be configured or sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The mail configuration (URL, sender, TLS mode) is unusable.
    #[error("invalid mail configuration: {0}")]
    Config(String),
    /// A sender or recipient is not a valid e-mail address.
    #[error("invalid e-mail address {address:?}: {reason}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The mail server refused the message for good (a 5xx reply: unknown recipient,
    /// authentication failed, message rejected). Retrying will not help.
    #[error("the mail server rejected the message: {0}")]
    Rejected(#[source] BoxError),
    /// The mail server could not be reached or failed for now (connection refused, TLS
    /// failure, timeout, a 4xx reply). Retrying later may help.
    #[error("the mail server is unavailable: {0}")]
    Unavailable(#[source] BoxError),
}

impl MailError {
    /// Whether sending the same message again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, MailError::Unavailable(_))
    }
}

/// Mail failures are the server's problem, never the client's: code 1, cause logged.
impl From<MailError> for basalt_core::Error {
    fn from(err: MailError) -> Self {
        basalt_core::Error::Internal(anyhow::Error::new(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_errors_become_internal() {
        let err: basalt_core::Error = MailError::Config("no sender".into()).into();

        assert!(matches!(err, basalt_core::Error::Internal(_)));
        assert_eq!(err.to_string(), "invalid mail configuration: no sender");
    }
}
