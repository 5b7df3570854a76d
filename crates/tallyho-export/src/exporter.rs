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

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Worth trying again later (connection refused, timeout, HTTP 5xx or 429).
    #[error("{exporter}: {message} (will retry)")]
    Retryable {
        /// The exporter's name.
        exporter: String,
        /// What happened.
        message: String,
    },
    /// Trying again will not help (HTTP 4xx, a batch the target refuses).
    #[error("{exporter}: {message}")]
    Permanent {
        /// The exporter's name.
        exporter: String,
        /// What happened.
        message: String,
    },
}

impl ExportError {
    /// Whether the pipeline should retry this batch.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ExportError::Retryable { .. })
    }

    /// A retryable error.
    pub fn retryable(exporter: &str, message: impl Into<String>) -> Self {
        ExportError::Retryable {
            exporter: exporter.to_owned(),
            message: message.into(),
        }
    }

    /// A permanent error.
    pub fn permanent(exporter: &str, message: impl Into<String>) -> Self {
        ExportError::Permanent {
            exporter: exporter.to_owned(),
            message: message.into(),
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
