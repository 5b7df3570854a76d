//! What the pipeline keeps of each exporter's failures, and how it reports them: every
//! failure counted by reason with the last message kept, and at most one report per
//! collection interval per exporter.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::exporter::{ExportError, FailureReason};

/// What one exporter has done since the pipeline started, from [`Pipeline::stats`](crate::Pipeline::stats).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExporterStats {
    /// The exporter's name.
    pub name: String,
    /// Batches exported successfully.
    pub exports: u64,
    /// Failed attempts (each retry counts), flush and shutdown included.
    pub failures: u64,
    /// The same failures, by reason.
    pub failures_by_reason: BTreeMap<FailureReason, u64>,
    /// The message of the most recent failure (URLs without credentials, no header values).
    pub last_error: Option<String>,
    /// When the most recent failure happened.
    pub last_error_at: Option<SystemTime>,
}

/// A clonable reader of every exporter's [`ExporterStats`] that outlives borrows of the
/// [`Pipeline`](crate::Pipeline) (for a `/health` handler), from
/// [`Pipeline::stats_reader`](crate::Pipeline::stats_reader).
#[derive(Clone, Default)]
pub struct StatsReader(pub(crate) Vec<Arc<Mutex<ExporterStats>>>);

impl StatsReader {
    /// The same as [`Pipeline::stats`](crate::Pipeline::stats), now.
    pub fn read(&self) -> Vec<ExporterStats> {
        self.0
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }
}

impl std::fmt::Debug for StatsReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatsReader")
            .field("exporters", &self.0.len())
            .finish()
    }
}

/// Receives export failures, at most one per collection interval per exporter, with the
/// number of failures of that exporter not reported since its previous report.
pub type ErrorLog = Arc<dyn Fn(&ExportError, u64) + Send + Sync>;

/// The default [`ErrorLog`]: one line on standard error.
pub(crate) fn stderr_log(e: &ExportError, suppressed: u64) {
    if suppressed > 0 {
        eprintln!("tallyho-export: {e} ({suppressed} more failures since the last report)");
    } else {
        eprintln!("tallyho-export: {e}");
    }
}

/// Keeps an exporter's failures for [`Pipeline::stats`](crate::Pipeline::stats) and reports them, rate-limited.
pub(crate) struct Report {
    pub(crate) stats: Arc<Mutex<ExporterStats>>,
    pub(crate) log: ErrorLog,
    pub(crate) interval: Duration,
    pub(crate) last_logged: Option<Instant>,
    pub(crate) suppressed: u64,
}

impl Report {
    pub(crate) fn failed(&mut self, e: &ExportError) {
        {
            let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
            s.failures += 1;
            *s.failures_by_reason.entry(e.reason()).or_insert(0) += 1;
            s.last_error = Some(e.to_string());
            s.last_error_at = Some(SystemTime::now());
        }
        let now = Instant::now();
        let due = self
            .last_logged
            .map_or(true, |at| now.duration_since(at) >= self.interval);
        if due {
            (self.log)(e, self.suppressed);
            self.suppressed = 0;
            self.last_logged = Some(now);
        } else {
            self.suppressed += 1;
        }
    }

    pub(crate) fn exported(&self) {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).exports += 1;
    }
}
