//! The StatsD socket under an unpaced burst from a real socket: while the burst fits the
//! receive buffer every line is counted, by the batched loop and by the portable one; a
//! datagram of the largest size arrives whole; and the loop still stops promptly.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tallyho::Registry;
use tallyho_agent::statsd::{self, Bound, Ingest};

/// A serve loop (`statsd::serve` or `statsd::serve_one_by_one`).
type Loop = fn(&UdpSocket, &Ingest, &AtomicBool);

struct Listener {
    registry: Registry,
    socket: UdpSocket,
    recv_buffer: usize,
    stop: Arc<AtomicBool>,
    done: mpsc::Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

fn listen(serve: Loop) -> Listener {
    let Bound {
        socket,
        recv_buffer,
    } = statsd::bind("127.0.0.1:0".parse().unwrap(), 8 << 20).unwrap();
    let registry = Registry::new();
    let ingest = Ingest::new(&registry).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, done) = mpsc::channel();
    let (s, st) = (socket.try_clone().unwrap(), stop.clone());
    let thread = std::thread::spawn(move || {
        serve(&s, &ingest, &st);
        let _ = tx.send(());
    });
    Listener {
        registry,
        socket,
        recv_buffer,
        stop,
        done,
        thread: Some(thread),
    }
}

impl Listener {
    fn lines(&self) -> f64 {
        self.registry
            .snapshot()
            .value("tallyho_statsd_lines", &[])
            .unwrap_or(0.0)
    }

    /// Waits (10 s at most) until `want` lines were counted; returns the count seen.
    fn wait_for(&self, want: f64) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = self.lines();
        while seen < want && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            seen = self.lines();
        }
        seen
    }

    /// Sets `stop` and returns how long the loop took to notice it.
    fn stop(mut self) -> Duration {
        let asked = Instant::now();
        self.stop.store(true, Ordering::Relaxed);
        self.done
            .recv_timeout(Duration::from_secs(5))
            .expect("the loop stops");
        let took = asked.elapsed();
        self.thread.take().unwrap().join().unwrap();
        took
    }
}

/// Sends as many datagrams of `per` lines as the receive buffer holds even if nothing is
/// read meanwhile (the kernel charges each datagram its payload plus ~1-2 KiB of
/// bookkeeping), unpaced; returns the lines sent.
fn burst(to: &UdpSocket, recv_buffer: usize, per: usize) -> usize {
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.connect(to.local_addr().unwrap()).unwrap();
    let mut datagram = String::new();
    for i in 0..per {
        datagram.push_str(&format!("burst.hits:1|c|#line:l{i}\n"));
    }
    let datagrams = recv_buffer / (datagram.len() + 2048);
    assert!(datagrams >= 50, "receive buffer {recv_buffer} too small");
    for _ in 0..datagrams {
        sender.send(datagram.as_bytes()).unwrap();
    }
    datagrams * per
}

fn every_line_counted(serve: Loop) {
    let l = listen(serve);
    let sent = burst(&l.socket, l.recv_buffer, 8);
    let seen = l.wait_for(sent as f64);
    assert_eq!(seen, sent as f64, "lines counted of {sent} sent");
    let s = l.registry.snapshot();
    let hits: f64 = s
        .family("burst_hits")
        .expect("the burst's counter")
        .series
        .iter()
        .map(|x| x.value.as_f64().unwrap())
        .sum();
    assert_eq!(hits, sent as f64, "every increment recorded");
    if cfg!(target_os = "linux") {
        assert_eq!(statsd::kernel_drops(&l.socket), Some(0));
    }
    let took = l.stop();
    assert!(took < Duration::from_secs(1), "stopped after {took:?}");
}

#[test]
fn batched_loop_counts_every_line_of_a_burst_that_fits() {
    every_line_counted(statsd::serve);
}

#[test]
fn portable_loop_counts_every_line_of_a_burst_that_fits() {
    every_line_counted(statsd::serve_one_by_one);
}

#[test]
fn largest_datagrams_arrive_whole_between_small_ones() {
    let l = listen(statsd::serve);
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.connect(l.socket.local_addr().unwrap()).unwrap();
    let line = "big.line:1|c\n";
    let big = line.repeat(65_507 / line.len());
    let mut sent = 0;
    for _ in 0..3 {
        sender.send(b"small:1|c").unwrap();
        sender.send(big.as_bytes()).unwrap();
        sent += 1 + big.len() / line.len();
    }
    assert_eq!(l.wait_for(sent as f64), sent as f64);
    assert_eq!(
        l.registry.snapshot().value("big_line", &[]),
        Some((3 * (big.len() / line.len())) as f64)
    );
    l.stop();
}

#[test]
fn idle_loop_stops_promptly() {
    for serve in [statsd::serve as Loop, statsd::serve_one_by_one] {
        let l = listen(serve);
        std::thread::sleep(Duration::from_millis(250));
        let took = l.stop();
        assert!(took < Duration::from_secs(1), "stopped after {took:?}");
    }
}
