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
//!
//! # Features
//!
//! All on by default: `otlp` (OTLP/HTTP), `remote-write` (Prometheus remote write),
//! `pushgateway` and `statsd`. Console, file, callback and in-memory exporters are always
//! there. Turning off the HTTP exporters drops ureq, rustls, prost, opentelemetry-proto,
//! flate2 and snap from the build.
//!
//! # TLS
//!
//! The HTTP exporters send to `https://` URLs with rustls (ring, no system TLS library),
//! checking servers against Mozilla's root certificates plus an optional CA file, and
//! present a client certificate where one is configured: [`TlsConfig`], given to each
//! builder's `tls` method (OTLP also reads `OTEL_EXPORTER_OTLP_[METRICS_]CERTIFICATE`,
//! `..._CLIENT_CERTIFICATE` and `..._CLIENT_KEY`).
#![deny(missing_docs)]

mod build_error;
mod callback;
mod console;
mod delta;
mod doubles;
mod env;
mod exporter;
mod files;
#[cfg(any(feature = "otlp", feature = "remote-write", feature = "pushgateway"))]
// Shared by the HTTP exporters; with only some of them on, parts go unused.
#[cfg_attr(
    not(all(feature = "otlp", feature = "remote-write", feature = "pushgateway")),
    allow(dead_code, unused_imports, unused_macros)
)]
mod http;
#[cfg(feature = "otlp")]
pub mod otlp;
mod pipeline;
#[cfg(feature = "pushgateway")]
pub mod pushgateway;
pub mod quantile;
#[cfg(feature = "remote-write")]
pub mod remote_write;
mod report;
pub mod selection;
#[cfg(feature = "statsd")]
pub mod statsd;

pub use build_error::BuildError;
pub use callback::CallbackExporter;
pub use console::ConsoleExporter;
pub use doubles::{InMemoryExporter, SpyCalls, SpyExporter};
pub use env::EnvLookup;
pub use exporter::{Batch, ExportError, Exporter, FailureReason, Temporality};
pub use files::FileExporter;
pub use pipeline::{
    ErrorLog, ExporterStats, Pipeline, PipelineBuilder, RetryPolicy, StatsReader, DEFAULT_INTERVAL,
};
pub use selection::MetricsExporters;

#[cfg(any(feature = "otlp", feature = "remote-write", feature = "pushgateway"))]
pub use http::TlsConfig;
