//! The one error every exporter builder returns.

/// Why an exporter could not be built. Every message names the setting or variable at fault
/// and never holds a password or a header value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No URL was given.
    #[error("no URL given")]
    MissingUrl,
    /// No job name, or an empty one, was given (Pushgateway).
    #[error("no job name given")]
    MissingJob,
    /// The URL does not parse, or names a scheme this build cannot send to.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given, without any `user:password@`.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header name is not an HTTP token, or its value holds control characters.
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader {
        /// The header name as given (the value is never shown: it may be a credential).
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A grouping label name is not a valid Prometheus label name, is reserved (`job`,
    /// `__…`), or is given twice (Pushgateway).
    #[error("invalid grouping label name {0:?}")]
    InvalidLabel(String),
    /// A setting made in code is out of range.
    #[error("{setting}: {reason}")]
    InvalidSetting {
        /// The setting, as the builder method names it.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A TLS file (CA, client certificate or key) cannot be read or used.
    #[error("{setting} {path:?}: {reason}")]
    InvalidTlsFile {
        /// The builder method or environment variable that named the file.
        setting: String,
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An environment variable does not parse.
    #[error("{variable}={value}: {reason}")]
    InvalidEnv {
        /// The variable's name.
        variable: String,
        /// The value, quoted, or a placeholder where it may hold credentials.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl From<BuildError> for String {
    /// For callers that kept `OtlpExporterBuilder::build`'s former `Result<_, String>`.
    fn from(e: BuildError) -> String {
        e.to_string()
    }
}
