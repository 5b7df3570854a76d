//! What every instrument shares: how a family creates children and how collection reads them.

use std::io;

use crate::visit::{MetricKind, PointValue};

/// An instrument that can live in a [`Family`](crate::Family) and be read at collection.
///
/// Implemented by [`Counter`](crate::Counter), [`CounterF64`](crate::CounterF64),
/// [`Gauge`](crate::Gauge), [`GaugeI64`](crate::GaugeI64),
/// [`UpDownCounter`](crate::UpDownCounter), [`Histogram`](crate::Histogram),
/// [`ExponentialHistogram`](crate::ExponentialHistogram), [`GaugeHistogram`](crate::GaugeHistogram),
/// [`Summary`](crate::Summary) and [`StateSet`](crate::StateSet).
/// It is sealed: the registry relies on its exact behaviour.
pub trait Instrument: sealed::Sealed + Send + Sync + 'static {
    /// The family type this instrument reports as.
    const KIND: MetricKind;
    /// A handle that records nothing, shared by every no-op lookup.
    fn noop_ref() -> &'static Self;
    /// Whether this is a no-op handle.
    fn is_noop(&self) -> bool;
    /// Builds a live instrument (`buckets` matters to histograms only). It starts as one
    /// cell that its first writer owns and stripes only when a second thread writes it.
    #[doc(hidden)]
    fn create(shape: &Shape) -> Self;
    /// The current value when it is a single number (counters, gauges); `None` for
    /// histograms and no-op handles.
    #[doc(hidden)]
    fn scalar(&self) -> Option<PointValue<'static>> {
        None
    }
    /// How many recordings this instrument refused (NaN or out-of-range values); only
    /// float counters and histograms refuse anything.
    #[doc(hidden)]
    fn refused(&self) -> u64 {
        0
    }
    /// Whether [`refused`](Self::refused) can ever be non-zero (collection skips the
    /// walk over a family's children otherwise).
    #[doc(hidden)]
    const REFUSES: bool = false;
    /// A number that changes whenever a recording changes the value (the value's bits;
    /// a histogram's count and refusals): how an idle sweep tells a series moved.
    #[doc(hidden)]
    fn fingerprint(&self) -> u64;
    /// Whether another handle to the same instrument exists.
    #[doc(hidden)]
    fn shared(&self) -> bool;
    /// Hands `f` the exemplars kept (one per histogram bucket, one for a counter; empty
    /// when there are none).
    #[doc(hidden)]
    fn with_exemplars(
        &self,
        f: &mut dyn FnMut(&[Option<crate::Exemplar>]) -> io::Result<()>,
    ) -> io::Result<()> {
        f(&[])
    }
    /// Reads the value and its exemplars together (the exemplars as
    /// [`with_exemplars`](Self::with_exemplars) gives them, unless the instrument places
    /// them by what it reads, as an exponential histogram does).
    #[doc(hidden)]
    fn read_with_exemplars(&self, f: &mut crate::read::PointSink<'_>) -> io::Result<()> {
        self.with_exemplars(&mut |exemplars| self.read(&mut |value| f(value, exemplars)))
    }
    /// Reads the current value and hands it to `f`.
    #[doc(hidden)]
    fn read(&self, f: &mut dyn FnMut(PointValue<'_>) -> io::Result<()>) -> io::Result<()>;
}

pub(crate) mod sealed {
    /// Only this crate's instruments implement [`Instrument`](super::Instrument).
    pub trait Sealed {}
}

/// What a family or registration passes to [`Instrument::create`]: the classic buckets
/// (histograms) and the exponential settings (exponential histograms).
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub(crate) buckets: crate::Buckets,
    pub(crate) exponential: crate::ExpConfig,
    /// A stateset's state names (checked at registration).
    pub(crate) states: std::sync::Arc<[Box<str>]>,
    /// A summary's quantiles and window.
    pub(crate) summary: crate::SummaryConfig,
}

impl From<crate::Buckets> for Shape {
    fn from(buckets: crate::Buckets) -> Self {
        Shape {
            buckets,
            exponential: crate::ExpConfig::default(),
            states: std::sync::Arc::from(Vec::new()),
            summary: crate::SummaryConfig::default(),
        }
    }
}
