//! Records a small simulated batch of jobs and prints the metrics in a text format.
//!
//! Run: `cargo run -p tallyho-encode --example quickstart [prometheus|openmetrics|json|csv]`

use std::io::Write;
use std::time::Duration;

use tallyho::{Buckets, Registry};
use tallyho_encode::Format;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let format: Format = match std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or("prometheus")
        .parse()
    {
        Ok(f) => f,
        Err(e) => {
            // The message lists the formats there are.
            eprintln!("quickstart: {e}");
            std::process::exit(2);
        }
    };
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

    let mut out = std::io::stdout().lock();
    format.encode(&mut out, &registry)?;
    out.flush()?;
    Ok(())
}
