//! What a name check found wrong.

use std::fmt;

/// Which naming rule a name was checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// [`metric_name`](crate::metric_name).
    MetricName,
    /// [`label_name`](crate::label_name).
    LabelName,
    /// [`unit`](crate::unit).
    Unit,
}

/// What is wrong with a name; its [`Display`](fmt::Display) (and [`reason`](Self::reason))
/// is a short sentence such as `it starts with a digit`, meant to follow the name in a
/// message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Problem {
    /// The name is empty.
    Empty,
    /// The first character is an ASCII digit (allowed later, not first).
    StartsWithDigit,
    /// The first character is outside what the rule allows there.
    BadStart(Rule),
    /// A character after the first is outside what the rule allows.
    BadChar(Rule),
    /// The name starts with `__`, which Prometheus keeps for its internal use.
    ReservedPrefix(Rule),
    /// The label name `le`, which holds histogram bucket bounds.
    ReservedLe,
    /// The label name `quantile`, which holds summary quantiles.
    ReservedQuantile,
    /// The label name [`OVERFLOW_LABEL`](crate::OVERFLOW_LABEL), which marks the series past
    /// the cardinality limit.
    ReservedOverflow,
}

impl Problem {
    /// The message, as a static string.
    pub fn reason(self) -> &'static str {
        match self {
            Problem::Empty => "it is empty",
            Problem::StartsWithDigit => "it starts with a digit",
            Problem::BadStart(Rule::MetricName) => "it starts with a character outside [a-zA-Z_:]",
            Problem::BadStart(_) => "it starts with a character outside [a-zA-Z_]",
            Problem::BadChar(Rule::MetricName) => "it contains a character outside [a-zA-Z0-9_:.]",
            Problem::BadChar(_) => "it contains a character outside [a-zA-Z0-9_]",
            Problem::ReservedPrefix(Rule::MetricName) => {
                "names starting with \"__\" are reserved for Prometheus' internal use"
            }
            Problem::ReservedPrefix(_) => "names starting with \"__\" are for Prometheus' internal use",
            Problem::ReservedLe => "\"le\" holds histogram bucket bounds",
            Problem::ReservedQuantile => "\"quantile\" holds summary quantiles",
            Problem::ReservedOverflow => {
                "\"otel_metric_overflow\" marks the series that collects label sets past the cardinality limit"
            }
        }
    }

    /// Whether the name is well formed but reserved (the `__` prefix, or a label name a
    /// format uses for itself), rather than malformed.
    pub fn is_reserved(self) -> bool {
        matches!(
            self,
            Problem::ReservedPrefix(_)
                | Problem::ReservedLe
                | Problem::ReservedQuantile
                | Problem::ReservedOverflow
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for Problem {}
