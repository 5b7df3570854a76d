//! Owned copies of collected metrics, for push exporters, collectors and tests.

use std::io;
use std::time::SystemTime;

use crate::visit::{
    ConstantLabels, FamilyInfo, HistogramValue, Labels, MetricKind, Number, Point, PointValue,
    Source, StateSetValue, SummaryValue, Visitor,
};

/// Everything a registry held at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// When it was collected.
    pub time: SystemTime,
    /// The families, in registration order.
    pub families: Vec<FamilySnapshot>,
}

/// One family: metadata and series.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilySnapshot {
    /// Full Prometheus name; counters carry no `_total`.
    pub name: String,
    /// Help text.
    pub help: String,
    /// Unit, empty when none.
    pub unit: String,
    /// Type.
    pub kind: MetricKind,
    /// The series.
    pub series: Vec<Series>,
    /// The exemplars of the series that have any: `(index into series, exemplars)`, by
    /// increasing index; the exemplars as [`Point::exemplars`] has them.
    pub exemplars: Vec<(usize, Vec<Option<crate::Exemplar>>)>,
}

impl FamilySnapshot {
    /// The exemplars of series `i` (empty when it has none).
    pub fn exemplars_of(&self, i: usize) -> &[Option<crate::Exemplar>] {
        self.exemplars
            .binary_search_by_key(&i, |(at, _)| *at)
            .map_or(&[], |k| &self.exemplars[k].1)
    }
}

/// One series: its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Label pairs in output order (constant labels first).
    pub labels: Vec<(String, String)>,
    /// When the series started counting.
    pub start: SystemTime,
    /// The value.
    pub value: SeriesValue,
}

/// The value of a series.
#[derive(Debug, Clone, PartialEq)]
pub enum SeriesValue {
    /// A counter total.
    Counter(Number),
    /// A gauge or up-down counter value.
    Gauge(Number),
    /// A histogram.
    Histogram(HistogramData),
    /// A stateset.
    StateSet(StateSetData),
    /// A summary.
    Summary(SummaryData),
}

/// An owned summary state.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryData {
    /// `(quantile, estimate)` over the window; NaN estimates when it was empty.
    pub quantiles: Vec<(f64, f64)>,
    /// Observations since the start.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
}

/// An owned stateset state: its state names and which are true.
#[derive(Debug, Clone, PartialEq)]
pub struct StateSetData {
    /// The state names, in registration order.
    pub states: Vec<Box<str>>,
    /// Bit `i` set when state `i` is true.
    pub set: u64,
}

impl StateSetData {
    /// `(state, true or false)` for every state, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, bool)> + '_ {
        self.as_value().iter()
    }

    /// Whether `state` is one of the states and true.
    pub fn is_set(&self, state: &str) -> bool {
        self.iter().any(|(s, on)| on && s == state)
    }

    fn as_value(&self) -> StateSetValue<'_> {
        StateSetValue {
            states: &self.states,
            set: self.set,
        }
    }
}

/// An owned histogram state.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramData {
    /// Upper bounds of the finite buckets.
    pub bounds: Vec<f64>,
    /// Observations per bucket, not cumulative; the last is the `+Inf` bucket.
    pub counts: Vec<u64>,
    /// Sum of observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
    /// The exponential buckets of an exponential histogram (`bounds` and `counts` are
    /// their classic view); `None` for a histogram with explicit buckets.
    pub exponential: Option<crate::ExpBuckets>,
}

impl HistogramData {
    /// As [`HistogramValue::sum_is_counter`]: `false` when a bucket bound is negative.
    pub fn sum_is_counter(&self) -> bool {
        crate::visit::sum_is_counter(&self.bounds)
    }

    fn as_value(&self) -> HistogramValue<'_> {
        HistogramValue {
            bounds: &self.bounds,
            counts: &self.counts,
            sum: self.sum,
            count: self.count,
            exponential: self.exponential.as_ref(),
        }
    }
}

impl SeriesValue {
    /// The value as an f64 for counters, gauges and info; `None` for histograms and
    /// statesets.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            SeriesValue::Counter(n) | SeriesValue::Gauge(n) => Some(n.as_f64()),
            SeriesValue::Histogram(_) | SeriesValue::StateSet(_) | SeriesValue::Summary(_) => None,
        }
    }

    /// The summary, if this is one.
    pub fn as_summary(&self) -> Option<&SummaryData> {
        match self {
            SeriesValue::Summary(s) => Some(s),
            _ => None,
        }
    }

    /// The stateset, if this is one.
    pub fn as_stateset(&self) -> Option<&StateSetData> {
        match self {
            SeriesValue::StateSet(s) => Some(s),
            _ => None,
        }
    }

    /// The histogram, if this is one.
    pub fn as_histogram(&self) -> Option<&HistogramData> {
        match self {
            SeriesValue::Histogram(h) => Some(h),
            _ => None,
        }
    }
}

impl Series {
    /// The value of one label, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl FamilySnapshot {
    /// An empty family, for [`Collector`](crate::Collector)s to fill.
    pub fn new(name: impl Into<String>, help: impl Into<String>, kind: MetricKind) -> Self {
        FamilySnapshot {
            name: name.into(),
            help: help.into(),
            unit: String::new(),
            kind,
            series: Vec::new(),
            exemplars: Vec::new(),
        }
    }

    /// Sets the unit (the name must end with `_{unit}`).
    #[must_use]
    pub fn with_unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = unit.into();
        self
    }

    /// Adds a counter or gauge point (by the family's kind) with the given labels.
    #[must_use]
    pub fn with_point(mut self, labels: &[(&str, &str)], value: impl Into<Number>) -> Self {
        let value = value.into();
        let value = match self.kind {
            MetricKind::Counter => SeriesValue::Counter(value),
            _ => SeriesValue::Gauge(value),
        };
        self.series.push(Series {
            labels: labels
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            start: SystemTime::UNIX_EPOCH,
            value,
        });
        self
    }

    /// The series whose labels include all of `labels`.
    pub fn series_with(&self, labels: &[(&str, &str)]) -> Option<&Series> {
        self.series
            .iter()
            .find(|s| labels.iter().all(|(n, v)| s.label(n) == Some(*v)))
    }
}

impl From<u64> for Number {
    fn from(v: u64) -> Self {
        Number::U64(v)
    }
}
impl From<i64> for Number {
    fn from(v: i64) -> Self {
        Number::I64(v)
    }
}
impl From<f64> for Number {
    fn from(v: f64) -> Self {
        Number::F64(v)
    }
}

impl Snapshot {
    /// Collects any source into an owned snapshot.
    pub fn collect(source: &dyn Source) -> Snapshot {
        let mut builder = Builder::default();
        // The builder never fails; a source only forwards visitor errors.
        let _ = source.visit(&mut builder);
        Snapshot {
            time: builder.time.unwrap_or_else(SystemTime::now),
            families: builder.families,
        }
    }

    /// The family with this name (counters without `_total`).
    pub fn family(&self, name: &str) -> Option<&FamilySnapshot> {
        self.families.iter().find(|f| f.name == name)
    }

    /// The value of the series of `family` whose labels include `labels`, as f64.
    pub fn value(&self, family: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.family(family)?.series_with(labels)?.value.as_f64()
    }
}

impl Source for Snapshot {
    fn visit(&self, visitor: &mut dyn Visitor) -> io::Result<()> {
        for family in &self.families {
            family.visit_at(visitor, self.time, &ConstantLabels::default())?;
        }
        Ok(())
    }
}

impl FamilySnapshot {
    /// Replays this family into a visitor, with `constant` labels before each series' own.
    pub(crate) fn visit_at(
        &self,
        visitor: &mut dyn Visitor,
        time: SystemTime,
        constant: &ConstantLabels,
    ) -> io::Result<()> {
        self.visit_named(&self.name, visitor, time, constant)
    }

    pub(crate) fn visit_named(
        &self,
        name: &str,
        visitor: &mut dyn Visitor,
        time: SystemTime,
        constant: &ConstantLabels,
    ) -> io::Result<()> {
        visitor.family(&FamilyInfo {
            name,
            help: &self.help,
            unit: &self.unit,
            kind: self.kind,
        })?;
        for (i, series) in self.series.iter().enumerate() {
            let value = match &series.value {
                SeriesValue::Counter(n) => PointValue::Counter(*n),
                SeriesValue::Gauge(n) => PointValue::Gauge(*n),
                SeriesValue::Histogram(h) => PointValue::Histogram(h.as_value()),
                SeriesValue::StateSet(s) => PointValue::StateSet(s.as_value()),
                SeriesValue::Summary(s) => PointValue::Summary(SummaryValue {
                    quantiles: &s.quantiles,
                    count: s.count,
                    sum: s.sum,
                }),
            };
            visitor.point(&Point {
                labels: Labels::from_pairs(&series.labels).with_constant(constant),
                value,
                start: series.start,
                time,
                exemplars: self.exemplars_of(i),
            })?;
        }
        visitor.end_family()
    }
}

#[derive(Default)]
struct Builder {
    time: Option<SystemTime>,
    families: Vec<FamilySnapshot>,
}

impl Visitor for Builder {
    fn family(&mut self, info: &FamilyInfo<'_>) -> io::Result<()> {
        self.families.push(FamilySnapshot {
            name: info.name.to_owned(),
            help: info.help.to_owned(),
            unit: info.unit.to_owned(),
            kind: info.kind,
            series: Vec::new(),
            exemplars: Vec::new(),
        });
        Ok(())
    }

    fn point(&mut self, point: &Point<'_>) -> io::Result<()> {
        self.time.get_or_insert(point.time);
        let value = match point.value {
            PointValue::Counter(n) => SeriesValue::Counter(n),
            PointValue::Gauge(n) => SeriesValue::Gauge(n),
            PointValue::Histogram(h) => SeriesValue::Histogram(HistogramData {
                bounds: h.bounds.to_vec(),
                counts: h.counts.to_vec(),
                sum: h.sum,
                count: h.count,
                exponential: h.exponential.cloned(),
            }),
            PointValue::StateSet(s) => SeriesValue::StateSet(StateSetData {
                states: s.states.to_vec(),
                set: s.set,
            }),
            PointValue::Summary(s) => SeriesValue::Summary(SummaryData {
                quantiles: s.quantiles.to_vec(),
                count: s.count,
                sum: s.sum,
            }),
        };
        if let Some(family) = self.families.last_mut() {
            if point.exemplars.iter().any(Option::is_some) {
                let at = family.series.len();
                family.exemplars.push((at, point.exemplars.to_vec()));
            }
            family.series.push(Series {
                labels: point.labels.to_vec(),
                start: point.start,
                value,
            });
        }
        Ok(())
    }
}
