//! Workloads shared by the tests: snapshots shaped like a host agent plus StatsD traffic.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tallyho::{FamilySnapshot, HistogramData, MetricKind, Series, SeriesValue, Snapshot};

/// A reproducible pseudo-random sequence (xorshift).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn at_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms as u64)
}

/// State of a workload that evolves between snapshots: gauges wander, counters grow,
/// histograms accumulate observations.
pub struct Workload {
    rng: Rng,
    gauges: Vec<f64>,
    counters: Vec<u64>,
    hist: Vec<(Vec<u64>, f64, u64)>,
    n_gauge: usize,
    n_counter: usize,
    n_hist: usize,
    /// Every series changes every interval, with random fractions (a worst case).
    hot: bool,
}

pub const BOUNDS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

impl Workload {
    /// `gauges` + `counters` series plus `hists` histograms (13 series each).
    pub fn new(gauges: usize, counters: usize, hists: usize) -> Self {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let g = (0..gauges).map(|_| (rng.unit() * 1000.0).round()).collect();
        Workload {
            rng,
            gauges: g,
            counters: vec![0; counters],
            hist: vec![(vec![0; BOUNDS.len() + 1], 0.0, 0); hists],
            n_gauge: gauges,
            n_counter: counters,
            n_hist: hists,
            hot: false,
        }
    }

    /// As [`new`](Self::new), but every series changes every interval: fractional gauges,
    /// busy counters and histograms (the worst case for XOR compression).
    pub fn hot(gauges: usize, counters: usize, hists: usize) -> Self {
        Workload {
            hot: true,
            ..Workload::new(gauges, counters, hists)
        }
    }

    /// Series this workload writes per snapshot.
    pub fn series(&self) -> usize {
        self.n_gauge + self.n_counter + self.n_hist * (BOUNDS.len() + 3)
    }

    /// Advances one interval and returns the snapshot at `t_ms`.
    pub fn step(&mut self, t_ms: i64) -> Snapshot {
        let mut fams = Vec::new();
        // Host-like gauges. Realistic mix: half are capacities that do not move (memory
        // total, filesystem sizes, CPU count), 3/10 are byte counts that move in pages now and
        // then (memory used, cache), 1/5 are fractions that wander every time (load,
        // temperatures, utilization). `hot`: all of them wander as fractions.
        let hot = self.hot;
        let mut g = FamilySnapshot::new("host_gauge", "wandering gauges", MetricKind::Gauge);
        for (i, v) in self.gauges.iter_mut().enumerate() {
            let r = self.rng.unit();
            match i % 10 {
                _ if hot => *v = ((*v + (r - 0.5)) * 100.0).round() / 100.0,
                0..=4 => {}
                5..=7 => {
                    if r < 0.3 {
                        *v = (*v + ((r * 90.0) as i64 - 13) as f64 * 4096.0).max(0.0);
                    }
                }
                _ => *v = ((*v + (r - 0.5)) * 100.0).round() / 100.0,
            }
            g = g.with_point(&[("host", "h1"), ("idx", &i.to_string())], *v);
        }
        fams.push(g);
        // StatsD counters: a quarter idle, the rest grow by small counts (`hot`: all busy).
        let mut c = FamilySnapshot::new("statsd_requests", "growing counters", MetricKind::Counter);
        for (i, v) in self.counters.iter_mut().enumerate() {
            let add = if i % 4 == 0 && !hot {
                0
            } else {
                self.rng.next() % if hot { 50 } else { 8 }
            };
            *v += add;
            c = c.with_point(&[("route", &format!("/r{i}")), ("code", "200")], *v);
        }
        fams.push(c);
        let per_interval = if hot { 20 } else { 4 };
        let mut h =
            FamilySnapshot::new("statsd_latency_seconds", "latencies", MetricKind::Histogram);
        for (i, (counts, sum, count)) in self.hist.iter_mut().enumerate() {
            let n = self.rng.next() % per_interval;
            for _ in 0..n {
                let x = self.rng.unit() * self.rng.unit() * 3.0;
                let b = BOUNDS.iter().position(|&b| x <= b).unwrap_or(BOUNDS.len());
                counts[b] += 1;
                *sum += x;
                *count += 1;
            }
            h.series.push(Series {
                labels: vec![("op".into(), format!("op{i}"))],
                start: UNIX_EPOCH,
                value: SeriesValue::Histogram(HistogramData {
                    bounds: BOUNDS.to_vec(),
                    counts: counts.clone(),
                    sum: *sum,
                    count: *count,
                    exponential: None,
                }),
            });
        }
        fams.push(h);
        Snapshot {
            time: at_ms(t_ms),
            families: fams,
        }
    }
}
