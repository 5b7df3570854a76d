//! Evaluation cost of 100 rules (50 recording, 50 alerting) over 1,000 series for one
//! interval, on the in-memory storage: `cargo bench -p tallyho-rules --bench rules`.
#![allow(missing_docs)] // criterion_group! generates undocumented functions.

use std::sync::{Arc, Mutex};

use criterion::{criterion_group, criterion_main, Criterion};
use tallyho_query::{Labels, Matcher, RangeSeries, Sample, Storage, StorageError};
use tallyho_rules::{Appender, ManagerOptions, ManualClock, Notifiers, RuleManager, Rules};

/// Reads a fixed set of series; counts what the rules write and keeps nothing.
struct Fixture {
    series: Vec<RangeSeries>,
    written: Mutex<usize>,
}

impl Storage for Fixture {
    fn select(
        &self,
        m: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<RangeSeries>, StorageError> {
        self.series.select(m, start, end)
    }
    fn series(
        &self,
        m: &[Vec<Matcher>],
        start: i64,
        end: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        self.series.series(m, start, end)
    }
}

impl Appender for Fixture {
    fn append(&self, _t: i64, samples: &[(Labels, f64)]) -> Result<(), String> {
        *self.written.lock().map_err(|e| e.to_string())? += samples.len();
        Ok(())
    }
}

fn rules_text() -> String {
    let mut s = String::from("groups:\n  - name: bench\n    rules:\n");
    for i in 0..50 {
        s.push_str(&format!(
            "      - record: job:m{i}:rate5m\n        expr: sum by (job) (rate(m{}_total[5m]))\n",
            i % 10
        ));
        s.push_str(&format!(
            "      - alert: High{i}\n        expr: rate(m{}_total[5m]) > {}\n        for: 5m\n        annotations: {{ summary: '{{{{ $labels.instance }}}} at {{{{ $value | humanize }}}}' }}\n",
            i % 10,
            i as f64 / 10.0
        ));
    }
    s
}

fn fixture() -> Fixture {
    // 10 metrics × 100 instances = 1,000 counters, one sample every 15 s for 10 minutes.
    let mut series = Vec::new();
    for m in 0..10 {
        for i in 0..100 {
            series.push(RangeSeries {
                labels: Labels::new([
                    ("__name__".to_string(), format!("m{m}_total")),
                    ("instance".to_string(), format!("host{i}")),
                    ("job".to_string(), format!("job{}", i % 5)),
                ]),
                samples: (0..=40)
                    .map(|k| Sample {
                        t: k * 15_000,
                        v: (k * (i + 1)) as f64,
                    })
                    .collect(),
            });
        }
    }
    Fixture {
        series,
        written: Mutex::new(0),
    }
}

fn bench(c: &mut Criterion) {
    let store = Arc::new(fixture());
    let rules = Rules::from_text("bench.yml", &rules_text()).expect("bench rules");
    let m = RuleManager::new(
        rules,
        store.clone(),
        store.clone(),
        Notifiers::new(),
        Arc::new(ManualClock::new(0)),
        ManagerOptions::default(),
    );
    let mut t = 600_000;
    c.bench_function("100 rules over 1000 series, one interval", |b| {
        b.iter(|| {
            m.evaluate_at(t);
            t += 1;
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
