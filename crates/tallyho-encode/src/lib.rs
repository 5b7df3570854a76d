//! Exposition formats for tallyho: Prometheus text 0.0.4, OpenMetrics 1.0.0, JSON and CSV.
//!
//! Each format is a module with a `CONTENT_TYPE` and an
//! `encode(w: &mut dyn Write, source: &dyn Source)` that walks any
//! [`Source`](tallyho::Source) (a registry, a [`Snapshot`](tallyho::Snapshot)) once and
//! streams to `w`. [`Format`] picks one at run time, from a name or an HTTP `Accept` header.
//! Nothing here opens a socket. [`number`] and [`escape`] hold the spelling rules the formats
//! share, for other encoders to reuse.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use tallyho::{FamilySnapshot, MetricKind, Snapshot};
//! use tallyho_encode::Format;
//!
//! let snapshot = Snapshot {
//!     time: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
//!     families: vec![FamilySnapshot::new("jobs", "Jobs run.", MetricKind::Counter)
//!         .with_point(&[("queue", "a\"b")], 3u64)],
//! };
//!
//! let mut text = Vec::new();
//! Format::Prometheus.encode(&mut text, &snapshot)?;
//! assert_eq!(
//!     String::from_utf8(text).unwrap(),
//!     concat!(
//!         "# HELP jobs_total Jobs run.\n",
//!         "# TYPE jobs_total counter\n",
//!         "jobs_total{queue=\"a\\\"b\"} 3\n",
//!     )
//! );
//!
//! let format = Format::negotiate("application/openmetrics-text;version=1.0.0,text/plain;q=0.5");
//! assert_eq!(format, Format::OpenMetrics);
//! let mut text = Vec::new();
//! format.encode(&mut text, &snapshot)?;
//! assert_eq!(
//!     String::from_utf8(text).unwrap(),
//!     concat!(
//!         "# TYPE jobs counter\n",
//!         "# HELP jobs Jobs run.\n",
//!         "jobs_total{queue=\"a\\\"b\"} 3\n",
//!         "jobs_created{queue=\"a\\\"b\"} 0.0\n",
//!         "# EOF\n",
//!     )
//! );
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Quick start: a registry served as Prometheus text
//!
//! ```
//! use tallyho::{Buckets, Registry};
//!
//! let registry = Registry::builder().constant_label("service", "billing").build()?;
//! let jobs = registry
//!     .metric("jobs_processed", "Jobs finished, by outcome.")
//!     .counter_family(&["outcome"])?;
//! let latency = registry
//!     .metric("job_duration", "Job run time.")
//!     .unit("seconds")
//!     .buckets(Buckets::new([0.1, 1.0])?)
//!     .histogram()?;
//! jobs.with(&["ok"]).add(2);
//! jobs.with(&["failed \"hard\""]).inc();
//! latency.observe(0.25);
//!
//! let mut out = Vec::new();
//! tallyho_encode::prometheus::encode(&mut out, &registry)?;
//! assert_eq!(
//!     String::from_utf8(out)?,
//!     r#"# HELP jobs_processed_total Jobs finished, by outcome.
//! ## TYPE jobs_processed_total counter
//! jobs_processed_total{service="billing",outcome="ok"} 2
//! jobs_processed_total{service="billing",outcome="failed \"hard\""} 1
//! ## HELP job_duration_seconds Job run time.
//! ## TYPE job_duration_seconds histogram
//! job_duration_seconds_bucket{service="billing",le="0.1"} 0
//! job_duration_seconds_bucket{service="billing",le="1"} 1
//! job_duration_seconds_bucket{service="billing",le="+Inf"} 1
//! job_duration_seconds_sum{service="billing"} 0.25
//! job_duration_seconds_count{service="billing"} 1
//! "#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod csv;
pub mod escape;
mod format;
pub mod json;
pub mod number;
pub mod openmetrics;
pub mod prometheus;
pub mod protobuf;
mod sink;
mod text;

pub use format::{Format, ParseFormatError};
