//! Hostile and slow clients on 127.0.0.1: half-open requests are timed out, a flood of them
//! cannot lock out a normal scrape, shutdown has a deadline, and `/health` stays cheap.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use tallyho::Registry;
use tallyho_http::{Endpoint, RateLimit};

/// Connects and sends a request head that never ends.
fn half_open(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: slow\r\nX-Slow: ")
        .unwrap();
    s
}

/// Whether the server closed `s` within `wait` (EOF or reset), not a read timeout.
fn closed_by_server(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // a 408 or similar before closing is fine
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn a_request_whose_headers_never_finish_is_closed() {
    let running = Endpoint::new(registry())
        .header_timeout(Duration::from_millis(300))
        .spawn("127.0.0.1:0")
        .unwrap();
    let mut s = half_open(running.local_addr());
    assert!(
        closed_by_server(&mut s, Duration::from_secs(10)),
        "a half-open request must be closed after the header timeout"
    );
    // The endpoint still answers.
    let (status, _, _) = get(&format!("http://{}/metrics", running.local_addr()), &[]);
    assert_eq!(status, 200);
}

#[test]
fn many_half_open_connections_do_not_lock_out_a_scrape() {
    let running = Endpoint::new(registry())
        .max_connections(100)
        .header_timeout(Duration::from_secs(120))
        .spawn("127.0.0.1:0")
        .unwrap();
    let addr = running.local_addr();
    let mut slow: Vec<TcpStream> = (0..500).map(|_| half_open(addr)).collect();
    // A normal scrape, while all 500 are still open on our side.
    let (status, _, body) = get(&format!("http://{addr}/metrics"), &[]);
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    let evicted = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("tallyho_http_evicted_connections_total")?
                .rsplit(' ')
                .next()?
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0);
    assert!(evicted >= 400.0, "evicted {evicted}:\n{text}");
    // The server holds at most 100: at least 400 of ours were closed by it.
    let closed = slow
        .iter_mut()
        .map(|s| closed_by_server(s, Duration::from_millis(50)))
        .filter(|closed| *closed)
        .count();
    assert!(
        closed >= 400,
        "only {closed} of 500 half-open connections closed"
    );
}

#[test]
fn shutdown_with_a_half_open_request_ends_by_the_deadline() {
    let running = Endpoint::new(registry())
        .header_timeout(Duration::from_secs(600))
        .shutdown_timeout(Duration::from_secs(1))
        .spawn("127.0.0.1:0")
        .unwrap();
    let mut s = half_open(running.local_addr());
    // Let the server accept it.
    std::thread::sleep(Duration::from_millis(100));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        running.shutdown();
        let _ = done_tx.send(());
    });
    assert!(
        done_rx.recv_timeout(Duration::from_secs(15)).is_ok(),
        "shutdown blocked by a half-open request"
    );
    assert!(closed_by_server(&mut s, Duration::from_secs(1)));
}

fn counting_registry() -> (Registry, Arc<AtomicUsize>) {
    let r = Registry::new();
    r.counter("jobs", "Jobs.").unwrap().inc();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    r.register_collector(move || {
        c.fetch_add(1, Ordering::SeqCst);
        Vec::new()
    });
    (r, calls)
}

#[test]
fn health_does_not_collect_per_request() {
    let (r, calls) = counting_registry();
    let running = Endpoint::new(r)
        .health_rate_limit(None)
        .spawn("127.0.0.1:0")
        .unwrap();
    let url = format!("http://{}/health", running.local_addr());
    for _ in 0..50 {
        let (status, _, body) = get(&url, &[]);
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["families"], 5, "{v}"); // jobs and four self-metrics
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one collection for 50 /health"
    );
    // A scrape refreshes the figures; /health reuses them.
    let (status, _, _) = get(&format!("http://{}/metrics", running.local_addr()), &[]);
    assert_eq!(status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn health_is_rate_limited_for_everyone_together() {
    let (r, _) = counting_registry();
    let running = Endpoint::new(r)
        .health_rate_limit(Some(RateLimit {
            per_second: 0.01,
            burst: 3,
        }))
        .spawn("127.0.0.1:0")
        .unwrap();
    let url = format!("http://{}/health", running.local_addr());
    let statuses: Vec<u16> = (0..5).map(|_| get(&url, &[]).0).collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    // /metrics is not affected.
    let (status, _, _) = get(&format!("http://{}/metrics", running.local_addr()), &[]);
    assert_eq!(status, 200);
}
