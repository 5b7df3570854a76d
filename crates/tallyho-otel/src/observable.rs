//! Observable (asynchronous) instruments as tallyho observable families: the API's
//! callbacks run at each collection and report through a tallyho [`Observer`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use opentelemetry::metrics::{AsyncInstrument, Callback};
use opentelemetry::KeyValue;
use tallyho::Observer;

use crate::drops::{DropCounter, Reason};
use crate::labels::Keys;
use crate::sync::Spec;

/// Which observable family an instrument becomes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Counter,
    UpDownCounter,
    Gauge,
}

/// Records the attributes of the first point the callbacks report.
struct Discover(Mutex<Option<Vec<KeyValue>>>);

impl<T> AsyncInstrument<T> for Discover {
    fn observe(&self, _value: T, attributes: &[KeyValue]) {
        let mut first = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if first.is_none() {
            *first = Some(attributes.to_vec());
        }
    }
}

/// The label names of an observable instrument: the attribute keys of the first point its
/// callbacks report when it is built (they run once then; what they report is discarded).
fn discover<T>(callbacks: &[Callback<T>]) -> Result<Keys, String> {
    let seen = Discover(Mutex::new(None));
    for cb in callbacks {
        // A callback that panics now reports nothing now; it is called again at
        // each collection, where tallyho contains its panics too.
        let _ = catch_unwind(AssertUnwindSafe(|| cb(&seen)));
    }
    let first = seen.0.into_inner().unwrap_or_else(|p| p.into_inner());
    Keys::of(first.as_deref().unwrap_or(&[]))
}

/// What the API's callbacks see during one collection.
struct Report<'a, T> {
    observer: Mutex<&'a mut Observer>,
    keys: &'a Keys,
    convert: fn(T) -> f64,
    spec: &'a Spec,
    strangers: &'a DropCounter,
}

impl<T> AsyncInstrument<T> for Report<'_, T> {
    fn observe(&self, value: T, attributes: &[KeyValue]) {
        let value = (self.convert)(value);
        let reported = self.keys.with_values(attributes, |values| {
            self.observer
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .observe(values, value);
        });
        if let Err(key) = reported {
            self.strangers.count(
                &self.spec.drops,
                &self.spec.api_name,
                Reason::AttributeKeys,
                || {
                    format!(
                        "attribute key {key:?} is not one of the instrument's label names {:?} \
                         (fixed by the first point its callbacks reported when it was built)",
                        self.keys.labels()
                    )
                },
            );
        }
    }
}

/// Registers an observable family for `spec` whose callback runs the API's `callbacks`.
/// Refusals (a `problem` found while building, invalid keys, a registration error) are
/// logged and counted once: the instrument then reports nothing.
pub(crate) fn register<T: 'static>(
    spec: Spec,
    problem: Option<String>,
    kind: Kind,
    callbacks: Vec<Callback<T>>,
    convert: fn(T) -> f64,
) {
    let refuse = |spec: &Spec, why: &str| {
        let refused = DropCounter::default();
        refused.count(&spec.drops, &spec.api_name, Reason::Registration, || {
            why.to_owned()
        });
    };
    if let Some(problem) = problem {
        return refuse(&spec, &problem);
    }
    let keys = match discover(&callbacks) {
        Ok(keys) => keys,
        Err(why) => return refuse(&spec, &why),
    };
    let labels: Vec<String> = keys.labels().iter().map(|l| (*l).to_owned()).collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let shared = Arc::new((spec, keys, DropCounter::default()));
    let inner = shared.clone();
    let run = move |observer: &mut Observer| {
        let (spec, keys, strangers) = &*inner;
        let report = Report {
            observer: Mutex::new(observer),
            keys,
            convert,
            spec,
            strangers,
        };
        for cb in &callbacks {
            cb(&report);
        }
    };
    let builder = shared.0.builder();
    let registered = match kind {
        Kind::Counter => builder.observable_counter_family(&labels, run),
        Kind::UpDownCounter => builder.observable_up_down_counter_family(&labels, run),
        Kind::Gauge => builder.observable_gauge_family(&labels, run),
    };
    if let Err(e) = registered {
        refuse(&shared.0, &e.to_string());
    }
}
