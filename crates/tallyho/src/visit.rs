//! The one seam between stored metrics and every output format.
//!
//! Collection walks a [`Source`] (a [`Registry`](crate::Registry) or an owned
//! [`Snapshot`](crate::Snapshot)) and calls a [`Visitor`] once per family and once per
//! point. Each encoder is one `Visitor`; adding a format or an instrument is one impl.

use std::io;
use std::time::SystemTime;

/// The type of a metric family as the output formats see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetricKind {
    /// Monotonic total; Prometheus `counter`, OTLP monotonic cumulative sum.
    Counter,
    /// A value that is set; Prometheus `gauge`, OTLP gauge.
    Gauge,
    /// A total that goes up and down; Prometheus `gauge`, OTLP non-monotonic sum.
    UpDownCounter,
    /// Observations in explicit buckets with sum and count.
    Histogram,
    /// OpenMetrics `info`: one point of value 1 per label set describing the target
    /// (a build, a version). The family name carries no `_info`: formats add it to
    /// sample names, as they add `_total` to counters. Prometheus `gauge`, OTLP gauge.
    Info,
    /// OpenMetrics `gaugehistogram`: buckets of things present now, each going up and
    /// down ([`PointValue::Histogram`] with the current counts, `sum` the `_gsum`).
    GaugeHistogram,
    /// Quantiles over a sliding window with a total count and sum
    /// ([`PointValue::Summary`]); Prometheus and OpenMetrics `summary`, OTLP `Summary`.
    Summary,
    /// OpenMetrics `stateset`: a fixed list of named states, each true or false
    /// ([`PointValue::StateSet`]); formats without the type write one gauge sample per
    /// state, 1 or 0, with the family's name as the label naming the state.
    StateSet,
}

impl MetricKind {
    /// The lowercase word used in messages and in the JSON/CSV formats.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::UpDownCounter => "updowncounter",
            MetricKind::Histogram => "histogram",
            MetricKind::Info => "info",
            MetricKind::StateSet => "stateset",
            MetricKind::GaugeHistogram => "gaugehistogram",
            MetricKind::Summary => "summary",
        }
    }

    /// The suffix formats add to the family name in sample names of this kind's value:
    /// `_total` for counters, `_info` for info, none otherwise (histograms name each
    /// sample themselves).
    pub fn value_suffix(self) -> &'static str {
        match self {
            MetricKind::Counter => "_total",
            MetricKind::Info => "_info",
            _ => "",
        }
    }
}

/// A number as recorded: integers stay integers so formats can print them exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An unsigned integer (u64 counters).
    U64(u64),
    /// A signed integer (i64 gauges, up-down counters).
    I64(i64),
    /// A float.
    F64(f64),
}

impl Number {
    /// The value as an `f64` (large integers round).
    pub fn as_f64(self) -> f64 {
        match self {
            Number::U64(v) => v as f64,
            Number::I64(v) => v as f64,
            Number::F64(v) => v,
        }
    }
}

/// What one family is: name, help, unit and type.
#[derive(Debug, Clone, Copy)]
pub struct FamilyInfo<'a> {
    /// The full Prometheus name (prefix applied). Counters carry no `_total` here:
    /// formats add it to sample names.
    pub name: &'a str,
    /// Help text, unescaped.
    pub help: &'a str,
    /// Unit such as `seconds` or `bytes`; empty when none. The name ends with `_{unit}`
    /// or with an abbreviation of it (`_ms` for milliseconds, see `tallyho_names`).
    pub unit: &'a str,
    /// The type.
    pub kind: MetricKind,
}

/// Constant labels of a registry view, with their text form rendered once.
#[derive(Debug, Default)]
pub(crate) struct ConstantLabels {
    pub(crate) pairs: Box<[(Box<str>, Box<str>)]>,
    pub(crate) text: Box<[u8]>,
}

impl ConstantLabels {
    pub(crate) fn new(pairs: Vec<(Box<str>, Box<str>)>) -> Self {
        let text = crate::text::render(pairs.iter().map(|(n, v)| (&**n, &**v)));
        ConstantLabels {
            pairs: pairs.into(),
            text,
        }
    }
}

/// The labels of one point, in output order: constant labels, then the family's labels,
/// then owned pairs (snapshots, collectors), then (for the overflow series)
/// `otel_metric_overflow="true"`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Labels<'a> {
    constant: &'a [(Box<str>, Box<str>)],
    constant_text: &'a [u8],
    names: &'a [Box<str>],
    own_text: &'a [u8],
    pairs: &'a [(String, String)],
    extra: Option<(&'a str, &'a str)>,
}

/// The labels of a point as the text formats write them between braces. `constant` and
/// `own` are already rendered (`a="x",b="y"`, values escaped); `pairs` and `extra` still
/// need escaping. Any part may be empty; join the non-empty ones with commas.
#[derive(Debug, Clone, Copy)]
pub struct LabelText<'a> {
    /// Rendered constant labels.
    pub constant: &'a [u8],
    /// Rendered labels of the family series.
    pub own: &'a [u8],
    /// Owned pairs, raw.
    pub pairs: &'a [(String, String)],
    /// The overflow marker, raw.
    pub extra: Option<(&'a str, &'a str)>,
}

impl<'a> Labels<'a> {
    /// Labels from owned name/value pairs.
    pub fn from_pairs(pairs: &'a [(String, String)]) -> Self {
        Labels {
            pairs,
            ..Labels::default()
        }
    }

    pub(crate) fn new(
        constant: &'a ConstantLabels,
        names: &'a [Box<str>],
        own_text: &'a [u8],
        extra: Option<(&'a str, &'a str)>,
    ) -> Self {
        Labels {
            constant: &constant.pairs,
            constant_text: &constant.text,
            names,
            own_text,
            pairs: &[],
            extra,
        }
    }

    pub(crate) fn with_constant(self, constant: &'a ConstantLabels) -> Self {
        Labels {
            constant: &constant.pairs,
            constant_text: &constant.text,
            ..self
        }
    }

    /// Calls `f` with every `(name, value)` pair in output order, values unescaped.
    pub fn for_each(&self, mut f: impl FnMut(&str, &str)) {
        for (n, v) in self.constant {
            f(n, v);
        }
        crate::text::decode(self.own_text, self.names, &mut f);
        for (n, v) in self.pairs {
            f(n, v);
        }
        if let Some((n, v)) = self.extra {
            f(n, v);
        }
    }

    /// The labels in text form, for the Prometheus and OpenMetrics encoders.
    pub fn text(&self) -> LabelText<'a> {
        LabelText {
            constant: self.constant_text,
            own: self.own_text,
            pairs: self.pairs,
            extra: self.extra,
        }
    }

    /// Every `(name, value)` pair, owned.
    pub fn to_vec(&self) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each(|n, v| out.push((n.to_owned(), v.to_owned())));
        out
    }

    /// Whether there are no labels at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many pairs there are.
    pub fn len(&self) -> usize {
        self.constant.len()
            + if self.own_text.is_empty() {
                0
            } else {
                self.names.len()
            }
            + self.pairs.len()
            + usize::from(self.extra.is_some())
    }

    /// The value of one label, if present.
    pub fn get(&self, name: &str) -> Option<String> {
        let mut found = None;
        self.for_each(|n, v| {
            if found.is_none() && n == name {
                found = Some(v.to_owned());
            }
        });
        found
    }
}

/// A histogram's state at collection: per-bucket counts, sum and count, all consistent.
#[derive(Debug, Clone, Copy)]
pub struct HistogramValue<'a> {
    /// Upper bounds of the finite buckets, strictly increasing.
    pub bounds: &'a [f64],
    /// Observations per bucket (not cumulative); one more than `bounds`, the last is `+Inf`.
    pub counts: &'a [u64],
    /// Sum of all observations.
    pub sum: f64,
    /// Number of observations; equals the sum of `counts`.
    pub count: u64,
    /// The exponential buckets `bounds` and `counts` are the classic view of, for the
    /// formats that carry them (an [`ExponentialHistogram`](crate::ExponentialHistogram)).
    pub exponential: Option<&'a crate::ExpBuckets>,
}

/// Whether a histogram with these bounds may expose its sum: OpenMetrics forbids it
/// (and then the count with it) once a bucket bound is negative.
pub(crate) fn sum_is_counter(bounds: &[f64]) -> bool {
    bounds.first().map_or(true, |&b| b >= 0.0)
}

impl<'a> HistogramValue<'a> {
    /// Whether the sum is a counter that the text formats may expose. `false` when a
    /// bucket bound is negative: such a histogram takes negative observations, and
    /// OpenMetrics says "Negative threshold buckets MAY be used, but then the Histogram
    /// MetricPoint MUST NOT contain a sum value" (its parsers then also want no `_count`).
    /// Histograms without a negative bound refuse negative observations, so their sum
    /// never goes below zero.
    pub fn sum_is_counter(&self) -> bool {
        sum_is_counter(self.bounds)
    }

    /// `(upper bound, cumulative count)` for every bucket, ending with `(+Inf, count)`.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + 'a {
        let bounds = self
            .bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY));
        bounds.zip(self.counts.iter().scan(0u64, |acc, c| {
            *acc += c;
            Some(*acc)
        }))
    }
}

/// A stateset's value at collection: which of its states are true.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StateSetValue<'a> {
    /// The state names, in registration order (at most
    /// [`MAX_STATES`](crate::MAX_STATES)).
    pub states: &'a [Box<str>],
    /// Bit `i` set when state `i` is true.
    pub set: u64,
}

impl<'a> StateSetValue<'a> {
    /// `(state, true or false)` for every state, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, bool)> + 'a {
        let set = self.set;
        self.states
            .iter()
            .enumerate()
            .map(move |(i, s)| (&**s, set >> i & 1 == 1))
    }
}

/// A summary's state at collection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SummaryValue<'a> {
    /// `(quantile, estimate)` over the summary's window, quantiles increasing; the
    /// estimate is NaN when the window holds no observation.
    pub quantiles: &'a [(f64, f64)],
    /// Observations since the start.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
}

/// The value of one point.
#[derive(Debug, Clone, Copy)]
pub enum PointValue<'a> {
    /// A counter total.
    Counter(Number),
    /// A gauge or up-down counter value.
    Gauge(Number),
    /// A histogram.
    Histogram(HistogramValue<'a>),
    /// A stateset (an info point is a [`Gauge`](Self::Gauge) of 1).
    StateSet(StateSetValue<'a>),
    /// A summary.
    Summary(SummaryValue<'a>),
}

/// One series' value at one collection.
#[derive(Debug, Clone, Copy)]
pub struct Point<'a> {
    /// The labels.
    pub labels: Labels<'a>,
    /// The value.
    pub value: PointValue<'a>,
    /// When the series started counting (OpenMetrics `_created`, OTLP start time).
    pub start: SystemTime,
    /// When the value was collected.
    pub time: SystemTime,
    /// Exemplars kept with the value: one per bucket for a histogram (index as in
    /// [`HistogramValue::counts`]), one for a counter; empty when there are none.
    pub exemplars: &'a [Option<crate::Exemplar>],
}

/// Receives families and their points; every encoder implements it.
///
/// Calls come in the order `family`, `point`*, `end_family`, for each family.
pub trait Visitor {
    /// A family begins.
    ///
    /// # Errors
    /// An I/O error from the encoder's writer stops the collection.
    fn family(&mut self, info: &FamilyInfo<'_>) -> io::Result<()>;

    /// One point of the current family.
    ///
    /// # Errors
    /// An I/O error from the encoder's writer stops the collection.
    fn point(&mut self, point: &Point<'_>) -> io::Result<()>;

    /// The current family ends.
    ///
    /// # Errors
    /// An I/O error from the encoder's writer stops the collection.
    fn end_family(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Anything that can be walked by a [`Visitor`]: a registry, a snapshot.
pub trait Source {
    /// Walks every family and point.
    ///
    /// # Errors
    /// The first error the visitor returns.
    fn visit(&self, visitor: &mut dyn Visitor) -> io::Result<()>;
}

impl<S: Source + ?Sized> Source for &S {
    fn visit(&self, visitor: &mut dyn Visitor) -> io::Result<()> {
        (**self).visit(visitor)
    }
}
