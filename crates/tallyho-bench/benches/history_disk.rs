//! Bytes per sample on disk: 24 simulated hours of a host-metrics + StatsD workload at a
//! 15 s interval, written by tallyho's history and, from the same samples, by Prometheus'
//! own TSDB (`promtool tsdb create-blocks-from openmetrics`, which writes the blocks a
//! Prometheus server would keep). Not a timing: it prints a table.
//!
//! Run with `cargo bench -p tallyho-bench --bench history_disk`.

mod history_common;

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::Command;
use std::time::Duration;

use history_common::{dir_bytes, labels, promtool_bin, GenSeries, Rng, Workload};
use tallyho_history::{History, HistoryOptions};

const STEP_MS: i64 = 15_000;
const STEPS: usize = 24 * 3600 * 1000 / STEP_MS as usize;

/// A random walk held to [lo, hi], rounded to multiples of `quantum`.
fn walk(rng: &mut Rng, start: f64, lo: f64, hi: f64, jump: f64, quantum: f64) -> Vec<f64> {
    let mut v = start;
    (0..STEPS)
        .map(|_| {
            v = (v + (rng.unit() - 0.5) * jump).clamp(lo, hi);
            (v / quantum).round() * quantum
        })
        .collect()
}

/// A counter growing by a random amount per step, rounded to `quantum`.
fn counter(rng: &mut Rng, per_step: f64, quantum: f64) -> Vec<f64> {
    let mut v = 0.0;
    (0..STEPS)
        .map(|_| {
            v += (rng.unit() * 2.0 * per_step / quantum).round() * quantum;
            (v / quantum).round() * quantum
        })
        .collect()
}

fn push(out: &mut Vec<GenSeries>, pairs: &[(&str, &str)], values: Vec<f64>) {
    out.push(GenSeries {
        labels: labels(pairs),
        values,
    });
}

fn host(rng: &mut Rng, out: &mut Vec<GenSeries>) {
    let modes = [
        "user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice",
    ];
    for cpu in ["0", "1"] {
        for (i, mode) in modes.iter().enumerate() {
            let per = if *mode == "idle" {
                12.0
            } else {
                1.5 / (i + 1) as f64
            };
            push(
                out,
                &[
                    ("__name__", "node_cpu_seconds_total"),
                    ("cpu", cpu),
                    ("mode", mode),
                ],
                counter(rng, per, 0.01),
            );
        }
    }
    for (name, start) in [
        ("MemFree", 8e9),
        ("MemAvailable", 16e9),
        ("Cached", 6e9),
        ("Buffers", 5e8),
        ("Active", 7e9),
        ("Inactive", 4e9),
        ("Dirty", 1e7),
    ] {
        let n = format!("node_memory_{name}_bytes");
        push(
            out,
            &[("__name__", &n)],
            walk(rng, start, 0.0, 2.4e10, 5e7, 4096.0),
        );
    }
    for dev in ["vda", "vdb", "nvme0n1"] {
        for m in [
            "node_disk_read_bytes_total",
            "node_disk_written_bytes_total",
        ] {
            push(
                out,
                &[("__name__", m), ("device", dev)],
                counter(rng, 4e6, 512.0),
            );
        }
        for m in [
            "node_disk_reads_completed_total",
            "node_disk_writes_completed_total",
        ] {
            push(
                out,
                &[("__name__", m), ("device", dev)],
                counter(rng, 300.0, 1.0),
            );
        }
        push(
            out,
            &[
                ("__name__", "node_disk_io_time_seconds_total"),
                ("device", dev),
            ],
            counter(rng, 0.8, 0.001),
        );
    }
    for mount in ["/", "/var", "/home", "/boot"] {
        push(
            out,
            &[
                ("__name__", "node_filesystem_avail_bytes"),
                ("mountpoint", mount),
            ],
            walk(rng, 5e10, 1e9, 1e11, 2e7, 4096.0),
        );
        push(
            out,
            &[
                ("__name__", "node_filesystem_size_bytes"),
                ("mountpoint", mount),
            ],
            vec![1e11; STEPS],
        );
        push(
            out,
            &[
                ("__name__", "node_filesystem_files_free"),
                ("mountpoint", mount),
            ],
            walk(rng, 6e6, 0.0, 7e6, 200.0, 1.0),
        );
    }
    for dev in ["eth0", "lo", "docker0"] {
        for m in [
            "node_network_receive_bytes_total",
            "node_network_transmit_bytes_total",
        ] {
            push(
                out,
                &[("__name__", m), ("device", dev)],
                counter(rng, 2e6, 1.0),
            );
        }
        for m in [
            "node_network_receive_packets_total",
            "node_network_transmit_packets_total",
        ] {
            push(
                out,
                &[("__name__", m), ("device", dev)],
                counter(rng, 1500.0, 1.0),
            );
        }
    }
    for m in ["node_load1", "node_load5", "node_load15"] {
        push(out, &[("__name__", m)], walk(rng, 0.8, 0.0, 4.0, 0.2, 0.01));
    }
    push(
        out,
        &[("__name__", "process_resident_memory_bytes")],
        walk(rng, 3e7, 1e7, 6e7, 1e6, 4096.0),
    );
    push(
        out,
        &[("__name__", "process_open_fds")],
        walk(rng, 40.0, 10.0, 80.0, 3.0, 1.0),
    );
    push(
        out,
        &[("__name__", "process_cpu_seconds_total")],
        counter(rng, 0.05, 0.01),
    );
}

fn statsd(rng: &mut Rng, out: &mut Vec<GenSeries>) {
    for svc in 0..10 {
        let svc = format!("svc{svc}");
        for outcome in ["ok", "error"] {
            let per = if outcome == "ok" { 50.0 } else { 1.0 };
            push(
                out,
                &[
                    ("__name__", "jobs_done_total"),
                    ("service", &svc),
                    ("outcome", outcome),
                ],
                counter(rng, per, 1.0),
            );
        }
        push(
            out,
            &[("__name__", "queue_depth"), ("service", &svc)],
            walk(rng, 20.0, 0.0, 500.0, 8.0, 1.0),
        );
        // A timer as a classic histogram: cumulative buckets, sum, count.
        let bounds = [
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let mut cum = vec![0.0; bounds.len() + 1];
        let mut sum = 0.0;
        let mut per_step = vec![Vec::with_capacity(STEPS); bounds.len() + 1];
        let mut sums = Vec::with_capacity(STEPS);
        for _ in 0..STEPS {
            let n = (rng.unit() * 40.0).floor() as usize;
            for _ in 0..n {
                let x = rng.unit().powi(3) * 3.0;
                sum += (x * 1000.0).round() / 1000.0;
                for (b, c) in bounds.iter().zip(cum.iter_mut()) {
                    if x <= *b {
                        *c += 1.0;
                    }
                }
                cum[bounds.len()] += 1.0;
            }
            for (k, c) in cum.iter().enumerate() {
                per_step[k].push(*c);
            }
            sums.push((sum * 1000.0).round() / 1000.0);
        }
        for (k, values) in per_step.into_iter().enumerate() {
            let le = bounds.get(k).map_or("+Inf".to_string(), |b| b.to_string());
            push(
                out,
                &[
                    ("__name__", "job_duration_seconds_bucket"),
                    ("service", &svc),
                    ("le", &le),
                ],
                values.clone(),
            );
            if k == bounds.len() {
                push(
                    out,
                    &[
                        ("__name__", "job_duration_seconds_count"),
                        ("service", &svc),
                    ],
                    values,
                );
            }
        }
        push(
            out,
            &[("__name__", "job_duration_seconds_sum"), ("service", &svc)],
            sums,
        );
    }
}

fn workload() -> Workload {
    let mut rng = Rng::new(42);
    let mut series = Vec::new();
    host(&mut rng, &mut series);
    statsd(&mut rng, &mut series);
    // Aligned to a 2 h boundary so both stores cut the same 12 blocks.
    let start_ms = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    Workload {
        start_ms,
        step_ms: STEP_MS,
        series,
    }
}

/// (bytes of the whole directory, bytes of the block files, samples in blocks).
fn tallyho_bytes(w: &Workload) -> (u64, u64, u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("history");
    let opts = HistoryOptions {
        storage_path: Some(path.clone()),
        retention: Duration::from_secs(48 * 3600),
        max_bytes: 1 << 34,
        ..HistoryOptions::default()
    };
    let history = History::open(opts).expect("opens");
    for i in 0..w.steps() {
        let (t, samples) = w.at(i);
        history.append_samples(t, &samples).expect("appends");
    }
    history.wait_for_blocks();
    let st = history.stats();
    history.close().expect("closes");
    (
        dir_bytes(&path),
        dir_bytes(&path.join("blocks")),
        st.block_samples,
    )
}

fn prometheus_bytes(w: &Workload) -> u64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("samples.om");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input).expect("creates input"));
    let mut line = String::new();
    for i in 0..w.steps() {
        let t = w.start_ms + i as i64 * w.step_ms;
        for s in &w.series {
            line.clear();
            line.push_str(s.labels.name());
            // OpenMetrics allows no trailing comma and no empty braces.
            let mut sep = '{';
            for (k, v) in s.labels.iter().filter(|(k, _)| *k != "__name__") {
                let _ = write!(line, "{sep}{k}=\"{v}\"");
                sep = ',';
            }
            if sep == ',' {
                line.push('}');
            }
            let _ = writeln!(line, " {} {}.{:03}", s.values[i], t / 1000, t % 1000);
            f.write_all(line.as_bytes()).expect("writes input");
        }
    }
    f.write_all(b"# EOF\n").expect("writes input");
    drop(f);
    let out = dir.path().join("tsdb");
    let status = Command::new(promtool_bin())
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(&out)
        .output()
        .expect("promtool runs (apt-get install prometheus)");
    assert!(
        status.status.success(),
        "promtool failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    dir_bytes(&out)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let w = workload();
    let samples = w.samples() as f64;
    let (tallyho_all, tallyho_blocks, block_samples) = tallyho_bytes(&w);
    let prometheus = prometheus_bytes(&w);
    println!(
        "history_disk: {} series × {} steps = {} samples (24 h at 15 s)",
        w.series.len(),
        w.steps(),
        w.samples()
    );
    println!("| store | bytes on disk | bytes/sample |");
    println!("|---|---:|---:|");
    println!(
        "| tallyho (blocks + WAL) | {tallyho_all} | {:.3} |",
        tallyho_all as f64 / samples
    );
    println!(
        "| tallyho (block files only, {block_samples} samples in them) | {tallyho_blocks} | {:.3} |",
        tallyho_blocks as f64 / block_samples.max(1) as f64
    );
    println!(
        "| Prometheus 2.42 TSDB (promtool blocks) | {prometheus} | {:.3} |",
        prometheus as f64 / samples
    );
}
