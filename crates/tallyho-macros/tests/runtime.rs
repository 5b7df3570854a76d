//! Runtime behaviour of `#[timed]` and `#[counted]`, checked through registry snapshots.
#![allow(missing_docs)]

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Wake, Waker};

use tallyho::{HistogramData, Registry, Snapshot};
use tallyho_macros::{counted, timed};

/// One registry per test, so tests running in parallel do not see each other's calls.
macro_rules! test_registry {
    ($name:ident) => {
        fn $name() -> &'static Registry {
            static REGISTRY: OnceLock<Registry> = OnceLock::new();
            REGISTRY.get_or_init(Registry::new)
        }
    };
}

fn histogram<'a>(s: &'a Snapshot, name: &str, labels: &[(&str, &str)]) -> &'a HistogramData {
    s.family(name)
        .unwrap_or_else(|| panic!("no family {name} in {s:#?}"))
        .series_with(labels)
        .unwrap_or_else(|| panic!("no series {labels:?} of {name} in {s:#?}"))
        .value
        .as_histogram()
        .expect("a histogram")
}

fn count(s: &Snapshot, name: &str, labels: &[(&str, &str)]) -> u64 {
    histogram(s, name, labels).count
}

fn series_count(s: &Snapshot, name: &str) -> usize {
    s.family(name).map_or(0, |f| f.series.len())
}

struct NoopWake;
impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

/// Polls `fut` once and drops it: a cancellation when it was pending.
fn poll_once_then_drop<F: Future>(fut: F) -> bool {
    let waker = Waker::from(Arc::new(NoopWake));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    fut.as_mut().poll(&mut cx).is_ready()
}

#[derive(Debug, PartialEq)]
struct Oops;

// ---------------------------------------------------------------- sync

test_registry!(sync_reg);

#[timed(registry = sync_reg)]
fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
    s.parse()
}

#[counted(registry = sync_reg)]
fn check(s: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = s.parse()?;
    if n > 100 {
        return Ok(100);
    }
    Ok(n)
}

#[timed(registry = sync_reg)]
#[counted(registry = sync_reg)]
fn plain(x: u64) -> u64 {
    x * 2
}

#[test]
fn sync_ok_and_err() {
    assert_eq!(parse("7"), Ok(7));
    assert_eq!(parse("8"), Ok(8));
    assert!(parse("x").is_err());
    assert_eq!(check("1000"), Ok(100));
    assert!(check("y").is_err());
    assert!(check("z").is_err());
    for i in 0..5 {
        assert_eq!(plain(i), i * 2);
    }

    let s = sync_reg().snapshot();
    let fam = s.family("parse_duration_seconds").expect("registered");
    assert_eq!(fam.help, "Duration of parse.");
    assert_eq!(fam.unit, "seconds");
    assert_eq!(fam.series.len(), 2);
    assert_eq!(count(&s, "parse_duration_seconds", &[("outcome", "ok")]), 2);
    assert_eq!(
        count(&s, "parse_duration_seconds", &[("outcome", "err")]),
        1
    );
    let ok = histogram(&s, "parse_duration_seconds", &[("outcome", "ok")]);
    assert!(ok.sum >= 0.0 && ok.sum < 1.0, "{ok:?}");
    assert_eq!(ok.bounds, tallyho::Buckets::default_seconds().bounds());

    let calls = s.family("check_calls").expect("registered");
    assert_eq!(calls.help, "Calls to check.");
    assert_eq!(s.value("check_calls", &[("outcome", "ok")]), Some(1.0));
    assert_eq!(s.value("check_calls", &[("outcome", "err")]), Some(2.0));

    // No Result: no outcome label, one series.
    let fam = s.family("plain_duration_seconds").expect("registered");
    assert_eq!(fam.series.len(), 1);
    assert!(fam.series[0].labels.is_empty());
    assert_eq!(count(&s, "plain_duration_seconds", &[]), 5);
    assert_eq!(s.value("plain_calls", &[]), Some(5.0));
}

// ---------------------------------------------------------------- panics

test_registry!(panic_reg);

#[timed(registry = panic_reg)]
#[counted(registry = panic_reg)]
fn may_panic(p: bool) -> Result<(), Oops> {
    if p {
        panic!("boom");
    }
    Err(Oops)
}

#[timed(registry = panic_reg)]
#[counted(registry = panic_reg)]
fn may_panic_plain(p: bool) -> u8 {
    assert!(!p, "boom");
    1
}

#[test]
fn sync_panic() {
    assert!(std::panic::catch_unwind(|| may_panic(true)).is_err());
    assert!(std::panic::catch_unwind(|| may_panic(true)).is_err());
    assert_eq!(may_panic(false), Err(Oops));
    assert!(std::panic::catch_unwind(|| may_panic_plain(true)).is_err());
    assert_eq!(may_panic_plain(false), 1);

    let s = panic_reg().snapshot();
    assert_eq!(
        count(&s, "may_panic_duration_seconds", &[("outcome", "panic")]),
        2
    );
    assert_eq!(
        count(&s, "may_panic_duration_seconds", &[("outcome", "err")]),
        1
    );
    assert_eq!(series_count(&s, "may_panic_duration_seconds"), 2); // no "ok" series
    assert_eq!(
        s.value("may_panic_calls", &[("outcome", "panic")]),
        Some(2.0)
    );
    assert_eq!(s.value("may_panic_calls", &[("outcome", "err")]), Some(1.0));
    // Without an outcome label a panicking call is not recorded at all.
    assert_eq!(count(&s, "may_panic_plain_duration_seconds", &[]), 1);
    assert_eq!(s.value("may_panic_plain_calls", &[]), Some(1.0));
}

// ---------------------------------------------------------------- async

test_registry!(async_reg);

#[timed(registry = async_reg)]
#[counted(registry = async_reg)]
async fn fetch(ok: bool) -> Result<&'static str, Oops> {
    tokio::task::yield_now().await;
    if ok {
        Ok("data")
    } else {
        Err(Oops)
    }
}

#[timed(registry = async_reg)]
async fn fetch_plain(n: u32) -> u32 {
    tokio::task::yield_now().await;
    n + 1
}

#[tokio::test(flavor = "current_thread")]
async fn async_ok_and_err() {
    assert_eq!(fetch(true).await, Ok("data"));
    assert_eq!(fetch(true).await, Ok("data"));
    assert_eq!(fetch(false).await, Err(Oops));
    assert_eq!(fetch_plain(1).await, 2);

    let s = async_reg().snapshot();
    assert_eq!(count(&s, "fetch_duration_seconds", &[("outcome", "ok")]), 2);
    assert_eq!(
        count(&s, "fetch_duration_seconds", &[("outcome", "err")]),
        1
    );
    assert_eq!(series_count(&s, "fetch_duration_seconds"), 2);
    assert_eq!(s.value("fetch_calls", &[("outcome", "ok")]), Some(2.0));
    assert_eq!(s.value("fetch_calls", &[("outcome", "err")]), Some(1.0));
    assert_eq!(count(&s, "fetch_plain_duration_seconds", &[]), 1);
}

/// Never completes.
async fn pending() {
    std::future::pending::<()>().await;
}

test_registry!(cancel_reg);

#[timed(registry = cancel_reg)]
#[counted(registry = cancel_reg)]
async fn slow(wait: bool) -> Result<u8, Oops> {
    if wait {
        pending().await;
    }
    Ok(1)
}

#[timed(registry = cancel_reg)]
#[counted(registry = cancel_reg)]
async fn slow_plain(wait: bool) -> u8 {
    if wait {
        pending().await;
    }
    1
}

#[test]
fn async_cancelled() {
    // Dropped before first poll: the body never started, nothing is recorded.
    drop(slow(true));
    // Polled once (pending), then dropped: cancelled.
    assert!(!poll_once_then_drop(slow(true)));
    assert!(!poll_once_then_drop(slow(true)));
    assert!(poll_once_then_drop(slow(false)));
    assert!(!poll_once_then_drop(slow_plain(true)));
    assert!(poll_once_then_drop(slow_plain(false)));

    let s = cancel_reg().snapshot();
    assert_eq!(
        count(&s, "slow_duration_seconds", &[("outcome", "cancelled")]),
        2
    );
    assert_eq!(count(&s, "slow_duration_seconds", &[("outcome", "ok")]), 1);
    assert_eq!(series_count(&s, "slow_duration_seconds"), 2);
    assert_eq!(
        s.value("slow_calls", &[("outcome", "cancelled")]),
        Some(2.0)
    );
    assert_eq!(s.value("slow_calls", &[("outcome", "ok")]), Some(1.0));
    // No outcome label: the cancelled call is not recorded.
    assert_eq!(count(&s, "slow_plain_duration_seconds", &[]), 1);
    assert_eq!(s.value("slow_plain_calls", &[]), Some(1.0));
}

test_registry!(select_reg);

#[timed(registry = select_reg)]
async fn raced() -> Result<(), Oops> {
    pending().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn async_cancelled_by_select() {
    tokio::select! {
        biased;
        _ = raced() => unreachable!("raced() never completes"),
        () = std::future::ready(()) => {}
    }
    // The biased select polled `raced` once (pending), then dropped it.
    let s = select_reg().snapshot();
    assert_eq!(
        count(&s, "raced_duration_seconds", &[("outcome", "cancelled")]),
        1
    );
    assert_eq!(series_count(&s, "raced_duration_seconds"), 1);
}

test_registry!(async_panic_reg);

#[counted(registry = async_panic_reg)]
async fn async_boom() -> Result<(), Oops> {
    tokio::task::yield_now().await;
    panic!("boom");
}

#[test]
fn async_panic() {
    let r = std::panic::catch_unwind(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async_boom())
    });
    assert!(r.is_err());
    let s = async_panic_reg().snapshot();
    assert_eq!(
        s.value("async_boom_calls", &[("outcome", "panic")]),
        Some(1.0)
    );
    assert_eq!(series_count(&s, "async_boom_calls"), 1);
}

// ---------------------------------------------------------------- arguments

test_registry!(args_reg);

#[timed(
    registry = args_reg,
    name = "rpc_latency",
    help = "Time to answer an RPC.",
    buckets = [0.5, 1, 2.5],
    labels(service = "users", r#type = "unary")
)]
fn rpc(fail: bool) -> std::io::Result<()> {
    if fail {
        Err(std::io::Error::other("down"))
    } else {
        Ok(())
    }
}

#[counted(registry = args_reg, name = "jobs_total", help = "Jobs run.", labels(queue = "mail"))]
fn job() {}

#[test]
fn custom_arguments() {
    rpc(false).unwrap();
    rpc(true).unwrap_err();
    rpc(false).unwrap();
    job();
    job();
    job();

    let s = args_reg().snapshot();
    let fam = s
        .family("rpc_latency_seconds")
        .expect("unit suffix appended");
    assert_eq!(fam.help, "Time to answer an RPC.");
    let ok = histogram(
        &s,
        "rpc_latency_seconds",
        &[("outcome", "ok"), ("service", "users"), ("type", "unary")],
    );
    assert_eq!(ok.count, 2);
    assert_eq!(ok.bounds, vec![0.5, 1.0, 2.5]);
    assert_eq!(ok.counts, vec![2, 0, 0, 0]);
    let series = fam.series_with(&[("outcome", "err")]).unwrap();
    assert_eq!(
        series.labels,
        vec![
            ("outcome".to_owned(), "err".to_owned()),
            ("service".to_owned(), "users".to_owned()),
            ("type".to_owned(), "unary".to_owned()),
        ]
    );

    let jobs = s.family("jobs").expect("counter names carry no _total");
    assert_eq!(jobs.help, "Jobs run.");
    assert_eq!(s.value("jobs", &[("queue", "mail")]), Some(3.0));
    assert_eq!(jobs.series.len(), 1);
}

// ---------------------------------------------------------------- registration

test_registry!(conflict_reg);

fn conflict_setup() -> &'static Registry {
    let r = conflict_reg();
    // Take the name first with another type: the macro must fall back to no-ops.
    let _ = r.gauge("taken_duration_seconds", "Not a histogram.");
    r
}

#[timed(registry = conflict_setup)]
fn taken() -> Result<u8, Oops> {
    Ok(3)
}

#[test]
fn registration_conflict_is_a_noop() {
    assert_eq!(taken(), Ok(3));
    assert_eq!(taken(), Ok(3));
    let s = conflict_reg().snapshot();
    let fam = s.family("taken_duration_seconds").unwrap();
    assert_eq!(fam.kind, tallyho::MetricKind::Gauge);
}

test_registry!(once_reg);
static REGISTRY_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn counting_registry() -> &'static Registry {
    REGISTRY_CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    once_reg()
}

#[counted(registry = counting_registry)]
fn generic<T: Default>() -> T {
    T::default()
}

#[test]
fn registers_once_per_function() {
    assert_eq!(generic::<u8>(), 0);
    assert_eq!(generic::<String>(), "");
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..100 {
                    generic::<u32>();
                }
            });
        }
    });
    assert_eq!(REGISTRY_CALLS.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(
        once_reg().snapshot().value("generic_calls", &[]),
        Some(402.0)
    );
}

// ---------------------------------------------------------------- methods

test_registry!(method_reg);

struct Store {
    items: Vec<String>,
}

impl Store {
    #[timed(registry = method_reg)]
    fn first(&self) -> Option<&str> {
        self.items.first().map(String::as_str)
    }

    #[counted(registry = method_reg)]
    fn push(&mut self, s: &str) -> Result<usize, Oops> {
        if s.is_empty() {
            return Err(Oops);
        }
        self.items.push(s.to_owned());
        Ok(self.items.len())
    }

    #[timed(registry = method_reg)]
    async fn len(&self) -> usize {
        self.items.len()
    }

    #[counted(registry = method_reg)]
    fn iter(&self) -> impl Iterator<Item = &String> + '_ {
        self.items.iter()
    }

    #[counted(registry = method_reg)]
    fn make() -> Self {
        Self { items: Vec::new() }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn methods() {
    let mut store = Store::make();
    assert_eq!(store.first(), None);
    assert_eq!(store.push("a"), Ok(1));
    assert_eq!(store.push(""), Err(Oops));
    assert_eq!(store.first(), Some("a"));
    assert_eq!(store.len().await, 1);
    assert_eq!(store.iter().count(), 1);

    let s = method_reg().snapshot();
    assert_eq!(count(&s, "first_duration_seconds", &[]), 2);
    assert_eq!(s.value("push_calls", &[("outcome", "ok")]), Some(1.0));
    assert_eq!(s.value("push_calls", &[("outcome", "err")]), Some(1.0));
    assert_eq!(count(&s, "len_duration_seconds", &[]), 1);
    assert_eq!(s.value("iter_calls", &[]), Some(1.0));
    assert_eq!(s.value("make_calls", &[]), Some(1.0));
}

// ---------------------------------------------------------------- global registry

#[counted]
fn uses_global() -> u8 {
    9
}

#[test]
fn default_registry_is_global() {
    assert_eq!(uses_global(), 9);
    assert_eq!(
        tallyho::global().snapshot().value("uses_global_calls", &[]),
        Some(1.0)
    );
}
