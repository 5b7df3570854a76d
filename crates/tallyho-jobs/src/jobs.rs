//! Job and task lifecycle metrics for batch engines, DAG executors and job queues.
//!
//! [`JobMetrics`] registers one set of families under a prefix; [`JobMetrics::start`]
//! returns a [`Job`] guard that ends with exactly one outcome:
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `<prefix>_started` | counter | the label names |
//! | `<prefix>_completed` | counter | the label names |
//! | `<prefix>_failed` | counter | the label names + `kind` |
//! | `<prefix>_retried` | counter | the label names |
//! | `<prefix>_active` | up-down counter | the label names |
//! | `<prefix>_duration_seconds` | histogram | the label names + `outcome` (`completed` or `failed`) |
//! | `<prefix>_queue_wait_seconds` | histogram | the label names |
//! | `<prefix>_queue_depth` | observable gauge | none (see [`JobMetrics::queue_depth`]) |
//!
//! A [`Job`] dropped without [`complete`](Job::complete) or [`fail`](Job::fail) (a panic,
//! an early `return`, a cancelled future) counts as failed with kind `abandoned`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tallyho::{Buckets, Counter, Error, Family, Histogram, Registry, UpDownCounter};

/// The failure kind recorded for a [`Job`] dropped without an outcome.
pub const ABANDONED: &str = "abandoned";

/// Lifecycle metrics of one kind of job; cheap to clone (clones share the families).
///
/// ```
/// use std::time::Instant;
/// # let registry = tallyho::Registry::new();
/// let jobs = tallyho_jobs::JobMetrics::builder(&registry, "tasks", &["dag"])
///     .duration_buckets(tallyho::Buckets::exponential(0.01, 4.0, 8)?)
///     .build()?;
/// let queued_at = Instant::now();
/// let job = jobs.start_after_wait(&["nightly"], queued_at);
/// job.retry();
/// job.fail("timeout");
/// let s = registry.snapshot();
/// assert_eq!(s.value("tasks_failed", &[("dag", "nightly"), ("kind", "timeout")]), Some(1.0));
/// assert_eq!(s.value("tasks_retried", &[("dag", "nightly")]), Some(1.0));
/// # Ok::<(), tallyho::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct JobMetrics(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    registry: Registry,
    prefix: String,
    labels: usize,
    started: Family<Counter>,
    completed: Family<Counter>,
    failed: Family<Counter>,
    retried: Family<Counter>,
    active: Family<UpDownCounter>,
    duration: Family<Histogram>,
    queue_wait: Family<Histogram>,
}

/// Settings for [`JobMetrics`]: custom histogram buckets.
#[derive(Debug)]
#[must_use = "call build() to register the metrics"]
pub struct JobMetricsBuilder<'r> {
    registry: &'r Registry,
    prefix: String,
    label_names: Vec<String>,
    duration: Option<Buckets>,
    queue_wait: Option<Buckets>,
}

impl JobMetricsBuilder<'_> {
    /// Buckets of `<prefix>_duration_seconds` (default: [`Buckets::default_seconds`]).
    pub fn duration_buckets(mut self, buckets: Buckets) -> Self {
        self.duration = Some(buckets);
        self
    }

    /// Buckets of `<prefix>_queue_wait_seconds` (default: [`Buckets::default_seconds`]).
    pub fn queue_wait_buckets(mut self, buckets: Buckets) -> Self {
        self.queue_wait = Some(buckets);
        self
    }

    /// Registers the families.
    ///
    /// # Errors
    /// An invalid prefix or label name, a label named `kind` or `outcome` (used by
    /// `_failed` and `_duration_seconds`), or a name already registered differently.
    pub fn build(self) -> Result<JobMetrics, Error> {
        let r = self.registry;
        let p = &self.prefix;
        let names: Vec<&str> = self.label_names.iter().map(String::as_str).collect();
        let with = |extra: &'static str| {
            let mut v = names.clone();
            v.push(extra);
            v
        };
        let name = |suffix: &str| format!("{p}_{suffix}");
        let started = r
            .metric(&name("started"), "Jobs started.")
            .counter_family(&names)?;
        let completed = r
            .metric(&name("completed"), "Jobs that completed successfully.")
            .counter_family(&names)?;
        let failed = r
            .metric(
                &name("failed"),
                "Jobs that failed, by kind of failure (abandoned: dropped without an outcome).",
            )
            .counter_family(&with("kind"))?;
        let retried = r
            .metric(&name("retried"), "Retries of running jobs.")
            .counter_family(&names)?;
        let active = r
            .metric(&name("active"), "Jobs running now.")
            .family::<UpDownCounter>(&names)?;
        let duration = r
            .metric(
                &name("duration"),
                "Run time of jobs from start to outcome, by outcome.",
            )
            .unit("seconds")
            .buckets(self.duration.unwrap_or_default())
            .histogram_family(&with("outcome"))?;
        let queue_wait = r
            .metric(
                &name("queue_wait"),
                "Time jobs waited in the queue before starting.",
            )
            .unit("seconds")
            .buckets(self.queue_wait.unwrap_or_default())
            .histogram_family(&names)?;
        Ok(JobMetrics(Arc::new(Inner {
            registry: r.clone(),
            prefix: self.prefix.clone(),
            labels: names.len(),
            started,
            completed,
            failed,
            retried,
            active,
            duration,
            queue_wait,
        })))
    }
}

impl JobMetrics {
    /// Registers the job families under `prefix` with default buckets.
    ///
    /// # Errors
    /// See [`JobMetricsBuilder::build`].
    pub fn new(registry: &Registry, prefix: &str, label_names: &[&str]) -> Result<Self, Error> {
        Self::builder(registry, prefix, label_names).build()
    }

    /// Settings for job metrics under `prefix` (custom buckets).
    pub fn builder<'r>(
        registry: &'r Registry,
        prefix: &str,
        label_names: &[&str],
    ) -> JobMetricsBuilder<'r> {
        JobMetricsBuilder {
            registry,
            prefix: prefix.to_owned(),
            label_names: label_names.iter().map(|&s| s.to_owned()).collect(),
            duration: None,
            queue_wait: None,
        }
    }

    /// Registers `<prefix>_queue_depth`, a gauge whose value `f` returns at each
    /// collection (jobs waiting in your queue).
    ///
    /// # Errors
    /// The name already registered (a queue depth can be registered once).
    pub fn queue_depth(&self, f: impl Fn() -> f64 + Send + Sync + 'static) -> Result<(), Error> {
        self.0
            .registry
            .metric(
                &format!("{}_queue_depth", self.0.prefix),
                "Jobs waiting in the queue.",
            )
            .observable_gauge(f)
    }

    /// Starts a job: counts it started and active and starts its duration timer.
    ///
    /// `labels` are the values of the label names, in order; with the wrong number of
    /// values the job records nothing (tallyho's no-op child).
    pub fn start(&self, labels: &[&str]) -> Job {
        self.0.started.with(labels).inc();
        self.0.active.with(labels).inc();
        Job {
            metrics: self.0.clone(),
            labels: labels.iter().map(|&s| s.into()).collect(),
            start: Instant::now(),
            done: false,
        }
    }

    /// Starts a job that was queued at `queued_at`: records the time it waited in
    /// `<prefix>_queue_wait_seconds`, then as [`start`](Self::start).
    pub fn start_after_wait(&self, labels: &[&str], queued_at: Instant) -> Job {
        let job = self.start(labels);
        let waited = job.start.saturating_duration_since(queued_at);
        self.0.queue_wait.with(labels).observe_duration(waited);
        job
    }

    /// Runs `f` as a job: completed when it returns `Ok`, failed with kind `error` when it
    /// returns `Err`, abandoned when it panics.
    pub fn run<T, E>(&self, labels: &[&str], f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let job = self.start(labels);
        let r = f();
        match &r {
            Ok(_) => job.complete(),
            Err(_) => job.fail("error"),
        };
        r
    }
}

/// One running job; ends with [`complete`](Self::complete) or [`fail`](Self::fail), and
/// counts as failed with kind `abandoned` when dropped without either.
///
/// Owns its handles, so it can move to another thread or into a future.
#[derive(Debug)]
#[must_use = "a job dropped at once counts as abandoned; end it with complete() or fail()"]
pub struct Job {
    metrics: Arc<Inner>,
    labels: Box<[Box<str>]>,
    start: Instant,
    done: bool,
}

impl Job {
    /// How long the job has been running.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Counts a retry; the job keeps running (and its duration keeps counting).
    pub fn retry(&self) {
        self.with_labels(|m, l| m.retried.with(l).inc());
    }

    /// Ends the job successfully and returns its run time.
    pub fn complete(mut self) -> Duration {
        self.finish(None)
    }

    /// Ends the job as failed with this kind of failure (`timeout`, `oom`, ...) and
    /// returns its run time.
    pub fn fail(mut self, kind: &str) -> Duration {
        self.finish(Some(kind))
    }

    fn with_labels<R>(&self, f: impl FnOnce(&Inner, &[&str]) -> R) -> R {
        let mut stack: [&str; 8] = [""; 8];
        let n = self.labels.len();
        if n <= stack.len() {
            for (s, l) in stack.iter_mut().zip(self.labels.iter()) {
                *s = l;
            }
            f(&self.metrics, &stack[..n])
        } else {
            let v: Vec<&str> = self.labels.iter().map(|s| &**s).collect();
            f(&self.metrics, &v)
        }
    }

    fn finish(&mut self, failed: Option<&str>) -> Duration {
        if self.done {
            return Duration::ZERO;
        }
        self.done = true;
        let took = self.start.elapsed();
        let n = self.labels.len();
        let mut values: Vec<&str> = Vec::with_capacity(n + 1);
        values.extend(self.labels.iter().map(|s| &**s));
        let m = &self.metrics;
        m.active.with(&values).dec();
        // Label sets of the wrong size were no-ops at start; keep them no-ops here.
        let ok = n == m.labels;
        match failed {
            None => {
                m.completed.with(&values).inc();
                values.push("completed");
            }
            Some(kind) => {
                if ok {
                    values.push(kind);
                    m.failed.with(&values).inc();
                    values.pop();
                }
                values.push("failed");
            }
        }
        if ok {
            m.duration.with(&values).observe_duration(took);
        }
        took
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if !self.done {
            self.finish(Some(ABANDONED));
        }
    }
}
