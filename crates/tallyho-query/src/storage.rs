//! The seam between the engine and whatever holds samples.

use regex::Regex;

use crate::error::QueryError;
use crate::types::{Labels, RangeSeries};

/// How a matcher compares a label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (fully anchored)
    Regex,
    /// `!~` (fully anchored)
    NotRegex,
}

/// One label matcher, `name op "value"`. A series without the label matches as if its value
/// were `""`, as in Prometheus.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Label name (`__name__` for the metric name).
    pub name: String,
    /// Comparison.
    pub op: MatchOp,
    /// The value or the regex source.
    pub value: String,
    re: Option<Regex>,
}

impl Matcher {
    /// A matcher; regexes have Go's RE2 meaning and are anchored (`^(?:value)$`) like
    /// Prometheus', with a bounded compiled size.
    ///
    /// # Errors
    /// [`QueryError`] of kind `BadData` when the regex does not compile or is too large.
    pub fn new(
        name: impl Into<String>,
        op: MatchOp,
        value: impl Into<String>,
    ) -> Result<Self, QueryError> {
        let name = name.into();
        let value = value.into();
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                crate::functions::goregex::compile_anchored(&value).map_err(|e| {
                    QueryError::bad_data(format!(
                        "invalid regular expression {value:?} for label {name:?}: {e}"
                    ))
                })?,
            ),
            _ => None,
        };
        Ok(Matcher {
            name,
            op,
            value,
            re,
        })
    }

    /// Whether a label value (`""` when absent) satisfies this matcher.
    pub fn matches(&self, v: &str) -> bool {
        match (self.op, &self.re) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(v),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(v),
            _ => false,
        }
    }

    /// Whether every matcher in `matchers` accepts `labels`.
    pub fn all_match(matchers: &[Matcher], labels: &Labels) -> bool {
        matchers.iter().all(|m| m.matches(labels.get(&m.name)))
    }

    /// Whether this matcher accepts the empty string (so it also selects series without the label).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

/// A failure inside a storage (I/O, corruption), reported to the caller as `internal`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct StorageError(pub String);

/// What the engine reads from: series selected by matchers, with samples in a time range.
///
/// Times are milliseconds since the Unix epoch and ranges are inclusive at both ends.
/// Samples come in time order, one per timestamp, and may include staleness markers
/// ([`STALE_NAN`](crate::STALE_NAN)); the engine handles them.
pub trait Storage: Send + Sync {
    /// Every series whose labels satisfy all `matchers` and that has at least one sample in
    /// `[start, end]`, with those samples.
    ///
    /// # Errors
    /// [`StorageError`] when the data cannot be read.
    fn select(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<RangeSeries>, StorageError>;

    /// Label sets of the series that match any of the matcher sets (all series when
    /// `matcher_sets` is empty) and have samples in `[start, end]`.
    ///
    /// # Errors
    /// [`StorageError`] when the index cannot be read.
    fn series(
        &self,
        matcher_sets: &[Vec<Matcher>],
        start: i64,
        end: i64,
    ) -> Result<Vec<Labels>, StorageError>;

    /// Sorted, unique label names of those series.
    ///
    /// # Errors
    /// As [`series`](Self::series).
    fn label_names(
        &self,
        matcher_sets: &[Vec<Matcher>],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, StorageError> {
        let mut names: Vec<String> = self
            .series(matcher_sets, start, end)?
            .iter()
            .flat_map(|l| l.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Sorted, unique values of label `name` over those series.
    ///
    /// # Errors
    /// As [`series`](Self::series).
    fn label_values(
        &self,
        name: &str,
        matcher_sets: &[Vec<Matcher>],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, StorageError> {
        let mut values: Vec<String> = self
            .series(matcher_sets, start, end)?
            .iter()
            .map(|l| l.get(name).to_string())
            .filter(|v| !v.is_empty())
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}

/// An in-memory storage for tests and fixtures: every series held whole.
impl Storage for Vec<RangeSeries> {
    fn select(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<RangeSeries>, StorageError> {
        Ok(self
            .iter()
            .filter(|s| Matcher::all_match(matchers, &s.labels))
            .filter_map(|s| {
                let samples: Vec<_> = s
                    .samples
                    .iter()
                    .copied()
                    .filter(|p| p.t >= start && p.t <= end)
                    .collect();
                (!samples.is_empty()).then(|| RangeSeries {
                    labels: s.labels.clone(),
                    samples,
                })
            })
            .collect())
    }

    fn series(
        &self,
        matcher_sets: &[Vec<Matcher>],
        start: i64,
        end: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        Ok(self
            .iter()
            .filter(|s| {
                matcher_sets.is_empty()
                    || matcher_sets
                        .iter()
                        .any(|m| Matcher::all_match(m, &s.labels))
            })
            .filter(|s| s.samples.iter().any(|p| p.t >= start && p.t <= end))
            .map(|s| s.labels.clone())
            .collect())
    }
}
