//! Observable instruments: values reported by callbacks at collection time, unlabelled,
//! as labelled families, or as families fed by one batch callback.

use super::*;
use crate::observe::{self, BatchObserver, ObservableFamily, ObservedFamily, Observer, Spec};

impl MetricBuilder<'_> {
    fn observable(
        self,
        kind: MetricKind,
        read: Box<dyn Fn() -> PointValue<'static> + Send + Sync>,
    ) -> Result<(), Error> {
        let full = self.registry.full_name(&self.name, kind, &self.unit)?;
        let meta = self.meta(&full, kind, "observable with labels []".to_owned());
        if !self.registry.shared.enabled {
            return Ok(());
        }
        self.registry.register::<()>(meta, || {
            let read = Arc::new(Observed {
                read,
                start: SystemTime::now(),
            });
            (None, read)
        })?;
        Ok(())
    }

    /// A gauge whose value `f` returns at each collection (queue depth, free slots).
    ///
    /// # Errors
    /// An invalid name or unit, or the name already registered.
    pub fn observable_gauge(
        self,
        f: impl Fn() -> f64 + Send + Sync + 'static,
    ) -> Result<(), Error> {
        self.observable(
            MetricKind::Gauge,
            Box::new(move || PointValue::Gauge(Number::F64(f()))),
        )
    }

    /// A counter whose total `f` returns at each collection (bytes read by a library).
    ///
    /// # Errors
    /// An invalid name or unit, or the name already registered.
    pub fn observable_counter(
        self,
        f: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Result<(), Error> {
        self.observable(MetricKind::Counter, Box::new(move || counter_value(f())))
    }

    /// An up-down counter whose total `f` returns at each collection (items in a queue
    /// that another library owns). OpenMetrics and Prometheus have no up-down type: the
    /// text formats write it as a gauge, OTLP as a non-monotonic sum.
    ///
    /// ```
    /// let registry = tallyho::Registry::new();
    /// registry
    ///     .metric("in_flight", "Requests in flight.")
    ///     .observable_up_down_counter(|| -2)?;
    /// assert_eq!(registry.snapshot().value("in_flight", &[]), Some(-2.0));
    /// # Ok::<(), tallyho::Error>(())
    /// ```
    ///
    /// # Errors
    /// An invalid name or unit, or the name already registered.
    pub fn observable_up_down_counter(
        self,
        f: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> Result<(), Error> {
        self.observable(
            MetricKind::UpDownCounter,
            Box::new(move || PointValue::Gauge(Number::I64(f()))),
        )
    }

    /// Validates the name and labels of an observable family: its full name, metadata
    /// and spec.
    fn observable_spec(
        &self,
        labels: &[&str],
        kind: MetricKind,
        what: &str,
    ) -> Result<(String, String, Arc<Spec>), Error> {
        let full = self.registry.full_name(&self.name, kind, &self.unit)?;
        self.check_labels(&full, labels)?;
        let limit = self.limit.unwrap_or(self.registry.shared.limit);
        check_limit(limit)?;
        let signature = format!("{what} with labels {labels:?}");
        Ok((full, signature, Spec::new(labels, kind, limit)))
    }

    fn observable_family(
        self,
        labels: &[&str],
        kind: MetricKind,
        f: Box<dyn Fn(&mut Observer) + Send + Sync>,
    ) -> Result<(), Error> {
        let (full, signature, spec) = self.observable_spec(labels, kind, "observable family")?;
        let meta = self.meta(&full, kind, signature);
        if !self.registry.shared.enabled {
            return Ok(());
        }
        self.registry.register::<()>(meta, || {
            (
                None,
                Arc::new(ObservedFamily::new(spec, f)) as Arc<dyn Readable>,
            )
        })?;
        Ok(())
    }

    /// A labelled gauge family whose points `f` reports at each collection, through
    /// [`Observer::observe`] (one point per GPU, pool, queue...).
    ///
    /// Label names are checked as [`family`](Self::family) checks them. At collection, a
    /// point with the wrong number of label values, a label set already reported in the
    /// same run, or a NaN or infinite value is dropped and counted in
    /// [`REFUSED_METRIC`]; label sets past the cardinality limit go to the overflow
    /// series (see [`Observer`]). A panicking `f` loses its own points, not the scrape.
    ///
    /// ```
    /// let registry = tallyho::Registry::new();
    /// registry
    ///     .metric("queue_depth", "Jobs waiting per queue.")
    ///     .observable_gauge_family(&["queue"], |obs: &mut tallyho::Observer| {
    ///         obs.observe(&["email"], 4.0);
    ///         obs.observe(&["video"], 0.0);
    ///     })?;
    /// let snapshot = registry.snapshot();
    /// assert_eq!(snapshot.value("queue_depth", &[("queue", "email")]), Some(4.0));
    /// # Ok::<(), tallyho::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`family`](Self::family); the name registered already (callbacks are registered
    /// once).
    pub fn observable_gauge_family(
        self,
        labels: &[&str],
        f: impl Fn(&mut Observer) + Send + Sync + 'static,
    ) -> Result<(), Error> {
        self.observable_family(labels, MetricKind::Gauge, Box::new(f))
    }

    /// A labelled counter family whose totals `f` reports at each collection, as `f64`
    /// through [`Observer::observe`]. As
    /// [`observable_gauge_family`](Self::observable_gauge_family), and a negative total is
    /// refused too (as [`CounterF64`] refuses a negative increment). Totals are cumulative:
    /// report what the counted thing holds now, not what changed since the last call.
    ///
    /// ```
    /// let registry = tallyho::Registry::new();
    /// registry
    ///     .metric("nic_received", "Bytes received per interface.")
    ///     .unit("bytes")
    ///     .observable_counter_family(&["interface"], |obs: &mut tallyho::Observer| {
    ///         obs.observe(&["eth0"], 1.5e9);
    ///         obs.observe(&["lo"], -1.0); // refused: counters do not go below zero
    ///     })?;
    /// let snapshot = registry.snapshot();
    /// assert_eq!(snapshot.value("nic_received_bytes", &[("interface", "eth0")]), Some(1.5e9));
    /// assert_eq!(snapshot.value("nic_received_bytes", &[("interface", "lo")]), None);
    /// # Ok::<(), tallyho::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`observable_gauge_family`](Self::observable_gauge_family).
    pub fn observable_counter_family(
        self,
        labels: &[&str],
        f: impl Fn(&mut Observer) + Send + Sync + 'static,
    ) -> Result<(), Error> {
        self.observable_family(labels, MetricKind::Counter, Box::new(f))
    }

    /// A labelled up-down counter family whose totals `f` reports at each collection
    /// (connections open per pool). As
    /// [`observable_gauge_family`](Self::observable_gauge_family); the text formats write
    /// it as a gauge, OTLP as a non-monotonic sum.
    ///
    /// ```
    /// let registry = tallyho::Registry::new();
    /// registry
    ///     .metric("pool_connections", "Open connections per pool.")
    ///     .observable_up_down_counter_family(&["pool"], |obs: &mut tallyho::Observer| {
    ///         obs.observe(&["primary"], 12.0);
    ///     })?;
    /// let family = registry.snapshot();
    /// assert_eq!(family.family("pool_connections").unwrap().kind, tallyho::MetricKind::UpDownCounter);
    /// # Ok::<(), tallyho::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`observable_gauge_family`](Self::observable_gauge_family).
    pub fn observable_up_down_counter_family(
        self,
        labels: &[&str],
        f: impl Fn(&mut Observer) + Send + Sync + 'static,
    ) -> Result<(), Error> {
        self.observable_family(labels, MetricKind::UpDownCounter, Box::new(f))
    }

    fn batch_family(self, labels: &[&str], kind: MetricKind) -> Result<ObservableFamily, Error> {
        let (full, signature, spec) = self.observable_spec(labels, kind, "batch-observed")?;
        let meta = self.meta(&full, kind, signature);
        if !self.registry.shared.enabled {
            return Ok(ObservableFamily::noop());
        }
        let handle = self.registry.register(meta, || {
            let (handle, read) = ObservableFamily::new(&full, spec);
            (Some(handle), read)
        })?;
        Ok(handle.unwrap_or_else(ObservableFamily::noop))
    }

    /// A labelled gauge family fed by a batch callback: pass the handle to
    /// [`Registry::observe_batch`] and report into it with [`BatchObserver::observe`].
    /// Points are checked as [`observable_gauge_family`](Self::observable_gauge_family)
    /// checks them. Registering the same name and labels again returns the same handle.
    ///
    /// ```
    /// let registry = tallyho::Registry::new();
    /// let temp = registry.metric("gpu_temperature", "GPU temperature.").batch_gauge_family(&["gpu"])?;
    /// let t = temp.clone();
    /// registry.observe_batch(&[&temp], move |b: &mut tallyho::BatchObserver| b.observe(&t, &["0"], 70.0))?;
    /// assert_eq!(registry.snapshot().value("gpu_temperature", &[("gpu", "0")]), Some(70.0));
    /// # Ok::<(), tallyho::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`family`](Self::family).
    pub fn batch_gauge_family(self, labels: &[&str]) -> Result<ObservableFamily, Error> {
        self.batch_family(labels, MetricKind::Gauge)
    }

    /// A labelled counter family fed by a batch callback (see
    /// [`batch_gauge_family`](Self::batch_gauge_family)); totals are checked as
    /// [`observable_counter_family`](Self::observable_counter_family) checks them.
    ///
    /// ```
    /// let registry = tallyho::Registry::new();
    /// let reads = registry.metric("disk_reads", "Reads per disk.").batch_counter_family(&["disk"])?;
    /// let r = reads.clone();
    /// registry.observe_batch(&[&reads], move |b: &mut tallyho::BatchObserver| b.observe(&r, &["sda"], 42.0))?;
    /// assert_eq!(registry.snapshot().value("disk_reads", &[("disk", "sda")]), Some(42.0));
    /// # Ok::<(), tallyho::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`family`](Self::family).
    pub fn batch_counter_family(self, labels: &[&str]) -> Result<ObservableFamily, Error> {
        self.batch_family(labels, MetricKind::Counter)
    }

    /// A labelled up-down counter family fed by a batch callback (see
    /// [`batch_gauge_family`](Self::batch_gauge_family)).
    ///
    /// ```
    /// let registry = tallyho::Registry::new();
    /// let open = registry.metric("pool_open", "Open per pool.").batch_up_down_counter_family(&["pool"])?;
    /// let o = open.clone();
    /// registry.observe_batch(&[&open], move |b: &mut tallyho::BatchObserver| b.observe(&o, &["a"], -1.0))?;
    /// assert_eq!(registry.snapshot().value("pool_open", &[("pool", "a")]), Some(-1.0));
    /// # Ok::<(), tallyho::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`family`](Self::family).
    pub fn batch_up_down_counter_family(self, labels: &[&str]) -> Result<ObservableFamily, Error> {
        self.batch_family(labels, MetricKind::UpDownCounter)
    }
}

impl Registry {
    /// Registers one callback that reports into several observable families (made by
    /// [`MetricBuilder::batch_gauge_family`] and its siblings), called once per
    /// collection however many of them the collection reads: when the first of them is
    /// read, the others take their points from that run. A panicking callback loses the
    /// points of every family of the batch for that collection, not the scrape.
    ///
    /// Handles of a disabled registry are ignored; with none left, `callback` is never
    /// called.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use tallyho::{BatchObserver, Registry};
    ///
    /// let registry = Registry::new();
    /// let used = registry.metric("pool_used", "Used slots.").batch_gauge_family(&["pool"])?;
    /// let free = registry.metric("pool_free", "Free slots.").batch_gauge_family(&["pool"])?;
    /// let calls = Arc::new(AtomicU64::new(0));
    /// let (u, f, c) = (used.clone(), free.clone(), calls.clone());
    /// registry.observe_batch(&[&used, &free], move |b: &mut BatchObserver| {
    ///     c.fetch_add(1, Ordering::Relaxed);
    ///     b.observe(&u, &["a"], 3.0);
    ///     b.observe(&f, &["a"], 5.0);
    /// })?;
    /// let snapshot = registry.snapshot();
    /// assert_eq!(snapshot.value("pool_free", &[("pool", "a")]), Some(5.0));
    /// assert_eq!(calls.load(Ordering::Relaxed), 1);
    /// # Ok::<(), tallyho::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Conflict`] when one of the families is fed by another batch already (a
    /// family joins one batch); then none of them is bound.
    pub fn observe_batch(
        &self,
        families: &[&ObservableFamily],
        callback: impl Fn(&mut BatchObserver) + Send + Sync + 'static,
    ) -> Result<(), Error> {
        if !self.shared.enabled {
            return Ok(());
        }
        observe::bind(families, Box::new(callback))
    }
}
