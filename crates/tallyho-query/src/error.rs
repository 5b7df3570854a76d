//! Query errors, with the kinds of Prometheus' HTTP API.

/// What kind of failure, as Prometheus' API reports it in `errorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The query or a parameter is malformed (HTTP 400, `bad_data`).
    BadData,
    /// The query is valid PromQL that this engine does not evaluate (HTTP 400, `bad_data`,
    /// message starting `unsupported`).
    Unsupported,
    /// Evaluation failed, e.g. many-to-many matching (HTTP 422, `execution`).
    Execution,
    /// A budget ran out: points, samples or time (HTTP 503/422, `timeout` or `execution`).
    Timeout,
    /// Too many samples or points (HTTP 422, `execution`).
    TooLarge,
    /// The storage failed (HTTP 500, `internal`).
    Internal,
}

impl ErrorKind {
    /// The `errorType` string Prometheus uses.
    pub fn error_type(self) -> &'static str {
        match self {
            ErrorKind::BadData | ErrorKind::Unsupported => "bad_data",
            ErrorKind::Execution | ErrorKind::TooLarge => "execution",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Internal => "internal",
        }
    }

    /// The HTTP status Prometheus answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::BadData | ErrorKind::Unsupported => 400,
            ErrorKind::Execution | ErrorKind::TooLarge => 422,
            ErrorKind::Timeout => 503,
            ErrorKind::Internal => 500,
        }
    }
}

/// A query that could not be answered, with a message naming the cause.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    /// The kind.
    pub kind: ErrorKind,
    /// What went wrong, naming the offending part of the query.
    pub message: String,
}

impl QueryError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        QueryError {
            kind,
            message: message.into(),
        }
    }

    /// A malformed query or parameter.
    pub fn bad_data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadData, message)
    }

    /// A construct this engine does not evaluate; `construct` names it.
    pub fn unsupported(construct: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::Unsupported, format!("unsupported: {construct}"))
    }

    /// An evaluation failure.
    pub fn execution(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Execution, message)
    }
}

impl From<crate::storage::StorageError> for QueryError {
    fn from(e: crate::storage::StorageError) -> Self {
        QueryError::new(ErrorKind::Internal, format!("storage: {e}"))
    }
}
