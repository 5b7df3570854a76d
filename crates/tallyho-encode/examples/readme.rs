//! The README's first library snippet, exactly (tests/readme.rs keeps them equal).

use tallyho::{Buckets, Registry};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::new();
    let jobs = registry
        .metric("jobs_processed", "Jobs finished.")
        .counter_family(&["outcome"])?;
    let took = registry.histogram(
        "job_duration_seconds",
        "Job run time.",
        Buckets::default_seconds(),
    )?;

    jobs.with(&["ok"]).inc();
    took.time(|| { /* the job */ });

    // What a scrape of /metrics would read (tallyho-encode):
    let mut text = Vec::new();
    tallyho_encode::prometheus::encode(&mut text, &registry)?;
    print!("{}", String::from_utf8(text)?);
    Ok(())
}
