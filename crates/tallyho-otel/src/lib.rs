//! The OpenTelemetry metrics API backed by a tallyho [`Registry`]: code instrumented with
//! the `opentelemetry` crate records through tallyho's hot path and is collected by every
//! tallyho output (`/metrics`, OTLP, remote write, ...).
//!
//! ```
//! use opentelemetry::metrics::MeterProvider as _;
//! use opentelemetry::{InstrumentationScope, KeyValue};
//! use tallyho_otel::TallyhoMeterProvider;
//!
//! let registry = tallyho::Registry::new();
//! let provider = TallyhoMeterProvider::new(registry.clone());
//! let scope = InstrumentationScope::builder("checkout").with_version("1.2.0").build();
//! let meter = provider.meter_with_scope(scope);
//! let orders = meter.u64_counter("orders.placed").with_description("Orders placed.").build();
//! orders.add(2, &[KeyValue::new("payment.method", "card")]);
//!
//! let labels = [
//!     ("otel_scope_name", "checkout"),
//!     ("otel_scope_version", "1.2.0"),
//!     ("payment_method", "card"),
//! ];
//! assert_eq!(registry.snapshot().value("orders_placed", &labels), Some(2.0));
//! ```
//!
//! # Mapping
//!
//! | API instrument                         | tallyho family                         |
//! |----------------------------------------|----------------------------------------|
//! | `Counter<u64>` / `Counter<f64>`        | `Family<Counter>` / `Family<CounterF64>` |
//! | `UpDownCounter<i64>`                   | `Family<UpDownCounter>`                |
//! | `UpDownCounter<f64>`                   | `Family<Gauge>` moved by `add` (tallyho's up-down counter is `i64`; OTLP sees a gauge) |
//! | `Gauge<u64>` / `Gauge<f64>`, `Gauge<i64>` | `Family<Gauge>`, `Family<GaugeI64>` |
//! | `Histogram<u64>` / `Histogram<f64>`    | `Family<Histogram>`: the builder's boundaries, else [`DEFAULT_BOUNDARIES`] |
//! | `Observable{Counter,UpDownCounter,Gauge}` | `observable_{counter,up_down_counter,gauge}_family` |
//!
//! - **Names**: `-` and `/` (allowed by the API, not by Prometheus) become `_`, `.` too (the
//!   registry's rule); any other invalid name is refused. Units are the specification's
//!   Prometheus words (`s` → `seconds`, `By` → `bytes`, `{request}` dropped, `1` → `ratio`
//!   for gauges), appended as tallyho appends units. The description is the help text.
//! - **Scope**: each meter's registry is a sub-registry with constant labels
//!   `otel_scope_name` and (when set) `otel_scope_version`, as OpenTelemetry's Prometheus
//!   exporter writes them; two meters' instruments of one name share a family.
//!   [`TallyhoMeterProvider::without_scope_labels`] leaves them out.
//! - **Attributes** become labels: a key's characters that a label name cannot hold
//!   become `_` (`http.method` → `http_method`), a leading digit gets `key_`.
//!
//! # One label set per instrument
//!
//! A tallyho family has one list of label names, fixed when it is registered (lookups
//! are one probe of a table keyed by the values, and every series of the family shares
//! the name list the encoders write). The API fixes nothing, so **an instrument's label
//! names are the attribute keys of its first measurement** (an observable instrument's:
//! of the first point its callbacks report when it is built, when they run once and
//! what they report is discarded). Later measurements:
//!
//! - with the same keys, in any order, record into their series;
//! - with a subset of them record with the missing labels empty, which in the Prometheus
//!   data model is the same series as one without those labels (what OpenTelemetry's own
//!   Prometheus exporter would expose for that key set);
//! - with a key the instrument does not have are dropped, counted in
//!   [`DROPPED_METRIC`]`{instrument, reason="attribute_keys"}` and logged (once per
//!   instrument). A drop found by an observable callback, while a collection runs,
//!   may show from the next collection on (the family of drops can be read before the
//!   callback runs).
//!
//! So an instrument first recorded without attributes has no labels, and every later
//! measurement with attributes is dropped: when the key set matters, make the first
//! measurement with all the keys (`counter.add(0, &attributes)` at start-up does it).
//!
//! Registering one family per key set is what the registry refuses on purpose (one name,
//! one label list), and merging key sets as they come would change a family's labels
//! under a running scrape; dropping strangers keeps every exposition valid and says what
//! was lost.
//!
//! # Refusals
//!
//! Nothing here panics on bad input. An instrument that cannot be registered (an invalid
//! name, unsorted or non-finite boundaries, a name registered with another type, unit or
//! label names) drops every measurement, counted in
//! [`DROPPED_METRIC`]`{instrument, reason="registration"}`, and logs why through the
//! `log` crate (once). Values tallyho refuses (a negative counter increment, NaN) are
//! counted in `tallyho_refused_values` as for any tallyho instrument.
//!
//! # Hot path
//!
//! After the first measurement an instrument holds its tallyho family: a measurement
//! compares its keys with the instrument's (the same keys in the same order need one
//! string comparison each) and looks the series up in the family with the values
//! borrowed from the attributes. No registry lookup, no lock, and no allocation for
//! string, integer and boolean values (integers are written on the stack; floats and
//! arrays are formatted into a `String`). `cargo bench -p tallyho-bench --bench otel_api`
//! measures it against `opentelemetry_sdk`'s own provider.
#![deny(missing_docs)]

mod drops;
mod labels;
mod meter;
mod names;
mod observable;
mod sync;
#[cfg(feature = "tracing")]
mod trace;

use std::sync::Arc;

use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::InstrumentationScope;
use tallyho::Registry;

pub use drops::DROPPED_METRIC;
#[cfg(feature = "tracing")]
pub use trace::trace_context;

/// The API's default histogram boundaries (the OpenTelemetry SDK's), used when a
/// histogram's builder sets none.
pub const DEFAULT_BOUNDARIES: [f64; 15] = [
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// An OpenTelemetry `MeterProvider` whose meters record into a tallyho [`Registry`].
///
/// Cheap to clone; every clone and every meter shares the registry. Hand it to libraries
/// that take a `MeterProvider`, or install it with
/// `opentelemetry::global::set_meter_provider`.
#[derive(Clone, Debug)]
pub struct TallyhoMeterProvider {
    registry: Registry,
    drops: Arc<drops::Drops>,
    scope_labels: bool,
}

impl TallyhoMeterProvider {
    /// Meters over `registry`, each with its scope as constant labels.
    pub fn new(registry: Registry) -> Self {
        TallyhoMeterProvider {
            drops: drops::Drops::new(registry.clone()),
            registry,
            scope_labels: true,
        }
    }

    /// Meters without the `otel_scope_name` / `otel_scope_version` labels: instruments of
    /// the same name from two meters then are one series set.
    pub fn without_scope_labels(mut self) -> Self {
        self.scope_labels = false;
        self
    }

    /// The registry the meters record into.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The registry of one scope: the provider's, with the scope's constant labels.
    fn scoped(&self, scope: &InstrumentationScope) -> Registry {
        if !self.scope_labels {
            return self.registry.clone();
        }
        let mut labels: Vec<(&str, &str)> = Vec::with_capacity(2);
        if !scope.name().is_empty() {
            labels.push(("otel_scope_name", scope.name()));
        }
        if let Some(version) = scope.version().filter(|v| !v.is_empty()) {
            labels.push(("otel_scope_version", version));
        }
        self.registry.sub_registry("", &labels).unwrap_or_else(|e| {
            log::warn!(
                "tallyho-otel: meter {:?} records without its scope labels: {e}",
                scope.name()
            );
            self.registry.clone()
        })
    }
}

impl MeterProvider for TallyhoMeterProvider {
    fn meter_with_scope(&self, scope: InstrumentationScope) -> Meter {
        Meter::new(Arc::new(meter::TallyhoMeter {
            registry: self.scoped(&scope),
            drops: self.drops.clone(),
        }))
    }
}
