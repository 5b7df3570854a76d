//! Typed helpers for the common questions, built as PromQL and run through the engine.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use tallyho_query::{QueryError, Value};

use crate::history::History;

/// Questions over one window ending at one time: see [`History::stats_over`].
#[derive(Debug, Clone)]
pub struct StatsOver<'h> {
    history: &'h History,
    window_ms: u128,
    at: SystemTime,
}

fn valid_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    let first_ok = |c: char| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':');
    chars.next().is_some_and(first_ok)
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

/// A PromQL double-quoted string literal holding exactly `v`.
pub(crate) fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `metric{a="x",...}`, checking the names.
pub(crate) fn selector(metric: &str, labels: &[(&str, &str)]) -> Result<String, QueryError> {
    if !valid_name(metric, true) {
        return Err(QueryError::bad_data(format!(
            "invalid metric name {metric:?}: use letters, digits, '_' and ':', not starting with a digit"
        )));
    }
    let mut s = String::from(metric);
    s.push('{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if !valid_name(name, false) {
            return Err(QueryError::bad_data(format!(
                "invalid label name {name:?}: use letters, digits and '_', not starting with a digit"
            )));
        }
        if i > 0 {
            s.push(',');
        }
        s.push_str(name);
        s.push('=');
        s.push_str(&quote(value));
    }
    s.push('}');
    Ok(s)
}

impl StatsOver<'_> {
    fn range(&self) -> String {
        format!("[{}ms]", self.window_ms)
    }

    /// Runs `promql` at the end of the window; the single value, `None` when there is no
    /// data (an empty result or NaN, such as 0/0).
    ///
    /// # Errors
    /// [`QueryError`] from the engine; `bad_data` when the result is not one number.
    pub fn scalar(&self, promql: &str) -> Result<Option<f64>, QueryError> {
        let v = match self.history.query(promql, self.at)? {
            Value::Scalar { v, .. } => Some(v),
            Value::Vector(samples) => match samples.as_slice() {
                [] => None,
                [one] => Some(one.v),
                _ => {
                    return Err(QueryError::bad_data(format!(
                        "{promql} returned {} series, not one",
                        samples.len()
                    )))
                }
            },
            other => {
                return Err(QueryError::bad_data(format!(
                    "{promql} returned a {}, not a number",
                    other.type_name()
                )))
            }
        };
        Ok(v.filter(|v| !v.is_nan()))
    }

    /// How much counter `metric` (the full name, `_total` included) grew over the window,
    /// summed over the series matching `labels`.
    ///
    /// # Errors
    /// As [`scalar`](Self::scalar); `bad_data` for an invalid metric or label name.
    pub fn increase(
        &self,
        metric: &str,
        labels: &[(&str, &str)],
    ) -> Result<Option<f64>, QueryError> {
        let sel = selector(metric, labels)?;
        self.scalar(&format!("sum(increase({sel}{}))", self.range()))
    }

    /// Per-second rate of counter `metric` over the window, summed over matching series.
    ///
    /// # Errors
    /// As [`increase`](Self::increase).
    pub fn rate(&self, metric: &str, labels: &[(&str, &str)]) -> Result<Option<f64>, QueryError> {
        let sel = selector(metric, labels)?;
        self.scalar(&format!("sum(rate({sel}{}))", self.range()))
    }

    /// Mean observation of histogram `name` (without suffix) over the window:
    /// increase of `_sum` over increase of `_count`.
    ///
    /// # Errors
    /// As [`increase`](Self::increase).
    pub fn average_from_histogram(
        &self,
        name: &str,
        labels: &[(&str, &str)],
    ) -> Result<Option<f64>, QueryError> {
        let sum = selector(&format!("{name}_sum"), labels)?;
        let count = selector(&format!("{name}_count"), labels)?;
        let r = self.range();
        self.scalar(&format!(
            "sum(increase({sum}{r})) / sum(increase({count}{r}))"
        ))
    }

    /// Increase of `errors_metric` over increase of `total_metric` in the window.
    ///
    /// # Errors
    /// As [`increase`](Self::increase).
    pub fn error_ratio(
        &self,
        errors_metric: &str,
        total_metric: &str,
        labels: &[(&str, &str)],
    ) -> Result<Option<f64>, QueryError> {
        let e = selector(errors_metric, labels)?;
        let t = selector(total_metric, labels)?;
        let r = self.range();
        self.scalar(&format!("sum(increase({e}{r})) / sum(increase({t}{r}))"))
    }

    /// The `q` quantile (0 ≤ q ≤ 1) of histogram `name` (without suffix) over the window,
    /// from its buckets' increase, as `histogram_quantile` estimates it.
    ///
    /// # Errors
    /// As [`increase`](Self::increase); `bad_data` when `q` is outside [0, 1].
    pub fn quantile(
        &self,
        q: f64,
        name: &str,
        labels: &[(&str, &str)],
    ) -> Result<Option<f64>, QueryError> {
        if !(0.0..=1.0).contains(&q) {
            return Err(QueryError::bad_data(format!(
                "quantile {q} is not between 0 and 1"
            )));
        }
        let b = selector(&format!("{name}_bucket"), labels)?;
        self.scalar(&format!(
            "histogram_quantile({q:?}, sum by (le) (increase({b}{})))",
            self.range()
        ))
    }
}

impl History {
    /// Typed questions over the `window` that ends at `at`.
    pub fn stats_over(&self, window: Duration, at: SystemTime) -> StatsOver<'_> {
        StatsOver {
            history: self,
            window_ms: window.as_millis().max(1),
            at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_names_checked() {
        let s = selector("a_total", &[("path", "C:\\x\"y\"\n\u{1}")]).unwrap();
        assert_eq!(s, r#"a_total{path="C:\\x\"y\"\n\x01"}"#);
        assert!(selector("1bad", &[]).is_err());
        assert!(selector("ok", &[("bad-name", "v")]).is_err());
        assert!(selector("ok:sub", &[]).is_ok());
    }
}
