//! Delivery of alerts: Alertmanager's v2 API, a JSON webhook, the console, a Rust callback.
//! Each notifier has a bounded queue and its own thread, so a receiver that hangs or fails
//! never delays evaluation.

mod queue;
mod sinks;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tallyho_query::Labels;

use crate::error::RulesError;
pub use sinks::{
    alertmanager_body, webhook_body, AlertmanagerSink, CallbackSink, ConsoleSink, WebhookSink,
};

/// One alert as notifiers receive it (Alertmanager's v2 `postableAlert`).
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Labels, external labels included.
    pub labels: Labels,
    /// Annotations.
    pub annotations: Labels,
    /// When it started firing (ms since the epoch).
    pub starts_at_ms: i64,
    /// When it ends: the resolve time, or for a firing alert a time after which the
    /// receiver may consider it resolved if no update comes.
    pub ends_at_ms: i64,
    /// A link to the expression.
    pub generator_url: String,
    /// Whether the alert was resolved.
    pub resolved: bool,
}

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError {
    /// What happened.
    pub message: String,
    /// Whether trying again may help (network errors, 5xx, 429).
    pub retryable: bool,
}

impl DeliveryError {
    /// A failure worth retrying.
    pub fn retryable(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure that retrying will not fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            retryable: false,
        }
    }
}

/// A receiver of alert batches. Runs on its notifier's own thread.
pub trait Sink: Send + 'static {
    /// Delivers one batch.
    ///
    /// # Errors
    /// [`DeliveryError`]; retryable ones are retried with backoff.
    fn deliver(&mut self, batch: &[Notification]) -> Result<(), DeliveryError>;
}

/// Queueing, batching and retry settings of one notifier.
#[derive(Debug, Clone)]
pub struct NotifierOptions {
    /// Most alerts queued; beyond it the oldest are dropped (Prometheus: 10,000).
    pub queue_capacity: usize,
    /// Most alerts per delivery (Prometheus: 64).
    pub max_batch: usize,
    /// Timeout of one HTTP request (Prometheus: 10 s).
    pub timeout: Duration,
    /// Attempts per batch, the first included.
    pub max_attempts: u32,
    /// First wait before a retry; doubles up to `max_backoff`.
    pub backoff: Duration,
    /// Longest wait between retries.
    pub max_backoff: Duration,
}

impl Default for NotifierOptions {
    fn default() -> Self {
        NotifierOptions {
            queue_capacity: 10_000,
            max_batch: 64,
            timeout: Duration::from_secs(10),
            max_attempts: 3,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Delivery counts of one notifier, in alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifierStats {
    /// The notifier's name.
    pub name: String,
    /// Alerts delivered.
    pub sent: u64,
    /// Alerts whose delivery failed after every attempt.
    pub failed: u64,
    /// Alerts dropped because the queue was full.
    pub dropped: u64,
    /// Retries made.
    pub retries: u64,
    /// Alerts waiting.
    pub queued: usize,
    /// The last delivery error, empty when the last one succeeded.
    pub last_error: String,
}

struct Entry {
    queue: Arc<queue::Queue>,
    thread: Option<JoinHandle<()>>,
}

/// The notifiers alerts go to; cheap to clone (clones share them).
#[derive(Clone, Default)]
pub struct Notifiers {
    entries: Arc<Mutex<Vec<Entry>>>,
}

impl std::fmt::Debug for Notifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.stats().iter().map(|s| &s.name))
            .finish()
    }
}

impl Notifiers {
    /// No notifiers.
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a notifier delivering to `sink` on its own thread.
    ///
    /// # Errors
    /// [`RulesError::Config`] when the thread cannot be started.
    pub fn add(
        &self,
        name: &str,
        sink: impl Sink,
        opts: NotifierOptions,
    ) -> Result<(), RulesError> {
        let (queue, thread) =
            queue::spawn(name.to_string(), Box::new(sink), opts).map_err(|e| {
                RulesError::Config(format!("notifier {name:?}: cannot start its thread: {e}"))
            })?;
        self.entries().push(Entry {
            queue,
            thread: Some(thread),
        });
        Ok(())
    }

    /// Adds an Alertmanager at `base_url` (`http://host:9093`); alerts go to
    /// `POST {base_url}/api/v2/alerts`.
    ///
    /// # Errors
    /// [`RulesError::Config`] when the URL is not `http://…`.
    pub fn alertmanager(&self, base_url: &str, opts: NotifierOptions) -> Result<(), RulesError> {
        let sink = AlertmanagerSink::new(base_url, opts.timeout)?;
        self.add(&format!("alertmanager {base_url}"), sink, opts)
    }

    /// Adds a webhook receiving `POST url` with a JSON body per batch.
    ///
    /// # Errors
    /// [`RulesError::Config`] when the URL is not `http://…`.
    pub fn webhook(&self, url: &str, opts: NotifierOptions) -> Result<(), RulesError> {
        let sink = WebhookSink::new(url, opts.timeout)?;
        self.add(&format!("webhook {url}"), sink, opts)
    }

    /// Adds a Rust callback.
    ///
    /// # Errors
    /// [`RulesError::Config`] when the thread cannot be started.
    pub fn callback<F>(&self, name: &str, f: F, opts: NotifierOptions) -> Result<(), RulesError>
    where
        F: FnMut(&[Notification]) -> Result<(), String> + Send + 'static,
    {
        self.add(name, CallbackSink::new(f), opts)
    }

    /// Queues `batch` on every notifier; never blocks on delivery.
    pub fn send(&self, batch: &[Notification]) {
        if batch.is_empty() {
            return;
        }
        for e in self.entries().iter() {
            e.queue.push(batch);
        }
    }

    /// Counts per notifier.
    pub fn stats(&self) -> Vec<NotifierStats> {
        self.entries()
            .iter()
            .map(|e| {
                let c = &e.queue.counters;
                NotifierStats {
                    name: e.queue.name.clone(),
                    sent: c.sent.load(Ordering::Relaxed),
                    failed: c.failed.load(Ordering::Relaxed),
                    dropped: c.dropped.load(Ordering::Relaxed),
                    retries: c.retries.load(Ordering::Relaxed),
                    queued: e.queue.len(),
                    last_error: e.queue.last_error(),
                }
            })
            .collect()
    }

    /// Waits until every queue is empty and no delivery is in flight, up to `timeout`;
    /// returns whether they are.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.entries().iter().all(|e| e.queue.idle()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops every notifier. Threads that finish within `grace` are joined; one stuck in a
    /// request is left to end at its timeout.
    pub fn stop(&self, grace: Duration) {
        let mut entries = std::mem::take(&mut *self.entries());
        for e in &entries {
            e.queue.stop();
        }
        let deadline = Instant::now() + grace;
        for e in &mut entries {
            while e.thread.as_ref().is_some_and(|t| !t.is_finished()) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            if let Some(t) = e.thread.take() {
                if t.is_finished() {
                    let _ = t.join();
                }
            }
        }
    }
}
