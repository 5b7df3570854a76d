//! The Prometheus naming rules, written once for every tallyho crate.
//!
//! - [`metric_name`]: `[a-zA-Z_:][a-zA-Z0-9_:.]*`, where `.` stands for `_` (callers map it),
//!   and not starting with `__` once mapped.
//! - [`label_name`]: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`, and not one of the
//!   names the formats reserve (`le`, `quantile`, [`OVERFLOW_LABEL`]).
//! - [`unit()`]: a non-empty fragment of `[a-zA-Z0-9_]`.
//! - [`ends_with_unit`]: whether a name already carries its unit, spelled out or as an
//!   abbreviation from [`UNIT_ABBREVIATIONS`] (`task_duration_ms` carries `milliseconds`).
//! - [`escape_label_value`]: a label value as the Prometheus text and OpenMetrics formats
//!   write it between quotes (`\` → `\\`, `"` → `\"`, newline → `\n`).
//!
//! Each check returns a [`Problem`] saying what is wrong; the crates that use the rules wrap
//! it in their own error (the core crate's `Error`, a compile error in the macros, ...).
//! The crate has no dependencies, so a proc-macro crate can use it at compile time.
//!
//! ```
//! use tallyho_names::{label_name, metric_name, Problem};
//!
//! assert_eq!(metric_name("http.server.duration"), Ok(()));
//! assert_eq!(metric_name("9lives"), Err(Problem::StartsWithDigit));
//! assert_eq!(label_name("le").unwrap_err().to_string(), "\"le\" holds histogram bucket bounds");
//! ```
#![deny(missing_docs)]

mod escape;
mod problem;
mod rules;
mod units;

pub use escape::{escape_label_value, label_value_escape, LABEL_VALUE_ESCAPES};
pub use problem::{Problem, Rule};
pub use rules::{label_name, metric_name, unit, OVERFLOW_LABEL};
pub use units::{ends_with_exact_unit, ends_with_unit, unit_abbreviations, UNIT_ABBREVIATIONS};
