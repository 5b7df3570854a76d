//! The registry: where instruments are registered and from which every output collects.

mod collect;
mod metric;
mod names;
mod observable;

pub use metric::MetricBuilder;
use metric::{describe, Meta};

use std::any::Any;
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use crate::exp_histogram::{ExpConfig, ExponentialHistogram};
use crate::expiring::ExpiringFamily;
use crate::family::{Family, MAX_CARDINALITY};
use crate::info::{Info, InfoRead};
use crate::instrument::{Instrument, Shape};
use crate::read::{counter_value, ConstLabels, Observed, Readable, Single};
use crate::snapshot::{FamilySnapshot, Snapshot};
use crate::stateset::StateSet;
use crate::typed::{LabelSet, TypedFamily};
use crate::visit::{
    ConstantLabels, FamilyInfo, Labels, MetricKind, Number, Point, PointValue, Source, Visitor,
};
use crate::{name, Buckets, Counter, CounterF64, Error, Gauge, GaugeI64, Histogram, UpDownCounter};

/// The default cardinality limit of a family (as in the OpenTelemetry SDK).
pub const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

/// Name of the self-metric counting records that landed in overflow series.
pub const OVERFLOW_METRIC: &str = "tallyho_cardinality_overflow";

/// Name of the self-metric counting recordings refused because their value would break
/// the exposition: NaN or out-of-range histogram observations, negative, NaN or infinite
/// float counter increments, and points of observable families with a bad value, the
/// wrong number of label values or a label set repeated in one callback run. Labelled
/// `metric` like [`OVERFLOW_METRIC`]; present once a family refused something.
pub const REFUSED_METRIC: &str = "tallyho_refused_values";

/// Numbers produced on demand at collection time, such as values read from another
/// system. The registry applies its prefix and constant labels; families with invalid
/// names, or with a sample name a registered family (or a self-metric) writes, are
/// skipped.
pub trait Collector: Send + Sync + 'static {
    /// The families as they are now.
    fn collect(&self) -> Vec<FamilySnapshot>;
}

impl<F: Fn() -> Vec<FamilySnapshot> + Send + Sync + 'static> Collector for F {
    fn collect(&self) -> Vec<FamilySnapshot> {
        self()
    }
}

/// Holds metric families and hands out recording handles; cheap to clone (all clones and
/// sub-registries share one set of families).
///
/// ```
/// use tallyho::Registry;
/// let registry = Registry::builder().prefix("app").constant_label("service", "api").build()?;
/// let jobs = registry.counter("jobs", "Jobs processed.")?;
/// jobs.inc();
/// assert_eq!(registry.snapshot().value("app_jobs", &[("service", "api")]), Some(1.0));
/// # Ok::<(), tallyho::Error>(())
/// ```
#[derive(Clone)]
pub struct Registry {
    shared: Arc<Shared>,
    prefix: Arc<str>,
    constant: ConstLabels,
}

struct Shared {
    enabled: bool,
    limit: usize,
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    families: Vec<Arc<Entry>>,
    by_name: HashMap<String, usize>,
    /// Every sample name the families write, so that no two write the same one.
    rendered: names::RenderedNames,
    collectors: Vec<(Arc<dyn Collector>, Arc<str>, ConstLabels)>,
}

/// One family name and everything registered under it.
struct Entry {
    name: String,
    help: String,
    unit: String,
    kind: MetricKind,
    signature: String,
    members: Mutex<Vec<Member>>,
}

#[derive(Clone)]
struct Member {
    constant: ConstLabels,
    handle: Option<Arc<dyn Any + Send + Sync>>,
    read: Arc<dyn Readable>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("prefix", &self.prefix)
            .field("enabled", &self.shared.enabled)
            .field("families", &self.read_state().families.len())
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

/// Settings for a new [`Registry`].
#[derive(Debug, Clone, Default)]
pub struct RegistryBuilder {
    prefix: String,
    constant: Vec<(String, String)>,
    limit: Option<usize>,
    enabled: Option<bool>,
}

impl RegistryBuilder {
    /// A namespace put before every name, joined with `_` (`app` + `jobs` = `app_jobs`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// A label added to every series (service, environment, host).
    pub fn constant_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.constant.push((name.into(), value.into()));
        self
    }

    /// The cardinality limit of families that do not set their own (default 2000).
    pub fn cardinality_limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Whether instruments record. By default a registry is enabled unless the
    /// environment sets `OTEL_SDK_DISABLED=true`.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = Some(enabled);
        self
    }

    /// Whether instruments record, as the environment `env` says (`OTEL_SDK_DISABLED=true`,
    /// case-insensitive, turns recording off; any other value or none leaves it on, as the
    /// OpenTelemetry specification says). `env` looks a variable up by name: a program's
    /// own environment layer, or a test's map. Without this or [`enabled`](Self::enabled)
    /// the process environment is read.
    pub fn enabled_from_env(self, env: &dyn Fn(&str) -> Option<String>) -> Self {
        self.enabled(!sdk_disabled(env))
    }

    /// Validates the settings and builds the registry.
    ///
    /// # Errors
    /// An invalid prefix or constant label name, a duplicate constant label, or a
    /// cardinality limit of 0.
    pub fn build(self) -> Result<Registry, Error> {
        let limit = self.limit.unwrap_or(DEFAULT_CARDINALITY_LIMIT);
        check_limit(limit)?;
        let enabled = self
            .enabled
            .unwrap_or_else(|| !sdk_disabled(&|k: &str| std::env::var(k).ok()));
        let prefix = if self.prefix.is_empty() {
            String::new()
        } else {
            name::metric_name(&self.prefix)?
        };
        let constant = constant_labels(&ConstantLabels::default(), &self.constant, "<registry>")?;
        Ok(Registry {
            shared: Arc::new(Shared {
                enabled,
                limit,
                state: RwLock::new(State::default()),
            }),
            prefix: prefix.into(),
            constant,
        })
    }
}

/// `OTEL_SDK_DISABLED=true` in `env`.
fn sdk_disabled(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn check_limit(limit: usize) -> Result<(), Error> {
    if limit == 0 || limit > MAX_CARDINALITY {
        return Err(Error::InvalidCardinalityLimit { limit });
    }
    Ok(())
}

fn constant_labels(
    base: &ConstantLabels,
    extra: &[(String, String)],
    metric: &str,
) -> Result<ConstLabels, Error> {
    let mut all: Vec<(Box<str>, Box<str>)> = base.pairs.to_vec();
    for (n, v) in extra {
        name::label_name(n)?;
        if all.iter().any(|(m, _)| **m == **n) {
            return Err(Error::DuplicateLabelName {
                metric: metric.to_owned(),
                name: n.clone(),
            });
        }
        all.push((n.as_str().into(), v.as_str().into()));
    }
    Ok(Arc::new(ConstantLabels::new(all)))
}

impl Registry {
    /// An enabled registry (unless `OTEL_SDK_DISABLED=true`) with no prefix and no constant labels.
    pub fn new() -> Self {
        Registry::builder()
            .build()
            .expect("default registry settings are valid")
    }

    /// A registry whose instruments record nothing.
    pub fn disabled() -> Self {
        Registry::builder()
            .enabled(false)
            .build()
            .expect("default registry settings are valid")
    }

    /// Settings for a registry.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    /// Whether this registry's instruments record.
    pub fn is_enabled(&self) -> bool {
        self.shared.enabled
    }

    /// A view that registers into the same families with a longer prefix and more constant
    /// labels; everything it registers is collected with the parent.
    ///
    /// # Errors
    /// An invalid prefix or label name, or a label name already constant here.
    pub fn sub_registry(&self, prefix: &str, labels: &[(&str, &str)]) -> Result<Registry, Error> {
        let prefix = match (self.prefix.is_empty(), prefix.is_empty()) {
            (_, true) => self.prefix.to_string(),
            (true, false) => name::metric_name(prefix)?,
            (false, false) => name::metric_name(&format!("{}_{prefix}", self.prefix))?,
        };
        let extra: Vec<(String, String)> = labels
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        Ok(Registry {
            shared: self.shared.clone(),
            prefix: prefix.into(),
            constant: constant_labels(&self.constant, &extra, "<sub-registry>")?,
        })
    }

    /// Starts registering a metric with more settings (unit, buckets, labels, limit).
    pub fn metric(&self, name: &str, help: &str) -> MetricBuilder<'_> {
        MetricBuilder {
            registry: self,
            name: name.to_owned(),
            help: help.to_owned(),
            unit: String::new(),
            limit: None,
            buckets: None,
            exponential: None,
            states: Vec::new(),
            summary: None,
        }
    }

    /// Registers (or returns the already registered) `u64` counter.
    ///
    /// # Errors
    /// An invalid name, or the name registered with another type or labels.
    pub fn counter(&self, name: &str, help: &str) -> Result<Counter, Error> {
        self.metric(name, help).counter()
    }

    /// Registers an `f64` gauge.
    ///
    /// # Errors
    /// As [`counter`](Self::counter).
    pub fn gauge(&self, name: &str, help: &str) -> Result<Gauge, Error> {
        self.metric(name, help).gauge()
    }

    /// Registers a histogram with these buckets.
    ///
    /// # Errors
    /// As [`counter`](Self::counter), or other buckets registered under the name.
    pub fn histogram(&self, name: &str, help: &str, buckets: Buckets) -> Result<Histogram, Error> {
        self.metric(name, help).buckets(buckets).histogram()
    }

    /// Registers an [`Info`] with these label pairs (`build` + `[("version", "1.2")]` is
    /// `build_info{version="1.2"} 1`).
    ///
    /// # Errors
    /// As [`MetricBuilder::info`].
    pub fn info(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Result<Info, Error> {
        self.metric(name, help).info(labels)
    }

    /// Registers a [`Collector`], called at every collection.
    pub fn register_collector(&self, collector: impl Collector) {
        if !self.shared.enabled {
            return;
        }
        let mut state = self.write_state();
        state.collectors.push((
            Arc::new(collector),
            self.prefix.clone(),
            self.constant.clone(),
        ));
    }

    /// Collects everything into an owned [`Snapshot`].
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::collect(self)
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.shared.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.shared.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn full_name(&self, name: &str, kind: MetricKind, unit: &str) -> Result<String, Error> {
        let mut full = name::metric_name(name)?;
        if !self.prefix.is_empty() {
            full = format!("{}_{full}", self.prefix);
        }
        let suffix = match kind {
            MetricKind::Counter => Some(("_total", "a counter needs a name before \"_total\"")),
            MetricKind::Info => Some(("_info", "an info needs a name before \"_info\"")),
            _ => None,
        };
        if let Some((suffix, reason)) = suffix {
            if let Some(stripped) = full.strip_suffix(suffix) {
                if stripped.is_empty() {
                    return Err(Error::InvalidMetricName {
                        name: name.to_owned(),
                        reason,
                    });
                }
                full.truncate(stripped.len());
            }
        }
        if !unit.is_empty() && matches!(kind, MetricKind::Info | MetricKind::StateSet) {
            // OpenMetrics: the unit of an info or a stateset MUST be empty.
            return Err(Error::InvalidDefinition {
                metric: full,
                kind: kind.as_str(),
                reason: format!("OpenMetrics allows no unit on this type, {unit:?} given"),
            });
        }
        if !unit.is_empty() {
            name::unit(unit)?;
            // `task_duration_ms` with unit `milliseconds` stays as it is.
            if !tallyho_names::ends_with_unit(&full, unit) {
                full.push('_');
                full.push_str(unit);
            }
        }
        Ok(full)
    }

    /// Registers one member under `full`, or returns the handle already there.
    fn register<H: Clone + Send + Sync + 'static>(
        &self,
        meta: Meta<'_>,
        make: impl FnOnce() -> (Option<H>, Arc<dyn Readable>),
    ) -> Result<Option<H>, Error> {
        let mut state = self.write_state();
        if let Some(&i) = state.by_name.get(meta.name) {
            let entry = state.families[i].clone();
            if entry.kind != meta.kind
                || entry.signature != meta.signature
                || entry.unit != meta.unit
            {
                return Err(Error::Conflict {
                    name: meta.name.to_owned(),
                    existing: describe(entry.kind, &entry.signature, &entry.unit),
                    requested: describe(meta.kind, &meta.signature, meta.unit),
                });
            }
            let mut members = entry.members.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(m) = members
                .iter()
                .find(|m| m.constant.pairs == self.constant.pairs)
            {
                return match m.handle.as_ref().and_then(|h| h.downcast_ref::<H>()) {
                    Some(h) => Ok(Some(h.clone())),
                    None => Err(Error::Conflict {
                        name: meta.name.to_owned(),
                        existing: "an observable instrument (callbacks are registered once)"
                            .to_owned(),
                        requested: describe(meta.kind, &meta.signature, meta.unit),
                    }),
                };
            }
            let (handle, read) = make();
            members.push(Member {
                constant: self.constant.clone(),
                handle: handle
                    .clone()
                    .map(|h| Arc::new(h) as Arc<dyn Any + Send + Sync>),
                read,
            });
            return Ok(handle);
        }
        state.rendered.claim(meta.name, meta.kind)?;
        let (handle, read) = make();
        let entry = Entry {
            name: meta.name.to_owned(),
            help: meta.help.to_owned(),
            unit: meta.unit.to_owned(),
            kind: meta.kind,
            signature: meta.signature,
            members: Mutex::new(vec![Member {
                constant: self.constant.clone(),
                handle: handle
                    .clone()
                    .map(|h| Arc::new(h) as Arc<dyn Any + Send + Sync>),
                read,
            }]),
        };
        let i = state.families.len();
        state.families.push(Arc::new(entry));
        state.by_name.insert(meta.name.to_owned(), i);
        Ok(handle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_carries_its_unit_keeps_it() {
        let r = Registry::new();
        let full = |name: &str, kind, unit: &str| r.full_name(name, kind, unit).unwrap();
        let gauge = MetricKind::Gauge;
        assert_eq!(
            full("task_duration_ms", gauge, "milliseconds"),
            "task_duration_ms"
        );
        assert_eq!(full("rtt_us", gauge, "microseconds"), "rtt_us");
        assert_eq!(full("uptime_secs", gauge, "seconds"), "uptime_secs");
        assert_eq!(full("heap_kb", gauge, "kilobytes"), "heap_kb");
        assert_eq!(full("took_seconds", gauge, "seconds"), "took_seconds");
        assert_eq!(full("took", gauge, "seconds"), "took_seconds");
        // An abbreviation of another unit is not this one.
        assert_eq!(full("took_ms", gauge, "seconds"), "took_ms_seconds");
        assert_eq!(full("items", gauge, "seconds"), "items_seconds");
        // Counters lose `_total` first; the unit then applies to the rest.
        assert_eq!(full("read_b_total", MetricKind::Counter, "bytes"), "read_b");
        assert_eq!(
            full("read_total", MetricKind::Counter, "bytes"),
            "read_bytes"
        );
        let app = Registry::builder().prefix("app").build().unwrap();
        assert_eq!(
            app.full_name("gc_ns", gauge, "nanoseconds").unwrap(),
            "app_gc_ns"
        );
    }
}
