//! An embedded, bounded, persistent time-series history for tallyho, queried with PromQL.
//!
//! Append [`Snapshot`](tallyho::Snapshot)s (or let [`History::record`] collect a registry on
//! a timer), then ask questions with PromQL ([`History::query`], [`History::query_range`])
//! or the typed helpers of [`History::stats_over`]:
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use tallyho::{FamilySnapshot, MetricKind, Snapshot};
//! use tallyho_history::History;
//!
//! let history = History::in_memory();
//! for (i, served) in [100u64, 160, 250].into_iter().enumerate() {
//!     let time = UNIX_EPOCH + Duration::from_secs(1_700_000_000 + 60 * i as u64);
//!     let requests = FamilySnapshot::new("requests", "Requests served.", MetricKind::Counter)
//!         .with_point(&[("route", "/api")], served);
//!     history.append(&Snapshot { time, families: vec![requests] })?;
//! }
//! let at = UNIX_EPOCH + Duration::from_secs(1_700_000_120);
//! let stats = history.stats_over(Duration::from_secs(120), at);
//! assert_eq!(stats.increase("requests_total", &[("route", "/api")])?, Some(150.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Series
//! A snapshot becomes samples named exactly as remote write names them (`<name>_total` for
//! counters; `_bucket{le}`, `_sum`, `_count` for histograms; `__name__` as a label), so the
//! history holds the same series Prometheus would receive. A series that was in the previous
//! [`append`](History::append) and is missing gets a staleness marker, as after a scrape.
//! A sample not newer than its series' last one is refused and counted.
//!
//! # Storage
//! - The **head** keeps each series' recent samples in Gorilla-compressed chunks
//!   (delta-of-delta timestamps, XOR'd floats; [`Chunk`]) of at most 120 samples, never
//!   spanning a block boundary. A series is found by the hash of its label set.
//! - With a `storage_path`, every append is logged to a **write-ahead log** (CRC'd records,
//!   one `fdatasync` per append) that is replayed on open, and every `block_duration` the
//!   completed range of the head is written as an immutable **block** file (temp file, sync,
//!   rename, directory sync), each series' chunks re-encoded into one. The block is written
//!   on a thread of its own from a copy taken under the lock, so appends and queries do not
//!   wait for the file. The formats are documented in `wal.rs` and `block.rs`.
//! - [`History::open_read_only`] (or [`HistoryOptions::read_only`]) reads a directory,
//!   even one another `History` is writing, without changing anything in it.
//! - **Retention**: samples older than `retention` before the newest sample are invisible at
//!   once and freed by whole chunks (memory) or whole blocks (disk); past `max_bytes` (head +
//!   blocks + WAL), the oldest blocks, then the oldest head chunks, are dropped.
//! - Damage (a torn WAL tail, a bad block) is logged, counted in [`HistoryStats`] and the
//!   self-metrics, and skipped; the rest opens.
#![deny(missing_docs)]

mod block;
mod block_chunk;
mod chunk;
mod codec;
mod head;
mod history;
mod ingest;
mod metrics;
mod options;
mod recorder;
mod stats_query;
mod store;
mod wal;

pub use chunk::{Chunk, ChunkIter, SAMPLES_PER_CHUNK};
pub use history::History;
pub use metrics::HistoryMetrics;
pub use options::{AppendStats, HistoryError, HistoryOptions, HistoryStats};
pub use recorder::{HistoryExporter, Recorder};
pub use stats_query::StatsOver;
