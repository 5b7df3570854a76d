//! Records a small simulated batch of jobs and prints what was collected.
//!
//! Run: `cargo run -p tallyho --example quickstart`

use std::time::Duration;

use tallyho::{Buckets, Registry, SeriesValue};

fn main() -> Result<(), tallyho::Error> {
    let registry = Registry::builder()
        .prefix("demo")
        .constant_label("service", "quickstart")
        .build()?;
    let jobs = registry
        .metric("jobs_processed", "Jobs finished, by outcome.")
        .counter_family(&["outcome"])?;
    let active = registry
        .metric("jobs_active", "Jobs running now.")
        .gauge_i64()?;
    let duration = registry
        .metric("job_duration", "How long a job took.")
        .unit("seconds")
        .buckets(Buckets::exponential(0.001, 4.0, 6)?)
        .histogram()?;

    for i in 0..20u64 {
        active.inc();
        let timer = duration.start_timer();
        std::thread::sleep(Duration::from_micros(200 * (i % 5)));
        timer.stop();
        let outcome = if i % 7 == 3 { "failed" } else { "ok" };
        jobs.with(&[outcome]).inc();
        active.dec();
    }

    for family in registry.snapshot().families {
        for series in &family.series {
            let labels: Vec<String> = series
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect();
            let value = match &series.value {
                SeriesValue::Histogram(h) => format!("count={} sum={:.6}", h.count, h.sum),
                other => format!("{}", other.as_f64().unwrap_or(f64::NAN)),
            };
            println!("{} {{{}}} {}", family.name, labels.join(", "), value);
        }
    }
    Ok(())
}
