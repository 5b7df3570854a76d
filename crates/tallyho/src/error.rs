//! The one error type of the core crate.

/// What went wrong while registering or looking up a metric.
///
/// Every message names the offending value and says what is allowed, so the
/// error can be shown to a user as it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An exemplar's trace context could not be read.
    #[error("invalid exemplar: {0}")]
    Exemplar(String),
    /// A metric name broke the Prometheus naming rule.
    #[error("invalid metric name {name:?}: {reason} (allowed: [a-zA-Z_:][a-zA-Z0-9_:]*, not starting with \"__\", '.' is mapped to '_')")]
    InvalidMetricName {
        /// The name as given.
        name: String,
        /// Which part of the rule it broke.
        reason: &'static str,
    },
    /// A label name broke the Prometheus naming rule.
    #[error("invalid label name {name:?}: {reason} (allowed: [a-zA-Z_][a-zA-Z0-9_]*, not starting with \"__\")")]
    InvalidLabelName {
        /// The label name as given.
        name: String,
        /// Which part of the rule it broke.
        reason: &'static str,
    },
    /// A label name that the formats reserve for themselves.
    #[error("label name {name:?} is reserved: {reason}")]
    ReservedLabelName {
        /// The label name as given.
        name: String,
        /// Why it is reserved.
        reason: &'static str,
    },
    /// The same label name twice in one family (constant labels included).
    #[error("label name {name:?} appears twice in metric {metric:?}")]
    DuplicateLabelName {
        /// The metric being registered.
        metric: String,
        /// The repeated label name.
        name: String,
    },
    /// The name is already registered with another type, label set, unit or buckets.
    #[error("metric {name:?} is already registered as {existing}; cannot register it again as {requested}")]
    Conflict {
        /// The metric name.
        name: String,
        /// What is registered now.
        existing: String,
        /// What was asked for.
        requested: String,
    },
    /// Two families would write the same sample name (a counter `x` writes `x_total` and
    /// `x_created`, a histogram `x` writes `x_bucket`, `x_count`, `x_sum`, `x_created`):
    /// parsers reject the whole exposition, so the second family is refused.
    #[error("metric {name:?} ({kind}) would write the sample name {sample:?}, which metric {other:?} ({other_kind}) already writes; choose another name")]
    NameCollision {
        /// The metric being registered.
        name: String,
        /// Its type.
        kind: &'static str,
        /// The sample name both would write.
        sample: String,
        /// The family registered first.
        other: String,
        /// Its type.
        other_kind: &'static str,
    },
    /// A unit that is not a valid name fragment.
    #[error("invalid unit {unit:?}: a unit is made of [a-zA-Z0-9_] and must not be empty")]
    InvalidUnit {
        /// The unit as given.
        unit: String,
    },
    /// A label lookup with the wrong number of values.
    #[error("metric {metric:?} has {expected} label(s) {names:?} but {got} value(s) were given")]
    LabelCount {
        /// The family's name.
        metric: String,
        /// The family's label names.
        names: Vec<String>,
        /// How many label names the family has.
        expected: usize,
        /// How many values were given.
        got: usize,
    },
    /// Histogram bucket bounds that are not finite and strictly increasing.
    #[error("invalid histogram buckets: {reason}")]
    InvalidBuckets {
        /// What is wrong with them.
        reason: String,
    },
    /// A negative, NaN or infinite increment of a monotonic counter (refused and counted).
    #[error(
        "counter {metric:?} only goes up: increment {value} refused (it must be finite and >= 0)"
    )]
    NegativeIncrement {
        /// The counter's name (empty for an unnamed handle).
        metric: String,
        /// The refused increment.
        value: f64,
    },
    /// A stateset or info family whose definition breaks an OpenMetrics rule (no states,
    /// too many, a repeated or empty state, a name that cannot be its state label, a unit).
    #[error("invalid {kind} {metric:?}: {reason}")]
    InvalidDefinition {
        /// The metric being registered.
        metric: String,
        /// Its type (`stateset`, `info`).
        kind: &'static str,
        /// What is wrong, naming the offending value.
        reason: String,
    },
    /// A cardinality limit of zero.
    #[error("cardinality limit must be at least 1, got {limit}")]
    InvalidCardinalityLimit {
        /// The limit as given.
        limit: usize,
    },
}
