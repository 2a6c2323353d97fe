//! `AuthError`, what every block in this crate fails with, and the one place it becomes a Parse
//! error. Client-caused failures keep Parse Server's codes and messages; outages, bad
//! configuration and hashing failures become `Internal` (code 1 on the wire, details in the log).

use std::borrow::Cow;

use basalt_core::error::{Error, ErrorCode, ParseError};

/// Why an authentication building block refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The new password breaks the configured password policy (Parse code 142).
    #[error("{0}")]
    PasswordPolicy(Cow<'static, str>),
    /// The authData a client sent does not prove the identity it claims: a bad or expired
    /// id_token, a wrong audience or issuer, an access token for another account
    /// (Parse code 101, as Parse's auth adapters answer).
    #[error("{0}")]
    InvalidAuthData(Cow<'static, str>),
    /// An MFA code or MFA enrolment was rejected. Parse's MFA adapter throws plain strings,
    /// which Parse Server turns into code 141 (`SCRIPT_FAILED`).
    #[error("{0}")]
    Mfa(Cow<'static, str>),
    /// The authData names a provider this server does not verify, or one turned off
    /// (Parse code 252, `This authentication method is unsupported.`).
    #[error("This authentication method is unsupported.")]
    Unsupported,
    /// An identity provider could not be reached or answered nonsense (network error, 5xx,
    /// unparseable JWKS or discovery document). Not the client's fault.
    #[error("auth provider {provider} is unavailable: {reason}")]
    ProviderUnavailable {
        /// The provider's configured name (`apple`, `github`, …).
        provider: String,
        /// What went wrong, for the log.
        reason: String,
    },
    /// The server's own auth configuration is unusable (a bad regex, an empty client id list).
    #[error("invalid auth configuration: {0}")]
    Config(String),
    /// The password hasher failed (out of memory, RNG failure, a task panicked).
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

impl AuthError {
    /// True for failures the client did not cause (outages, configuration, hashing).
    pub fn is_internal(&self) -> bool {
        match self {
            AuthError::PasswordPolicy(_)
            | AuthError::InvalidAuthData(_)
            | AuthError::Mfa(_)
            | AuthError::Unsupported => false,
            AuthError::ProviderUnavailable { .. }
            | AuthError::Config(_)
            | AuthError::Hashing(_) => true,
        }
    }

    /// Shorthand for an `InvalidAuthData` error.
    pub(crate) fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        AuthError::InvalidAuthData(message.into())
    }

    /// Shorthand for a `ProviderUnavailable` error.
    pub(crate) fn unavailable(provider: &str, reason: impl ToString) -> Self {
        AuthError::ProviderUnavailable {
            provider: provider.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// What the client sees. Internal kinds collapse to code 1 with the same text the api layer
/// uses for `Error::Internal`; convert into [`basalt_core::error::Error`] instead to keep
/// the cause for the log.
impl From<AuthError> for ParseError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::PasswordPolicy(message) => {
                ParseError::new(ErrorCode::ValidationError, message)
            }
            AuthError::InvalidAuthData(message) => {
                ParseError::new(ErrorCode::ObjectNotFound, message)
            }
            AuthError::Mfa(message) => ParseError::new(ErrorCode::ScriptFailed, message),
            AuthError::Unsupported => ParseError::new(
                ErrorCode::UnsupportedService,
                "This authentication method is unsupported.",
            ),
            AuthError::ProviderUnavailable { .. }
            | AuthError::Config(_)
            | AuthError::Hashing(_) => {
                ParseError::new(ErrorCode::InternalServerError, "Internal server error.")
            }
        }
    }
}

/// What engine operations return: client-caused kinds become `Error::Parse`, the rest
/// `Error::Internal` with the full cause.
impl From<AuthError> for Error {
    fn from(err: AuthError) -> Self {
        if err.is_internal() {
            Error::Internal(anyhow::Error::new(err))
        } else {
            Error::Parse(err.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_keep_parse_codes() {
        let policy: ParseError = AuthError::PasswordPolicy("x".into()).into();
        let authdata: ParseError = AuthError::invalid("y").into();
        let mfa: ParseError = AuthError::Mfa("Invalid MFA token".into()).into();

        assert_eq!((policy.code.code(), policy.message.as_ref()), (142, "x"));
        assert_eq!(
            (authdata.code.code(), authdata.message.as_ref()),
            (101, "y")
        );
        assert_eq!(mfa.code.code(), 141);
    }

    #[test]
    fn outages_become_internal() {
        let err = AuthError::unavailable("apple", "connection refused");

        let parse: ParseError = AuthError::unavailable("apple", "down").into();
        assert_eq!(parse.code, ErrorCode::InternalServerError);
        assert!(matches!(Error::from(err), Error::Internal(_)));
        assert!(matches!(
            Error::from(AuthError::invalid("no")),
            Error::Parse(_)
        ));
    }
}
