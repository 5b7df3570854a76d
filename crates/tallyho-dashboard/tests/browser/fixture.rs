//! Known numbers for the browser test: a registry whose families carry the names
//! tallyho-host and the agent export, recorded step by step, and a history fed a snapshot
//! of it every `STEP` of simulated time (the last one at most `STEP` before now), so that
//! every rate and value the page shows follows from the increments below.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tallyho::{Buckets, Counter, Family, Histogram, Registry};
use tallyho_history::History;

/// Simulated time between two snapshots.
pub const STEP: Duration = Duration::from_secs(5);
/// History before the test starts.
pub const PREFILL: Duration = Duration::from_secs(600);
/// Series of the big family.
pub const MANY: usize = 1000;

// Increments per STEP (5 s), so per second: CPU user 0.4 s/s per CPU, system 0.2 s/s,
// idle 0.4 s/s (each CPU adds up to 1 s/s).
pub const CPU_USER: u64 = 2;
pub const CPU_SYSTEM: u64 = 1;
pub const CPU_IDLE: u64 = 2;
pub const DISK_READ: u64 = 5 << 20; // 1 MiB/s
pub const DISK_WRITE: u64 = 5 << 19; // 0.5 MiB/s
pub const NET_RECEIVE: u64 = 10_240; // 2 KiB/s
pub const NET_TRANSMIT: u64 = 5_120; // 1 KiB/s
pub const PROC_USER: u64 = 1; // 0.2 cores (1 s per 5 s)
pub const JOBS_A: u64 = 10; // 2/s
pub const JOBS_B: u64 = 25; // 5/s
/// Observations per step: (value, how many).
pub const OBSERVATIONS: [(f64, u32); 3] = [(0.05, 6), (0.3, 3), (0.8, 1)];

pub const MEM_USED: f64 = 3.0 * (1u64 << 30) as f64;
pub const MEM_FREE: f64 = (1u64 << 30) as f64;
pub const MEM_TOTAL: f64 = 4.0 * (1u64 << 30) as f64;
pub const LOAD: [f64; 3] = [1.5, 1.25, 0.75];
pub const PROC_RSS: f64 = 50.0 * (1u64 << 20) as f64;
/// (mount point, used, free): 75 % and 10 % full.
pub const FILESYSTEMS: [(&str, f64, f64); 2] = [("/", 75e9, 25e9), ("/data", 10e9, 90e9)];
pub const STATSD_MALFORMED: u64 = 3;
pub const EXPORT_FAILURES: u64 = 7;
/// Distinct users recorded into a family limited to 2 series.
pub const USERS: usize = 5;

struct Instruments {
    cpu: Family<Counter>,
    disk: Family<Counter>,
    net: Family<Counter>,
    proc_cpu: Family<Counter>,
    jobs: Family<Counter>,
    latency: Histogram,
}

/// Registers every family, sets the gauges and the one-off counters.
fn register(r: &Registry) -> Result<Instruments, tallyho::Error> {
    let cpu = r
        .metric("system_cpu_time_seconds", "CPU time by state.")
        .counter_family(&["cpu", "state"])?;
    let mem = r
        .metric("system_memory_usage_bytes", "Memory in use by state.")
        .gauge_family(&["state"])?;
    mem.with(&["used"]).set(MEM_USED);
    mem.with(&["free"]).set(MEM_FREE);
    r.gauge("system_memory_limit_bytes", "Memory installed.")?
        .set(MEM_TOTAL);
    for (m, v) in ["1m", "5m", "15m"].iter().zip(LOAD) {
        r.gauge(&format!("system_cpu_load_average_{m}"), "Load average.")?
            .set(v);
    }
    let disk = r
        .metric("system_disk_io_bytes", "Disk bytes.")
        .counter_family(&["device", "direction"])?;
    let net = r
        .metric("system_network_io_bytes", "Network bytes.")
        .counter_family(&["device", "direction"])?;
    let fs = r
        .metric("system_filesystem_usage_bytes", "Filesystem space.")
        .gauge_family(&["device", "mountpoint", "state"])?;
    for (i, (mount, used, free)) in FILESYSTEMS.iter().enumerate() {
        let dev = format!("/dev/sd{}", ["a", "b"][i]);
        fs.with(&[&dev, mount, "used"]).set(*used);
        fs.with(&[&dev, mount, "free"]).set(*free);
    }
    let proc_cpu = r
        .metric("process_cpu_time_seconds", "Process CPU time.")
        .counter_family(&["state"])?;
    r.gauge("process_memory_usage_bytes", "Resident set size.")?
        .set(PROC_RSS);
    let jobs = r
        .metric("jobs", "Jobs processed, by queue.")
        .counter_family(&["queue"])?;
    let latency = r.histogram(
        "request_duration_seconds",
        "Time to answer a request.",
        Buckets::new(vec![0.1, 0.5, 1.0])?,
    )?;
    let many = r
        .metric("many_series", "One series per id, valued at the id.")
        .gauge_family(&["id"])?;
    for id in 0..MANY {
        many.with(&[&id.to_string()]).set(id as f64);
    }
    r.counter(
        "tallyho_statsd_malformed_lines",
        "StatsD lines that could not be parsed.",
    )?
    .add(STATSD_MALFORMED);
    r.metric("tallyho_export_failures", "Export attempts that failed.")
        .counter_family(&["exporter"])?
        .with(&["otlp"])
        .add(EXPORT_FAILURES);
    let users = r
        .metric("user_requests", "Requests by user.")
        .cardinality_limit(2)
        .counter_family(&["user"])?;
    for u in 0..USERS {
        users.with(&[&format!("u{u}")]).inc();
    }
    Ok(Instruments {
        cpu,
        disk,
        net,
        proc_cpu,
        jobs,
        latency,
    })
}

impl Instruments {
    fn step(&self) {
        for cpu in ["0", "1"] {
            self.cpu.with(&[cpu, "user"]).add(CPU_USER);
            self.cpu.with(&[cpu, "system"]).add(CPU_SYSTEM);
            self.cpu.with(&[cpu, "idle"]).add(CPU_IDLE);
        }
        self.disk.with(&["sda", "read"]).add(DISK_READ);
        self.disk.with(&["sda", "write"]).add(DISK_WRITE);
        self.net.with(&["eth0", "receive"]).add(NET_RECEIVE);
        self.net.with(&["eth0", "transmit"]).add(NET_TRANSMIT);
        self.proc_cpu.with(&["user"]).add(PROC_USER);
        self.jobs.with(&["a"]).add(JOBS_A);
        self.jobs.with(&["b"]).add(JOBS_B);
        for (v, n) in OBSERVATIONS {
            for _ in 0..n {
                self.latency.observe(v);
            }
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// CPU ticks this thread has used (utime + stime from /proc/thread-self/stat).
fn thread_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command: state is field 3, utime 14 and stime 15 (1-based, whole line).
    let get = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(14) + get(15)
}

/// CPU seconds this process has used, less what the feeder thread used.
pub fn server_cpu_seconds(feeder_ticks: &AtomicU64) -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let get = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let ticks = (get(14) + get(15)).saturating_sub(feeder_ticks.load(Ordering::Relaxed));
    ticks as f64 / 100.0
}

/// The registry, the history it feeds, and the thread feeding it until dropped.
pub struct Fixture {
    pub registry: Registry,
    pub history: History,
    pub feeder_ticks: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Fixture {
    pub fn start() -> Fixture {
        let registry = Registry::new();
        let inst = register(&registry).expect("registering the fixture's families");
        let history = History::in_memory();
        let step_ms = STEP.as_millis() as i64;
        let mut t = (now_ms() - PREFILL.as_millis() as i64) / step_ms * step_ms;
        let (stop, ticks) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let (r, h, s, k) = (
            registry.clone(),
            history.clone(),
            stop.clone(),
            ticks.clone(),
        );
        let feed = move |upto: i64, t: &mut i64| {
            while *t <= upto {
                inst.step();
                let mut snap = r.snapshot();
                snap.time = UNIX_EPOCH + Duration::from_millis(*t as u64);
                h.append(&snap).expect("appending a snapshot");
                *t += step_ms;
            }
            k.store(thread_ticks(), Ordering::Relaxed);
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            feed(now_ms(), &mut t);
            let _ = tx.send(());
            while !s.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                feed(now_ms(), &mut t);
            }
        });
        rx.recv().expect("the feeder filled the history");
        Fixture {
            registry,
            history,
            feeder_ticks: ticks,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
