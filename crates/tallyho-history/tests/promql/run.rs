//! Runs every case at every evaluation on Prometheus once and on each tallyho storage, and
//! keeps the verdicts.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use tallyho_query::{Engine, Storage, Value};

use super::compare::{self, Verdict};
use super::corpus::Case;
use super::dataset::MIN;
use super::server::{secs, Prometheus};
use super::{Failure, Outcome};

/// One way of evaluating a query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Eval {
    /// An instant query at this time (ms).
    Instant(i64),
    /// A range query.
    Range {
        /// First step, ms.
        start: i64,
        /// Last step, ms.
        end: i64,
        /// Step, ms.
        step: i64,
    },
}

impl std::fmt::Display for Eval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Eval::Instant(t) => write!(f, "instant at {}", secs(*t)),
            Eval::Range { start, end, step } => {
                write!(
                    f,
                    "range {}..{} step {}s",
                    secs(*start),
                    secs(*end),
                    *step as f64 / 1000.0
                )
            }
        }
    }
}

/// The evaluations every query gets: instants before, at and after the end of the series
/// that stop at base + 100 min, at an odd time, at the last scrape, after it, and exactly
/// one lookback (5 min) after it (Prometheus 2.42 includes both ends); two range queries,
/// one with an odd step.
pub fn plan(base: i64) -> Vec<Eval> {
    let mut evals: Vec<Eval> = [
        50 * MIN,
        100 * MIN,
        100 * MIN + 7_000,
        122 * MIN + 30_500,
        170 * MIN,
        173 * MIN,
        175 * MIN,
    ]
    .into_iter()
    .map(|d| Eval::Instant(base + d))
    .collect();
    for step in [60_000, 37_000] {
        evals.push(Eval::Range {
            start: base + 40 * MIN,
            end: base + 150 * MIN,
            step,
        });
    }
    evals
}

/// Prometheus' answer to `query` at `eval`.
pub fn on_prometheus(prom: &Prometheus, query: &str, eval: Eval) -> Outcome {
    match eval {
        Eval::Instant(t) => prom.instant(query, t),
        Eval::Range { start, end, step } => prom.range(query, start, end, step),
    }
}

/// tallyho's answer to `query` at `eval`; a panic is an answer too (a failing one).
pub fn on_tallyho(engine: &Engine, storage: &dyn Storage, query: &str, eval: Eval) -> Outcome {
    let res = catch_unwind(AssertUnwindSafe(|| match eval {
        Eval::Instant(t) => engine.instant(storage, query, t).map_err(Failure::from),
        Eval::Range { start, end, step } => engine
            .range(storage, query, start, end, step)
            .map(Value::Matrix)
            .map_err(Failure::from),
    }));
    res.unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Err(Failure {
            error_type: "panic".into(),
            message: format!("tallyho panicked: {msg}"),
            unsupported: false,
        })
    })
}

/// The verdict on one case at one evaluation.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Index into the cases.
    pub case: usize,
    /// The evaluation.
    pub eval: Eval,
    /// The verdict.
    pub verdict: Verdict,
}

/// What Prometheus answered, kept so several storages compare against one run.
pub struct Expected {
    /// One outcome per case and evaluation, case-major.
    pub outcomes: Vec<Outcome>,
    /// Cases whose `!` marker disagrees with Prometheus (a corpus bug).
    pub corpus_errors: Vec<String>,
    /// Cases Prometheus answers with nothing at every evaluation (weak queries).
    pub empty: Vec<usize>,
    /// Time spent in Prometheus (HTTP included).
    pub elapsed: Duration,
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Vector(v) => v.is_empty(),
        Value::Matrix(m) => m.iter().all(|s| s.samples.is_empty()),
        _ => false,
    }
}

/// Runs every case on Prometheus.
pub fn expected(prom: &Prometheus, cases: &[Case], evals: &[Eval]) -> Expected {
    let started = Instant::now();
    let mut outcomes = Vec::with_capacity(cases.len() * evals.len());
    let mut corpus_errors = Vec::new();
    let mut empty = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let mine: Vec<Outcome> = evals
            .iter()
            .map(|e| on_prometheus(prom, &case.query, *e))
            .collect();
        let instant_err = mine
            .iter()
            .zip(evals)
            .find(|(_, e)| matches!(e, Eval::Instant(_)));
        match instant_err {
            Some((Ok(_), _)) if case.must_fail => corpus_errors.push(format!(
                "{}: prometheus accepts it but it is marked `!`",
                case.query
            )),
            Some((Err(f), _)) if !case.must_fail => corpus_errors.push(format!(
                "{}: prometheus refuses it ({}: {}) but it is not marked `!`",
                case.query, f.error_type, f.message
            )),
            _ => {}
        }
        if !case.must_fail && mine.iter().all(|o| o.as_ref().map_or(true, is_empty)) {
            empty.push(i);
        }
        outcomes.extend(mine);
    }
    Expected {
        outcomes,
        corpus_errors,
        empty,
        elapsed: started.elapsed(),
    }
}

/// Runs every case on tallyho over `storage` and compares with Prometheus' answers.
pub fn check(
    storage: &dyn Storage,
    cases: &[Case],
    evals: &[Eval],
    expected: &Expected,
) -> (Vec<Checked>, Duration) {
    let engine = Engine::default();
    let started = Instant::now();
    let mut out = Vec::with_capacity(expected.outcomes.len());
    for (i, case) in cases.iter().enumerate() {
        for (j, eval) in evals.iter().enumerate() {
            let ours = on_tallyho(&engine, storage, &case.query, *eval);
            let ordered = matches!(eval, Eval::Instant(_)) && compare::ordered(&case.query);
            let verdict =
                compare::outcomes(&expected.outcomes[i * evals.len() + j], &ours, ordered);
            out.push(Checked {
                case: i,
                eval: *eval,
                verdict,
            });
        }
    }
    (out, started.elapsed())
}
