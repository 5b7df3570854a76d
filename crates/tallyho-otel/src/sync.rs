//! Synchronous instruments (counters, up-down counters, gauges, histograms): one tallyho
//! family per instrument, registered at the first measurement, when the attribute keys,
//! and so the label names, are known.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex, OnceLock};

use opentelemetry::metrics::SyncInstrument;
use opentelemetry::KeyValue;
use tallyho::{Buckets, Error, Family, Instrument, MetricBuilder, Registry};

use crate::drops::{DropCounter, Drops, Reason};
use crate::labels::Keys;

/// What an instrument was built with, in tallyho's terms.
#[derive(Debug)]
pub(crate) struct Spec {
    /// The meter's registry (its scope's constant labels).
    pub(crate) registry: Registry,
    /// The name as the API was given it (what logs and the drop counter say).
    pub(crate) api_name: String,
    /// The name handed to the registry.
    pub(crate) name: String,
    pub(crate) help: String,
    pub(crate) unit: Option<String>,
    pub(crate) buckets: Option<Buckets>,
    pub(crate) drops: Arc<Drops>,
}

impl Spec {
    pub(crate) fn builder(&self) -> MetricBuilder<'_> {
        let mut b = self.registry.metric(&self.name, &self.help);
        if let Some(unit) = &self.unit {
            b = b.unit(unit);
        }
        if let Some(buckets) = &self.buckets {
            b = b.buckets(buckets.clone());
        }
        b
    }
}

enum Bound<M: Instrument> {
    Live { keys: Keys, family: Family<M> },
    Refused(String),
}

/// A synchronous API instrument recording into `Family<M>` with `record`.
pub(crate) struct Recorder<M: Instrument, T, F> {
    spec: Spec,
    state: OnceLock<Bound<M>>,
    /// Held only while registering, so two first measurements register once.
    binding: Mutex<()>,
    record: F,
    refused: DropCounter,
    strangers: DropCounter,
    _value: PhantomData<fn(T)>,
}

impl<M, T, F> Recorder<M, T, F>
where
    M: Instrument,
    F: Fn(&M, T) + Send + std::marker::Sync + 'static,
{
    /// An instrument for `spec`, refused from the start when `problem` says why.
    pub(crate) fn new(spec: Spec, problem: Option<String>, record: F) -> Self {
        let s = Recorder {
            spec,
            state: OnceLock::new(),
            binding: Mutex::new(()),
            record,
            refused: DropCounter::default(),
            strangers: DropCounter::default(),
            _value: PhantomData,
        };
        if let Some(problem) = problem {
            s.refuse(problem);
        }
        s
    }

    fn refuse(&self, problem: String) -> &Bound<M> {
        self.refused.prime(
            &self.spec.drops,
            &self.spec.api_name,
            Reason::Registration,
            &problem,
        );
        self.state.get_or_init(|| Bound::Refused(problem))
    }

    /// Registers the family on the first measurement. `None` when these attributes
    /// cannot fix the label names (the measurement is dropped; a later one may).
    #[cold]
    fn bind(&self, attributes: &[KeyValue]) -> Option<&Bound<M>> {
        let _guard = self.binding.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bound) = self.state.get() {
            return Some(bound);
        }
        let keys = match Keys::of(attributes) {
            Ok(keys) => keys,
            Err(why) => {
                self.drop_keys(|| why);
                return None;
            }
        };
        match self.spec.builder().family::<M>(&keys.labels()) {
            Ok(family) => Some(self.state.get_or_init(|| Bound::Live { keys, family })),
            Err(
                e @ (Error::DuplicateLabelName { .. }
                | Error::InvalidLabelName { .. }
                | Error::ReservedLabelName { .. }),
            ) => {
                self.drop_keys(|| e.to_string());
                None
            }
            Err(e) => Some(self.refuse(e.to_string())),
        }
    }

    fn drop_keys(&self, why: impl FnOnce() -> String) {
        self.strangers.count(
            &self.spec.drops,
            &self.spec.api_name,
            Reason::AttributeKeys,
            why,
        );
    }
}

impl<M, T, F> SyncInstrument<T> for Recorder<M, T, F>
where
    M: Instrument,
    T: Copy,
    F: Fn(&M, T) + Send + std::marker::Sync + 'static,
{
    #[inline]
    fn measure(&self, value: T, attributes: &[KeyValue]) {
        let bound = match self.state.get() {
            Some(bound) => bound,
            None => match self.bind(attributes) {
                Some(bound) => bound,
                None => return,
            },
        };
        match bound {
            Bound::Live { keys, family } => {
                let recorded = keys.with_values(attributes, |values| {
                    (self.record)(family.with(values), value)
                });
                if let Err(key) = recorded {
                    self.drop_keys(|| {
                        format!(
                            "attribute key {key:?} is not one of the instrument's label names {:?} \
                             (fixed by its first measurement)",
                            keys.labels()
                        )
                    });
                }
            }
            Bound::Refused(problem) => self.refused.count(
                &self.spec.drops,
                &self.spec.api_name,
                Reason::Registration,
                || problem.clone(),
            ),
        }
    }
}
