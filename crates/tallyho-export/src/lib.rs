//! Push export for tallyho: for programs that push their numbers instead of being scraped,
//! and for batch jobs that end before any scrape.
//!
//! A [`Pipeline`] collects a registry every interval (default 60 s, or
//! `OTEL_METRIC_EXPORT_INTERVAL` milliseconds) and hands the snapshot to each [`Exporter`]
//! on a thread of its own. Exporters that fail are retried with exponential backoff and
//! jitter; a full queue drops the oldest snapshot; nothing ever reaches the threads that
//! record. Because the registry is cumulative, the first export after an outage carries the
//! right totals.
//!
//! ```
//! use std::time::Duration;
//! use tallyho::Registry;
//! use tallyho_export::{InMemoryExporter, Pipeline};
//!
//! let registry = Registry::new();
//! let jobs = registry.counter("jobs", "Jobs run.")?;
//! let memory = InMemoryExporter::new();
//! let pipeline = Pipeline::builder(registry)
//!     .interval(Duration::from_secs(60))
//!     .exporter(memory.clone())
//!     .start()?;
//! jobs.add(3);
//! assert!(pipeline.shutdown(Duration::from_secs(5))); // exports a final batch
//! assert_eq!(memory.batches().last().unwrap().snapshot.value("jobs", &[]), Some(3.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod callback;
mod console;
mod delta;
mod doubles;
mod exporter;
mod files;
pub mod otlp;
mod pipeline;
pub mod pushgateway;
pub mod quantile;
pub mod remote_write;
pub mod statsd;

pub use callback::CallbackExporter;
pub use console::ConsoleExporter;
pub use doubles::{InMemoryExporter, SpyCalls, SpyExporter};
pub use exporter::{Batch, ExportError, Exporter, Temporality};
pub use files::FileExporter;
pub use pipeline::{Pipeline, PipelineBuilder, RetryPolicy, DEFAULT_INTERVAL};
