//! A small builder over [`FamilySnapshot`] that sets each series' start time.

use std::time::SystemTime;

use tallyho::{FamilySnapshot, MetricKind, Number, Series, SeriesValue};

pub(crate) struct Fam {
    inner: FamilySnapshot,
    start: SystemTime,
}

impl Fam {
    fn new(name: &str, help: &str, kind: MetricKind) -> Self {
        Fam {
            inner: FamilySnapshot::new(name, help, kind),
            start: SystemTime::UNIX_EPOCH,
        }
    }

    /// A counter family; `name` without `_total`.
    pub(crate) fn counter(name: &str, help: &str) -> Self {
        Fam::new(name, help, MetricKind::Counter)
    }

    pub(crate) fn gauge(name: &str, help: &str) -> Self {
        Fam::new(name, help, MetricKind::Gauge)
    }

    pub(crate) fn updown(name: &str, help: &str) -> Self {
        Fam::new(name, help, MetricKind::UpDownCounter)
    }

    /// Sets the unit; the name must end with `_{unit}`.
    pub(crate) fn unit(mut self, unit: &str) -> Self {
        debug_assert!(self.inner.name.ends_with(&format!("_{unit}")));
        self.inner.unit = unit.to_owned();
        self
    }

    /// When the series started counting (boot, process start).
    pub(crate) fn start(mut self, start: SystemTime) -> Self {
        self.start = start;
        self
    }

    pub(crate) fn add(&mut self, labels: &[(&str, &str)], value: impl Into<Number>) {
        let value = value.into();
        let value = match self.inner.kind {
            MetricKind::Counter => SeriesValue::Counter(value),
            _ => SeriesValue::Gauge(value),
        };
        self.inner.series.push(Series {
            labels: labels
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            start: self.start,
            value,
        });
    }

    pub(crate) fn with(mut self, labels: &[(&str, &str)], value: impl Into<Number>) -> Self {
        self.add(labels, value);
        self
    }

    pub(crate) fn done(self) -> FamilySnapshot {
        self.inner
    }
}

/// Ticks to seconds.
pub(crate) fn secs(ticks: u64, per_second: u64) -> f64 {
    ticks as f64 / per_second as f64
}

/// Milliseconds to seconds.
pub(crate) fn ms(ms: u64) -> f64 {
    ms as f64 / 1000.0
}
