//! `job_worker`: a simulated background-job worker pool that pushes its metrics over
//! OTLP/HTTP.
//!
//! A producer enqueues 180 jobs of four types; three worker threads run them. Each job's
//! outcome (success, or a failure of some kind after optional retries) and output size are
//! drawn from a seeded xorshift when it is enqueued, so the counts are the same on every
//! run whatever the thread scheduling. Metrics:
//!
//! - `jobs_processed` (counter by `status` = completed, failed),
//! - `jobs_started` / `jobs_completed` / `jobs_failed` / `jobs_retried` / `jobs_active` /
//!   `jobs_duration_seconds` / `jobs_queue_wait_seconds` (`tallyho_jobs::JobMetrics` with
//!   explicit bucket boundaries, by `queue`, `job_type`) and `jobs_queue_depth` (observable),
//! - `job_output_size_bytes` (histogram by `job_type`),
//! - `job_errors` (counter by `class` = retryable, fatal and `kind`),
//! - host metrics (`tallyho_host::HostCollector`: CPU, memory, process, ...).
//!
//! A tiny std-only OTLP/HTTP receiver runs on `127.0.0.1:0` inside the program; an
//! `OtlpExporter` in a `Pipeline` pushes to it every 250 ms and is flushed at the end. The
//! program prints how many requests and bytes the receiver got, then the Prometheus text of
//! the registry.
//!
//! Run: `cargo run -p tallyho-examples --bin job_worker`

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tallyho::{Buckets, Registry};
use tallyho_examples::XorShift;
use tallyho_export::otlp::OtlpExporter;
use tallyho_export::Pipeline;
use tallyho_host::{HostCollector, HostConfig};
use tallyho_jobs::JobMetrics;

const JOBS: usize = 180;
const WORKERS: usize = 3;
const JOB_TYPES: &[(&str, &str)] = &[
    // (queue, job type)
    ("default", "send_email"),
    ("default", "resize_image"),
    ("bulk", "generate_report"),
    ("bulk", "sync_crm"),
];

/// What a job will do, decided when it is enqueued.
struct Plan {
    queue: &'static str,
    job_type: &'static str,
    work: Duration,
    retries: u32,
    /// `Some((class, kind))` when the job fails.
    failure: Option<(&'static str, &'static str)>,
    output_bytes: u64,
    queued_at: Instant,
}

/// The job queue: planned jobs and whether the producer is done, with a condition variable
/// that wakes idle workers.
type Queue = (Mutex<(VecDeque<Plan>, bool)>, Condvar);

/// Requests and body bytes an OTLP receiver got.
#[derive(Default)]
struct Received {
    requests: AtomicU64,
    bytes: AtomicU64,
}

/// A minimal OTLP/HTTP receiver: reads each request's body, counts it, answers 200 with an
/// empty protobuf `ExportMetricsServiceResponse`.
fn spawn_otlp_receiver() -> std::io::Result<(SocketAddr, Arc<Received>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let received = Arc::new(Received::default());
    let counts = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counts = counts.clone();
            std::thread::spawn(move || {
                let _ = serve_connection(stream, &counts);
            });
        }
    });
    Ok((addr, received))
}

fn serve_connection(stream: TcpStream, counts: &Received) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        // Request line and headers; EOF ends the (keep-alive) connection.
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        if line.starts_with("POST /v1/metrics") {
            counts.requests.fetch_add(1, Ordering::Relaxed);
            counts.bytes.fetch_add(length as u64, Ordering::Relaxed);
            out.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n",
            )?;
        } else {
            out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?;
        }
        out.flush()?;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let reg = Registry::new();
    let jobs = JobMetrics::builder(&reg, "jobs", &["queue", "job_type"])
        .duration_buckets(Buckets::new([0.002, 0.005, 0.01, 0.02, 0.05])?)
        .queue_wait_buckets(Buckets::new([0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0])?)
        .build()?;
    let processed = reg
        .metric("jobs_processed", "Jobs finished, by final status.")
        .counter_family(&["status"])?;
    let output = reg
        .metric("job_output_size", "Size of what a successful job produced.")
        .unit("bytes")
        .buckets(Buckets::exponential(1024.0, 4.0, 6)?)
        .histogram_family(&["job_type"])?;
    let errors = reg
        .metric(
            "job_errors",
            "Job errors, classified as retryable or fatal.",
        )
        .counter_family(&["class", "kind"])?;
    reg.register_collector(HostCollector::new(HostConfig::default()));

    let queue: Arc<Queue> = Arc::new((Mutex::new((VecDeque::new(), false)), Condvar::new()));
    let depth = queue.clone();
    jobs.queue_depth(move || depth.0.lock().map_or(0.0, |q| q.0.len() as f64))?;

    let (otlp_addr, received) = spawn_otlp_receiver()?;
    let exporter = OtlpExporter::builder()
        .endpoint(format!("http://{otlp_addr}"))
        .service_name("job_worker")
        .timeout(Duration::from_secs(5))
        .build()?;
    let pipeline = Pipeline::builder(reg.clone())
        .interval(Duration::from_millis(250))
        .exporter(exporter)
        .start()?;
    println!("pushing OTLP to http://{otlp_addr}/v1/metrics every 250 ms");

    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let queue = queue.clone();
            let jobs = jobs.clone();
            let processed = processed.clone();
            let output = output.clone();
            let errors = errors.clone();
            std::thread::spawn(move || loop {
                let plan = {
                    let (lock, ready) = &*queue;
                    let mut q = lock.lock().unwrap_or_else(|p| p.into_inner());
                    loop {
                        if let Some(p) = q.0.pop_front() {
                            break p;
                        }
                        if q.1 {
                            return;
                        }
                        q = ready.wait(q).unwrap_or_else(|p| p.into_inner());
                    }
                };
                let job = jobs.start_after_wait(&[plan.queue, plan.job_type], plan.queued_at);
                for _ in 0..plan.retries {
                    std::thread::sleep(plan.work / 2);
                    errors.with(&["retryable", "connection_reset"]).inc();
                    job.retry();
                }
                std::thread::sleep(plan.work);
                match plan.failure {
                    None => {
                        output
                            .with(&[plan.job_type])
                            .observe(plan.output_bytes as f64);
                        job.complete();
                        processed.with(&["completed"]).inc();
                    }
                    Some((class, kind)) => {
                        errors.with(&[class, kind]).inc();
                        job.fail(kind);
                        processed.with(&["failed"]).inc();
                    }
                }
            })
        })
        .collect();

    let mut rng = XorShift::new(0x10B_5EED);
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..JOBS {
        let (queue_name, job_type) = rng.pick(JOB_TYPES);
        let retries = if rng.chance(0.15) { 1 } else { 0 };
        let failure = match rng.range(0, 100) {
            0..=4 => Some(("fatal", "invalid_payload")),
            5..=7 => Some(("retryable", "timeout")),
            8..=9 => Some(("fatal", "out_of_memory")),
            _ => None,
        };
        let status = if failure.is_some() {
            "failed"
        } else {
            "completed"
        };
        *expected.entry(status.to_owned()).or_default() += 1;
        *expected.entry("retries".to_owned()).or_default() += u64::from(retries);
        let plan = Plan {
            queue: queue_name,
            job_type,
            work: Duration::from_millis(rng.range(2, 16)),
            retries,
            failure,
            output_bytes: rng.range(512, 2_000_000),
            queued_at: Instant::now(),
        };
        let (lock, ready) = &*queue;
        lock.lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .push_back(plan);
        ready.notify_one();
        std::thread::sleep(Duration::from_millis(rng.range(3, 9)));
    }
    {
        let (lock, ready) = &*queue;
        lock.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        ready.notify_all();
    }
    for w in workers {
        w.join().map_err(|_| "worker panicked")?;
    }

    let flushed = pipeline.flush(Duration::from_secs(10));
    let requests = received.requests.load(Ordering::Relaxed);
    let bytes = received.bytes.load(Ordering::Relaxed);
    println!("otlp flushed: {flushed}");
    println!("otlp receiver: requests={requests} bytes={bytes}");
    let clean = pipeline.shutdown(Duration::from_secs(10));
    println!("pipeline shut down cleanly: {clean}");

    println!("--- prometheus text ---");
    let mut text = Vec::new();
    tallyho_encode::prometheus::encode(&mut text, &reg)?;
    println!("{}", String::from_utf8_lossy(&text).trim_end());
    println!("--- end of prometheus text ---");
    for (k, v) in &expected {
        println!("summary {k}={v}");
    }
    println!("done: job_worker");
    Ok(())
}
