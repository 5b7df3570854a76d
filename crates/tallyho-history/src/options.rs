//! Options, errors and the numbers the history reports.

use std::path::PathBuf;
use std::time::Duration;

/// How a [`History`](crate::History) is kept.
#[derive(Debug, Clone)]
pub struct HistoryOptions {
    /// How long samples are kept, measured back from the newest sample's time (not the wall
    /// clock). Default 24 h.
    pub retention: Duration,
    /// Most bytes held: blocks and WAL on disk plus the head in memory. Default 256 MiB.
    pub max_bytes: u64,
    /// Directory for the WAL and blocks; `None` keeps everything in memory.
    pub storage_path: Option<PathBuf>,
    /// Time range of one block (and the longest a chunk may span). Default 2 h.
    pub block_duration: Duration,
    /// The query engine's budgets.
    pub engine: tallyho_query::EngineOptions,
    /// Open `storage_path` for reading only: no lock is taken, nothing is written, deleted
    /// or truncated (no WAL, no blocks cut, no retention deletes; `retention` only hides
    /// samples older than it, `max_bytes` is not enforced). The WAL is replayed into memory
    /// and appends are refused with [`HistoryError::ReadOnly`]. Safe while another
    /// `History` (an agent) writes the directory: what it shows is the directory as it was
    /// when opened. Default `false`.
    pub read_only: bool,
}

impl Default for HistoryOptions {
    fn default() -> Self {
        HistoryOptions {
            retention: Duration::from_secs(24 * 3600),
            max_bytes: 256 << 20,
            storage_path: None,
            block_duration: Duration::from_secs(2 * 3600),
            engine: tallyho_query::EngineOptions::default(),
            read_only: false,
        }
    }
}

impl HistoryOptions {
    /// Sets [`retention`](Self::retention).
    #[must_use]
    pub fn retention(mut self, d: Duration) -> Self {
        self.retention = d;
        self
    }

    /// Sets [`max_bytes`](Self::max_bytes).
    #[must_use]
    pub fn max_bytes(mut self, n: u64) -> Self {
        self.max_bytes = n;
        self
    }

    /// Sets [`storage_path`](Self::storage_path).
    #[must_use]
    pub fn storage_path(mut self, p: impl Into<PathBuf>) -> Self {
        self.storage_path = Some(p.into());
        self
    }

    /// Sets [`block_duration`](Self::block_duration).
    #[must_use]
    pub fn block_duration(mut self, d: Duration) -> Self {
        self.block_duration = d;
        self
    }

    /// Sets [`engine`](Self::engine).
    #[must_use]
    pub fn engine(mut self, e: tallyho_query::EngineOptions) -> Self {
        self.engine = e;
        self
    }

    /// Sets [`read_only`](Self::read_only).
    #[must_use]
    pub fn read_only(mut self, yes: bool) -> Self {
        self.read_only = yes;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), HistoryError> {
        let ms = |d: Duration| i64::try_from(d.as_millis()).ok().filter(|&m| m > 0);
        if ms(self.block_duration).is_none() {
            return Err(HistoryError::InvalidOption(format!(
                "block_duration {:?} must be at least 1 ms and fit in i64 milliseconds",
                self.block_duration
            )));
        }
        if ms(self.retention).is_none() {
            return Err(HistoryError::InvalidOption(format!(
                "retention {:?} must be at least 1 ms and fit in i64 milliseconds",
                self.retention
            )));
        }
        if self.read_only && self.storage_path.is_none() {
            return Err(HistoryError::InvalidOption(
                "read_only needs a storage_path to read".into(),
            ));
        }
        if self.max_bytes == 0 {
            return Err(HistoryError::InvalidOption(
                "max_bytes must be greater than 0".into(),
            ));
        }
        Ok(())
    }
}

/// Why the history could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// An option is out of range.
    #[error("invalid history option: {0}")]
    InvalidOption(String),
    /// Another `History` (in this or another process) has the directory open.
    #[error("history directory {path} is in use by another History (lock file {lock} is held)")]
    Locked {
        /// The storage directory.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The history was opened read-only: it refuses appends.
    #[error("history {path} is open read-only: appends are refused")]
    ReadOnly {
        /// The storage directory.
        path: PathBuf,
    },
    /// A file operation failed.
    #[error("history I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The pipeline that records a registry could not start.
    #[error("cannot start the recording pipeline: {0}")]
    Recorder(#[source] std::io::Error),
}

/// What one append did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendStats {
    /// Samples stored.
    pub appended: usize,
    /// Samples refused because they were not newer than their series' last sample, or
    /// older than the head accepts.
    pub out_of_order: usize,
    /// Staleness markers written for series that disappeared since the previous append.
    pub stale_markers: usize,
    /// Series seen for the first time.
    pub new_series: usize,
}

/// The state of a history, from [`History::stats`](crate::History::stats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryStats {
    /// Series in the head (memory).
    pub series: usize,
    /// Samples in the head.
    pub head_samples: u64,
    /// Samples appended since open (staleness markers included, WAL replay not).
    pub samples_appended: u64,
    /// Bytes of the head in memory (chunks and series bookkeeping).
    pub head_bytes: u64,
    /// Of `head_bytes`, the compressed chunks alone.
    pub head_chunk_bytes: u64,
    /// Samples in blocks.
    pub block_samples: u64,
    /// Bytes of the block files (part of `disk_bytes`).
    pub block_bytes: u64,
    /// Bytes on disk: blocks and WAL.
    pub disk_bytes: u64,
    /// Bytes of the WAL (part of `disk_bytes`).
    pub wal_bytes: u64,
    /// Blocks on disk.
    pub blocks: usize,
    /// Oldest sample time still visible (ms), `None` when empty.
    pub oldest_ms: Option<i64>,
    /// Newest sample time (ms), `None` when empty.
    pub newest_ms: Option<i64>,
    /// Block files or WAL segments found damaged (skipped whole or in part) since open.
    pub corrupt_files: u64,
    /// What was damaged, most recent last (at most 16 entries).
    pub corrupt_messages: Vec<String>,
    /// Blocks written.
    pub compactions: u64,
    /// Blocks that could not be written (their samples stayed in memory and the WAL).
    pub block_write_errors: u64,
    /// Samples refused as out of order or duplicate.
    pub out_of_order_rejected: u64,
    /// Bytes dropped by retention (time or size).
    pub retention_dropped_bytes: u64,
    /// Blocks dropped by retention.
    pub retention_dropped_blocks: u64,
    /// Queries run.
    pub queries: u64,
}
