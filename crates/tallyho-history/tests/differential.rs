//! The differential test: the same samples go to tallyho and to a real Prometheus 2.42
//! (started here on 127.0.0.1, fed through remote write), the corpus in
//! `tests/promql/queries.promql` runs on both, and every result must match.
//!
//! Before comparing, the harness proves itself against Prometheus alone: Prometheus must
//! hold exactly the generated samples, and selectors must return what the dataset says
//! (lookback and staleness computed here from the raw samples). The report goes to stdout
//! and `target/differential-report.txt`.

mod promql;

use std::time::Instant;

use promql::compare::{self, Verdict};
use promql::corpus::{self, Case};
use promql::dataset::{Dataset, MIN, STEP_MS};
use promql::run::{self, Eval};
use promql::server::{secs, Prometheus};
use promql::storages;
use tallyho_query::{is_stale, InstantSample, Labels, RangeSeries, Storage, Value};

/// Instant vector selection as Prometheus 2.42 does it: the newest sample in `[t − 5m, t]`,
/// none when that sample is a staleness marker; stamped with `t`.
fn reference_instant(data: &Dataset, t: i64) -> Vec<InstantSample> {
    let mut out = Vec::new();
    for s in &data.series {
        let last = s
            .samples
            .iter()
            .rev()
            .find(|p| p.t <= t && p.t >= t - 5 * MIN);
        if let Some(p) = last.filter(|p| !is_stale(p.v)) {
            out.push(InstantSample {
                labels: s.labels.clone(),
                t,
                v: p.v,
            });
        }
    }
    out
}

/// Range selection as Prometheus 2.42 does it: samples in `[t − range, t]`, markers dropped.
fn reference_range(data: &Dataset, t: i64, range: i64) -> Vec<RangeSeries> {
    let mut out = Vec::new();
    for s in &data.series {
        let samples: Vec<_> = s
            .samples
            .iter()
            .copied()
            .filter(|p| p.t <= t && p.t >= t - range && !is_stale(p.v))
            .collect();
        if !samples.is_empty() {
            out.push(RangeSeries {
                labels: s.labels.clone(),
                samples,
            });
        }
    }
    out
}

fn must_match(what: &str, prom: &promql::Outcome, expected: &Value) {
    match prom {
        Ok(v) => {
            if let Err(d) = compare::values(v, expected, false) {
                panic!("harness check {what}: prometheus differs from the dataset: {d}");
            }
        }
        Err(e) => panic!(
            "harness check {what}: prometheus fails: {} {}",
            e.error_type, e.message
        ),
    }
}

/// Proves the feed and the comparison: Prometheus holds every generated sample, exactly,
/// and its selectors agree with the dataset; a perturbed answer is caught.
fn check_harness(prom: &Prometheus, data: &Dataset, evals: &[Eval]) {
    let end = data.newest();
    let all = prom.instant(r#"{__name__=~"dt_.+"}[3h]"#, end);
    let reference = reference_range(data, end, 180 * MIN);
    let count: usize = reference.iter().map(|s| s.samples.len()).sum();
    assert_eq!(
        count,
        data.sample_count(),
        "the reference range holds every sample"
    );
    must_match("every sample", &all, &Value::Matrix(reference));
    let t = data.base + 101 * MIN + 3_000;
    let window = prom.instant(r#"{__name__=~"dt_.+"}[5m]"#, t);
    must_match(
        "a 5m window",
        &window,
        &Value::Matrix(reference_range(data, t, 5 * MIN)),
    );

    for eval in evals {
        let Eval::Instant(t) = *eval else { continue };
        let reference = reference_instant(data, t);
        let got = prom.instant(r#"{__name__=~"dt_.+"}"#, t);
        must_match(
            &format!("selector at {}", secs(t)),
            &got,
            &Value::Vector(reference.clone()),
        );
        let sum: f64 = reference
            .iter()
            .filter(|s| s.labels.name() == "dt_memory_bytes")
            .map(|s| s.v)
            .sum();
        let got = prom.instant("sum(dt_memory_bytes)", t);
        let one = |v| {
            Value::Vector(vec![InstantSample {
                labels: Labels::default(),
                t,
                v,
            }])
        };
        must_match("sum(dt_memory_bytes)", &got, &one(sum));
        let early = reference
            .iter()
            .filter(|s| s.labels.name() == "dt_early")
            .count();
        let got = prom.instant("count(dt_early)", t);
        let expected = if early == 0 {
            Value::Vector(vec![])
        } else {
            one(early as f64)
        };
        must_match("count(dt_early)", &got, &expected);
    }

    // The comparison catches a changed value, a missing series and a changed timestamp.
    let Ok(Value::Vector(v)) = prom.instant("dt_memory_bytes", data.base + 50 * MIN) else {
        panic!("dt_memory_bytes is not a vector");
    };
    let mut changed = v.clone();
    changed[0].v *= 1.0 + 1e-6;
    assert!(compare::values(&Value::Vector(v.clone()), &Value::Vector(changed), false).is_err());
    let mut fewer = v.clone();
    fewer.pop();
    assert!(compare::values(&Value::Vector(v.clone()), &Value::Vector(fewer), false).is_err());
    let mut moved = v.clone();
    moved[0].t += 1;
    assert!(compare::values(&Value::Vector(v), &Value::Vector(moved), false).is_err());
}

/// A storage and what to call it in the report.
type Named = (&'static str, Box<dyn Storage>);

/// The storages tallyho is compared over: the plain in-memory fixture isolates engine bugs
/// from storage bugs; the history in memory, and on disk closed and reopened (sealed
/// blocks and the WAL), are the real thing. The guard keeps the directory.
fn storages(data: &Dataset) -> (Vec<Named>, promql::server::TempDir) {
    let (reopened, dir) = storages::reopened(&data.series);
    let list: Vec<Named> = vec![
        ("Vec<RangeSeries>", Box::new(data.series.clone())),
        (
            "History::in_memory",
            Box::new(storages::in_memory(&data.series)),
        ),
        ("History on disk, reopened", Box::new(reopened)),
    ];
    (list, dir)
}

/// Absolute times inside the data for `@ {{at}}`.
fn predefined(data: &Dataset) -> Vec<(&'static str, Vec<String>)> {
    let at = [30 * MIN, 95 * MIN + 7_000, 160 * MIN]
        .iter()
        .map(|d| secs(data.base + d))
        .collect();
    vec![("at", at)]
}

#[test]
fn differential_against_prometheus() {
    let data = Dataset::generate();
    let prom = Prometheus::start();
    let fed = Instant::now();
    prom.feed(&data.series, data.base, data.newest(), 20 * STEP_MS);
    let fed = fed.elapsed().as_secs_f64();
    let evals = run::plan(data.base);
    check_harness(&prom, &data, &evals);

    let cases: Vec<Case> =
        corpus::parse(corpus::CORPUS, &predefined(&data)).unwrap_or_else(|e| panic!("corpus: {e}"));
    let expected = run::expected(&prom, &cases, &evals);
    let description = format!(
        "dataset: {} series, {} samples, base {} (ms), fed in {fed:.1} s",
        data.series.len(),
        data.sample_count(),
        data.base
    );
    let mut report = promql::report::header(&cases, evals.len(), &expected, &description);
    let mut failed = Vec::new();
    let mut supported = 0;
    let fed = Instant::now();
    let (list, _dir) = storages(&data);
    report.push_str(&format!(
        "tallyho storages fed in {:.1} s\n",
        fed.elapsed().as_secs_f64()
    ));
    for (name, storage) in list {
        let (checked, took) = run::check(storage.as_ref(), &cases, &evals, &expected);
        report.push_str(&promql::report::section(
            name,
            &cases,
            &checked,
            took.as_secs_f64(),
        ));
        let t = promql::report::totals(&checked);
        supported += t.passed + t.failed;
        if t.failed > 0 {
            failed.push(format!(
                "{name}: {} of {} supported evaluations differ",
                t.failed,
                t.passed + t.failed
            ));
        }
        if let Some(c) = checked
            .iter()
            .find(|c| matches!(c.verdict, Verdict::Fail(_)))
        {
            eprintln!(
                "first mismatch over {name}: {} ({}): {:?}",
                cases[c.case].query, c.eval, c.verdict
            );
        }
    }
    let path = promql::report::write(&report);
    println!("{report}\nreport written to {}", path.display());
    drop(prom);
    assert!(
        expected.corpus_errors.is_empty(),
        "the corpus disagrees with Prometheus: {:#?}",
        expected.corpus_errors
    );
    assert!(
        failed.is_empty(),
        "tallyho differs from Prometheus ({}): {failed:?}",
        path.display()
    );
    assert!(
        supported > 0,
        "tallyho evaluated none of the corpus (all unsupported): nothing was compared"
    );
}

#[test]
fn the_comparison_is_strict_where_it_must_be() {
    assert!(compare::close(f64::NAN, f64::NAN));
    assert!(!compare::close(f64::NAN, 0.0));
    assert!(compare::close(f64::INFINITY, f64::INFINITY));
    assert!(!compare::close(f64::INFINITY, f64::NEG_INFINITY));
    assert!(!compare::close(f64::INFINITY, f64::MAX));
    assert!(compare::close(1.0, 1.0 + 1e-12));
    assert!(!compare::close(1.0, 1.0 + 1e-8));
    assert!(compare::close(0.0, 1e-13));
    assert!(!compare::close(1e-10, 2e-10));
    let a = |n: &str, v| InstantSample {
        labels: Labels::new([("__name__".into(), n.into())]),
        t: 5,
        v,
    };
    let p = Value::Vector(vec![a("x", 1.0), a("y", 2.0)]);
    let swapped = Value::Vector(vec![a("y", 2.0), a("x", 1.0)]);
    assert!(compare::values(&p, &swapped, false).is_ok());
    assert!(compare::values(&p, &swapped, true).is_err());
    assert!(compare::values(&p, &Value::Matrix(vec![]), false).is_err());
    assert!(compare::ordered("sort_desc(x)") && !compare::ordered("sum(sort(x))"));
    let err = |kind: &str| {
        Err(promql::Failure {
            error_type: kind.into(),
            message: String::new(),
            unsupported: false,
        })
    };
    assert_eq!(
        compare::outcomes(&err("bad_data"), &err("bad_data"), false),
        Verdict::Pass
    );
    assert!(matches!(
        compare::outcomes(&err("bad_data"), &err("execution"), false),
        Verdict::Fail(_)
    ));
    assert!(matches!(
        compare::outcomes(&Ok(p.clone()), &err("bad_data"), false),
        Verdict::Fail(_)
    ));
}

#[test]
fn the_dataset_is_deterministic_and_as_described() {
    let a = Dataset::at(1_700_000_000_000);
    let b = Dataset::at(1_700_000_000_000);
    // Bit for bit (NaN samples are not `==` to themselves).
    let bits = |d: &Dataset| -> Vec<(Labels, Vec<(i64, u64)>)> {
        d.series
            .iter()
            .map(|s| {
                (
                    s.labels.clone(),
                    s.samples.iter().map(|p| (p.t, p.v.to_bits())).collect(),
                )
            })
            .collect()
    };
    assert!(bits(&a) == bits(&b), "two runs generate the same samples");
    assert!(
        (250..=350).contains(&a.series.len()),
        "{} series",
        a.series.len()
    );
    let mut names: Vec<&Labels> = a.series.iter().map(|s| &s.labels).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), a.series.len(), "label sets are unique");
    for s in &a.series {
        assert!(
            s.samples.windows(2).all(|w| w[0].t < w[1].t),
            "{} in time order",
            s.labels
        );
        assert!(
            s.samples
                .iter()
                .all(|p| p.t >= a.base && p.t <= a.end() + 400),
            "{} inside the span",
            s.labels
        );
    }
    let stale = a
        .series
        .iter()
        .flat_map(|s| &s.samples)
        .filter(|p| is_stale(p.v))
        .count();
    // dt_early ×3, dt_intermittent ×2, dt_build_info's old version ×1.
    assert_eq!(stale, 6);
}

#[test]
fn snapshots_appended_and_remote_written_give_the_same_series() {
    let prom = Prometheus::start();
    promql::snapshot::check(&prom);
}
