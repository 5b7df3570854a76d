//! The dataset both sides are fed: deterministic (seeded), about 300 series scraped every
//! 15 s over 2 h 50 min, with counters (and restarts), gauges (negative, zero, huge, tiny,
//! NaN, ±Inf), classic histograms, series that start late or end early (with the staleness
//! marker a scrape writes), odd label values, and an info metric for joins.
//!
//! Only the base time depends on the clock (now − 3 h, rounded down to the minute) so that
//! Prometheus' head accepts the samples.

use std::time::{SystemTime, UNIX_EPOCH};

use tallyho_query::{Labels, RangeSeries, Sample, STALE_NAN};

mod families;
use families::{churn, counters, gauges, histograms, joins, specials};

/// The scrape interval.
pub const STEP_MS: i64 = 15_000;
/// Number of scrape intervals; the last sample is at `base + STEPS * STEP_MS` (2 h 50 min).
pub const STEPS: usize = 680;
/// Minutes, in ms.
pub const MIN: i64 = 60_000;

/// Where a series is scraped: a target label set and a jitter key shared by its series.
#[derive(Clone, Copy)]
struct Target {
    job: &'static str,
    instance: &'static str,
    jitter: bool,
}

const TARGETS: [Target; 6] = [
    Target {
        job: "api",
        instance: "h1:9100",
        jitter: false,
    },
    Target {
        job: "api",
        instance: "h2:9100",
        jitter: true,
    },
    Target {
        job: "api",
        instance: "h3:9100",
        jitter: false,
    },
    Target {
        job: "db",
        instance: "h1:9100",
        jitter: true,
    },
    Target {
        job: "db",
        instance: "h2:9100",
        jitter: false,
    },
    Target {
        job: "db",
        instance: "h4:9100",
        jitter: false,
    },
];

/// A small deterministic generator (splitmix64).
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from `key`.
    pub fn new(key: &str) -> Rng {
        // FNV-1a of the key, so every series has its own stream.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The generated series and the time they start at.
pub struct Dataset {
    /// Timestamp of the first scrape, ms.
    pub base: i64,
    /// Every series with every sample (staleness markers included), in time order.
    pub series: Vec<RangeSeries>,
}

impl Dataset {
    /// The dataset with `base` = now − 3 h, rounded down to the minute.
    pub fn generate() -> Dataset {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let base = (now - 180 * MIN) / MIN * MIN;
        Dataset::at(base)
    }

    /// The dataset starting at `base` (ms).
    pub fn at(base: i64) -> Dataset {
        let mut b = Builder {
            base,
            series: Vec::new(),
        };
        counters(&mut b);
        gauges(&mut b);
        specials(&mut b);
        histograms(&mut b);
        churn(&mut b);
        joins(&mut b);
        Dataset {
            base,
            series: b.series,
        }
    }

    /// Number of samples that are not staleness markers.
    pub fn sample_count(&self) -> usize {
        self.series
            .iter()
            .map(|s| {
                s.samples
                    .iter()
                    .filter(|p| p.v.to_bits() != STALE_NAN)
                    .count()
            })
            .sum()
    }

    /// The last scheduled scrape (jittered samples may lie up to 400 ms either side).
    pub fn end(&self) -> i64 {
        self.base + STEPS as i64 * STEP_MS
    }

    /// The timestamp of the newest sample.
    pub fn newest(&self) -> i64 {
        self.series
            .iter()
            .filter_map(|s| s.samples.last())
            .map(|p| p.t)
            .max()
            .unwrap_or(self.base)
    }
}

struct Builder {
    base: i64,
    series: Vec<RangeSeries>,
}

impl Builder {
    /// Adds a series from one optional value per scrape. With `stale`, the first missing
    /// scrape after a present one gets a staleness marker, as a failed or vanished scrape
    /// would write.
    fn push(
        &mut self,
        labels: &[(&str, &str)],
        t: Option<Target>,
        values: Vec<Option<f64>>,
        stale: bool,
    ) {
        let labels = Labels::new(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut jit = Rng::new(&format!("jitter {}", t.map_or("", |t| t.instance)));
        let mut samples = Vec::new();
        let mut was_present = false;
        for (i, v) in values.into_iter().enumerate() {
            // Every series of a target shares its jitter, as one scrape stamps them all.
            let j = if t.is_some_and(|t| t.jitter) {
                jit.below(801) as i64 - 400
            } else {
                0
            };
            let ts = self.base + i as i64 * STEP_MS + if i == 0 { j.abs() } else { j };
            match v {
                // No -0.0: remote write's protobuf (prost) leaves a double equal to 0.0 out,
                // so Prometheus would receive +0.0 and the two sides would hold different data.
                Some(v) => samples.push(Sample {
                    t: ts,
                    v: if v == 0.0 { 0.0 } else { v },
                }),
                None if stale && was_present => samples.push(Sample {
                    t: ts,
                    v: f64::from_bits(STALE_NAN),
                }),
                None => {}
            }
            was_present = v.is_some();
        }
        self.series.push(RangeSeries { labels, samples });
    }
}
