//! The report: totals, the pass ratio, failures grouped by corpus template (one template is
//! one construct), unsupported constructs grouped by message.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use super::compare::Verdict;
use super::corpus::Case;
use super::run::{Checked, Expected};

/// Counts of one storage's run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    /// Cases × evaluations.
    pub total: usize,
    /// Same answer.
    pub passed: usize,
    /// Different answer.
    pub failed: usize,
    /// tallyho said unsupported.
    pub unsupported: usize,
}

impl Totals {
    /// Passed over supported (passed + failed), in percent; 0 when nothing was supported.
    pub fn ratio(&self) -> f64 {
        let supported = self.passed + self.failed;
        if supported == 0 {
            0.0
        } else {
            100.0 * self.passed as f64 / supported as f64
        }
    }
}

/// Tallies verdicts.
pub fn totals(checked: &[Checked]) -> Totals {
    let mut t = Totals {
        total: checked.len(),
        ..Totals::default()
    };
    for c in checked {
        match c.verdict {
            Verdict::Pass => t.passed += 1,
            Verdict::Fail(_) => t.failed += 1,
            Verdict::Unsupported(_) => t.unsupported += 1,
        }
    }
    t
}

/// The report section of one storage.
pub fn section(name: &str, cases: &[Case], checked: &[Checked], secs: f64) -> String {
    let t = totals(checked);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "== tallyho over {name}: {} evaluations, {} passed, {} failed, {} unsupported; pass ratio {:.2}% of supported, {:.2}% of all; {secs:.1} s",
        t.total,
        t.passed,
        t.failed,
        t.unsupported,
        t.ratio(),
        100.0 * t.passed as f64 / t.total.max(1) as f64
    );
    // Failures by template: how many, and the first with its difference.
    let mut failures: BTreeMap<&str, (usize, &Checked)> = BTreeMap::new();
    let mut unsupported: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for c in checked {
        let case = &cases[c.case];
        match &c.verdict {
            Verdict::Fail(_) => failures.entry(&case.template).or_insert((0, c)).0 += 1,
            Verdict::Unsupported(m) => unsupported.entry(m).or_insert((0, &case.query)).0 += 1,
            Verdict::Pass => {}
        }
    }
    let _ = writeln!(out, "-- failing templates ({}):", failures.len());
    for (template, (n, c)) in &failures {
        let Verdict::Fail(diff) = &c.verdict else {
            continue;
        };
        let _ = writeln!(
            out,
            "[{n} failing] {template}\n    first: {}  ({})\n    {diff}",
            cases[c.case].query, c.eval
        );
    }
    let _ = writeln!(out, "-- unsupported ({} kinds):", unsupported.len());
    for (msg, (n, query)) in &unsupported {
        let _ = writeln!(out, "[{n}] {msg}  e.g. {query}");
    }
    out
}

/// The header: the corpus and Prometheus' side.
pub fn header(cases: &[Case], evals: usize, expected: &Expected, dataset: &str) -> String {
    let mut out = String::new();
    let templates = cases
        .iter()
        .map(|c| &c.template)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let _ = writeln!(
        out,
        "tallyho differential test against Prometheus 2.42\n{dataset}\ncorpus: {templates} templates, {} queries, {evals} evaluations each; prometheus took {:.1} s",
        cases.len(),
        expected.elapsed.as_secs_f64()
    );
    let _ = writeln!(out, "-- corpus errors ({}):", expected.corpus_errors.len());
    for e in &expected.corpus_errors {
        let _ = writeln!(out, "  {e}");
    }
    let _ = writeln!(
        out,
        "-- queries empty on prometheus at every evaluation ({}):",
        expected.empty.len()
    );
    for i in &expected.empty {
        let _ = writeln!(out, "  {}", cases[*i].query);
    }
    out
}

/// Writes the report next to the build output (`target/differential-report.txt`) and
/// returns where.
pub fn write(text: &str) -> PathBuf {
    // The test binary is target/<profile>/deps/differential-<hash>.
    let target = std::env::current_exe()
        .ok()
        .and_then(|p| p.ancestors().nth(3).map(|p| p.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("target"));
    let path = target.join("differential-report.txt");
    if let Err(e) = std::fs::write(&path, text) {
        eprintln!("cannot write {}: {e}", path.display());
    }
    path
}
