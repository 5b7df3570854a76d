//! The one small trait every push target implements, and what it is handed.

use std::time::SystemTime;

use tallyho::Snapshot;

/// Whether a batch carries totals since the start (cumulative) or changes over the period
/// (delta).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Temporality {
    /// Totals since each series started: what Prometheus expects.
    #[default]
    Cumulative,
    /// Changes since the previous export: what StatsD and some OTLP backends expect.
    Delta,
}

/// One period's collection, handed to an exporter.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The metrics, in this batch's temporality. For delta batches each series' `start` is
    /// the start of the period.
    pub snapshot: Snapshot,
    /// When the period began (the previous export, or the pipeline's start).
    pub start: SystemTime,
    /// When the period ended (the collection time).
    pub end: SystemTime,
    /// The temporality of the values.
    pub temporality: Temporality,
}

/// What kind of failure an [`ExportError`] is, for counting failures by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FailureReason {
    /// The connection could not be made or broke (refused, reset, DNS, ...).
    Connection,
    /// The target did not answer in time.
    Timeout,
    /// The target answered with this HTTP status outside 2xx.
    Status(u16),
    /// The target answered with this gRPC status code other than OK.
    Grpc(i32),
    /// The target accepted the request but rejected some of its data.
    Rejected,
    /// The batch could not be encoded or compressed.
    Encoding,
    /// Anything else (I/O on files, a callback's own error, ...).
    Other,
}

impl std::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureReason::Connection => f.write_str("connection"),
            FailureReason::Timeout => f.write_str("timeout"),
            FailureReason::Status(s) => write!(f, "http_{s}"),
            FailureReason::Grpc(c) => write!(f, "grpc_{c}"),
            FailureReason::Rejected => f.write_str("rejected"),
            FailureReason::Encoding => f.write_str("encoding"),
            FailureReason::Other => f.write_str("other"),
        }
    }
}

/// Why an export failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Worth trying again later (connection refused, timeout, a status the protocol's
    /// specification says to retry).
    #[error("{exporter}: {message} (will retry)")]
    Retryable {
        /// The exporter's name.
        exporter: String,
        /// What happened.
        message: String,
        /// The kind of failure.
        reason: FailureReason,
    },
    /// Trying again will not help (HTTP 4xx, a batch the target refuses).
    #[error("{exporter}: {message}")]
    Permanent {
        /// The exporter's name.
        exporter: String,
        /// What happened.
        message: String,
        /// The kind of failure.
        reason: FailureReason,
    },
}

impl ExportError {
    /// Whether the pipeline should retry this batch.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ExportError::Retryable { .. })
    }

    /// A retryable error (reason [`FailureReason::Other`] until
    /// [`with_reason`](Self::with_reason)).
    pub fn retryable(exporter: &str, message: impl Into<String>) -> Self {
        ExportError::Retryable {
            exporter: exporter.to_owned(),
            message: message.into(),
            reason: FailureReason::Other,
        }
    }

    /// A permanent error (reason [`FailureReason::Other`] until
    /// [`with_reason`](Self::with_reason)).
    pub fn permanent(exporter: &str, message: impl Into<String>) -> Self {
        ExportError::Permanent {
            exporter: exporter.to_owned(),
            message: message.into(),
            reason: FailureReason::Other,
        }
    }

    /// The same error with this reason.
    #[must_use]
    pub fn with_reason(mut self, reason: FailureReason) -> Self {
        match &mut self {
            ExportError::Retryable { reason: r, .. } | ExportError::Permanent { reason: r, .. } => {
                *r = reason;
            }
        }
        self
    }

    /// The kind of failure.
    pub fn reason(&self) -> FailureReason {
        match self {
            ExportError::Retryable { reason, .. } | ExportError::Permanent { reason, .. } => {
                *reason
            }
        }
    }

    /// What happened, without the exporter's name.
    pub fn message(&self) -> &str {
        match self {
            ExportError::Retryable { message, .. } | ExportError::Permanent { message, .. } => {
                message
            }
        }
    }
}

/// A push target. The pipeline calls it from a thread of its own, never from the program
/// that records, so an exporter may block on I/O.
pub trait Exporter: Send + 'static {
    /// A short name for logs and self-metrics (`console`, `otlp`, ...).
    fn name(&self) -> &str;

    /// The temporality this exporter wants (default cumulative).
    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }

    /// Sends one batch.
    ///
    /// # Errors
    /// [`ExportError::Retryable`] to have the pipeline retry with backoff,
    /// [`ExportError::Permanent`] to drop the batch.
    fn export(&mut self, batch: &Batch) -> Result<(), ExportError>;

    /// Pushes out anything buffered.
    ///
    /// # Errors
    /// As [`export`](Self::export).
    fn flush(&mut self) -> Result<(), ExportError> {
        Ok(())
    }

    /// Called once when the pipeline shuts down, after the final batch.
    ///
    /// # Errors
    /// As [`export`](Self::export).
    fn shutdown(&mut self) -> Result<(), ExportError> {
        self.flush()
    }
}
