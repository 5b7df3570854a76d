//! tallyho: metrics whose hot path never locks, allocates or blocks.
//!
//! Register instruments in a [`Registry`] (slow, validated, may fail), keep the handles
//! (cheap clones), record through them (never fails), and collect through the one
//! [`Visitor`] seam that every output format implements.
//!
//! ```
//! use tallyho::{Buckets, Registry};
//!
//! let registry = Registry::new();
//! let jobs = registry.counter("jobs_processed_total", "Jobs processed.")?;
//! let queue = registry.metric("queue_depth", "Jobs waiting.").gauge_i64()?;
//! let took = registry.histogram("job_duration_seconds", "Job run time.", Buckets::new([0.1, 1.0])?)?;
//!
//! jobs.inc();
//! queue.set(3);
//! took.observe(0.25);
//!
//! let snapshot = registry.snapshot();
//! assert_eq!(snapshot.value("jobs_processed", &[]), Some(1.0));
//! assert_eq!(snapshot.value("queue_depth", &[]), Some(3.0));
//! # Ok::<(), tallyho::Error>(())
//! ```
#![deny(missing_docs)]

mod adder;
mod buckets;
mod counter;
mod error;
mod exemplar;
mod exp_config;
mod exp_histogram;
mod expiring;
pub mod exponential;
mod family;
mod gauge;
mod gauge_histogram;
mod global;
mod histogram;
mod info;
mod instrument;
pub mod name;
mod observe;
mod read;
mod registry;
mod slot;
mod snapshot;
mod stateset;
mod summary;
mod text;
mod timer;
mod typed;
mod visit;

pub use buckets::{Buckets, MAX_BUCKETS};
pub use counter::{Counter, CounterF64};
pub use error::Error;
pub use exemplar::{Exemplar, TraceContext};
pub use exp_histogram::{ExpConfig, ExponentialHistogram};
pub use expiring::ExpiringFamily;
pub use exponential::{ExpBuckets, NativeBuckets};
pub use family::{Family, MAX_CARDINALITY};
pub use gauge::{Gauge, GaugeI64, UpDownCounter};
pub use gauge_histogram::GaugeHistogram;
pub use global::{global, set_global};
pub use histogram::{Histogram, Timer};
pub use info::Info;
pub use instrument::Instrument;
pub use observe::{BatchObserver, ObservableFamily, Observer};
pub use registry::{
    Collector, MetricBuilder, Registry, RegistryBuilder, DEFAULT_CARDINALITY_LIMIT,
    OVERFLOW_METRIC, REFUSED_METRIC,
};
pub use snapshot::{
    FamilySnapshot, HistogramData, Series, SeriesValue, Snapshot, StateSetData, SummaryData,
};
pub use stateset::{StateSet, MAX_STATES};
pub use summary::{Clock, Summary, SummaryConfig};
pub use typed::{LabelSet, TypedFamily};
pub use visit::{
    FamilyInfo, HistogramValue, LabelText, Labels, MetricKind, Number, Point, PointValue, Source,
    StateSetValue, SummaryValue, Visitor,
};

/// The label that marks the series collecting label sets past a family's cardinality limit.
pub const OVERFLOW_LABEL: &str = tallyho_names::OVERFLOW_LABEL;
