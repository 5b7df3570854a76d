//! Refusals are logged through the `log` facade, once per instrument and reason, naming
//! the instrument and the problem (a logger is process-wide, so this binary has one test).

use std::sync::Mutex;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use tallyho_otel::{TallyhoMeterProvider, DROPPED_METRIC};

struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}", record.level(), record.args());
        self.0.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

static LOGGER: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn each_refusal_is_logged_once_with_its_cause() {
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let registry = tallyho::Registry::new();
    let meter = TallyhoMeterProvider::new(registry.clone()).meter("log");
    let bad = meter.u64_counter("bad name").build();
    let hits = meter.u64_counter("hits").build();
    for _ in 0..3 {
        bad.add(1, &[]);
        hits.add(1, &[KeyValue::new("a", "1")]);
        hits.add(1, &[KeyValue::new("b", "1")]);
    }
    let lines = LOGGER.0.lock().unwrap().clone();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].starts_with("WARN "), "{}", lines[0]);
    assert!(
        lines[0].contains("\"bad name\"") && lines[0].contains("registration"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("\"hits\"") && lines[1].contains("\"b\"") && lines[1].contains("[\"a\"]"),
        "{}",
        lines[1]
    );
    let snapshot = registry.snapshot();
    let dropped = |instrument, reason| {
        snapshot.value(
            DROPPED_METRIC,
            &[("instrument", instrument), ("reason", reason)],
        )
    };
    assert_eq!(dropped("bad name", "registration"), Some(3.0));
    assert_eq!(dropped("hits", "attribute_keys"), Some(3.0));
}
