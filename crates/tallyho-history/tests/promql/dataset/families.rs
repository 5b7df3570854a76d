//! The metric families of the dataset: counters, gauges, special values, histograms,
//! series that come and go, and an info metric.

use super::{Builder, Rng, Target, STEPS, TARGETS};

/// Values for every scrape from `f(i)`.
fn every(f: impl FnMut(usize) -> f64) -> Vec<Option<f64>> {
    (0..=STEPS).map(f).map(Some).collect()
}

/// A counter growing by about `rate` per scrape, restarting (to a small value) at `resets`.
fn counter(rng: &mut Rng, rate: f64, resets: &[usize], integer: bool) -> Vec<Option<f64>> {
    let mut v = (rng.unit() * 100.0).floor();
    every(|i| {
        if resets.contains(&i) {
            v = (rng.unit() * 3.0).floor();
        } else {
            let d = rng.unit() * 2.0 * rate;
            v += if integer { d.round() } else { d };
        }
        v
    })
}

pub(super) fn counters(b: &mut Builder) {
    for t in TARGETS {
        for method in ["GET", "POST", "PUT"] {
            for code in ["200", "500"] {
                let key = format!("req {} {} {method} {code}", t.job, t.instance);
                let mut rng = Rng::new(&key);
                let rate = if code == "200" { 20.0 } else { 0.7 };
                // api on h2 restarts twice; db on h1 once.
                let resets: &[usize] = match (t.job, t.instance) {
                    ("api", "h2:9100") => &[280, 500],
                    ("db", "h1:9100") => &[333],
                    _ => &[],
                };
                let values = counter(&mut rng, rate, resets, true);
                let labels = [
                    ("__name__", "dt_http_requests_total"),
                    ("job", t.job),
                    ("instance", t.instance),
                    ("method", method),
                    ("code", code),
                ];
                b.push(&labels, Some(t), values, false);
            }
        }
        for mode in ["user", "system", "idle"] {
            let mut rng = Rng::new(&format!("cpu {} {} {mode}", t.job, t.instance));
            let values = counter(&mut rng, 3.7, &[], false);
            let labels = [
                ("__name__", "dt_cpu_seconds_total"),
                ("job", t.job),
                ("instance", t.instance),
                ("mode", mode),
            ];
            b.push(&labels, Some(t), values, false);
        }
        // Sparse: mostly flat, a step now and then (changes(), resets()).
        let mut rng = Rng::new(&format!("errors {} {}", t.job, t.instance));
        let mut v = 0.0;
        let values = every(|_| {
            if rng.below(23) == 0 {
                v += 1.0 + rng.below(3) as f64;
            }
            v
        });
        let labels = [
            ("__name__", "dt_errors_total"),
            ("job", t.job),
            ("instance", t.instance),
        ];
        b.push(&labels, Some(t), values, false);
        for device in ["eth0", "lo"] {
            for direction in ["rx", "tx"] {
                let mut rng = Rng::new(&format!(
                    "net {} {} {device} {direction}",
                    t.job, t.instance
                ));
                let values = counter(&mut rng, 1.0e6, &[], true);
                let labels = [
                    ("__name__", "dt_net_bytes_total"),
                    ("job", t.job),
                    ("instance", t.instance),
                    ("device", device),
                    ("direction", direction),
                ];
                b.push(&labels, Some(t), values, false);
            }
        }
    }
}

pub(super) fn gauges(b: &mut Builder) {
    for t in TARGETS {
        for (kind, scale) in [("used", 6.0e9), ("free", 2.0e9), ("cached", 1.0e9)] {
            let mut rng = Rng::new(&format!("mem {} {} {kind}", t.job, t.instance));
            let mut v = scale;
            let values = every(|_| {
                v = (v + (rng.unit() - 0.5) * scale * 0.02).max(0.0).round();
                v
            });
            let labels = [
                ("__name__", "dt_memory_bytes"),
                ("job", t.job),
                ("instance", t.instance),
                ("type", kind),
            ];
            b.push(&labels, Some(t), values, false);
        }
        for (mount, level) in [("/", 0.5), ("/var", 0.1), ("/home", 0.9)] {
            let mut rng = Rng::new(&format!("fs {} {} {mount}", t.job, t.instance));
            let values = every(|i| level + 0.05 * ((i as f64 / 30.0).cos() + rng.unit() * 0.1));
            let labels = [
                ("__name__", "dt_fs_free_ratio"),
                ("job", t.job),
                ("instance", t.instance),
                ("mount", mount),
            ];
            b.push(&labels, Some(t), values, false);
        }
        let mut rng = Rng::new(&format!("threads {} {}", t.job, t.instance));
        let threads = every(|_| 40.0 + rng.below(20) as f64);
        b.push(
            &[
                ("__name__", "dt_threads"),
                ("job", t.job),
                ("instance", t.instance),
            ],
            Some(t),
            threads,
            false,
        );
        let up = every(|i| {
            if t.instance == "h4:9100" && (200..260).contains(&i) {
                0.0
            } else {
                1.0
            }
        });
        b.push(
            &[
                ("__name__", "dt_up"),
                ("job", t.job),
                ("instance", t.instance),
            ],
            Some(t),
            up,
            false,
        );
    }
    for t in &TARGETS[..3] {
        for sensor in ["a", "b"] {
            let mut rng = Rng::new(&format!("temp {} {sensor}", t.instance));
            let phase = rng.unit() * std::f64::consts::TAU;
            let values = every(|i| {
                ((i as f64 / 40.0 + phase).sin() * 12.5 - 2.0 + rng.unit()).round() / 4.0
            });
            let labels = [
                ("__name__", "dt_temperature_celsius"),
                ("instance", t.instance),
                ("sensor", sensor),
            ];
            b.push(&labels, Some(*t), values, false);
        }
        b.push(
            &[("__name__", "dt_zero"), ("instance", t.instance)],
            Some(*t),
            every(|_| 0.0),
            false,
        );
        let mut rng = Rng::new(&format!("huge {}", t.instance));
        let huge = every(|_| 1.0e300 * (1.0 + rng.unit()));
        b.push(
            &[("__name__", "dt_huge"), ("instance", t.instance)],
            Some(*t),
            huge,
            false,
        );
        let tiny = every(|_| 1.0e-300 * (1.0 + rng.unit()));
        b.push(
            &[("__name__", "dt_tiny"), ("instance", t.instance)],
            Some(*t),
            tiny,
            false,
        );
        let mut q = 10.0;
        let queue = every(|_| {
            q = (q + rng.below(5) as f64 - 2.0).max(0.0);
            q
        });
        b.push(
            &[("__name__", "dt_queue_length"), ("instance", t.instance)],
            Some(*t),
            queue,
            false,
        );
        let ratio = every(|_| (rng.unit() * 1000.0).round() / 1000.0);
        b.push(
            &[("__name__", "dt_ratio"), ("instance", t.instance)],
            Some(*t),
            ratio,
            false,
        );
        let batch = every(|_| [8.0, 16.0, 32.0][rng.below(3) as usize]);
        b.push(
            &[("__name__", "dt_batch_size"), ("instance", t.instance)],
            Some(*t),
            batch,
            false,
        );
        for (device, slope) in [("sda", 1.5e5), ("sdb", -2.0e4)] {
            let start = 5.0e10 + rng.unit() * 1.0e9;
            let disk = every(|i| (start + slope * i as f64 + rng.unit() * 1.0e5).round());
            let labels = [
                ("__name__", "dt_disk_bytes"),
                ("instance", t.instance),
                ("device", device),
            ];
            b.push(&labels, Some(*t), disk, false);
        }
    }
    let base_s = b.base / 1000;
    for (job, every_steps) in [("backup", 40usize), ("report", 97usize)] {
        let values = every(|i| (base_s + (i / every_steps * every_steps) as i64 * 15) as f64);
        b.push(
            &[
                ("__name__", "dt_last_success_timestamp_seconds"),
                ("job", job),
            ],
            None,
            values,
            false,
        );
    }
    // Two series that differ only in `side`.
    for (side, k) in [("a", 1.0), ("b", 3.0)] {
        let values = every(|i| k * ((i % 17) as f64) - 4.0);
        b.push(
            &[("__name__", "dt_pair"), ("side", side), ("zone", "x")],
            None,
            values,
            false,
        );
    }
}

pub(super) fn specials(b: &mut Builder) {
    let nan = every(|i| if i % 50 == 7 { f64::NAN } else { i as f64 });
    b.push(
        &[("__name__", "dt_special"), ("kind", "nan")],
        None,
        nan,
        false,
    );
    let inf = every(|i| {
        if i % 60 < 3 {
            f64::INFINITY
        } else {
            (i % 11) as f64
        }
    });
    b.push(
        &[("__name__", "dt_special"), ("kind", "inf")],
        None,
        inf,
        false,
    );
    let ninf = every(|i| {
        if i % 45 == 1 {
            f64::NEG_INFINITY
        } else {
            -((i % 13) as f64)
        }
    });
    b.push(
        &[("__name__", "dt_special"), ("kind", "ninf")],
        None,
        ninf,
        false,
    );
    let mixed = every(|i| match i % 9 {
        0 => f64::NAN,
        3 => f64::INFINITY,
        6 => f64::NEG_INFINITY,
        r => r as f64 * 0.5,
    });
    b.push(
        &[("__name__", "dt_special"), ("kind", "mixed")],
        None,
        mixed,
        false,
    );
    for (i, path) in ["say \"hi\"", "back\\slash", "온도 ✓", "new\nline"]
        .into_iter()
        .enumerate()
    {
        let values = every(|s| (s as f64 + i as f64) % 7.0);
        b.push(
            &[("__name__", "dt_odd_labels"), ("path", path)],
            None,
            values,
            false,
        );
    }
}

const LE: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];

/// A classic histogram: `_bucket{le}`, `_sum`, `_count`, restarting at `reset`.
fn histogram(
    b: &mut Builder,
    name: &str,
    les: &[&str],
    scale: f64,
    t: Target,
    reset: Option<usize>,
) {
    let bounds: Vec<f64> = les
        .iter()
        .map(|l| l.parse::<f64>().unwrap_or(f64::INFINITY))
        .collect();
    let mut rng = Rng::new(&format!("hist {name} {} {}", t.job, t.instance));
    let mut counts = vec![0.0; les.len()];
    let (mut sum, mut count) = (0.0, 0.0);
    let mut rows: Vec<(Vec<f64>, f64, f64)> = Vec::new();
    for i in 0..=STEPS {
        if reset == Some(i) {
            counts.iter_mut().for_each(|c| *c = 0.0);
            (sum, count) = (0.0, 0.0);
        }
        for _ in 0..rng.below(25) {
            // Log-uniform over four decades around `scale`.
            let x = scale * 10f64.powf(rng.unit() * 4.0 - 3.0);
            sum += x;
            count += 1.0;
            for (c, bound) in counts.iter_mut().zip(&bounds) {
                if x <= *bound {
                    *c += 1.0;
                }
            }
        }
        rows.push((counts.clone(), sum, count));
    }
    let bucket = format!("{name}_bucket");
    for (k, le) in les.iter().enumerate() {
        let values = rows.iter().map(|r| Some(r.0[k])).collect();
        let labels = [
            ("__name__", bucket.as_str()),
            ("job", t.job),
            ("instance", t.instance),
            ("le", le),
        ];
        b.push(&labels, Some(t), values, false);
    }
    let (sum_name, count_name) = (format!("{name}_sum"), format!("{name}_count"));
    let sums = rows.iter().map(|r| Some(r.1)).collect();
    b.push(
        &[
            ("__name__", &sum_name),
            ("job", t.job),
            ("instance", t.instance),
        ],
        Some(t),
        sums,
        false,
    );
    let counts = rows.iter().map(|r| Some(r.2)).collect();
    b.push(
        &[
            ("__name__", &count_name),
            ("job", t.job),
            ("instance", t.instance),
        ],
        Some(t),
        counts,
        false,
    );
}

pub(super) fn histograms(b: &mut Builder) {
    for (k, t) in [TARGETS[0], TARGETS[1], TARGETS[2], TARGETS[4], TARGETS[5]]
        .into_iter()
        .enumerate()
    {
        let reset = (k == 1).then_some(280);
        histogram(b, "dt_request_duration_seconds", &LE, 1.0, t, reset);
    }
    for t in &TARGETS[..3] {
        histogram(
            b,
            "dt_response_size_bytes",
            &["100", "1000", "10000", "+Inf"],
            3000.0,
            *t,
            None,
        );
    }
}

/// Series that come and go.
pub(super) fn churn(b: &mut Builder) {
    for t in &TARGETS[..3] {
        let mut rng = Rng::new(&format!("late {}", t.instance));
        let late = (0..=STEPS)
            .map(|i| (i >= 240).then(|| rng.below(100) as f64))
            .collect();
        b.push(
            &[("__name__", "dt_late"), ("instance", t.instance)],
            Some(*t),
            late,
            true,
        );
        let early = (0..=STEPS)
            .map(|i| (i < 400).then_some((i % 25) as f64))
            .collect();
        b.push(
            &[("__name__", "dt_early"), ("instance", t.instance)],
            Some(*t),
            early,
            true,
        );
    }
    for (k, t) in TARGETS[..2].iter().enumerate() {
        // Away for 20 minutes (marked stale) and back.
        let gap = 300 + k * 20..380 + k * 20;
        let values = (0..=STEPS)
            .map(|i| (!gap.contains(&i)).then_some(i as f64 * 0.25))
            .collect();
        b.push(
            &[("__name__", "dt_intermittent"), ("instance", t.instance)],
            Some(*t),
            values,
            true,
        );
        // Away for 10 minutes without a marker: only the lookback hides it.
        let hole = 150 + k * 7..190 + k * 7;
        let values = (0..=STEPS)
            .map(|i| (!hole.contains(&i)).then_some(100.0 - i as f64))
            .collect();
        b.push(
            &[("__name__", "dt_gap"), ("instance", t.instance)],
            Some(*t),
            values,
            false,
        );
    }
}

/// An info metric for `group_left` joins; one target changes version midway.
pub(super) fn joins(b: &mut Builder) {
    for t in TARGETS {
        if t.job == "api" && t.instance == "h1:9100" {
            let old = (0..=STEPS).map(|i| (i < 360).then_some(1.0)).collect();
            let labels = [
                ("__name__", "dt_build_info"),
                ("job", t.job),
                ("instance", t.instance),
                ("version", "1.0"),
            ];
            b.push(&labels, Some(t), old, true);
            let new = (0..=STEPS).map(|i| (i >= 360).then_some(1.0)).collect();
            let labels = [
                ("__name__", "dt_build_info"),
                ("job", t.job),
                ("instance", t.instance),
                ("version", "1.1"),
            ];
            b.push(&labels, Some(t), new, true);
        } else {
            let version = if t.job == "db" { "14.2" } else { "1.0" };
            let labels = [
                ("__name__", "dt_build_info"),
                ("job", t.job),
                ("instance", t.instance),
                ("version", version),
            ];
            b.push(&labels, Some(t), every(|_| 1.0), false);
        }
    }
}
