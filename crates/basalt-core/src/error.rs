//! The one table of Parse error codes and their HTTP statuses, and the error types every layer
//! returns. HTTP statuses are plain numbers here so this crate stays free of `http`.

use std::borrow::Cow;

macro_rules! parse_codes {
    ($($variant:ident = $code:literal => $status:literal,)*) => {
        /// A Parse error code, as the SDKs define them in `ParseError`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $($variant,)* }

        impl ErrorCode {
            /// The numeric code sent on the wire as `code`.
            pub fn code(self) -> i32 { match self { $(Self::$variant => $code,)* } }
            /// The HTTP status Parse Server answers this code with.
            pub fn http_status(self) -> u16 { match self { $(Self::$variant => $status,)* } }
            /// The variant for a numeric code, if it is one Parse defines.
            pub fn from_code(code: i32) -> Option<Self> {
                match code { $($code => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

parse_codes! {
    OtherCause = -1 => 400,
    InternalServerError = 1 => 500,
    ConnectionFailed = 100 => 400,
    ObjectNotFound = 101 => 404,
    InvalidQuery = 102 => 400,
    InvalidClassName = 103 => 400,
    MissingObjectId = 104 => 400,
    InvalidKeyName = 105 => 400,
    InvalidPointer = 106 => 400,
    InvalidJson = 107 => 400,
    CommandUnavailable = 108 => 400,
    NotInitialized = 109 => 400,
    IncorrectType = 111 => 400,
    InvalidChannelName = 112 => 400,
    PushMisconfigured = 115 => 400,
    ObjectTooLarge = 116 => 400,
    OperationForbidden = 119 => 400,
    CacheMiss = 120 => 400,
    InvalidNestedKey = 121 => 400,
    InvalidFileName = 122 => 400,
    InvalidAcl = 123 => 400,
    Timeout = 124 => 400,
    InvalidEmailAddress = 125 => 400,
    MissingContentType = 126 => 400,
    MissingContentLength = 127 => 400,
    InvalidContentLength = 128 => 400,
    FileTooLarge = 129 => 400,
    FileSaveError = 130 => 400,
    MissingRequiredField = 135 => 400,
    ChangedImmutableField = 136 => 400,
    DuplicateValue = 137 => 400,
    InvalidRoleName = 139 => 400,
    ExceededQuota = 140 => 400,
    ScriptFailed = 141 => 400,
    ValidationError = 142 => 400,
    InvalidImageData = 143 => 400,
    UnsavedFileError = 151 => 400,
    InvalidPushTimeError = 152 => 400,
    FileDeleteError = 153 => 400,
    RequestLimitExceeded = 155 => 400,
    DuplicateRequest = 159 => 400,
    InvalidEventName = 160 => 400,
    FileDeleteUnnamedError = 161 => 400,
    InvalidValue = 162 => 400,
    UsernameMissing = 200 => 400,
    PasswordMissing = 201 => 400,
    UsernameTaken = 202 => 400,
    EmailTaken = 203 => 400,
    EmailMissing = 204 => 400,
    EmailNotFound = 205 => 400,
    SessionMissing = 206 => 400,
    MustCreateUserThroughSignup = 207 => 400,
    AccountAlreadyLinked = 208 => 400,
    InvalidSessionToken = 209 => 400,
    MfaError = 210 => 400,
    MfaTokenRequired = 211 => 400,
    LinkedIdMissing = 250 => 400,
    InvalidLinkedSession = 251 => 400,
    UnsupportedService = 252 => 400,
    InvalidSchemaOperation = 255 => 400,
    AggregateError = 600 => 400,
    FileReadError = 601 => 400,
    XDomainRequest = 602 => 400,
}

/// What a client may see: Parse's code and a message that names the problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// The Parse code sent as `code`.
    pub code: ErrorCode,
    /// The text sent as `error`.
    pub message: Cow<'static, str>,
}

impl ParseError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Shorthand used throughout: `perr(ErrorCode::InvalidQuery, "…")`.
pub fn perr(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> ParseError {
    ParseError::new(code, message)
}

/// What fallible engine and api functions return.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error the client caused or may see in full.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A bug or an outage. Logged with the request id; the client sees code 1 only.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// The Parse error inside, if this is one.
    pub fn as_parse(&self) -> Option<&ParseError> {
        match self {
            Error::Parse(p) => Some(p),
            Error::Internal(_) => None,
        }
    }
}

/// The result type of engine operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_map_to_statuses() {
        assert_eq!(ErrorCode::from_code(101), Some(ErrorCode::ObjectNotFound));
        assert_eq!(ErrorCode::ObjectNotFound.http_status(), 404);
        assert_eq!(ErrorCode::InternalServerError.http_status(), 500);
        assert_eq!(ErrorCode::InvalidQuery.code(), 102);
        assert_eq!(ErrorCode::from_code(99_999), None);
    }
}
