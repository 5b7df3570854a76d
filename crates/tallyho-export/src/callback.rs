//! An exporter that hands each batch to a closure, for applications that show metrics
//! themselves.

use crate::exporter::{Batch, ExportError, Exporter, Temporality};

/// Calls a closure with every batch.
pub struct CallbackExporter<F> {
    f: F,
    temporality: Temporality,
}

impl<F: FnMut(&Batch) + Send + 'static> CallbackExporter<F> {
    /// Cumulative batches to `f`.
    pub fn new(f: F) -> Self {
        CallbackExporter {
            f,
            temporality: Temporality::Cumulative,
        }
    }

    /// Asks for delta batches instead.
    pub fn delta(mut self) -> Self {
        self.temporality = Temporality::Delta;
        self
    }
}

impl<F: FnMut(&Batch) + Send + 'static> Exporter for CallbackExporter<F> {
    fn name(&self) -> &str {
        "callback"
    }
    fn temporality(&self) -> Temporality {
        self.temporality
    }
    fn export(&mut self, batch: &Batch) -> Result<(), ExportError> {
        // A panicking callback fails this batch, not the pipeline.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.f)(batch)))
            .map_err(|_| ExportError::permanent("callback", "the callback panicked"))
    }
}
