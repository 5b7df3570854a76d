//! Differential test: the range functions here against Prometheus 2.42's own engine, run
//! through `promtool test rules` on the same samples (Debian's `prometheus` package puts
//! it in /usr/bin). Every case asks promtool for an impossible value, so promtool prints
//! what the real engine got; we parse that and compare it with ours within 1e-9 relative.
//! The test fails loudly when promtool is missing.

use std::collections::HashMap;
use std::process::Command;

use super::range::{self, OverTime};
use crate::types::Sample;

/// Seconds between samples; gaps (`_`) make the spacing irregular.
const INTERVAL_S: i64 = 7;
const POINTS: usize = 48;
const SENTINEL: &str = "-7.77e-77";

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Series of different shapes: counters with resets, gauges, large values, constants.
fn series(rng: &mut Rng) -> Vec<Vec<Option<f64>>> {
    let mut all = Vec::new();
    for kind in 0..6 {
        let mut vals = Vec::with_capacity(POINTS);
        let mut counter = rng.unit() * 50.0;
        for _ in 0..POINTS {
            let v = match kind {
                0 | 1 => {
                    counter += (rng.unit() * 20.0).floor();
                    if rng.unit() < 0.08 {
                        counter = (rng.unit() * 5.0).floor();
                    }
                    counter
                }
                2 => (rng.unit() * 200.0 - 100.0) * 1.5,
                3 => 1e9 + rng.unit() * 1e3,
                4 => ((rng.unit() * 4.0).floor() - 2.0) * 0.25,
                _ => 42.0,
            };
            vals.push((rng.unit() >= 0.15).then_some(v));
        }
        all.push(vals);
    }
    all
}

/// Go's `model.Duration` text for whole seconds under an hour: `1m40s`, `2m`, `45s`.
fn go_duration(secs: i64) -> String {
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

type Fun = fn(&[Sample], i64, i64, i64) -> Option<f64>;

/// (PromQL with `X` for the selector, our computation from window, range start, end, eval).
fn functions() -> Vec<(&'static str, Fun)> {
    vec![
        ("rate(X)", |w, s, e, _| {
            range::extrapolated_rate(w, s, e, true, true)
        }),
        ("increase(X)", |w, s, e, _| {
            range::extrapolated_rate(w, s, e, true, false)
        }),
        ("delta(X)", |w, s, e, _| {
            range::extrapolated_rate(w, s, e, false, false)
        }),
        ("irate(X)", |w, _, _, _| range::instant_delta(w, true)),
        ("idelta(X)", |w, _, _, _| range::instant_delta(w, false)),
        ("deriv(X)", |w, _, _, _| range::deriv(w)),
        ("predict_linear(X, 30)", |w, _, _, t| {
            range::predict_linear(w, t, 30.0)
        }),
        ("holt_winters(X, 0.3, 0.6)", |w, _, _, _| {
            range::holt_winters(w, 0.3, 0.6)
        }),
        ("avg_over_time(X)", |w, _, _, _| {
            range::over_time(OverTime::Avg, w)
        }),
        ("min_over_time(X)", |w, _, _, _| {
            range::over_time(OverTime::Min, w)
        }),
        ("max_over_time(X)", |w, _, _, _| {
            range::over_time(OverTime::Max, w)
        }),
        ("sum_over_time(X)", |w, _, _, _| {
            range::over_time(OverTime::Sum, w)
        }),
        ("count_over_time(X)", |w, _, _, _| {
            range::over_time(OverTime::Count, w)
        }),
        ("stddev_over_time(X)", |w, _, _, _| {
            range::over_time(OverTime::Stddev, w)
        }),
        ("stdvar_over_time(X)", |w, _, _, _| {
            range::over_time(OverTime::Stdvar, w)
        }),
        ("quantile_over_time(0.3, X)", |w, _, _, _| {
            range::quantile_over_time(0.3, w)
        }),
        ("changes(X)", |w, _, _, _| range::changes(w)),
        ("resets(X)", |w, _, _, _| range::resets(w)),
    ]
}

struct Case {
    expr: String,
    time: String,
    ours: Option<f64>,
}

/// The promtool test file and our answers for every case.
fn build(all: &[Vec<Option<f64>>]) -> (String, Vec<Case>) {
    let mut yaml = String::from(
        "rule_files: []\nevaluation_interval: 1s\ntests:\n  - interval: 7s\n    input_series:\n",
    );
    for (k, vals) in all.iter().enumerate() {
        let text: Vec<String> = vals
            .iter()
            .map(|v| v.map_or("_".to_string(), |v| format!("{v:?}")))
            .collect();
        yaml += &format!(
            "      - series: 's{k}'\n        values: '{}'\n",
            text.join(" ")
        );
    }
    yaml += "    promql_expr_test:\n";
    let mut cases = Vec::new();
    for (k, vals) in all.iter().enumerate() {
        let samples: Vec<Sample> = vals
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                v.map(|v| Sample {
                    t: i as i64 * INTERVAL_S * 1000,
                    v,
                })
            })
            .collect();
        for range_s in [20i64, 60, 95] {
            for eval_s in [100i64, 163, 250, 281, 333] {
                let (start, end) = ((eval_s - range_s) * 1000, eval_s * 1000);
                let window: Vec<Sample> = samples
                    .iter()
                    .copied()
                    .filter(|s| s.t >= start && s.t <= end)
                    .collect();
                for (template, ours) in functions() {
                    let expr = template.replace('X', &format!("s{k}[{}]", go_duration(range_s)));
                    let time = go_duration(eval_s);
                    yaml += &format!(
                        "      - expr: {expr}\n        eval_time: {time}\n        \
                         exp_samples: [{{labels: '{{}}', value: {SENTINEL}}}]\n"
                    );
                    let ours = ours(&window, start, end, end);
                    cases.push(Case { expr, time, ours });
                }
            }
        }
    }
    (yaml, cases)
}

/// promtool's report: `expr: "..", time: ..,` then `got: {labels} value` or `got: nil`.
fn parse(report: &str) -> HashMap<(String, String), Option<f64>> {
    let mut got = HashMap::new();
    let mut key = None;
    for line in report.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("expr: \"") {
            if let Some((expr, time)) = rest.split_once("\", time: ") {
                key = Some((expr.to_string(), time.trim_end_matches(',').to_string()));
            }
        } else if let Some(rest) = line.strip_prefix("got: ") {
            let value = if rest == "nil" {
                None
            } else {
                let text = rest.rsplit(' ').next().unwrap_or("");
                Some(
                    text.parse::<f64>()
                        .unwrap_or_else(|_| panic!("promtool value {rest}")),
                )
            };
            if let Some(k) = key.take() {
                got.insert(k, value);
            }
        }
    }
    got
}

fn agree(ours: Option<f64>, theirs: Option<f64>) -> bool {
    match (ours, theirs) {
        (None, None) => true,
        (Some(a), Some(b)) if a.is_nan() || b.is_nan() => a.is_nan() && b.is_nan(),
        (Some(a), Some(b)) => a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()),
        _ => false,
    }
}

#[test]
fn range_functions_match_prometheus() {
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let all = series(&mut rng);
    let (yaml, cases) = build(&all);
    let dir = std::env::temp_dir().join(format!("tallyho-fn-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("functions.yml");
    std::fs::write(&file, yaml).expect("write promtool test file");
    let out = Command::new("promtool")
        .arg("test")
        .arg("rules")
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool (Debian package `prometheus`, /usr/bin/promtool) is needed: {e}")
        });
    let _ = std::fs::remove_dir_all(&dir);
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let got = parse(&report);
    assert!(!got.is_empty(), "promtool gave no results:\n{report}");
    let mut wrong = Vec::new();
    for c in &cases {
        let Some(theirs) = got.get(&(c.expr.clone(), c.time.clone())) else {
            panic!("no promtool result for {} at {}:\n{report}", c.expr, c.time);
        };
        if !agree(c.ours, *theirs) {
            wrong.push(format!(
                "{} at {}: ours {:?}, prometheus {theirs:?}",
                c.expr, c.time, c.ours
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}
