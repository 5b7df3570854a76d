//! Test doubles: an exporter that keeps every batch, and one that records calls and fails
//! on demand.

use std::sync::{Arc, Mutex};

use crate::exporter::{Batch, ExportError, Exporter, Temporality};

/// Keeps every batch it is given; clone it before handing it to a pipeline to read them.
#[derive(Clone, Default)]
pub struct InMemoryExporter {
    batches: Arc<Mutex<Vec<Batch>>>,
    temporality: Temporality,
}

impl InMemoryExporter {
    /// A cumulative in-memory exporter.
    pub fn new() -> Self {
        Self::default()
    }

    /// One that asks for delta batches.
    pub fn delta() -> Self {
        InMemoryExporter {
            temporality: Temporality::Delta,
            ..Self::default()
        }
    }

    /// Every batch received so far.
    pub fn batches(&self) -> Vec<Batch> {
        self.batches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Exporter for InMemoryExporter {
    fn name(&self) -> &str {
        "memory"
    }
    fn temporality(&self) -> Temporality {
        self.temporality
    }
    fn export(&mut self, batch: &Batch) -> Result<(), ExportError> {
        self.batches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(batch.clone());
        Ok(())
    }
}

/// What a [`SpyExporter`] saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SpyCalls {
    /// `export` calls, failed ones included.
    pub exports: usize,
    /// `flush` calls.
    pub flushes: usize,
    /// `shutdown` calls.
    pub shutdowns: usize,
}

/// Records calls; fails the next `n` exports (retryably) when told to.
#[derive(Clone, Default)]
pub struct SpyExporter {
    calls: Arc<Mutex<SpyCalls>>,
    fail_next: Arc<Mutex<usize>>,
}

impl SpyExporter {
    /// A spy that succeeds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next `n` exports fail with a retryable error.
    pub fn fail_next(&self, n: usize) {
        *self.fail_next.lock().unwrap_or_else(|p| p.into_inner()) = n;
    }

    /// The calls so far.
    pub fn calls(&self) -> SpyCalls {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Exporter for SpyExporter {
    fn name(&self) -> &str {
        "spy"
    }
    fn export(&mut self, _batch: &Batch) -> Result<(), ExportError> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).exports += 1;
        let mut fail = self.fail_next.lock().unwrap_or_else(|p| p.into_inner());
        if *fail > 0 {
            *fail -= 1;
            return Err(ExportError::retryable("spy", "told to fail"));
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), ExportError> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).flushes += 1;
        Ok(())
    }
    fn shutdown(&mut self) -> Result<(), ExportError> {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .shutdowns += 1;
        Ok(())
    }
}
