//! PromQL functions as pure computations over samples and values; the evaluator
//! (`engine`) selects the windows and dispatches here.
//!
//! Layout: `range.rs` (functions of a range vector: rate family, `*_over_time`, deriv,
//! predict_linear, ...), `instant.rs` (per-sample math, round, clamp), `date.rs` (date
//! functions with Go's calendar arithmetic, re-exported by `instant`), `histogram.rs`
//! (`histogram_quantile`, `quantile`), `labels.rs` (`label_replace`, `label_join`).
//! Tests live next to each file in `*_tests.rs`.

mod date;
pub(crate) mod goregex;
pub(crate) mod histogram;
pub(crate) mod instant;
pub(crate) mod labels;
pub(crate) mod range;

#[cfg(test)]
mod differential_tests;
