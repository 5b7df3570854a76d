//! Measurements this crate could not record: counted in the registry, logged once.

use std::sync::{Arc, OnceLock};

use tallyho::{Counter, Family, Registry};

/// The counter family of dropped measurements (`_total` in the text formats), labelled
/// `instrument` (the API name) and `reason`.
pub const DROPPED_METRIC: &str = "tallyho_otel_dropped_measurements";

/// Why a measurement was dropped: the `reason` label of [`DROPPED_METRIC`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The instrument could not be registered (invalid name, bad bucket boundaries, a name
    /// registered with another type or label names): every measurement is dropped.
    Registration,
    /// The attributes have a key outside the instrument's label names, or a key that is
    /// no label name.
    AttributeKeys,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Registration => "registration",
            Reason::AttributeKeys => "attribute_keys",
        }
    }
}

/// The dropped-measurement family of one provider, registered on the first drop.
#[derive(Debug)]
pub(crate) struct Drops {
    registry: Registry,
    family: OnceLock<Family<Counter>>,
}

impl Drops {
    pub(crate) fn new(registry: Registry) -> Arc<Self> {
        Arc::new(Drops {
            registry,
            family: OnceLock::new(),
        })
    }

    fn family(&self) -> &Family<Counter> {
        self.family.get_or_init(|| {
            self.registry
                .metric(
                    DROPPED_METRIC,
                    "OpenTelemetry API measurements tallyho could not record, by instrument and reason.",
                )
                .counter_family(&["instrument", "reason"])
                .unwrap_or_else(|e| {
                    log::warn!("tallyho-otel: dropped measurements cannot be counted: {e}");
                    Family::noop()
                })
        })
    }

    /// The counter of `instrument`'s drops for `reason`, after logging `detail` (callers
    /// keep the counter, so this runs, and logs, once per instrument and reason).
    pub(crate) fn counter(&self, instrument: &str, reason: Reason, detail: &str) -> Counter {
        log::warn!(
            "tallyho-otel: instrument {instrument:?} drops measurements ({}): {detail}",
            reason.as_str()
        );
        self.family().with(&[instrument, reason.as_str()]).clone()
    }
}

/// A drop counter made on the first drop of one instrument and reason.
#[derive(Debug, Default)]
pub(crate) struct DropCounter(OnceLock<Counter>);

impl DropCounter {
    /// Makes the counter (its series shows 0) and logs `detail`, without counting a drop:
    /// for an instrument refused when it is built.
    pub(crate) fn prime(&self, drops: &Drops, instrument: &str, reason: Reason, detail: &str) {
        self.0
            .get_or_init(|| drops.counter(instrument, reason, detail));
    }

    /// Counts one drop; `detail` is logged the first time only.
    #[cold]
    pub(crate) fn count(
        &self,
        drops: &Drops,
        instrument: &str,
        reason: Reason,
        detail: impl FnOnce() -> String,
    ) {
        self.0
            .get_or_init(|| drops.counter(instrument, reason, &detail()))
            .inc();
    }
}
