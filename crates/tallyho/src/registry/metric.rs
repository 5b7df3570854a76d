//! `MetricBuilder`: a metric's settings, finished by choosing its instrument type.

use super::*;

pub(super) struct Meta<'a> {
    pub(super) name: &'a str,
    pub(super) help: &'a str,
    pub(super) unit: &'a str,
    pub(super) kind: MetricKind,
    pub(super) signature: String,
}

pub(super) fn describe(kind: MetricKind, signature: &str, unit: &str) -> String {
    if unit.is_empty() {
        format!("{} {signature}", kind.as_str())
    } else {
        format!("{} {signature} in {unit}", kind.as_str())
    }
}

/// The rest of a metric's settings; finish with the instrument type.
///
/// ```
/// # let registry = tallyho::Registry::new();
/// let latency = registry
///     .metric("request_duration", "Time to answer a request.")
///     .unit("seconds")
///     .buckets(tallyho::Buckets::exponential(0.001, 2.0, 12)?)
///     .histogram_family(&["route"])?;
/// latency.with(&["/users/:id"]).observe(0.042);
/// # Ok::<(), tallyho::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a metric is registered by calling counter(), gauge(), histogram() or a *_family method"]
pub struct MetricBuilder<'r> {
    pub(super) registry: &'r Registry,
    pub(super) name: String,
    pub(super) help: String,
    pub(super) unit: String,
    pub(super) limit: Option<usize>,
    pub(super) buckets: Option<Buckets>,
    pub(super) exponential: Option<ExpConfig>,
    /// A stateset's states, set by [`stateset`](Self::stateset) and its family variant.
    pub(super) states: Vec<String>,
    /// A summary's settings (default [`SummaryConfig::default`](crate::SummaryConfig)).
    pub(super) summary: Option<crate::SummaryConfig>,
}

impl MetricBuilder<'_> {
    /// The unit (`seconds`, `bytes`, ...), appended to the name as `_<unit>` unless the name
    /// already carries it: a name that ends in `_<unit>`, or in `_` and a common
    /// abbreviation of the unit, keeps its name unchanged. The abbreviations are the table
    /// [`tallyho_names::UNIT_ABBREVIATIONS`]: `s`/`sec`/`secs` (seconds), `ms`
    /// (milliseconds), `us` (microseconds), `ns` (nanoseconds), `b` (bytes), `kb`
    /// (kilobytes), `mb`, `gb`, `kib`, `mib`, `gib`, `min`, `h`/`hr`, `pct` (percent) and a
    /// few longer spellings. The unit is kept as given either way; the OpenMetrics encoder
    /// writes its `# UNIT` line only for a name that ends in `_<unit>`, as the format
    /// requires.
    ///
    /// ```
    /// let registry = tallyho::Registry::new();
    /// registry.metric("task_duration_ms", "Task time.").unit("milliseconds").gauge()?;
    /// registry.metric("task_wait", "Wait time.").unit("milliseconds").gauge()?;
    /// let snapshot = registry.snapshot();
    /// assert!(snapshot.family("task_duration_ms").is_some());
    /// assert!(snapshot.family("task_wait_milliseconds").is_some());
    /// # Ok::<(), tallyho::Error>(())
    /// ```
    pub fn unit(mut self, unit: &str) -> Self {
        self.unit = unit.to_owned();
        self
    }

    /// The cardinality limit of this family (default: the registry's).
    pub fn cardinality_limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Histogram buckets (default: [`Buckets::default_seconds`]).
    pub fn buckets(mut self, buckets: Buckets) -> Self {
        self.buckets = Some(buckets);
        self
    }

    /// A stateset's states, for the generic [`family`](Self::family),
    /// [`expiring_family`](Self::expiring_family) and
    /// [`typed_family`](Self::typed_family) of [`StateSet`] (see
    /// [`stateset`](Self::stateset) for the rules).
    pub fn states(mut self, states: &[&str]) -> Self {
        self.states = states.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Exponential histogram settings (default: [`ExpConfig::default`]).
    pub fn exponential(mut self, config: ExpConfig) -> Self {
        self.exponential = Some(config);
        self
    }

    pub(super) fn meta<'a>(
        &'a self,
        full: &'a str,
        kind: MetricKind,
        signature: String,
    ) -> Meta<'a> {
        Meta {
            name: full,
            help: &self.help,
            unit: &self.unit,
            kind,
            signature,
        }
    }

    fn type_name<M>() -> &'static str {
        let full = std::any::type_name::<M>();
        full.rsplit("::").next().unwrap_or(full)
    }

    /// What instruments of `M` are made from; a stateset's states are checked here
    /// against the family's labels.
    fn shape<M: Instrument>(&self, full: &str, labels: &[&str]) -> Result<Shape, Error> {
        let states = if M::KIND == MetricKind::StateSet {
            let states: Vec<&str> = self.states.iter().map(String::as_str).collect();
            crate::stateset::check(full, &states, labels, &self.registry.constant.pairs)?
        } else {
            Arc::from(Vec::new())
        };
        Ok(Shape {
            buckets: self.buckets_or_default(),
            exponential: self.exponential.unwrap_or_default(),
            states,
            summary: self.summary.clone().unwrap_or_default(),
        })
    }

    fn buckets_or_default(&self) -> Buckets {
        self.buckets.clone().unwrap_or_default()
    }

    fn signature<M: Instrument>(&self, labels: &[&str]) -> String {
        let mut s = format!("{} with labels {labels:?}", Self::type_name::<M>());
        if Self::type_name::<M>() == "ExponentialHistogram" {
            s.push_str(&format!(" and {:?}", self.exponential.unwrap_or_default()));
        } else if M::KIND == MetricKind::Summary {
            let config = self.summary.clone().unwrap_or_default();
            s.push_str(&format!(" and {}", config.signature()));
        } else if M::KIND == MetricKind::StateSet {
            s.push_str(&format!(" and states {:?}", self.states));
        } else if matches!(M::KIND, MetricKind::Histogram | MetricKind::GaugeHistogram) {
            s.push_str(&format!(
                " and buckets {:?}",
                self.buckets_or_default().bounds()
            ));
        }
        s
    }

    /// An unlabelled instrument of any type.
    ///
    /// # Errors
    /// An invalid name or unit, or the name registered with another type, labels, unit or
    /// buckets.
    pub fn instrument<M: Instrument + Clone>(self) -> Result<M, Error> {
        let kind = M::KIND;
        let full = self.registry.full_name(&self.name, kind, &self.unit)?;
        let buckets = self.shape::<M>(&full, &[])?;
        let meta = self.meta(&full, kind, self.signature::<M>(&[]));
        if !self.registry.shared.enabled {
            return Ok(M::noop_ref().clone());
        }
        let handle = self.registry.register(meta, || {
            let m = M::create(&buckets);
            let read = Arc::new(Single {
                metric: m.clone(),
                start: SystemTime::now(),
            });
            (Some(m), read)
        })?;
        Ok(handle.unwrap_or_else(|| M::noop_ref().clone()))
    }

    /// A labelled family of any instrument type.
    ///
    /// # Errors
    /// As [`instrument`](Self::instrument), plus invalid, reserved, duplicate or constant
    /// label names and a cardinality limit of 0.
    pub fn family<M: Instrument>(self, labels: &[&str]) -> Result<Family<M>, Error> {
        let kind = M::KIND;
        let full = self.registry.full_name(&self.name, kind, &self.unit)?;
        self.check_labels(&full, labels)?;
        let limit = self.limit.unwrap_or(self.registry.shared.limit);
        check_limit(limit)?;
        let buckets = self.shape::<M>(&full, labels)?;
        let meta = self.meta(&full, kind, self.signature::<M>(labels));
        if !self.registry.shared.enabled {
            return Ok(Family::noop());
        }
        let handle = self.registry.register(meta, || {
            let f = Family::<M>::new(&full, labels, buckets, limit);
            (Some(f.clone()), Arc::new(f) as Arc<dyn Readable>)
        })?;
        Ok(handle.unwrap_or_else(Family::noop))
    }

    /// A labelled family whose series can be removed, cleared, and expire after `idle`
    /// without recordings or lookups (see [`ExpiringFamily`]); `Duration::MAX` never
    /// expires anything.
    ///
    /// # Errors
    /// As [`family`](Self::family).
    pub fn expiring_family<M: Instrument + Clone>(
        self,
        labels: &[&str],
        idle: Duration,
    ) -> Result<ExpiringFamily<M>, Error> {
        let kind = M::KIND;
        let full = self.registry.full_name(&self.name, kind, &self.unit)?;
        self.check_labels(&full, labels)?;
        let limit = self.limit.unwrap_or(self.registry.shared.limit);
        check_limit(limit)?;
        let buckets = self.shape::<M>(&full, labels)?;
        let signature = format!("expiring after {idle:?} {}", self.signature::<M>(labels));
        let meta = self.meta(&full, kind, signature);
        if !self.registry.shared.enabled {
            return Ok(ExpiringFamily::noop());
        }
        let handle = self.registry.register(meta, || {
            let f = ExpiringFamily::<M>::new(&full, labels, buckets, limit, idle);
            (Some(f.clone()), Arc::new(f) as Arc<dyn Readable>)
        })?;
        Ok(handle.unwrap_or_else(ExpiringFamily::noop))
    }

    /// A family over a typed [`LabelSet`]: all `L::COUNT` series exist from the start and
    /// a lookup is an array index.
    ///
    /// # Errors
    /// As [`family`](Self::family).
    pub fn typed_family<M: Instrument, L: LabelSet>(self) -> Result<TypedFamily<M, L>, Error> {
        let names = L::names();
        let kind = M::KIND;
        let full = self.registry.full_name(&self.name, kind, &self.unit)?;
        self.check_labels(&full, &names)?;
        let buckets = self.shape::<M>(&full, &names)?;
        let meta = self.meta(
            &full,
            kind,
            format!("typed {}", self.signature::<M>(&names)),
        );
        if !self.registry.shared.enabled {
            return Ok(TypedFamily::noop());
        }
        let handle = self.registry.register(meta, || {
            let (f, read) = TypedFamily::<M, L>::new(&buckets);
            (Some(f), read)
        })?;
        Ok(handle.unwrap_or_else(TypedFamily::noop))
    }

    pub(super) fn check_labels(&self, full: &str, labels: &[&str]) -> Result<(), Error> {
        for (i, l) in labels.iter().enumerate() {
            name::label_name(l)?;
            if labels[..i].contains(l)
                || self.registry.constant.pairs.iter().any(|(c, _)| **c == **l)
            {
                return Err(Error::DuplicateLabelName {
                    metric: full.to_owned(),
                    name: (*l).to_owned(),
                });
            }
        }
        Ok(())
    }

    /// A `u64` counter.
    ///
    /// # Errors
    /// See [`instrument`](Self::instrument).
    pub fn counter(self) -> Result<Counter, Error> {
        self.instrument()
    }

    /// An `f64` counter.
    ///
    /// # Errors
    /// See [`instrument`](Self::instrument).
    pub fn counter_f64(self) -> Result<CounterF64, Error> {
        self.instrument()
    }

    /// An `f64` gauge.
    ///
    /// # Errors
    /// See [`instrument`](Self::instrument).
    pub fn gauge(self) -> Result<Gauge, Error> {
        self.instrument()
    }

    /// An `i64` gauge.
    ///
    /// # Errors
    /// See [`instrument`](Self::instrument).
    pub fn gauge_i64(self) -> Result<GaugeI64, Error> {
        self.instrument()
    }

    /// An `i64` up-down counter.
    ///
    /// # Errors
    /// See [`instrument`](Self::instrument).
    pub fn up_down_counter(self) -> Result<UpDownCounter, Error> {
        self.instrument()
    }

    /// A histogram (buckets from [`buckets`](Self::buckets), default seconds buckets).
    ///
    /// # Errors
    /// See [`instrument`](Self::instrument).
    pub fn histogram(self) -> Result<Histogram, Error> {
        self.instrument()
    }

    /// A family of `u64` counters.
    ///
    /// # Errors
    /// See [`family`](Self::family).
    pub fn counter_family(self, labels: &[&str]) -> Result<Family<Counter>, Error> {
        self.family(labels)
    }

    /// A family of `f64` gauges.
    ///
    /// # Errors
    /// See [`family`](Self::family).
    pub fn gauge_family(self, labels: &[&str]) -> Result<Family<Gauge>, Error> {
        self.family(labels)
    }

    /// A family of histograms.
    ///
    /// # Errors
    /// See [`family`](Self::family).
    pub fn histogram_family(self, labels: &[&str]) -> Result<Family<Histogram>, Error> {
        self.family(labels)
    }

    /// An exponential (native) histogram: buckets that adapt to the data, set by
    /// [`exponential`](Self::exponential) (default: 160 buckets, scale 20).
    ///
    /// ```
    /// # let registry = tallyho::Registry::new();
    /// let latency = registry
    ///     .metric("request_duration", "Time to answer a request.")
    ///     .unit("seconds")
    ///     .exponential_histogram()?;
    /// latency.observe(0.042);
    /// # Ok::<(), tallyho::Error>(())
    /// ```
    ///
    /// # Errors
    /// See [`instrument`](Self::instrument).
    pub fn exponential_histogram(self) -> Result<ExponentialHistogram, Error> {
        self.instrument()
    }

    /// A family of exponential histograms.
    ///
    /// # Errors
    /// See [`family`](Self::family).
    pub fn exponential_histogram_family(
        self,
        labels: &[&str],
    ) -> Result<Family<ExponentialHistogram>, Error> {
        self.family(labels)
    }

    /// A summary's quantiles, window and histogram (default:
    /// [`SummaryConfig::default`](crate::SummaryConfig)).
    pub fn summary_config(mut self, config: crate::SummaryConfig) -> Self {
        self.summary = Some(config);
        self
    }

    /// A [`Summary`](crate::Summary): quantiles over a sliding window, set by
    /// [`summary_config`](Self::summary_config).
    ///
    /// # Errors
    /// See [`instrument`](Self::instrument).
    pub fn summary(self) -> Result<crate::Summary, Error> {
        self.instrument()
    }

    /// A family of summaries.
    ///
    /// # Errors
    /// See [`family`](Self::family).
    pub fn summary_family(self, labels: &[&str]) -> Result<Family<crate::Summary>, Error> {
        self.family(labels)
    }

    /// A [`GaugeHistogram`](crate::GaugeHistogram) (buckets from
    /// [`buckets`](Self::buckets), default seconds buckets).
    ///
    /// # Errors
    /// See [`instrument`](Self::instrument).
    pub fn gauge_histogram(self) -> Result<crate::GaugeHistogram, Error> {
        self.instrument()
    }

    /// A family of gauge histograms.
    ///
    /// # Errors
    /// See [`family`](Self::family).
    pub fn gauge_histogram_family(
        self,
        labels: &[&str],
    ) -> Result<Family<crate::GaugeHistogram>, Error> {
        self.family(labels)
    }

    /// A [`StateSet`] with these states (1 to [`MAX_STATES`](crate::MAX_STATES), distinct,
    /// non-empty), all false at first. The family's name is also the label naming a state
    /// in each sample (`job_phase{job_phase="running"} 1`), so it must be a valid label
    /// name and no other label may have it. A unit is refused (OpenMetrics allows none).
    ///
    /// # Errors
    /// [`Error::InvalidDefinition`] naming the broken rule, or as
    /// [`instrument`](Self::instrument).
    pub fn stateset(self, states: &[&str]) -> Result<StateSet, Error> {
        self.states(states).instrument()
    }

    /// A family of [`StateSet`]s with these states, one per label set.
    ///
    /// # Errors
    /// As [`stateset`](Self::stateset) and [`family`](Self::family); a label with the
    /// family's name is refused.
    pub fn stateset_family(
        self,
        labels: &[&str],
        states: &[&str],
    ) -> Result<Family<StateSet>, Error> {
        self.states(states).family(labels)
    }

    /// An [`Info`] with these label pairs, value 1. A name ending in `_info` loses it (the
    /// formats add it back), like `_total` on counters. A unit is refused (OpenMetrics
    /// allows none).
    ///
    /// # Errors
    /// An invalid name or label name, a repeated label (constant labels included), a
    /// unit, or the name registered with another type or other labels.
    pub fn info(self, labels: &[(&str, &str)]) -> Result<Info, Error> {
        let kind = MetricKind::Info;
        let full = self.registry.full_name(&self.name, kind, &self.unit)?;
        let names: Vec<&str> = labels.iter().map(|(n, _)| *n).collect();
        self.check_labels(&full, &names)?;
        let meta = self.meta(&full, kind, format!("Info with labels {labels:?}"));
        if !self.registry.shared.enabled {
            return Ok(Info::noop());
        }
        let handle = self.registry.register(meta, || {
            let info = Info::new(labels);
            let read = Arc::new(InfoRead::new(&info));
            (Some(info), read as Arc<dyn Readable>)
        })?;
        Ok(handle.unwrap_or_else(Info::noop))
    }
}
