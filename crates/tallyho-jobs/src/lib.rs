//! Job metrics, a [`metrics`] bridge and a memory probe for [tallyho].
//!
//! - [`jobs`]: [`JobMetrics`], lifecycle metrics for batch engines, DAG executors and job
//!   queues, recorded through a guard ([`Job`]) that counts a dropped job as abandoned.
//! - [`bridge`]: [`TallyhoRecorder`], a [`metrics::Recorder`] that records the `metrics`
//!   crate's `counter!`, `gauge!` and `histogram!` into a tallyho [`Registry`](tallyho::Registry).
//! - [`probe`]: [`memory_probe`], the change of the process's resident memory across a
//!   closure.
//!
//! ```
//! use tallyho::Registry;
//! use tallyho_jobs::JobMetrics;
//!
//! let registry = Registry::new();
//! let jobs = JobMetrics::new(&registry, "etl_jobs", &["pipeline", "schedule"])?;
//! let job = jobs.start(&["etl", "daily"]);
//! job.complete();
//! let snapshot = registry.snapshot();
//! assert_eq!(snapshot.value("etl_jobs_completed", &[("pipeline", "etl")]), Some(1.0));
//! # Ok::<(), tallyho::Error>(())
//! ```
#![deny(missing_docs)]

pub mod bridge;
pub mod jobs;
pub mod probe;

pub use bridge::TallyhoRecorder;
pub use jobs::{Job, JobMetrics, JobMetricsBuilder};
pub use probe::{memory_probe, resident_bytes, MemoryTarget};
