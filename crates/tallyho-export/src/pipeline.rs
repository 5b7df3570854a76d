//! The export pipeline: collect the registry every interval and hand the snapshot to each
//! exporter on a thread of its own, with bounded queues and retries.

use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use tallyho::{Counter, Family, Registry, Snapshot};

use crate::delta::DeltaState;
use crate::env::EnvLookup;
use crate::exporter::{Batch, ExportError, Exporter, Temporality};
use crate::report::{stderr_log, Report};
pub use crate::report::{ErrorLog, ExporterStats, StatsReader};

/// The interval used when neither the code nor `OTEL_METRIC_EXPORT_INTERVAL` sets one.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// How failed exports are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per batch, the first included.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles each time, with ±50% jitter.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Settings for a [`Pipeline`].
pub struct PipelineBuilder {
    registry: Registry,
    interval: Option<Duration>,
    exporters: Vec<Box<dyn Exporter>>,
    queue: usize,
    retry: RetryPolicy,
    log: ErrorLog,
    pub(crate) env: Arc<EnvLookup>,
}

impl PipelineBuilder {
    /// How often to collect and export (default: `OTEL_METRIC_EXPORT_INTERVAL` in
    /// milliseconds, else 60 s). A zero interval is raised to 1 ms.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Adds an exporter; each gets its own thread and queue.
    pub fn exporter(mut self, exporter: impl Exporter) -> Self {
        self.exporters.push(Box::new(exporter));
        self
    }

    /// Snapshots waiting per exporter before the oldest is dropped (default 4, at least 1).
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue = n.max(1);
        self
    }

    /// How failures are retried.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Where export failures are reported (default: a line on standard error), at most once
    /// per interval per exporter. Every failure is also kept in [`Pipeline::stats`].
    pub fn error_log(mut self, log: impl Fn(&ExportError, u64) + Send + Sync + 'static) -> Self {
        self.log = Arc::new(log);
        self
    }

    /// Looks `OTEL_METRIC_EXPORT_INTERVAL` up with `get` instead of in the process
    /// environment (a configuration file, a test's map, ...).
    pub fn env_with(
        mut self,
        get: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Arc::new(get);
        self
    }

    /// Starts the collector and exporter threads.
    ///
    /// # Errors
    /// A thread could not be started, or (when no interval is set in code)
    /// `OTEL_METRIC_EXPORT_INTERVAL` is not a whole number of milliseconds
    /// ([`InvalidInput`](std::io::ErrorKind::InvalidInput), naming the variable and value).
    pub fn start(self) -> std::io::Result<Pipeline> {
        let interval = match self.interval {
            Some(i) => i,
            None => interval_from_env(&*self.env)?.unwrap_or(DEFAULT_INTERVAL),
        }
        .max(Duration::from_millis(1));
        let metrics = SelfMetrics::new(&self.registry);
        let started = SystemTime::now();
        let mut workers = Vec::new();
        for exporter in self.exporters {
            workers.push(Worker::start(
                exporter,
                Settings {
                    capacity: self.queue,
                    retry: self.retry,
                    interval,
                    log: self.log.clone(),
                },
                metrics.clone(),
                started,
            )?);
        }
        let shared = Arc::new(Shared {
            registry: self.registry,
            queues: workers.iter().map(|w| w.queue.clone()).collect(),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let collector = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("tallyho-export".into())
                .spawn(move || collector_loop(&shared, interval))?
        };
        Ok(Pipeline {
            shared,
            collector: Some(collector),
            workers,
            interval,
        })
    }
}

/// `OTEL_METRIC_EXPORT_INTERVAL` in milliseconds, as the OpenTelemetry SDK specification
/// defines it; unset or empty is `None`.
fn interval_from_env(get: &EnvLookup) -> std::io::Result<Option<Duration>> {
    const NAME: &str = "OTEL_METRIC_EXPORT_INTERVAL";
    let Some(v) = get(NAME).filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    v.trim()
        .parse::<u64>()
        .map(|ms| Some(Duration::from_millis(ms)))
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{NAME}={v:?}: expected a whole number of milliseconds"),
            )
        })
}

/// Running export: collection every interval until [`shutdown`](Self::shutdown) (or drop).
pub struct Pipeline {
    shared: Arc<Shared>,
    collector: Option<JoinHandle<()>>,
    workers: Vec<Worker>,
    interval: Duration,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("interval", &self.interval)
            .field("exporters", &self.workers.len())
            .finish()
    }
}

struct Shared {
    registry: Registry,
    queues: Vec<Arc<Queue>>,
    stop: Mutex<bool>,
    wake: Condvar,
}

impl Shared {
    fn collect_and_enqueue(&self) {
        let snapshot = Arc::new(self.registry.snapshot());
        for q in &self.queues {
            q.push(Job::Export(snapshot.clone()));
        }
    }
}

fn collector_loop(shared: &Shared, interval: Duration) {
    let mut next = Instant::now() + interval;
    loop {
        let mut stop = shared.stop.lock().unwrap_or_else(|p| p.into_inner());
        while !*stop {
            let now = Instant::now();
            if now >= next {
                break;
            }
            stop = shared
                .wake
                .wait_timeout(stop, next - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        if *stop {
            return;
        }
        drop(stop);
        shared.collect_and_enqueue();
        next += interval;
        if next < Instant::now() {
            next = Instant::now() + interval;
        }
    }
}

impl PipelineBuilder {
    fn new(registry: Registry) -> Self {
        PipelineBuilder {
            registry,
            interval: None,
            exporters: Vec::new(),
            queue: 4,
            retry: RetryPolicy::default(),
            log: Arc::new(stderr_log),
            env: Arc::new(crate::env::process),
        }
    }
}

impl Pipeline {
    /// Settings for a pipeline exporting `registry`.
    pub fn builder(registry: Registry) -> PipelineBuilder {
        PipelineBuilder::new(registry)
    }

    /// The collection interval in use.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// What each exporter has done so far, in the order they were added: exports,
    /// failures by reason, and the last error with its time.
    pub fn stats(&self) -> Vec<ExporterStats> {
        self.stats_reader().read()
    }

    /// A clonable reader of [`stats`](Self::stats) that can be moved into another thread
    /// or a handler and keeps working until the pipeline is shut down.
    pub fn stats_reader(&self) -> StatsReader {
        StatsReader(self.workers.iter().map(|w| w.stats.clone()).collect())
    }

    /// Collects now, exports to every exporter and waits (up to `timeout`) until each has
    /// finished, including its `flush`. Returns whether all finished in time.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.shared.collect_and_enqueue();
        self.wait_all(timeout, Job::Flush)
    }

    /// Stops collecting, exports a final batch, calls every exporter's `shutdown`, and waits
    /// for them up to `timeout`. Returns whether all finished in time.
    pub fn shutdown(mut self, timeout: Duration) -> bool {
        self.stop(timeout)
    }

    fn stop(&mut self, timeout: Duration) -> bool {
        let Some(collector) = self.collector.take() else {
            return true;
        };
        *self.shared.stop.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.wake.notify_all();
        let _ = collector.join();
        self.shared.collect_and_enqueue();
        let done = self.wait_all(timeout, Job::Shutdown);
        for w in &mut self.workers {
            w.queue.close();
            if done {
                if let Some(t) = w.thread.take() {
                    let _ = t.join();
                }
            }
        }
        done
    }

    fn wait_all(&self, timeout: Duration, job: impl Fn(mpsc::Sender<()>) -> Job) -> bool {
        let deadline = Instant::now() + timeout;
        let (tx, rx) = mpsc::channel();
        for q in &self.shared.queues {
            q.push_control(job(tx.clone()));
        }
        drop(tx);
        for _ in 0..self.shared.queues.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if rx.recv_timeout(left).is_err() {
                return false;
            }
        }
        true
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

enum Job {
    Export(Arc<Snapshot>),
    Flush(mpsc::Sender<()>),
    Shutdown(mpsc::Sender<()>),
}

/// A bounded queue that drops the oldest snapshot when full (control jobs are never dropped).
struct Queue {
    jobs: Mutex<(VecDeque<Job>, bool)>,
    ready: Condvar,
    capacity: usize,
    dropped: Counter,
}

impl Queue {
    fn push(&self, job: Job) {
        let mut g = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let exports = g.0.iter().filter(|j| matches!(j, Job::Export(_))).count();
        if exports >= self.capacity {
            if let Some(i) = g.0.iter().position(|j| matches!(j, Job::Export(_))) {
                g.0.remove(i);
                self.dropped.inc();
            }
        }
        g.0.push_back(job);
        self.ready.notify_one();
    }

    fn push_control(&self, job: Job) {
        let mut g = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        g.0.push_back(job);
        self.ready.notify_one();
    }

    fn close(&self) {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.ready.notify_all();
    }

    fn pop(&self) -> Option<Job> {
        let mut g = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(job) = g.0.pop_front() {
                return Some(job);
            }
            if g.1 {
                return None;
            }
            g = self.ready.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn is_closed(&self) -> bool {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}

/// Self-metrics of the pipeline, per exporter.
#[derive(Clone)]
struct SelfMetrics {
    exports: Family<Counter>,
    failures: Family<Counter>,
    dropped: Family<Counter>,
}

impl SelfMetrics {
    fn new(r: &Registry) -> Self {
        let family = |name: &str, help: &str| {
            r.metric(name, help)
                .counter_family(&["exporter"])
                .unwrap_or_else(|_| Family::noop())
        };
        SelfMetrics {
            exports: family(
                "tallyho_exports",
                "Batches exported successfully, by exporter.",
            ),
            failures: family(
                "tallyho_export_failures",
                "Export attempts that failed (each retry counts), by exporter.",
            ),
            dropped: family(
                "tallyho_export_dropped",
                "Batches dropped (full queue, or retries exhausted), by exporter.",
            ),
        }
    }
}

struct Worker {
    queue: Arc<Queue>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<Mutex<ExporterStats>>,
}

/// What a worker needs from the builder.
struct Settings {
    capacity: usize,
    retry: RetryPolicy,
    interval: Duration,
    log: ErrorLog,
}

impl Worker {
    fn start(
        mut exporter: Box<dyn Exporter>,
        settings: Settings,
        metrics: SelfMetrics,
        started: SystemTime,
    ) -> std::io::Result<Worker> {
        let name = exporter.name().to_owned();
        let queue = Arc::new(Queue {
            jobs: Mutex::new((VecDeque::new(), false)),
            ready: Condvar::new(),
            capacity: settings.capacity,
            dropped: metrics.dropped.with(&[&name]).clone(),
        });
        // Create the series now, so the first snapshot already shows them at zero.
        let (exports, failures, dropped) = (
            metrics.exports.with(&[&name]).clone(),
            metrics.failures.with(&[&name]).clone(),
            metrics.dropped.with(&[&name]).clone(),
        );
        let q = queue.clone();
        let stats = Arc::new(Mutex::new(ExporterStats {
            name: name.clone(),
            ..ExporterStats::default()
        }));
        let retry = settings.retry;
        let report = Report {
            stats: stats.clone(),
            log: settings.log,
            interval: settings.interval,
            last_logged: None,
            suppressed: 0,
        };
        let thread = std::thread::Builder::new()
            .name(format!("tallyho-export-{name}"))
            .spawn(move || {
                let mut state = WorkerState {
                    delta: DeltaState::default(),
                    last_end: started,
                    jitter: seed(),
                    exports,
                    failures,
                    dropped,
                    report,
                };
                while let Some(job) = q.pop() {
                    match job {
                        Job::Export(snapshot) => {
                            state.export(exporter.as_mut(), &snapshot, retry, &q);
                        }
                        Job::Flush(ack) => {
                            if let Err(e) = exporter.flush() {
                                state.failed(&e);
                            }
                            let _ = ack.send(());
                        }
                        Job::Shutdown(ack) => {
                            if let Err(e) = exporter.shutdown() {
                                state.failed(&e);
                            }
                            let _ = ack.send(());
                            return;
                        }
                    }
                }
            })?;
        Ok(Worker {
            queue,
            thread: Some(thread),
            stats,
        })
    }
}

struct WorkerState {
    delta: DeltaState,
    last_end: SystemTime,
    jitter: u64,
    exports: Counter,
    failures: Counter,
    dropped: Counter,
    report: Report,
}

impl WorkerState {
    fn failed(&mut self, e: &ExportError) {
        self.failures.inc();
        self.report.failed(e);
    }

    fn export(
        &mut self,
        exporter: &mut dyn Exporter,
        snapshot: &Snapshot,
        retry: RetryPolicy,
        queue: &Queue,
    ) {
        let temporality = exporter.temporality();
        let start = self.last_end;
        let end = snapshot.time;
        let saved = (temporality == Temporality::Delta).then(|| self.delta.clone());
        let values = match temporality {
            Temporality::Cumulative => snapshot.clone(),
            Temporality::Delta => self.delta.delta(snapshot, start),
        };
        let batch = Batch {
            snapshot: values,
            start,
            end,
            temporality,
        };
        let mut backoff = retry.initial_backoff;
        for attempt in 1..=retry.max_attempts.max(1) {
            match exporter.export(&batch) {
                Ok(()) => {
                    self.exports.inc();
                    self.report.exported();
                    self.last_end = end;
                    return;
                }
                Err(e) => {
                    self.failed(&e);
                    let last = attempt == retry.max_attempts.max(1);
                    if !e.is_retryable() || last || queue.is_closed() {
                        break;
                    }
                    // Exponential backoff with ±50% jitter, cut short by shutdown.
                    let wait = backoff.mul_f64(0.5 + self.next_jitter());
                    let until = Instant::now() + wait;
                    while Instant::now() < until && !queue.is_closed() {
                        std::thread::sleep(Duration::from_millis(10).min(wait));
                    }
                    backoff = (backoff * 2).min(retry.max_backoff);
                }
            }
        }
        // Given up: cumulative state means the next batch carries the totals anyway; a delta
        // exporter keeps its previous baseline so the next delta covers this period too.
        self.dropped.inc();
        if let Some(saved) = saved {
            self.delta = saved;
        }
    }

    /// A uniform number in [0, 1) from a xorshift generator.
    fn next_jitter(&mut self) -> f64 {
        let mut x = self.jitter;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn seed() -> u64 {
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (t ^ 0x9E37_79B9_7F4A_7C15) | 1
}
