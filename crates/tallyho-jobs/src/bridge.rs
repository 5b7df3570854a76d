//! A [`metrics::Recorder`] that records into a tallyho [`Registry`].
//!
//! Code instrumented with the `metrics` crate's macros (`counter!`, `gauge!`,
//! `histogram!`, `describe_*!`) then shows up in every tallyho output.
//!
//! ```
//! use tallyho::Registry;
//! use tallyho_jobs::TallyhoRecorder;
//!
//! let registry = Registry::new();
//! let recorder = TallyhoRecorder::new(&registry);
//! metrics::with_local_recorder(&recorder, || {
//!     metrics::describe_counter!("http.requests", "Requests handled.");
//!     metrics::counter!("http.requests", "method" => "GET").increment(2);
//! });
//! let s = registry.snapshot();
//! assert_eq!(s.value("http_requests", &[("method", "GET")]), Some(2.0));
//! assert_eq!(s.family("http_requests").unwrap().help, "Requests handled.");
//! ```
//!
//! # Mapping
//!
//! - `counter!` is a `u64` counter family, `gauge!` an `f64` gauge family, `histogram!` a
//!   histogram family (default seconds buckets, or [`TallyhoRecorder::buckets`] /
//!   [`TallyhoRecorder::buckets_for`]).
//! - A metric name's `.` becomes `_` (`http.requests` is `http_requests`); names tallyho
//!   rejects otherwise (a `-`, a leading digit) are not recorded. The same goes for
//!   label keys, whose `.` also becomes `_`.
//! - A family's label names are the label keys of its first registration, sorted. A later
//!   registration with another key set records into a no-op and is counted in
//!   `tallyho_metrics_bridge_rejected_total{metric="<name>"}`, as is every registration of
//!   a name tallyho refused (invalid name, or the name already registered with another
//!   type or labels).
//! - Units: [`Unit::Seconds`] is `seconds`, [`Unit::Bytes`] is `bytes`, the other time and
//!   byte units keep their name (`milliseconds`, `kibibytes`, ...), [`Unit::Percent`] is
//!   `percent`; [`Unit::Count`] and the rates have no unit. As everywhere in tallyho, a
//!   unit is appended to the name when the name does not already end with it.
//! - `Counter::absolute(v)` raises the counter to `v` (never lowers it); racing
//!   `absolute` calls on one series may overshoot.
//!
//! # Limitation: describe before first use
//!
//! tallyho fixes a family's help and unit when it is registered. Descriptions are kept
//! and applied when a metric is first registered, so `describe_*!` must run before the
//! first `counter!`/`gauge!`/`histogram!` of that name (typically at start-up). A
//! description that arrives later is kept but has no effect on the family already
//! registered.
//!
//! # Cost
//!
//! Each macro invocation calls `register_*`: one read lock of a read-mostly map from name
//! to family (taken exclusively only when a name is first seen), tallyho's lock-free
//! label lookup, and one small allocation for the handle returned to `metrics`. Keep the
//! handle (`let c = counter!(..);`) to skip all of it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use metrics::{
    Counter as MCounter, CounterFn, Gauge as MGauge, GaugeFn, Histogram as MHistogram, HistogramFn,
    Key, KeyName, Metadata, Recorder, SetRecorderError, SharedString, Unit,
};
use tallyho::{Buckets, Counter, Error, Family, Gauge, Histogram, Instrument, Registry};

/// Name of the self-metric counting registrations recorded into a no-op (Prometheus:
/// `tallyho_metrics_bridge_rejected_total`).
pub const REJECTED_METRIC: &str = "tallyho_metrics_bridge_rejected";

type Map<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// Records the `metrics` crate's macros into a tallyho [`Registry`]; see the
/// [module docs](self) for the mapping.
///
/// Install it globally with [`install`](Self::install), or for a scope with
/// [`metrics::with_local_recorder`].
pub struct TallyhoRecorder(Box<Inner>);

/// Most cached handles per kind; beyond it, handles are made per call (still correct).
const CACHE_LIMIT: usize = 100_000;

/// A bounded cache of handles by `metrics::Key`.
type Handles<H> = RwLock<HashMap<Key, Arc<H>>>;

/// The cached handle for `key`, or one made by `make` (cached while there is room);
/// `None` when `make` refuses the key.
fn cached<H>(cache: &Handles<H>, key: &Key, make: impl FnOnce() -> Option<H>) -> Option<Arc<H>> {
    if let Some(h) = cache.read().unwrap_or_else(|p| p.into_inner()).get(key) {
        return Some(h.clone());
    }
    let handle = Arc::new(make()?);
    let mut cache = cache.write().unwrap_or_else(|p| p.into_inner());
    if cache.len() < CACHE_LIMIT {
        cache.insert(key.clone(), handle.clone());
    }
    Some(handle)
}

struct Inner {
    registry: Registry,
    buckets: Buckets,
    buckets_for: HashMap<String, Buckets>,
    counters: Kind<Counter>,
    /// Handles already made for a key: repeated `counter!` (`gauge!`, `histogram!`) calls
    /// clone one instead of looking the series up and allocating a new handle each time.
    counter_handles: Handles<CounterHandle>,
    gauge_handles: Handles<GaugeHandle>,
    histogram_handles: Handles<HistogramHandle>,
    gauges: Kind<Gauge>,
    histograms: Kind<Histogram>,
    rejected: Family<Counter>,
}

impl std::fmt::Debug for TallyhoRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TallyhoRecorder")
            .field("registry", &self.0.registry)
            .field("buckets", &self.0.buckets.bounds())
            .finish_non_exhaustive()
    }
}

/// The families and descriptions of one metric type.
struct Kind<M: Instrument> {
    families: RwLock<Map<Slot<M>>>,
    described: Mutex<HashMap<String, (Option<Unit>, SharedString)>>,
}

impl<M: Instrument> Default for Kind<M> {
    fn default() -> Self {
        Kind {
            families: RwLock::new(Map::default()),
            described: Mutex::new(HashMap::new()),
        }
    }
}

/// One metric name: the sorted label keys of its first registration and its family
/// (`None` when tallyho refused the registration).
struct Slot<M: Instrument> {
    keys: Box<[Box<str>]>,
    family: Option<Family<M>>,
}

/// Label pairs of a key sorted by label key, on the stack for up to 8 labels.
const STACK_LABELS: usize = 8;

fn with_sorted_labels<R>(key: &Key, f: impl FnOnce(&[(&str, &str)]) -> R) -> R {
    let mut stack = [("", ""); STACK_LABELS];
    let mut n = 0;
    let mut heap: Vec<(&str, &str)> = Vec::new();
    for l in key.labels() {
        if n < STACK_LABELS {
            stack[n] = (l.key(), l.value());
            n += 1;
        } else {
            if heap.is_empty() {
                heap.extend_from_slice(&stack);
            }
            heap.push((l.key(), l.value()));
        }
    }
    let pairs: &mut [(&str, &str)] = if heap.is_empty() {
        &mut stack[..n]
    } else {
        &mut heap
    };
    if !pairs.windows(2).all(|w| w[0].0 <= w[1].0) {
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    }
    f(pairs)
}

/// The tallyho name of a unit, if it has one.
pub fn unit_name(unit: Unit) -> Option<&'static str> {
    Some(match unit {
        Unit::Seconds => "seconds",
        Unit::Milliseconds => "milliseconds",
        Unit::Microseconds => "microseconds",
        Unit::Nanoseconds => "nanoseconds",
        Unit::Bytes => "bytes",
        Unit::Kibibytes => "kibibytes",
        Unit::Mebibytes => "mebibytes",
        Unit::Gibibytes => "gibibytes",
        Unit::Tebibytes => "tebibytes",
        Unit::Percent => "percent",
        _ => return None,
    })
}

impl TallyhoRecorder {
    /// A recorder into `registry` (histograms get [`Buckets::default_seconds`]).
    pub fn new(registry: &Registry) -> Self {
        let rejected = registry
            .metric(
                REJECTED_METRIC,
                "Registrations through the metrics crate that tallyho could not record (label keys differing from the first registration, invalid or conflicting names).",
            )
            .counter_family(&["metric"])
            .unwrap_or_else(|_| Family::noop());
        TallyhoRecorder(Box::new(Inner {
            registry: registry.clone(),
            buckets: Buckets::default_seconds(),
            buckets_for: HashMap::new(),
            counters: Kind::default(),
            counter_handles: Handles::default(),
            gauge_handles: Handles::default(),
            histogram_handles: Handles::default(),
            gauges: Kind::default(),
            histograms: Kind::default(),
            rejected,
        }))
    }

    /// The buckets of histograms without [`buckets_for`](Self::buckets_for) settings.
    pub fn buckets(mut self, buckets: Buckets) -> Self {
        self.0.buckets = buckets;
        self
    }

    /// The buckets of the histogram named `name` (as written in `histogram!`).
    pub fn buckets_for(mut self, name: &str, buckets: Buckets) -> Self {
        self.0.buckets_for.insert(name.to_owned(), buckets);
        self
    }

    /// The registry recorded into.
    pub fn registry(&self) -> &Registry {
        &self.0.registry
    }

    /// Installs this recorder as the `metrics` crate's global recorder.
    ///
    /// # Errors
    /// A global recorder was already installed (the recorder comes back in the error).
    pub fn install(self) -> Result<(), SetRecorderError<Self>> {
        metrics::set_global_recorder(self)
    }

    fn reject(&self, name: &str) {
        self.0.rejected.with(&[name]).inc();
    }

    /// The child of `key` in its family, registering the family when the name is new.
    fn lookup<M: Instrument + Clone>(
        &self,
        kind: &Kind<M>,
        key: &Key,
        register: impl FnOnce(&str, &str, Option<&str>, &[&str]) -> Result<Family<M>, Error>,
    ) -> Option<M> {
        let name = key.name();
        with_sorted_labels(key, |pairs| {
            {
                let map = kind.families.read().unwrap_or_else(|p| p.into_inner());
                if let Some(slot) = map.get(name) {
                    return self.child(slot, name, pairs);
                }
            }
            let mut map = kind.families.write().unwrap_or_else(|p| p.into_inner());
            if !map.contains_key(name) {
                let keys: Box<[Box<str>]> = pairs.iter().map(|p| p.0.into()).collect();
                let label_names: Vec<String> = keys.iter().map(|k| k.replace('.', "_")).collect();
                let label_names: Vec<&str> = label_names.iter().map(String::as_str).collect();
                let (help, unit) = {
                    let described = kind.described.lock().unwrap_or_else(|p| p.into_inner());
                    match described.get(name) {
                        Some((unit, help)) => (help.to_string(), unit.and_then(unit_name)),
                        None => (String::new(), None),
                    }
                };
                let family = register(name, &help, unit, &label_names).ok();
                map.insert(name.to_owned(), Slot { keys, family });
            }
            self.child(&map[name], name, pairs)
        })
    }

    fn child<M: Instrument + Clone>(
        &self,
        slot: &Slot<M>,
        name: &str,
        pairs: &[(&str, &str)],
    ) -> Option<M> {
        let same_keys =
            slot.keys.len() == pairs.len() && slot.keys.iter().zip(pairs).all(|(k, p)| **k == *p.0);
        match &slot.family {
            Some(family) if same_keys => {
                let mut values = [""; STACK_LABELS];
                if pairs.len() <= STACK_LABELS {
                    for (v, p) in values.iter_mut().zip(pairs) {
                        *v = p.1;
                    }
                    Some(family.with(&values[..pairs.len()]).clone())
                } else {
                    let values: Vec<&str> = pairs.iter().map(|p| p.1).collect();
                    Some(family.with(&values).clone())
                }
            }
            _ => {
                self.reject(name);
                None
            }
        }
    }

    fn describe<M: Instrument>(
        kind: &Kind<M>,
        key: KeyName,
        unit: Option<Unit>,
        help: SharedString,
    ) {
        kind.described
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.as_str().to_owned(), (unit, help));
    }
}

/// A tallyho counter behind a `metrics::Counter`.
struct CounterHandle(Counter);

impl CounterFn for CounterHandle {
    #[inline]
    fn increment(&self, value: u64) {
        self.0.add(value);
    }

    fn absolute(&self, value: u64) {
        let now = self.0.get();
        if value > now {
            self.0.add(value - now);
        }
    }
}

/// A tallyho gauge behind a `metrics::Gauge`.
struct GaugeHandle(Gauge);

impl GaugeFn for GaugeHandle {
    #[inline]
    fn increment(&self, value: f64) {
        self.0.add(value);
    }

    #[inline]
    fn decrement(&self, value: f64) {
        self.0.sub(value);
    }

    #[inline]
    fn set(&self, value: f64) {
        self.0.set(value);
    }
}

/// A tallyho histogram behind a `metrics::Histogram`.
struct HistogramHandle(Histogram);

impl HistogramFn for HistogramHandle {
    #[inline]
    fn record(&self, value: f64) {
        self.0.observe(value);
    }
}

impl Recorder for TallyhoRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        Self::describe(&self.0.counters, key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        Self::describe(&self.0.gauges, key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        Self::describe(&self.0.histograms, key, unit, description);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> MCounter {
        let handle = cached(&self.0.counter_handles, key, || {
            self.lookup(&self.0.counters, key, |name, help, unit, labels| {
                let mut b = self.0.registry.metric(name, help);
                if let Some(u) = unit {
                    b = b.unit(u);
                }
                b.counter_family(labels)
            })
            .map(CounterHandle)
        });
        handle.map_or_else(MCounter::noop, MCounter::from_arc)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> MGauge {
        let handle = cached(&self.0.gauge_handles, key, || {
            self.lookup(&self.0.gauges, key, |name, help, unit, labels| {
                let mut b = self.0.registry.metric(name, help);
                if let Some(u) = unit {
                    b = b.unit(u);
                }
                b.gauge_family(labels)
            })
            .map(GaugeHandle)
        });
        handle.map_or_else(MGauge::noop, MGauge::from_arc)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> MHistogram {
        let handle = cached(&self.0.histogram_handles, key, || {
            self.lookup(&self.0.histograms, key, |name, help, unit, labels| {
                let buckets = self
                    .0
                    .buckets_for
                    .get(name)
                    .unwrap_or(&self.0.buckets)
                    .clone();
                let mut b = self.0.registry.metric(name, help).buckets(buckets);
                if let Some(u) = unit {
                    b = b.unit(u);
                }
                b.histogram_family(labels)
            })
            .map(HistogramHandle)
        });
        handle.map_or_else(MHistogram::noop, MHistogram::from_arc)
    }
}
