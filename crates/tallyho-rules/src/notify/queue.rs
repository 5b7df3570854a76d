//! One notifier's bounded queue and its worker thread: the evaluator only pushes (dropping
//! the oldest alerts when full, as Prometheus' notifier does); the worker delivers in
//! batches, retrying retryable failures with exponential backoff.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{DeliveryError, Notification, NotifierOptions, Sink};

/// Counts of one notifier, in alerts.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
    pub retries: AtomicU64,
}

struct State {
    items: VecDeque<Notification>,
    stopping: bool,
    /// A batch is being delivered.
    busy: bool,
    last_error: String,
}

pub(crate) struct Queue {
    pub name: String,
    state: Mutex<State>,
    wake: Condvar,
    pub counters: Counters,
    capacity: usize,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds alerts, dropping the oldest beyond capacity; never blocks on delivery.
    pub fn push(&self, batch: &[Notification]) {
        let mut st = self.lock();
        if st.stopping {
            return;
        }
        for n in batch {
            if st.items.len() >= self.capacity {
                st.items.pop_front();
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
            st.items.push_back(n.clone());
        }
        drop(st);
        self.wake.notify_all();
    }

    /// Alerts waiting.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Whether nothing is queued or being delivered.
    pub fn idle(&self) -> bool {
        let st = self.lock();
        st.items.is_empty() && !st.busy
    }

    /// The last delivery error, empty when the last delivery succeeded.
    pub fn last_error(&self) -> String {
        self.lock().last_error.clone()
    }

    pub fn stop(&self) {
        self.lock().stopping = true;
        self.wake.notify_all();
    }

    /// Sleeps `d` unless stopping; returns whether it is stopping.
    fn pause(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut st = self.lock();
        while !st.stopping {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self
                .wake
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        st.stopping
    }
}

pub(crate) fn spawn(
    name: String,
    mut sink: Box<dyn Sink>,
    opts: NotifierOptions,
) -> std::io::Result<(Arc<Queue>, JoinHandle<()>)> {
    let q = Arc::new(Queue {
        name: name.clone(),
        state: Mutex::new(State {
            items: VecDeque::new(),
            stopping: false,
            busy: false,
            last_error: String::new(),
        }),
        wake: Condvar::new(),
        counters: Counters::default(),
        capacity: opts.queue_capacity.max(1),
    });
    let worker = q.clone();
    let handle = std::thread::Builder::new()
        .name(format!("tallyho-notify-{name}"))
        .spawn(move || run(&worker, sink.as_mut(), &opts))?;
    Ok((q, handle))
}

fn run(q: &Queue, sink: &mut dyn Sink, opts: &NotifierOptions) {
    loop {
        let batch: Vec<Notification> = {
            let mut st = q.lock();
            while st.items.is_empty() && !st.stopping {
                st = q.wake.wait(st).unwrap_or_else(PoisonError::into_inner);
            }
            if st.stopping {
                return;
            }
            let n = st.items.len().min(opts.max_batch.max(1));
            st.busy = true;
            st.items.drain(..n).collect()
        };
        let result = deliver(q, sink, opts, &batch);
        let mut st = q.lock();
        st.busy = false;
        let n = batch.len() as u64;
        match result {
            Ok(()) => {
                q.counters.sent.fetch_add(n, Ordering::Relaxed);
                st.last_error.clear();
            }
            Err(e) => {
                q.counters.failed.fetch_add(n, Ordering::Relaxed);
                st.last_error = e.message;
            }
        }
    }
}

fn deliver(
    q: &Queue,
    sink: &mut dyn Sink,
    opts: &NotifierOptions,
    batch: &[Notification],
) -> Result<(), DeliveryError> {
    let mut backoff = opts.backoff;
    let mut attempt = 1u32;
    loop {
        // A sink is user code or a network call: its panic fails this batch, not the thread.
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.deliver(batch)))
            .unwrap_or_else(|_| Err(DeliveryError::permanent("notifier panicked")));
        match res {
            Ok(()) => return Ok(()),
            Err(e) if !e.retryable || attempt >= opts.max_attempts => return Err(e),
            Err(_) => {
                q.counters.retries.fetch_add(1, Ordering::Relaxed);
                if q.pause(backoff) {
                    return Err(DeliveryError::permanent("stopped before delivery"));
                }
                backoff = (backoff * 2).min(opts.max_backoff);
                attempt += 1;
            }
        }
    }
}
