//! Notifiers: a webhook gets JSON; a hanging or failing receiver never delays evaluation,
//! and the queue stays bounded with drops counted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tallyho::{Collector, Number, SeriesValue};
use tallyho_rules::{ManagerOptions, ManualClock, NotifierOptions, Notifiers, RuleManager, Rules};

use crate::common::{hanging_server, http_server, wait_for, MemStore};

const MANY: &str = "groups:\n  - name: g\n    rules:\n      - alert: Many\n        expr: x > 0\n        annotations: {v: '{{ $value }}'}\n";

/// 20 firing alerts, re-sent at every evaluation because each is more than the resend delay
/// after the last.
fn setup(notifiers: Notifiers) -> (RuleManager, Arc<MemStore>) {
    let store = MemStore::new();
    for i in 0..20 {
        for k in 0..200 {
            store.put(&format!("x{{i=\"{i}\"}}"), k * 61_000, 1.0 + i as f64);
        }
    }
    let m = RuleManager::new(
        Rules::from_text("w.yml", MANY).unwrap(),
        store.clone(),
        store.clone(),
        notifiers,
        Arc::new(ManualClock::new(0)),
        ManagerOptions::default(),
    );
    (m, store)
}

/// Evaluates 40 times, one resend delay apart; returns the slowest evaluation.
fn drive(m: &RuleManager) -> Duration {
    let mut worst = Duration::ZERO;
    for k in 1..=40 {
        let t0 = Instant::now();
        m.evaluate_at(k * 61_000);
        worst = worst.max(t0.elapsed());
    }
    worst
}

fn counter(m: &RuleManager, family: &str) -> u64 {
    let fams = m.collector().collect();
    let f = fams
        .iter()
        .find(|f| f.name == family)
        .unwrap_or_else(|| panic!("no {family}"));
    match f.series[0].value {
        SeriesValue::Counter(Number::U64(v)) => v,
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn webhook_receives_json() {
    let (port, bodies) = http_server(200);
    let n = Notifiers::new();
    n.webhook(
        &format!("http://127.0.0.1:{port}/hook"),
        NotifierOptions::default(),
    )
    .unwrap();
    let (m, _) = setup(n.clone());
    m.evaluate_at(61_000);
    assert!(n.flush(Duration::from_secs(10)));
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 1, "20 alerts fit in one batch of 64");
    let v: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(v["status"], "firing");
    let alerts = v["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 20);
    assert_eq!(alerts[0]["labels"]["alertname"], "Many");
    assert_eq!(alerts[0]["startsAt"], "1970-01-01T00:01:01Z");
    assert_eq!(
        alerts[0]["endsAt"], "1970-01-01T00:05:01Z",
        "4 × resend delay later"
    );
    assert_eq!(n.stats()[0].sent, 20);
    n.stop(Duration::from_secs(1));
}

#[test]
fn hanging_webhook_delays_nothing_and_queue_stays_bounded() {
    let port = hanging_server();
    let n = Notifiers::new();
    let opts = NotifierOptions {
        queue_capacity: 50,
        timeout: Duration::from_secs(3),
        ..NotifierOptions::default()
    };
    n.webhook(&format!("http://127.0.0.1:{port}/"), opts)
        .unwrap();
    let (m, _) = setup(n.clone());
    let worst = drive(&m);
    assert!(
        worst < Duration::from_millis(500),
        "an evaluation took {worst:?}"
    );
    let s = &n.stats()[0];
    assert!(s.queued <= 50, "queue bounded: {s:?}");
    // 800 alerts offered; one batch of at most 64 in flight, at most 50 queued: the rest dropped.
    assert!(s.dropped >= 800 - 64 - 50, "{s:?}");
    assert_eq!(s.sent, 0);
    assert_eq!(
        counter(&m, "tallyho_rules_notifications_dropped"),
        s.dropped
    );
    let t0 = Instant::now();
    n.stop(Duration::from_millis(200));
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "stop does not wait for a hung request"
    );
}

#[test]
fn failing_webhook_is_retried_counted_and_delays_nothing() {
    let (port, bodies) = http_server(500);
    let n = Notifiers::new();
    let opts = NotifierOptions {
        backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_attempts: 3,
        ..NotifierOptions::default()
    };
    n.webhook(&format!("http://127.0.0.1:{port}/"), opts)
        .unwrap();
    let (m, _) = setup(n.clone());
    let worst = drive(&m);
    assert!(
        worst < Duration::from_millis(500),
        "an evaluation took {worst:?}"
    );
    assert!(
        wait_for(Duration::from_secs(20), || n.flush(Duration::ZERO)),
        "{:?}",
        n.stats()
    );
    let s = &n.stats()[0];
    assert_eq!(s.sent, 0);
    assert_eq!(s.failed + s.dropped, 800, "{s:?}");
    assert!(s.retries >= 2, "{s:?}");
    assert!(s.last_error.contains("HTTP 500"), "{s:?}");
    // Each delivered batch was tried max_attempts times.
    assert_eq!(
        bodies.lock().unwrap().len() as u64,
        s.retries + s.retries / 2
    );
    assert_eq!(counter(&m, "tallyho_rules_notifications_failed"), s.failed);
    n.stop(Duration::from_secs(1));
}

#[test]
fn console_and_callback_notifiers() {
    let buf = Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    struct W(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for W {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let n = Notifiers::new();
    n.add(
        "console",
        tallyho_rules::ConsoleSink::to_writer(W(buf.clone())),
        NotifierOptions::default(),
    )
    .unwrap();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = calls.clone();
    n.callback(
        "cb",
        move |b| {
            // Fails the first time: the batch is retried and then succeeds.
            if c.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                Err("not yet".into())
            } else {
                assert_eq!(b.len(), 20);
                Ok(())
            }
        },
        NotifierOptions {
            backoff: Duration::from_millis(1),
            ..NotifierOptions::default()
        },
    )
    .unwrap();
    let (m, _) = setup(n.clone());
    m.evaluate_at(61_000);
    assert!(n.flush(Duration::from_secs(5)));
    let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    assert_eq!(text.lines().count(), 20);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .starts_with("FIRING {alertname=\"Many\", i=\"0\"} since 1970-01-01T00:01:01Z v=\"1\""),
        "{text}"
    );
    let stats = n.stats();
    assert_eq!((stats[1].sent, stats[1].retries), (20, 1));
    n.stop(Duration::from_secs(1));
}
