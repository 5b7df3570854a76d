//! Times `sum by (group) (rate(x[5m]))` over 1,000 counters, 1h at a 15s step, against the
//! in-memory storage: `cargo run --release -p tallyho-query --example rate_sum`.

use std::time::Instant;

use tallyho_query::{Engine, EngineOptions, Labels, RangeSeries, Sample};

fn main() {
    let hour = 3_600_000i64;
    let series: Vec<RangeSeries> = (0..1000)
        .map(|i| RangeSeries {
            labels: Labels::new([
                ("__name__".to_string(), "x".to_string()),
                ("group".to_string(), (i % 10).to_string()),
                ("instance".to_string(), i.to_string()),
            ]),
            samples: (0..=(hour + 300_000) / 15_000)
                .map(|k| Sample {
                    t: k * 15_000,
                    v: (k * (i + 1)) as f64,
                })
                .collect(),
        })
        .collect();
    let engine = Engine::new(EngineOptions::default());
    let q = "sum by (group) (rate(x[5m]))";
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t0 = Instant::now();
        let out = engine
            .range(&series, q, 300_000, 300_000 + hour, 15_000)
            .expect("query");
        best = best.min(t0.elapsed().as_secs_f64());
        assert_eq!(out.len(), 10);
    }
    println!("{q}: best of 5 {:.2} ms", best * 1e3);
}
