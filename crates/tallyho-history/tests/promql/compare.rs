//! Result against result: type, label sets (as sets, in order only where Prometheus defines
//! one), timestamps exactly, values within 1e-9 relative or 1e-12 absolute, NaN equal to
//! NaN, infinities exactly. Errors on both sides agree when their `errorType`s do.

use tallyho_query::{InstantSample, Labels, RangeSeries, Sample, Value};

use super::Outcome;

/// The verdict on one query at one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Same answer.
    Pass,
    /// Different answers: the first difference.
    Fail(String),
    /// tallyho reported the construct unsupported (its message).
    Unsupported(String),
}

/// Whether two values are the same number as far as this test cares.
pub fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    let d = (a - b).abs();
    d <= 1e-12 || d <= 1e-9 * a.abs().max(b.abs())
}

/// Whether Prometheus defines the order of this instant query's result.
pub fn ordered(query: &str) -> bool {
    let q = query.trim_start();
    q.starts_with("sort(") || q.starts_with("sort_desc(")
}

/// Prometheus' outcome against tallyho's.
pub fn outcomes(prom: &Outcome, ours: &Outcome, ordered: bool) -> Verdict {
    match (prom, ours) {
        (_, Err(e)) if e.unsupported => Verdict::Unsupported(e.message.clone()),
        (Ok(p), Ok(o)) => match values(p, o, ordered) {
            Ok(()) => Verdict::Pass,
            Err(d) => Verdict::Fail(d),
        },
        (Err(p), Err(o)) if p.error_type == o.error_type => Verdict::Pass,
        (Err(p), Err(o)) => Verdict::Fail(format!(
            "both fail, errorType differs: prometheus {} ({}), tallyho {} ({})",
            p.error_type, p.message, o.error_type, o.message
        )),
        (Err(p), Ok(o)) => Verdict::Fail(format!(
            "prometheus fails ({}: {}), tallyho answers a {} of {} elements",
            p.error_type,
            p.message,
            o.type_name(),
            len(o)
        )),
        (Ok(p), Err(o)) => Verdict::Fail(format!(
            "tallyho fails ({}: {}), prometheus answers a {} of {} elements",
            o.error_type,
            o.message,
            p.type_name(),
            len(p)
        )),
    }
}

fn len(v: &Value) -> usize {
    match v {
        Value::Vector(v) => v.len(),
        Value::Matrix(m) => m.len(),
        _ => 1,
    }
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v:?}")
    }
}

/// The first difference between two values, if any.
pub fn values(prom: &Value, ours: &Value, ordered: bool) -> Result<(), String> {
    match (prom, ours) {
        (Value::Scalar { t: pt, v: pv }, Value::Scalar { t: ot, v: ov }) => {
            if pt != ot {
                return Err(format!("scalar time: prometheus {pt}, tallyho {ot}"));
            }
            if !close(*pv, *ov) {
                return Err(format!(
                    "scalar: prometheus {}, tallyho {}",
                    num(*pv),
                    num(*ov)
                ));
            }
            Ok(())
        }
        (Value::String { t: pt, s: ps }, Value::String { t: ot, s: os }) => {
            if pt != ot || ps != os {
                return Err(format!(
                    "string: prometheus {ps:?}@{pt}, tallyho {os:?}@{ot}"
                ));
            }
            Ok(())
        }
        (Value::Vector(p), Value::Vector(o)) => vectors(p, o, ordered),
        (Value::Matrix(p), Value::Matrix(o)) => matrices(p, o),
        (p, o) => Err(format!(
            "result type: prometheus {}, tallyho {}",
            p.type_name(),
            o.type_name()
        )),
    }
}

/// Label sets in one list and not the other, as a short message.
fn set_diff<'a>(p: &[&'a Labels], o: &[&'a Labels]) -> Option<String> {
    let missing: Vec<_> = p.iter().filter(|l| !o.contains(l)).collect();
    let extra: Vec<_> = o.iter().filter(|l| !p.contains(l)).collect();
    if missing.is_empty() && extra.is_empty() {
        if p.len() != o.len() {
            return Some(format!(
                "series count: prometheus {}, tallyho {} (duplicate label sets)",
                p.len(),
                o.len()
            ));
        }
        return None;
    }
    let show = |v: &[&&Labels]| {
        v.iter()
            .take(2)
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(format!(
        "series: prometheus {}, tallyho {}; missing in tallyho ({}): {}; extra in tallyho ({}): {}",
        p.len(),
        o.len(),
        missing.len(),
        show(&missing),
        extra.len(),
        show(&extra)
    ))
}

fn vectors(p: &[InstantSample], o: &[InstantSample], ordered: bool) -> Result<(), String> {
    let mut ps: Vec<&InstantSample> = p.iter().collect();
    let mut os: Vec<&InstantSample> = o.iter().collect();
    ps.sort_by(|a, b| a.labels.cmp(&b.labels));
    os.sort_by(|a, b| a.labels.cmp(&b.labels));
    let pl: Vec<&Labels> = ps.iter().map(|s| &s.labels).collect();
    let ol: Vec<&Labels> = os.iter().map(|s| &s.labels).collect();
    if let Some(d) = set_diff(&pl, &ol) {
        return Err(d);
    }
    for (a, b) in ps.iter().zip(&os) {
        if a.t != b.t {
            return Err(format!(
                "time of {}: prometheus {}, tallyho {}",
                a.labels, a.t, b.t
            ));
        }
        if !close(a.v, b.v) {
            return Err(format!(
                "value of {}: prometheus {}, tallyho {}",
                a.labels,
                num(a.v),
                num(b.v)
            ));
        }
    }
    if ordered {
        // Equal values may come in either order: compare the sequence of values.
        for (i, (a, b)) in p.iter().zip(o).enumerate() {
            if !close(a.v, b.v) {
                return Err(format!(
                    "order at {i}: prometheus {} = {}, tallyho {} = {}",
                    a.labels,
                    num(a.v),
                    b.labels,
                    num(b.v)
                ));
            }
        }
    }
    Ok(())
}

fn matrices(p: &[RangeSeries], o: &[RangeSeries]) -> Result<(), String> {
    let mut ps: Vec<&RangeSeries> = p.iter().collect();
    let mut os: Vec<&RangeSeries> = o.iter().collect();
    ps.sort_by(|a, b| a.labels.cmp(&b.labels));
    os.sort_by(|a, b| a.labels.cmp(&b.labels));
    let pl: Vec<&Labels> = ps.iter().map(|s| &s.labels).collect();
    let ol: Vec<&Labels> = os.iter().map(|s| &s.labels).collect();
    if let Some(d) = set_diff(&pl, &ol) {
        return Err(d);
    }
    for (a, b) in ps.iter().zip(&os) {
        samples(&a.labels, &a.samples, &b.samples)?;
    }
    Ok(())
}

fn samples(labels: &Labels, p: &[Sample], o: &[Sample]) -> Result<(), String> {
    for (i, (a, b)) in p.iter().zip(o).enumerate() {
        if a.t != b.t {
            return Err(format!(
                "{labels}: sample {i} time: prometheus {}, tallyho {}",
                a.t, b.t
            ));
        }
        if !close(a.v, b.v) {
            return Err(format!(
                "{labels} at {}: prometheus {}, tallyho {}",
                a.t,
                num(a.v),
                num(b.v)
            ));
        }
    }
    if p.len() != o.len() {
        let (longer, who) = if p.len() > o.len() {
            (p, "prometheus")
        } else {
            (o, "tallyho")
        };
        let first = longer[p.len().min(o.len())];
        return Err(format!(
            "{labels}: samples: prometheus {}, tallyho {}; first extra on {who}: {}@{}",
            p.len(),
            o.len(),
            num(first.v),
            first.t
        ));
    }
    Ok(())
}
