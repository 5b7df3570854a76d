//! One meter: the API's `InstrumentProvider`, building every instrument kind on a
//! registry that carries the meter's scope as constant labels.

use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry::metrics::{
    AsyncInstrumentBuilder, Counter, Gauge, Histogram, HistogramBuilder, InstrumentBuilder,
    InstrumentProvider, ObservableCounter, ObservableGauge, ObservableUpDownCounter, UpDownCounter,
};
use tallyho::{Buckets, CounterF64, Gauge as TGauge, GaugeI64, Histogram as THistogram, Registry};

use crate::drops::Drops;
use crate::observable::{self, Kind};
use crate::sync::{Recorder, Spec};
use crate::{names, DEFAULT_BOUNDARIES};

/// The instrument provider behind one API `Meter`.
#[derive(Debug)]
pub(crate) struct TallyhoMeter {
    pub(crate) registry: Registry,
    pub(crate) drops: Arc<Drops>,
}

/// What every builder carries.
struct Basics<'a> {
    name: &'a Cow<'static, str>,
    description: &'a Option<Cow<'static, str>>,
    unit: &'a Option<Cow<'static, str>>,
}

macro_rules! basics {
    ($b:expr) => {
        Basics {
            name: &$b.name,
            description: &$b.description,
            unit: &$b.unit,
        }
    };
}

impl TallyhoMeter {
    /// The spec of an instrument and the problem, if any, that refuses it from the start.
    fn spec(
        &self,
        b: Basics<'_>,
        gauge: bool,
        boundaries: Option<&[f64]>,
    ) -> (Spec, Option<String>) {
        let name = names::metric_name(b.name);
        let mut problem = tallyho::name::metric_name(&name)
            .err()
            .map(|e| e.to_string());
        let buckets = boundaries.map(|bounds| match Buckets::new(bounds.to_vec()) {
            Ok(buckets) => buckets,
            Err(e) => {
                problem.get_or_insert_with(|| format!("bucket boundaries {bounds:?}: {e}"));
                Buckets::default()
            }
        });
        let spec = Spec {
            registry: self.registry.clone(),
            api_name: b.name.to_string(),
            name,
            help: b.description.as_deref().unwrap_or("").to_owned(),
            unit: b.unit.as_deref().and_then(|u| names::unit(u, gauge)),
            buckets,
            drops: self.drops.clone(),
        };
        (spec, problem)
    }

    fn sync<M, T, F>(&self, b: Basics<'_>, gauge: bool, record: F) -> Arc<Recorder<M, T, F>>
    where
        M: tallyho::Instrument,
        F: Fn(&M, T) + Send + std::marker::Sync + 'static,
    {
        let (spec, problem) = self.spec(b, gauge, None);
        Arc::new(Recorder::new(spec, problem, record))
    }

    fn histogram<T>(
        &self,
        b: &HistogramBuilder<'_, Histogram<T>>,
        record: fn(&THistogram, T),
    ) -> Histogram<T>
    where
        T: Copy + Send + std::marker::Sync + 'static,
    {
        let bounds = b.boundaries.as_deref().unwrap_or(&DEFAULT_BOUNDARIES);
        let (spec, problem) = self.spec(basics!(b), false, Some(bounds));
        Histogram::new(Arc::new(Recorder::new(spec, problem, record)))
    }

    fn observable<I, T: 'static>(
        &self,
        b: AsyncInstrumentBuilder<'_, I, T>,
        kind: Kind,
        convert: fn(T) -> f64,
    ) {
        let (spec, problem) = self.spec(basics!(b), matches!(kind, Kind::Gauge), None);
        observable::register(spec, problem, kind, b.callbacks, convert);
    }
}

impl InstrumentProvider for TallyhoMeter {
    fn u64_counter(&self, b: InstrumentBuilder<'_, Counter<u64>>) -> Counter<u64> {
        Counter::new(self.sync(basics!(b), false, |c: &tallyho::Counter, v| c.add(v)))
    }

    fn f64_counter(&self, b: InstrumentBuilder<'_, Counter<f64>>) -> Counter<f64> {
        Counter::new(self.sync(basics!(b), false, |c: &CounterF64, v| c.add(v)))
    }

    fn i64_up_down_counter(
        &self,
        b: InstrumentBuilder<'_, UpDownCounter<i64>>,
    ) -> UpDownCounter<i64> {
        let record = |c: &tallyho::UpDownCounter, v| c.add(v);
        UpDownCounter::new(self.sync(basics!(b), false, record))
    }

    fn f64_up_down_counter(
        &self,
        b: InstrumentBuilder<'_, UpDownCounter<f64>>,
    ) -> UpDownCounter<f64> {
        // tallyho's up-down counter counts in i64: an f64 one is a gauge moved by `add`.
        UpDownCounter::new(self.sync(basics!(b), false, |g: &TGauge, v| g.add(v)))
    }

    fn u64_gauge(&self, b: InstrumentBuilder<'_, Gauge<u64>>) -> Gauge<u64> {
        Gauge::new(self.sync(basics!(b), true, |g: &TGauge, v: u64| g.set(v as f64)))
    }

    fn i64_gauge(&self, b: InstrumentBuilder<'_, Gauge<i64>>) -> Gauge<i64> {
        Gauge::new(self.sync(basics!(b), true, |g: &GaugeI64, v| g.set(v)))
    }

    fn f64_gauge(&self, b: InstrumentBuilder<'_, Gauge<f64>>) -> Gauge<f64> {
        Gauge::new(self.sync(basics!(b), true, |g: &TGauge, v| g.set(v)))
    }

    fn f64_histogram(&self, b: HistogramBuilder<'_, Histogram<f64>>) -> Histogram<f64> {
        self.histogram(&b, |h, v| h.observe(v))
    }

    fn u64_histogram(&self, b: HistogramBuilder<'_, Histogram<u64>>) -> Histogram<u64> {
        self.histogram(&b, |h, v| h.observe(v as f64))
    }

    fn u64_observable_counter(
        &self,
        b: AsyncInstrumentBuilder<'_, ObservableCounter<u64>, u64>,
    ) -> ObservableCounter<u64> {
        self.observable(b, Kind::Counter, |v| v as f64);
        ObservableCounter::new()
    }

    fn f64_observable_counter(
        &self,
        b: AsyncInstrumentBuilder<'_, ObservableCounter<f64>, f64>,
    ) -> ObservableCounter<f64> {
        self.observable(b, Kind::Counter, |v| v);
        ObservableCounter::new()
    }

    fn i64_observable_up_down_counter(
        &self,
        b: AsyncInstrumentBuilder<'_, ObservableUpDownCounter<i64>, i64>,
    ) -> ObservableUpDownCounter<i64> {
        self.observable(b, Kind::UpDownCounter, |v| v as f64);
        ObservableUpDownCounter::new()
    }

    fn f64_observable_up_down_counter(
        &self,
        b: AsyncInstrumentBuilder<'_, ObservableUpDownCounter<f64>, f64>,
    ) -> ObservableUpDownCounter<f64> {
        self.observable(b, Kind::UpDownCounter, |v| v);
        ObservableUpDownCounter::new()
    }

    fn u64_observable_gauge(
        &self,
        b: AsyncInstrumentBuilder<'_, ObservableGauge<u64>, u64>,
    ) -> ObservableGauge<u64> {
        self.observable(b, Kind::Gauge, |v| v as f64);
        ObservableGauge::new()
    }

    fn i64_observable_gauge(
        &self,
        b: AsyncInstrumentBuilder<'_, ObservableGauge<i64>, i64>,
    ) -> ObservableGauge<i64> {
        self.observable(b, Kind::Gauge, |v| v as f64);
        ObservableGauge::new()
    }

    fn f64_observable_gauge(
        &self,
        b: AsyncInstrumentBuilder<'_, ObservableGauge<f64>, f64>,
    ) -> ObservableGauge<f64> {
        self.observable(b, Kind::Gauge, |v| v);
        ObservableGauge::new()
    }
}
