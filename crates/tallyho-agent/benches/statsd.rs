//! StatsD ingestion throughput on one core: parse and record full datagrams of mixed lines
//! (counters with tags, gauges, timings, sampled counters), as the agent's listener does.
//! Throughput is reported in lines per second.
//!
//! `statsd_socket` times the receive loops draining a queued burst of one-line datagrams
//! from a real loopback socket (batched `recvmmsg` against one datagram per syscall), and
//! prints the fraction of datagrams each loop counts from an unpaced burst and from a
//! sender paced at 100,000 datagrams/s, with the kernel's default receive buffer and with
//! the agent's 8 MiB. Set `STATSD_LOSS_DATAGRAMS` to size those runs
//! (default 200,000).

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tallyho::Registry;
use tallyho_agent::statsd::{self, Ingest};

fn datagrams() -> (Vec<String>, u64) {
    let mut out = Vec::new();
    let mut lines = 0u64;
    for d in 0..64 {
        let mut text = String::new();
        for i in 0..24 {
            let line = match i % 4 {
                0 => format!("api.requests:1|c|#route:/r{},code:200", (d + i) % 20),
                1 => format!("queue.depth:{}|g", i * 3),
                2 => format!("api.latency:{}.5|ms|#route:/r{}", i * 7, d % 20),
                _ => "jobs.done:1|c|@0.5".to_owned(),
            };
            if text.len() + line.len() + 1 > 1432 {
                break;
            }
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&line);
            lines += 1;
        }
        out.push(text);
    }
    (out, lines)
}

fn ingest(c: &mut Criterion) {
    let registry = Registry::new();
    let ingest = Ingest::new(&registry).expect("registers");
    let (datagrams, lines) = datagrams();
    let mut g = c.benchmark_group("statsd_ingest");
    g.throughput(Throughput::Elements(lines));
    g.bench_function("64_datagrams", |b| {
        b.iter(|| {
            for d in &datagrams {
                ingest.datagram(d);
            }
        })
    });
    g.finish();
}

/// A receive loop: `statsd::serve` (batched on Linux) or `statsd::serve_one_by_one`.
type Loop = fn(&UdpSocket, &Ingest, &AtomicBool);

const LOOPS: [(&str, Loop); 2] = [
    ("batched", statsd::serve),
    ("one_by_one", statsd::serve_one_by_one),
];

/// A socket bound as the agent binds it, a connected sender, and the registry its lines
/// land in.
struct Rig {
    registry: Registry,
    socket: UdpSocket,
    sender: UdpSocket,
}

impl Rig {
    /// `recv_buffer` bytes asked (Linux doubles it, capped at `net.core.rmem_max`).
    fn new(recv_buffer: usize) -> Self {
        let bound = statsd::bind("127.0.0.1:0".parse().unwrap(), recv_buffer).expect("binds");
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.connect(bound.socket.local_addr().unwrap()).unwrap();
        Rig {
            registry: Registry::new(),
            socket: bound.socket,
            sender,
        }
    }

    fn lines(&self) -> u64 {
        self.registry
            .snapshot()
            .value("tallyho_statsd_lines", &[])
            .unwrap_or(0.0) as u64
    }

    /// Runs `serve` on a thread until the returned flag is set.
    fn start(&self, serve: Loop, ingest: Ingest) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
        self.start_behind(serve, ingest, Arc::new(Barrier::new(1)))
    }

    /// As [`Rig::start`], the loop beginning once `gate` opens.
    fn start_behind(
        &self,
        serve: Loop,
        ingest: Ingest,
        gate: Arc<Barrier>,
    ) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
        let stop = Arc::new(AtomicBool::new(false));
        let (socket, flag) = (self.socket.try_clone().unwrap(), stop.clone());
        let t = std::thread::spawn(move || {
            gate.wait();
            serve(&socket, &ingest, &flag);
        });
        (stop, t)
    }

    /// Stops the loop, waking it with one more datagram rather than waiting out its timeout.
    fn stop(&self, stop: &AtomicBool, t: std::thread::JoinHandle<()>) {
        stop.store(true, Ordering::Relaxed);
        let _ = self.sender.send(b"wake:1|c");
        t.join().unwrap();
    }

    /// Waits until the count stops moving for 300 ms or reaches `want`.
    fn settle(&self, want: u64) -> u64 {
        let mut last = self.lines();
        let mut still = Instant::now();
        while last < want && still.elapsed() < Duration::from_millis(300) {
            std::thread::sleep(Duration::from_millis(10));
            let now = self.lines();
            if now != last {
                (last, still) = (now, Instant::now());
            }
        }
        last
    }
}

/// The fraction of `n` one-line datagrams that `serve` counts, sent back to back or paced
/// at `per_second`.
fn received_fraction(serve: Loop, recv_buffer: usize, n: u64, per_second: Option<u64>) -> f64 {
    let rig = Rig::new(recv_buffer);
    let ingest = Ingest::new(&rig.registry).expect("registers");
    let (stop, t) = rig.start(serve, ingest);
    let start = Instant::now();
    for i in 0..n {
        let _ = rig.sender.send(b"loss.test:1|c|#route:/r");
        if let Some(rate) = per_second {
            // Pace in steps of 1 ms: send ahead of the schedule never.
            if i % (rate / 1000).max(1) == 0 {
                let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        }
    }
    let got = rig.settle(n);
    rig.stop(&stop, t);
    got as f64 / n as f64
}

fn socket(c: &mut Criterion) {
    let n = std::env::var("STATSD_LOSS_DATAGRAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000u64);
    // The kernel's default receive buffer (asked as half of the 212,992 bytes it reports)
    // and the agent's default, 8 MiB.
    for (buffer, bytes) in [("default 208 KiB", 106_496), ("8 MiB", 8 << 20)] {
        for (name, serve) in LOOPS {
            let burst = received_fraction(serve, bytes, n, None);
            let paced = received_fraction(serve, bytes, n, Some(100_000));
            println!(
                "statsd_socket/{name}, buffer {buffer}: received {:.1}% of an unpaced burst of {n}, {:.1}% of {n} at 100k/s",
                burst * 100.0,
                paced * 100.0
            );
        }
    }

    // Time to drain a queued burst that fits the buffer: the receive path's own cost. The
    // loop's thread is started and waits at a gate while the burst is queued; the clock
    // runs from opening the gate until every line is counted.
    const QUEUED: u64 = 5_000;
    let mut g = c.benchmark_group("statsd_socket");
    g.throughput(Throughput::Elements(QUEUED));
    g.sample_size(20);
    for (name, serve) in LOOPS {
        g.bench_function(format!("drain_{QUEUED}_queued_{name}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let rig = Rig::new(8 << 20);
                    let ingest = Ingest::new(&rig.registry).expect("registers");
                    let gate = Arc::new(Barrier::new(2));
                    let (stop, t) = rig.start_behind(serve, ingest, gate.clone());
                    for _ in 0..QUEUED {
                        rig.sender.send(b"drain.test:1|c").unwrap();
                    }
                    let began = Instant::now();
                    gate.wait();
                    let deadline = began + Duration::from_secs(5);
                    while rig.lines() < QUEUED {
                        assert!(
                            Instant::now() < deadline,
                            "the queued burst was not all counted"
                        );
                        std::thread::sleep(Duration::from_micros(50));
                    }
                    total += began.elapsed();
                    rig.stop(&stop, t);
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, ingest, socket);
criterion_main!(benches);
