//! The agent's idle cost next to node_exporter on the same machine at the same time: both
//! scraped every 15 s, the agent collecting host metrics on each scrape; CPU seconds per
//! minute (utime + stime from /proc/<pid>/stat) and resident memory at the end.
//!
//! Run with `cargo bench -p tallyho-agent --bench idle` (60 s; `TALLYHO_IDLE_SECONDS`
//! changes it). Needs `prometheus-node-exporter` (scripts/test.sh installs it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proc(Child, &'static str, u16);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn scrape(port: u16) -> usize {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"
    );
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out.len()
}

/// CPU seconds used so far (USER_HZ = 100 ticks per second).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and test discovery: nothing to list.
    }
    let seconds: u64 = std::env::var("TALLYHO_IDLE_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let (a, n) = (free_port(), free_port());
    let agent = Command::new(env!("CARGO_BIN_EXE_tallyho"))
        .args([
            "--listen",
            &format!("127.0.0.1:{a}"),
            "--statsd",
            "",
            "--interval",
            "15",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("starts the agent");
    let agent = Proc(agent, "tallyho", a);
    let node = Command::new("prometheus-node-exporter")
        .arg(format!("--web.listen-address=127.0.0.1:{n}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus-node-exporter not found: run scripts/test.sh");
    let node = Proc(node, "node_exporter", n);
    std::thread::sleep(Duration::from_secs(2));
    let procs = [&agent, &node];
    let start: Vec<f64> = procs.iter().map(|p| cpu_seconds(p.0.id())).collect();
    let began = Instant::now();
    let mut bytes = [0usize; 2];
    while began.elapsed() < Duration::from_secs(seconds) {
        for (i, p) in procs.iter().enumerate() {
            bytes[i] = scrape(p.2);
        }
        std::thread::sleep(Duration::from_secs(15).min(Duration::from_secs(seconds)));
    }
    let minutes = began.elapsed().as_secs_f64() / 60.0;
    println!("idle cost over {:.0} s, scraped every 15 s", minutes * 60.0);
    println!("| process | CPU seconds per minute | resident memory | last scrape |");
    println!("|---|---:|---:|---:|");
    for (i, p) in procs.iter().enumerate() {
        let cpu = (cpu_seconds(p.0.id()) - start[i]) / minutes;
        println!(
            "| {} | {cpu:.3} | {:.1} MiB | {} bytes |",
            p.1,
            rss_mib(p.0.id()),
            bytes[i]
        );
    }
}
