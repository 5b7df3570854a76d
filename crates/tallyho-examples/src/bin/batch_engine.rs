//! `batch_engine`: a simulated batch-processing engine whose metrics are exported as JSON
//! and CSV files.
//!
//! Thirty batches of 5 to 40 jobs are created by three pipelines; every job moves through
//! `pending → queued → running → succeeded | failed`, and a failed job may be retried
//! (`failed → retrying → running`). A seeded xorshift decides everything, so the counts are
//! the same on every run. Metrics:
//!
//! - `batches_created` (counter by `pipeline`), `batch_size` (histogram by `pipeline`),
//! - `job_status_changes` (counter by `from`, `to`),
//! - `job_duration_seconds` (histogram by `pipeline`, `status`, simulated durations),
//! - `job_errors` (counter by `error`).
//!
//! A `Pipeline` with two `FileExporter`s (JSON and CSV, file prefix `batch`) writes into
//! `--out DIR` (default `$TMPDIR/tallyho-batch`) every 300 ms and once more at `shutdown`;
//! the program then lists the files and prints the CSV header and first rows of the newest
//! CSV file.
//!
//! Run: `cargo run -p tallyho-examples --bin batch_engine -- --out /tmp/batch`

use std::collections::BTreeMap;
use std::time::Duration;

use tallyho::{Buckets, Registry};
use tallyho_examples::{out_dir, XorShift};
use tallyho_export::{FileExporter, Pipeline};

const PIPELINES: &[&str] = &["billing", "search_index", "thumbnails"];
const ERRORS: &[&str] = &["timeout", "bad_input", "dependency_down"];
const BATCHES: usize = 30;
const MAX_ATTEMPTS: u32 = 3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = out_dir("tallyho-batch");
    std::fs::create_dir_all(&dir)?;

    let reg = Registry::new();
    let batches = reg
        .metric("batches_created", "Batches created, by pipeline.")
        .counter_family(&["pipeline"])?;
    let batch_size = reg
        .metric("batch_size", "Jobs per batch.")
        .buckets(Buckets::linear(5.0, 5.0, 8)?)
        .histogram_family(&["pipeline"])?;
    let changes = reg
        .metric("job_status_changes", "Job status transitions.")
        .counter_family(&["from", "to"])?;
    let duration = reg
        .metric("job_duration", "Simulated run time of a job attempt.")
        .unit("seconds")
        .buckets(Buckets::exponential(0.05, 2.0, 8)?)
        .histogram_family(&["pipeline", "status"])?;
    let errors = reg
        .metric("job_errors", "Failed job attempts, by error.")
        .counter_family(&["error"])?;

    let pipeline = Pipeline::builder(reg.clone())
        .interval(Duration::from_millis(300))
        .exporter(FileExporter::json(&dir, 20).prefix("batch"))
        .exporter(FileExporter::csv(&dir, 20).prefix("batch"))
        .start()?;

    let mut rng = XorShift::new(0x0BA7_C4E5);
    let mut transitions: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut move_to = |from: &'static str, to: &'static str| {
        changes.with(&[from, to]).inc();
        *transitions.entry((from, to)).or_default() += 1;
    };
    let mut jobs_total = 0;
    for _ in 0..BATCHES {
        let name = rng.pick(PIPELINES);
        let size = rng.range(5, 41);
        batches.with(&[name]).inc();
        batch_size.with(&[name]).observe(size as f64);
        jobs_total += size;
        for _ in 0..size {
            move_to("pending", "queued");
            move_to("queued", "running");
            let mut attempt = 1;
            loop {
                let secs = 0.05 + rng.next_f64() * 4.0;
                if rng.chance(0.12) {
                    errors.with(&[rng.pick(ERRORS)]).inc();
                    duration.with(&[name, "failed"]).observe(secs);
                    move_to("running", "failed");
                    if attempt < MAX_ATTEMPTS && rng.chance(0.7) {
                        attempt += 1;
                        move_to("failed", "retrying");
                        move_to("retrying", "running");
                        continue;
                    }
                } else {
                    duration.with(&[name, "succeeded"]).observe(secs);
                    move_to("running", "succeeded");
                }
                break;
            }
        }
        // The batch's run, scaled down.
        std::thread::sleep(Duration::from_millis(10 + size));
    }
    let clean = pipeline.shutdown(Duration::from_secs(5));
    println!("pipeline shut down cleanly: {clean}");

    let mut files: Vec<String> = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("batch-") && (n.ends_with(".json") || n.ends_with(".csv")))
        .collect();
    files.sort();
    println!("files written to {}:", dir.display());
    for f in &files {
        let len = std::fs::metadata(dir.join(f)).map_or(0, |m| m.len());
        println!("  {f} ({len} bytes)");
    }
    if let Some(newest) = files.iter().rfind(|f| f.ends_with(".csv")) {
        let text = std::fs::read_to_string(dir.join(newest))?;
        println!("--- {newest}: header and first rows ---");
        for line in text.lines().take(8) {
            println!("{line}");
        }
        println!("--- end of csv excerpt ---");
    }
    println!("summary batches={BATCHES} jobs={jobs_total}");
    for ((from, to), n) in &transitions {
        println!("summary job_status_changes from={from} to={to} {n}");
    }
    println!("done: batch_engine");
    Ok(())
}
