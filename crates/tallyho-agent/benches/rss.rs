//! Resident memory of the agent holding 24 hours of 1,000 series (issue 9's target: 64 MiB).
//!
//! A day cannot be waited for, so the data directory is filled first, through the same
//! `tallyho_history::History` the agent runs, with 24 h of 1,000 StatsD-named gauges every
//! 15 s ending now (5.76 million samples: blocks for most of the day, the last hours in the
//! WAL). Then the real agent (release build) opens that directory with its defaults
//! (`retention = 24h`), receives the same 1,000 gauges over StatsD every second, collects
//! every 15 s, and its VmRSS / VmHWM are read from /proc after a minute. A query through its
//! HTTP API checks that the whole day is visible.
//!
//! Run with `cargo bench -p tallyho-agent --bench rss` (`TALLYHO_RSS_SECONDS` changes the
//! live minute).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tallyho_history::{History, HistoryOptions};
use tallyho_query::Labels;

const SERIES: usize = 1000;
const STEP_MS: i64 = 15_000;
const DAY_MS: i64 = 24 * 3_600_000;

struct Proc(Child);

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

fn status_kib(pid: u32, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
}

fn get(port: u16, path: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The value gauge `i` has at step `k`: a slow wander, as host gauges do.
fn value(i: usize, k: i64) -> f64 {
    ((i as i64 * 37 + k) % 500) as f64 + (i % 7) as f64 * 0.25
}

fn fill(dir: &std::path::Path, end: i64) -> u64 {
    let h = History::open(
        HistoryOptions::default()
            .storage_path(dir)
            .retention(Duration::from_secs(24 * 3600)),
    )
    .expect("opens the data directory");
    let labels: Vec<Labels> = (0..SERIES)
        .map(|i| {
            // The agent's default constant label, so the filled day and the live samples
            // are the same series.
            Labels::new([
                ("__name__".to_string(), format!("rss_g{i}")),
                ("service".to_string(), "tallyho".to_string()),
            ])
        })
        .collect();
    let steps = DAY_MS / STEP_MS;
    let mut batch = Vec::with_capacity(SERIES);
    for k in 0..steps {
        batch.clear();
        batch.extend(
            labels
                .iter()
                .enumerate()
                .map(|(i, l)| (l.clone(), value(i, k))),
        );
        h.append_samples(end - DAY_MS + k * STEP_MS, &batch)
            .expect("appends");
    }
    h.wait_for_blocks();
    let bytes = h.stats().block_bytes;
    h.close().expect("closes");
    bytes
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds: u64 = std::env::var("TALLYHO_RSS_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let tmp = std::env::temp_dir().join(format!("tallyho-rss-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let began = Instant::now();
    let block_bytes = fill(&tmp, now_ms() - STEP_MS);
    let filled_in = began.elapsed();

    let (http, udp) = (free_port(), free_port());
    let agent = Command::new(env!("CARGO_BIN_EXE_tallyho"))
        .args([
            "--listen",
            &format!("127.0.0.1:{http}"),
            "--statsd",
            &format!("127.0.0.1:{udp}"),
            "--interval",
            "15",
        ])
        .env("TALLYHO_STORAGE_PATH", &tmp)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("starts the agent");
    let agent = Proc(agent);
    let pid = agent.0.id();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let live = Instant::now();
    let mut k = DAY_MS / STEP_MS;
    while live.elapsed() < Duration::from_secs(seconds) {
        let mut packet = String::new();
        for i in 0..SERIES {
            let line = format!("rss_g{i}:{}|g\n", value(i, k));
            if packet.len() + line.len() > 1400 {
                let _ = sock.send_to(packet.as_bytes(), ("127.0.0.1", udp));
                packet.clear();
            }
            packet.push_str(&line);
        }
        let _ = sock.send_to(packet.as_bytes(), ("127.0.0.1", udp));
        k += 1;
        std::thread::sleep(Duration::from_secs(1));
    }
    let rss = status_kib(pid, "VmRSS:") / 1024.0;
    let hwm = status_kib(pid, "VmHWM:") / 1024.0;
    // One series' whole day (5,760 filled samples plus the live ones), and every series
    // the name matches (the filled one and the live one must be the same series).
    let day = get(http, "/api/v1/query?query=count_over_time(rss_g0%5B1d%5D)");
    let series = get(http, "/api/v1/series?match%5B%5D=rss_g0");
    let health = get(http, "/health");
    drop(agent);
    let _ = std::fs::remove_dir_all(&tmp);
    println!(
        "agent with {SERIES} series and 24 h of history (filled in {:.1} s; blocks {:.1} MiB), \
         {seconds} s live StatsD at 1/s, collected every 15 s",
        filled_in.as_secs_f64(),
        block_bytes as f64 / (1 << 20) as f64
    );
    println!("| measure | value |");
    println!("|---|---:|");
    println!("| VmRSS at the end | {rss:.1} MiB |");
    println!("| VmHWM (peak) | {hwm:.1} MiB |");
    println!("| samples of rss_g0 over 1d | {} |", value_of(&day));
    println!("series named rss_g0: {}", series.trim());
    println!("health: {}", health.trim());
}

/// The scalar string of the first result of an instant query's JSON, or the body.
fn value_of(body: &str) -> String {
    body.split("\"value\":[")
        .nth(1)
        .and_then(|r| r.split('"').nth(1))
        .map_or_else(|| body.to_string(), str::to_string)
}
