//! JSON and CSV files, one per period, written under a temporary name and renamed, so a
//! crash never leaves a torn file; only the newest N are kept. Each file says the period
//! it covers (`period_start_ms`/`period_end_ms`, and in JSON the `temporality`), and
//! [`FileExporter::delta`] writes each period's changes instead of totals.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use tallyho_encode::Format;

use crate::exporter::{Batch, ExportError, Exporter, Temporality};

/// Writes each batch as a file in a directory.
#[derive(Debug)]
pub struct FileExporter {
    dir: PathBuf,
    prefix: String,
    format: Format,
    keep: usize,
    name: &'static str,
    temporality: Temporality,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl FileExporter {
    /// JSON files (`<prefix>-<unix ms>-<seq>.json`) in `dir`, keeping the newest `keep`.
    pub fn json(dir: impl Into<PathBuf>, keep: usize) -> Self {
        Self::new(dir.into(), Format::Json, keep, "json_files")
    }

    /// CSV files, one row per point.
    pub fn csv(dir: impl Into<PathBuf>, keep: usize) -> Self {
        Self::new(dir.into(), Format::Csv, keep, "csv_files")
    }

    fn new(dir: PathBuf, format: Format, keep: usize, name: &'static str) -> Self {
        FileExporter {
            dir,
            prefix: "metrics".to_owned(),
            format,
            keep: keep.max(1),
            name,
            temporality: Temporality::Cumulative,
        }
    }

    /// Writes each period's changes (counters' and histograms' deltas; gauges and
    /// up-down counters as they are) instead of totals since the start (default off).
    pub fn delta(mut self, yes: bool) -> Self {
        self.temporality = if yes {
            Temporality::Delta
        } else {
            Temporality::Cumulative
        };
        self
    }

    /// The file name prefix (default `metrics`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn extension(&self) -> &'static str {
        match self.format {
            Format::Csv => "csv",
            _ => "json",
        }
    }

    fn err(&self, what: &str, path: &Path, e: std::io::Error) -> ExportError {
        ExportError::retryable(self.name, format!("{what} {}: {e}", path.display()))
    }

    fn prune(&self) -> Result<(), ExportError> {
        let ext = format!(".{}", self.extension());
        let start = format!("{}-", self.prefix);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(|e| self.err("listing", &self.dir, e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&start) && n.ends_with(&ext))
            })
            .collect();
        // Names carry a zero-padded timestamp and sequence: name order is time order.
        files.sort();
        let excess = files.len().saturating_sub(self.keep);
        for old in &files[..excess] {
            std::fs::remove_file(old).map_err(|e| self.err("removing", old, e))?;
        }
        Ok(())
    }
}

impl Exporter for FileExporter {
    fn name(&self) -> &str {
        self.name
    }

    fn temporality(&self) -> Temporality {
        self.temporality
    }

    fn export(&mut self, batch: &Batch) -> Result<(), ExportError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.err("creating", &self.dir, e))?;
        let ms = batch
            .end
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}-{ms:015}-{seq:06}.{}", self.prefix, self.extension());
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let mut body = Vec::new();
        let delta = batch.temporality == Temporality::Delta;
        match self.format {
            Format::Csv => tallyho_encode::csv::encode_period(
                &mut body,
                &batch.snapshot,
                batch.start,
                batch.end,
            ),
            _ => tallyho_encode::json::encode_period(
                &mut body,
                &batch.snapshot,
                batch.start,
                batch.end,
                delta,
            ),
        }
        .map_err(|e| self.err("encoding", &path, e))?;
        std::fs::write(&tmp, &body).map_err(|e| self.err("writing", &tmp, e))?;
        // Make the data durable before the rename makes it visible.
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| self.err("syncing", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| self.err("renaming", &tmp, e))?;
        self.prune()
    }
}
