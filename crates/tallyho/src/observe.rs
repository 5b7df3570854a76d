//! Observable families: labelled points reported by callbacks at collection time, one
//! callback per family or one batch callback for several families.
//!
//! Everything here runs on the collection path (the slow path): it may allocate, and it
//! never touches the recording hot path of the other instruments.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use crate::read::Readable;
use crate::visit::{ConstantLabels, Labels, MetricKind, Number, Point, PointValue, Visitor};
use crate::OVERFLOW_LABEL;

/// What one observable family is: label names, type and cardinality limit.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) names: Box<[Box<str>]>,
    pub(crate) kind: MetricKind,
    pub(crate) limit: usize,
}

impl Spec {
    pub(crate) fn new(labels: &[&str], kind: MetricKind, limit: usize) -> Arc<Self> {
        Arc::new(Spec {
            names: labels.iter().map(|l| Box::from(*l)).collect(),
            kind,
            limit,
        })
    }

    fn value(&self, v: f64) -> PointValue<'static> {
        match self.kind {
            MetricKind::Counter => PointValue::Counter(Number::F64(v)),
            _ => PointValue::Gauge(Number::F64(v)),
        }
    }
}

/// Receives the points of one observable family during one collection.
///
/// A point is dropped, and counted in the registry's `tallyho_refused_values` self-metric
/// under the family's name, when it has the wrong number of label values, a label set
/// already reported in this callback run, or a value that is NaN or infinite (or negative,
/// for a counter). Label sets past the family's cardinality limit go to its overflow
/// series (`otel_metric_overflow="true"`), counted in `tallyho_cardinality_overflow`:
/// counters and up-down counters sum what overflowed, gauges keep the last value.
///
/// ```
/// let registry = tallyho::Registry::new();
/// registry
///     .metric("pool_connections", "Open connections per pool.")
///     .observable_up_down_counter_family(&["pool"], |obs: &mut tallyho::Observer| {
///         obs.observe(&["primary"], 12.0);
///         obs.observe(&["replica"], 3.0);
///     })?;
/// let snapshot = registry.snapshot();
/// assert_eq!(snapshot.value("pool_connections", &[("pool", "replica")]), Some(3.0));
/// # Ok::<(), tallyho::Error>(())
/// ```
#[derive(Debug)]
pub struct Observer {
    spec: Arc<Spec>,
    /// Label sets seen in this run below the limit (overflowed ones are not kept, so the
    /// memory of one run is bounded by the limit).
    seen: HashSet<Box<[u8]>>,
    points: Vec<(Box<[u8]>, f64)>,
    overflow: Option<f64>,
    overflowed: u64,
    refused: u64,
}

impl Observer {
    fn new(spec: Arc<Spec>) -> Self {
        Observer {
            spec,
            seen: HashSet::new(),
            points: Vec::new(),
            overflow: None,
            overflowed: 0,
            refused: 0,
        }
    }

    /// Reports `value` for the label values `labels` (in the order of the family's label
    /// names). Bad points are dropped and counted, never a panic (see [`Observer`]).
    ///
    /// ```
    /// let registry = tallyho::Registry::new();
    /// registry
    ///     .metric("gpu_temperature", "GPU temperature.")
    ///     .unit("celsius")
    ///     .observable_gauge_family(&["gpu"], |obs: &mut tallyho::Observer| {
    ///         obs.observe(&["0"], 71.0);
    ///         obs.observe(&["1"], 64.5);
    ///         obs.observe(&["1", "extra"], 1.0); // wrong label count: dropped, counted
    ///     })?;
    /// let snapshot = registry.snapshot();
    /// assert_eq!(snapshot.value("gpu_temperature_celsius", &[("gpu", "1")]), Some(64.5));
    /// # Ok::<(), tallyho::Error>(())
    /// ```
    pub fn observe(&mut self, labels: &[&str], value: f64) {
        let spec = &*self.spec;
        let counter = spec.kind == MetricKind::Counter;
        if labels.len() != spec.names.len() || !value.is_finite() || (counter && value < 0.0) {
            self.refused += 1;
            return;
        }
        let key = crate::text::render(spec.names.iter().map(|n| &**n).zip(labels.iter().copied()));
        if self.seen.contains(&key) {
            self.refused += 1;
            return;
        }
        if self.points.len() >= spec.limit {
            let merged = match (self.overflow, spec.kind) {
                (Some(o), MetricKind::Counter | MetricKind::UpDownCounter) => o + value,
                _ => value,
            };
            if merged.is_finite() {
                self.overflow = Some(merged);
                self.overflowed += 1;
            } else {
                self.refused += 1;
            }
            return;
        }
        self.seen.insert(key.clone());
        self.points.push((key, value));
    }

    /// The label names of the family, in the order [`observe`](Self::observe) takes values.
    pub fn label_names(&self) -> Vec<&str> {
        self.spec.names.iter().map(|n| &**n).collect()
    }

    /// Writes the accepted points, then the overflow series.
    fn emit(
        &self,
        constant: &ConstantLabels,
        start: SystemTime,
        time: SystemTime,
        v: &mut dyn Visitor,
    ) -> io::Result<()> {
        for (key, value) in &self.points {
            v.point(&Point {
                labels: Labels::new(constant, &self.spec.names, key, None),
                value: self.spec.value(*value),
                start,
                time,
                exemplars: &[],
            })?;
        }
        if let Some(value) = self.overflow {
            v.point(&Point {
                labels: Labels::new(constant, &[], &[], Some((OVERFLOW_LABEL, "true"))),
                value: self.spec.value(value),
                start,
                time,
                exemplars: &[],
            })?;
        }
        Ok(())
    }
}

/// Refused and overflowed points of one family, summed over every collection.
#[derive(Debug, Default)]
struct Tally {
    refused: AtomicU64,
    overflowed: AtomicU64,
}

impl Tally {
    fn add(&self, obs: &Observer) {
        self.refused.fetch_add(obs.refused, Ordering::Relaxed);
        self.overflowed.fetch_add(obs.overflowed, Ordering::Relaxed);
    }
}

type FamilyCallback = Box<dyn Fn(&mut Observer) + Send + Sync>;

/// An observable family with its own callback, run once per read.
pub(crate) struct ObservedFamily {
    spec: Arc<Spec>,
    callback: FamilyCallback,
    start: SystemTime,
    tally: Tally,
}

impl ObservedFamily {
    pub(crate) fn new(spec: Arc<Spec>, callback: FamilyCallback) -> Self {
        ObservedFamily {
            spec,
            callback,
            start: SystemTime::now(),
            tally: Tally::default(),
        }
    }
}

impl Readable for ObservedFamily {
    fn points(
        &self,
        constant: &ConstantLabels,
        time: SystemTime,
        v: &mut dyn Visitor,
    ) -> io::Result<()> {
        let mut obs = Observer::new(self.spec.clone());
        // A panicking callback loses its own points, not the collection.
        if catch_unwind(AssertUnwindSafe(|| (self.callback)(&mut obs))).is_err() {
            return Ok(());
        }
        self.tally.add(&obs);
        obs.emit(constant, self.start, time, v)
    }

    fn overflow_records(&self) -> u64 {
        self.tally.overflowed.load(Ordering::Relaxed)
    }

    fn refused_records(&self) -> u64 {
        self.tally.refused.load(Ordering::Relaxed)
    }
}

/// Ids of slots and batches: identity without pointers.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Serialises [`bind`]: a family joins at most one batch, all or nothing.
static BIND: Mutex<()> = Mutex::new(());

/// One family fed by a batch callback: the registered member and the handle's target.
pub(crate) struct Slot {
    id: u64,
    name: String,
    spec: Arc<Spec>,
    start: SystemTime,
    batch: OnceLock<Arc<Batch>>,
    tally: Tally,
}

/// A handle to an observable family whose points come from a batch callback registered
/// with [`Registry::observe_batch`](crate::Registry::observe_batch); made by
/// [`MetricBuilder::batch_gauge_family`](crate::MetricBuilder::batch_gauge_family) and its
/// counter and up-down counter siblings. Cheap to clone. Until a batch callback reports
/// into it, the family has no series.
#[derive(Clone, Default)]
pub struct ObservableFamily(Option<Arc<Slot>>);

impl std::fmt::Debug for ObservableFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("ObservableFamily");
        if let Some(s) = &self.0 {
            d.field("name", &s.name)
                .field("labels", &s.spec.names)
                .field("batched", &s.batch.get().is_some());
        }
        d.finish()
    }
}

impl ObservableFamily {
    pub(crate) fn new(name: &str, spec: Arc<Spec>) -> (Self, Arc<dyn Readable>) {
        let slot = Arc::new(Slot {
            id: next_id(),
            name: name.to_owned(),
            spec,
            start: SystemTime::now(),
            batch: OnceLock::new(),
            tally: Tally::default(),
        });
        (ObservableFamily(Some(slot.clone())), slot)
    }

    /// A handle that reports nothing (a disabled registry's).
    pub(crate) fn noop() -> Self {
        ObservableFamily(None)
    }

    /// The family's full name (empty for a disabled registry's handle).
    pub fn name(&self) -> &str {
        self.0.as_ref().map_or("", |s| &s.name)
    }
}

type BatchCallback = Box<dyn Fn(&mut BatchObserver) + Send + Sync>;

/// A batch callback and the families it reports into.
pub(crate) struct Batch {
    id: u64,
    callback: BatchCallback,
    /// Slot ids and specs, in registration order (no `Arc<Slot>`: no reference cycle).
    members: Vec<(u64, Arc<Spec>)>,
}

impl Batch {
    fn index_of(&self, slot: u64) -> Option<usize> {
        self.members.iter().position(|(id, _)| *id == slot)
    }

    /// Runs the callback once: one observer per family, `None` when it panicked.
    fn run(&self) -> Run {
        let mut b = BatchObserver {
            members: &self.members,
            parts: self
                .members
                .iter()
                .map(|(_, spec)| Observer::new(spec.clone()))
                .collect(),
        };
        catch_unwind(AssertUnwindSafe(|| (self.callback)(&mut b))).ok()?;
        Some(b.parts.into_iter().map(Some).collect())
    }
}

/// Receives the points of every family of one batch callback during one collection.
///
/// Each point is checked as [`Observer::observe`] checks it; a point for a family that is
/// not registered with this batch is dropped and counted as refused in that family.
///
/// ```
/// use tallyho::{BatchObserver, Registry};
///
/// let registry = Registry::new();
/// let temp = registry.metric("gpu_temperature", "GPU temperature.").batch_gauge_family(&["gpu"])?;
/// let util = registry.metric("gpu_utilization", "GPU busy ratio.").batch_gauge_family(&["gpu"])?;
/// let (t, u) = (temp.clone(), util.clone());
/// registry.observe_batch(&[&temp, &util], move |b: &mut BatchObserver| {
///     // One query to the device, two families filled.
///     for (gpu, celsius, busy) in [("0", 71.0, 0.93), ("1", 64.0, 0.12)] {
///         b.observe(&t, &[gpu], celsius);
///         b.observe(&u, &[gpu], busy);
///     }
/// })?;
/// let snapshot = registry.snapshot();
/// assert_eq!(snapshot.value("gpu_utilization", &[("gpu", "0")]), Some(0.93));
/// # Ok::<(), tallyho::Error>(())
/// ```
pub struct BatchObserver<'b> {
    members: &'b [(u64, Arc<Spec>)],
    parts: Vec<Observer>,
}

impl std::fmt::Debug for BatchObserver<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchObserver")
            .field("families", &self.parts.len())
            .finish()
    }
}

impl BatchObserver<'_> {
    /// Reports `value` with the label values `labels` into `family`.
    ///
    /// ```
    /// # use tallyho::{BatchObserver, Registry};
    /// let registry = Registry::new();
    /// let free = registry.metric("pool_free", "Free slots.").batch_up_down_counter_family(&["pool"])?;
    /// let f = free.clone();
    /// registry.observe_batch(&[&free], move |b: &mut BatchObserver| b.observe(&f, &["a"], 4.0))?;
    /// assert_eq!(registry.snapshot().value("pool_free", &[("pool", "a")]), Some(4.0));
    /// # Ok::<(), tallyho::Error>(())
    /// ```
    pub fn observe(&mut self, family: &ObservableFamily, labels: &[&str], value: f64) {
        let Some(slot) = &family.0 else { return };
        match self.members.iter().position(|(id, _)| *id == slot.id) {
            Some(i) => self.parts[i].observe(labels, value),
            None => {
                slot.tally.refused.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Binds `families` to a new batch running `callback`.
///
/// # Errors
/// [`Error::Conflict`](crate::Error::Conflict) when one of them is fed by a batch already;
/// then none is bound.
pub(crate) fn bind(
    families: &[&ObservableFamily],
    callback: BatchCallback,
) -> Result<(), crate::Error> {
    let _guard = BIND.lock().unwrap_or_else(|p| p.into_inner());
    let mut slots: Vec<&Arc<Slot>> = Vec::new();
    for slot in families.iter().filter_map(|f| f.0.as_ref()) {
        if slot.batch.get().is_some() {
            return Err(crate::Error::Conflict {
                name: slot.name.clone(),
                existing: "an observable family fed by a batch callback".to_owned(),
                requested: "a family of another batch callback (a family joins one batch)"
                    .to_owned(),
            });
        }
        if !slots.iter().any(|s| s.id == slot.id) {
            slots.push(slot);
        }
    }
    if slots.is_empty() {
        return Ok(());
    }
    let batch = Arc::new(Batch {
        id: next_id(),
        callback,
        members: slots.iter().map(|s| (s.id, s.spec.clone())).collect(),
    });
    for slot in slots {
        // Cannot fail: checked under `BIND`, the only place that sets it.
        let _ = slot.batch.set(batch.clone());
    }
    Ok(())
}

/// One run of a batch: an observer per family (taken by it), `None` when it panicked.
type Run = Option<Vec<Option<Observer>>>;

/// What one collection has run so far: each batch's observers, taken by its families.
#[derive(Default)]
pub(crate) struct Collection {
    runs: RefCell<Vec<(u64, Run)>>,
}

impl Collection {
    /// The observer of member `index` of `batch`, running the batch when this collection
    /// has not yet; `None` when the batch panicked or the member's part was taken.
    fn take(&self, batch: &Batch, index: usize) -> Option<Observer> {
        let mut runs = self.runs.borrow_mut();
        let at = match runs.iter().position(|(id, _)| *id == batch.id) {
            Some(at) => at,
            None => {
                runs.push((batch.id, batch.run()));
                runs.len() - 1
            }
        };
        runs[at].1.as_mut()?.get_mut(index)?.take()
    }
}

impl Readable for Slot {
    fn points(
        &self,
        constant: &ConstantLabels,
        time: SystemTime,
        v: &mut dyn Visitor,
    ) -> io::Result<()> {
        self.points_in(&Collection::default(), constant, time, v)
    }

    fn points_in(
        &self,
        cx: &Collection,
        constant: &ConstantLabels,
        time: SystemTime,
        v: &mut dyn Visitor,
    ) -> io::Result<()> {
        let Some(batch) = self.batch.get() else {
            return Ok(());
        };
        let Some(obs) = batch.index_of(self.id).and_then(|i| cx.take(batch, i)) else {
            return Ok(());
        };
        self.tally.add(&obs);
        obs.emit(constant, self.start, time, v)
    }

    fn overflow_records(&self) -> u64 {
        self.tally.overflowed.load(Ordering::Relaxed)
    }

    fn refused_records(&self) -> u64 {
        self.tally.refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observer(kind: MetricKind, limit: usize) -> Observer {
        Observer::new(Spec::new(&["a", "b"], kind, limit))
    }

    #[test]
    fn bad_points_are_refused_and_duplicates_keep_the_first() {
        let mut o = observer(MetricKind::Counter, 10);
        o.observe(&["x", "y"], 1.0);
        o.observe(&["x", "y"], 2.0); // duplicate
        o.observe(&["x"], 1.0); // too few
        o.observe(&["x", "y", "z"], 1.0); // too many
        o.observe(&["p", "q"], f64::NAN);
        o.observe(&["p", "q"], f64::INFINITY);
        o.observe(&["p", "q"], -1.0); // a counter goes up
        o.observe(&["p", "q"], 0.0);
        assert_eq!(o.refused, 6);
        assert_eq!(o.points.len(), 2);
        assert_eq!(&*o.points[0].0, br#"a="x",b="y""#);
        assert_eq!(o.points[0].1, 1.0);
        let mut g = observer(MetricKind::Gauge, 10);
        g.observe(&["x", "y"], -1.0);
        assert_eq!((g.refused, g.points.len()), (0, 1));
    }

    #[test]
    fn overflow_sums_totals_and_keeps_the_last_gauge() {
        for (kind, want) in [
            (MetricKind::Counter, 7.0),
            (MetricKind::UpDownCounter, 7.0),
            (MetricKind::Gauge, 4.0),
        ] {
            let mut o = observer(kind, 1);
            o.observe(&["1", ""], 1.0);
            o.observe(&["2", ""], 3.0);
            o.observe(&["3", ""], 4.0);
            o.observe(&["1", ""], 9.0); // a duplicate of an accepted set: refused
            assert_eq!(o.points.len(), 1, "{kind:?}");
            assert_eq!(o.overflow, Some(want), "{kind:?}");
            assert_eq!((o.overflowed, o.refused), (2, 1), "{kind:?}");
            assert_eq!(o.seen.len(), 1, "overflowed label sets are not kept");
        }
    }

    #[test]
    fn a_family_joins_one_batch() {
        let (a, _) = ObservableFamily::new("a", Spec::new(&[], MetricKind::Gauge, 5));
        let (b, _) = ObservableFamily::new("b", Spec::new(&[], MetricKind::Gauge, 5));
        bind(&[&a, &a], Box::new(|_| {})).unwrap();
        let err = bind(&[&b, &a], Box::new(|_| {})).unwrap_err();
        assert!(err.to_string().contains("\"a\""), "{err}");
        // All or nothing: `b` was not bound by the refused call.
        assert!(b.0.as_ref().unwrap().batch.get().is_none());
        bind(&[&b, &ObservableFamily::noop()], Box::new(|_| {})).unwrap();
        assert_eq!(a.0.as_ref().unwrap().batch.get().unwrap().members.len(), 1);
    }
}
