//! The agent's history: opened from `[history]`, fed by the push pipeline every interval,
//! queried through the endpoint's `/api/v1/`, summarised in `/health`.

use std::sync::Arc;

use serde_json::{json, Value};
use tallyho_history::{History, HistoryError, HistoryOptions, HistoryStats};

use crate::config::HistorySettings;

/// Opens the history `cfg` describes.
///
/// # Errors
/// A message naming the directory; when another agent holds it, says so.
pub fn open(cfg: &HistorySettings) -> Result<History, String> {
    let mut opts = HistoryOptions::default()
        .retention(cfg.retention)
        .max_bytes(cfg.max_bytes);
    if let Some(dir) = &cfg.dir {
        opts = opts.storage_path(dir);
    }
    match History::open(opts) {
        Ok(h) => Ok(h),
        Err(e @ HistoryError::Locked { .. }) => Err(format!(
            "{e}: is another agent running on it? Give this one another history.storage_path (or TALLYHO_STORAGE_PATH)"
        )),
        Err(e) => Err(format!("history.storage_path: {e}")),
    }
}

/// The query API over `history`, with its engine.
pub fn query_api(history: &History) -> tallyho_http::QueryApi {
    tallyho_http::QueryApi::new(Arc::new(history.clone()), history.engine().clone())
}

/// What `/health` shows under `history`: the stats are already-kept numbers, so this is
/// cheap.
pub fn health(history: &History, cfg: &HistorySettings) -> Value {
    let s = history.stats();
    json!({ "history": stats_json(&s, cfg) })
}

/// `/health`'s `history` object.
pub fn health_extra(
    history: &History,
    cfg: &HistorySettings,
) -> Arc<dyn Fn() -> Value + Send + Sync> {
    let (history, cfg) = (history.clone(), cfg.clone());
    Arc::new(move || health(&history, &cfg))
}

fn stats_json(s: &HistoryStats, cfg: &HistorySettings) -> Value {
    json!({
        "storage_path": cfg.dir.as_ref().map(|p| p.display().to_string()),
        "retention_seconds": cfg.retention.as_secs_f64(),
        "max_bytes": cfg.max_bytes,
        "series": s.series,
        "head_samples": s.head_samples,
        "samples_appended": s.samples_appended,
        "bytes_memory": s.head_bytes,
        "bytes_disk": s.disk_bytes,
        "blocks": s.blocks,
        "oldest_unix_ms": s.oldest_ms,
        "newest_unix_ms": s.newest_ms,
        "corrupt_files": s.corrupt_files,
        "out_of_order_rejected": s.out_of_order_rejected,
        "retention_dropped_bytes": s.retention_dropped_bytes,
        "queries": s.queries,
    })
}
