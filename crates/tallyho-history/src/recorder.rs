//! Feeding a history from the push pipeline.

use std::time::Duration;

use tallyho::Registry;
use tallyho_export::{Batch, ExportError, Exporter, Pipeline};

use crate::history::History;
use crate::options::HistoryError;

/// An [`Exporter`] that appends every batch to a [`History`] (cumulative, as remote write).
#[derive(Debug, Clone)]
pub struct HistoryExporter {
    history: History,
}

impl Exporter for HistoryExporter {
    fn name(&self) -> &str {
        "history"
    }

    fn export(&mut self, batch: &Batch) -> Result<(), ExportError> {
        self.history
            .append(&batch.snapshot)
            .map(|_| ())
            .map_err(|e| ExportError::retryable("history", e.to_string()))
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        self.history
            .flush()
            .map_err(|e| ExportError::retryable("history", e.to_string()))
    }
}

/// A running recording of a registry into a history; stops when dropped or on
/// [`stop`](Self::stop).
#[derive(Debug)]
pub struct Recorder {
    pipeline: Option<Pipeline>,
}

impl Recorder {
    /// Collects once more, appends it, and stops; returns whether that finished within
    /// `timeout`.
    pub fn stop(mut self, timeout: Duration) -> bool {
        match self.pipeline.take() {
            Some(p) => p.shutdown(timeout),
            None => true,
        }
    }

    /// Collects and appends now; returns whether that finished within `timeout`.
    pub fn flush(&self, timeout: Duration) -> bool {
        match &self.pipeline {
            Some(p) => p.flush(timeout),
            None => true,
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(p) = self.pipeline.take() {
            p.shutdown(Duration::from_secs(5));
        }
    }
}

impl History {
    /// An exporter that appends each batch to this history, for a pipeline of your own.
    pub fn exporter(&self) -> HistoryExporter {
        HistoryExporter {
            history: self.clone(),
        }
    }

    /// Collects `registry` every `interval` and appends it here, on a pipeline thread.
    ///
    /// # Errors
    /// [`HistoryError::Recorder`] when the pipeline's threads cannot start.
    pub fn record(&self, registry: Registry, interval: Duration) -> Result<Recorder, HistoryError> {
        let pipeline = Pipeline::builder(registry)
            .interval(interval)
            .exporter(self.exporter())
            .start()
            .map_err(HistoryError::Recorder)?;
        Ok(Recorder {
            pipeline: Some(pipeline),
        })
    }
}
