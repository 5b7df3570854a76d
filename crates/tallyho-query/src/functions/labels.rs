//! `label_replace` and `label_join`, with Prometheus 2.42's rules and error messages.
//!
//! Prometheus raises these errors during evaluation, so they are `execution` errors
//! (HTTP 422), not `bad_data`. It raises them even when the argument vector is empty: an
//! evaluator that wants the same behaviour builds [`LabelReplace`] / checks with
//! [`LabelJoin::new`] once per call, before looking at the series.

use regex::Regex;

use super::goregex::{compile_anchored, expand};
use crate::error::QueryError;
use crate::types::Labels;

/// Whether `name` is a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A compiled `label_replace(v, dst, replacement, src, regex)`: build once per query,
/// apply to every series.
#[derive(Debug, Clone)]
pub(crate) struct LabelReplace {
    dst: String,
    replacement: String,
    src: String,
    regex: Regex,
}

impl LabelReplace {
    /// Compiles `regex` anchored (`^(?:regex)$`) and checks `dst`, in Prometheus' order.
    ///
    /// # Errors
    /// `execution` errors: `invalid regular expression in label_replace(): <regex>` (with
    /// the reason appended) or `invalid destination label name in label_replace(): <dst>`.
    pub(crate) fn new(
        dst: &str,
        replacement: &str,
        src: &str,
        regex: &str,
    ) -> Result<Self, QueryError> {
        let compiled = compile_anchored(regex).map_err(|why| {
            QueryError::execution(format!(
                "invalid regular expression in label_replace(): {regex} ({why})"
            ))
        })?;
        if !is_valid_label_name(dst) {
            return Err(QueryError::execution(format!(
                "invalid destination label name in label_replace(): {dst}"
            )));
        }
        Ok(LabelReplace {
            dst: dst.to_string(),
            replacement: replacement.to_string(),
            src: src.to_string(),
            regex: compiled,
        })
    }

    /// The labels after replacement: unchanged when the regex does not match the source
    /// label's value (`""` when absent); otherwise `dst` is set to the expanded
    /// replacement, or removed when that is empty.
    pub(crate) fn apply(&self, labels: &Labels) -> Labels {
        let value = labels.get(&self.src);
        let Some(caps) = self.regex.captures(value) else {
            return labels.clone();
        };
        let result = expand(&self.regex, &caps, &self.replacement);
        let mut out = labels.clone();
        out.set(&self.dst, &result);
        out
    }
}

/// `label_replace` of one series' labels.
///
/// # Errors
/// As [`LabelReplace::new`].
pub(crate) fn label_replace(
    labels: &Labels,
    dst: &str,
    replacement: &str,
    src: &str,
    regex: &str,
) -> Result<Labels, QueryError> {
    Ok(LabelReplace::new(dst, replacement, src, regex)?.apply(labels))
}

/// A checked `label_join(v, dst, sep, src...)`.
#[derive(Debug, Clone)]
pub(crate) struct LabelJoin<'a> {
    dst: &'a str,
    sep: &'a str,
    srcs: &'a [String],
}

impl<'a> LabelJoin<'a> {
    /// Checks the source names, then the destination name, in Prometheus' order.
    ///
    /// # Errors
    /// `execution` errors: `invalid source label name in label_join(): <src>` or
    /// `invalid destination label name in label_join(): <dst>`.
    pub(crate) fn new(dst: &'a str, sep: &'a str, srcs: &'a [String]) -> Result<Self, QueryError> {
        if let Some(bad) = srcs.iter().find(|s| !is_valid_label_name(s)) {
            return Err(QueryError::execution(format!(
                "invalid source label name in label_join(): {bad}"
            )));
        }
        if !is_valid_label_name(dst) {
            return Err(QueryError::execution(format!(
                "invalid destination label name in label_join(): {dst}"
            )));
        }
        Ok(LabelJoin { dst, sep, srcs })
    }

    /// The labels with `dst` set to the source values (`""` for absent ones) joined by
    /// the separator; `dst` is removed when the result is empty.
    pub(crate) fn apply(&self, labels: &Labels) -> Labels {
        let values: Vec<&str> = self.srcs.iter().map(|s| labels.get(s)).collect();
        let joined = values.join(self.sep);
        let mut out = labels.clone();
        out.set(self.dst, &joined);
        out
    }
}

/// `label_join` of one series' labels.
///
/// # Errors
/// As [`LabelJoin::new`].
pub(crate) fn label_join(
    labels: &Labels,
    dst: &str,
    sep: &str,
    srcs: &[String],
) -> Result<Labels, QueryError> {
    Ok(LabelJoin::new(dst, sep, srcs)?.apply(labels))
}

#[cfg(test)]
#[path = "labels_tests.rs"]
mod tests;
