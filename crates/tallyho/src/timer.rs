//! [`Timer`]: one span of time measured into a histogram.

use std::time::{Duration, Instant};

use crate::Histogram;

/// Measures one span of time into a [`Histogram`], in seconds.
///
/// Records when dropped; [`stop`](Self::stop) records and returns the duration,
/// [`discard`](Self::discard) records nothing.
#[must_use = "a timer records when it is dropped; bind it to a variable"]
pub struct Timer<'a> {
    pub(crate) histogram: &'a Histogram,
    pub(crate) start: Option<Instant>,
}

impl Timer<'_> {
    /// Records the elapsed time now and returns it (zero for a no-op histogram).
    pub fn stop(mut self) -> Duration {
        match self.start.take() {
            Some(start) => {
                let d = start.elapsed();
                self.histogram.observe_duration(d);
                d
            }
            None => Duration::ZERO,
        }
    }

    /// Stops without recording anything.
    pub fn discard(mut self) {
        self.start = None;
    }
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        if let Some(start) = self.start.take() {
            self.histogram.observe_duration(start.elapsed());
        }
    }
}
