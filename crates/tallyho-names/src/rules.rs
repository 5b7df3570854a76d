//! The metric name, label name and unit rules.

use crate::{Problem, Rule};

/// The label that marks the series collecting label sets past a family's cardinality limit
/// (the OpenTelemetry name); reserved, so no user label can take it.
pub const OVERFLOW_LABEL: &str = "otel_metric_overflow";

/// Checks a metric name: `[a-zA-Z_:][a-zA-Z0-9_:.]*`, where each `.` stands for `_` (the
/// caller maps it), and not starting with `__` once mapped (`_.x` is `__x`), which
/// Prometheus reserves for its own use.
///
/// # Errors
/// The first [`Problem`] found: [`Empty`](Problem::Empty),
/// [`StartsWithDigit`](Problem::StartsWithDigit), [`BadStart`](Problem::BadStart),
/// [`BadChar`](Problem::BadChar) or [`ReservedPrefix`](Problem::ReservedPrefix).
pub fn metric_name(name: &str) -> Result<(), Problem> {
    let rule = Rule::MetricName;
    let mut chars = name.chars();
    match chars.next() {
        None => return Err(Problem::Empty),
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':' => {}
        Some(c) if c.is_ascii_digit() => return Err(Problem::StartsWithDigit),
        Some(_) => return Err(Problem::BadStart(rule)),
    }
    if chars.any(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '.')) {
        return Err(Problem::BadChar(rule));
    }
    // The first character is not `.`, so the mapped name starts with `__` exactly when
    // the name starts with `_` followed by `_` or `.`.
    if matches!(name.as_bytes(), [b'_', b'_' | b'.', ..]) {
        return Err(Problem::ReservedPrefix(rule));
    }
    Ok(())
}

/// Checks a label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (Prometheus'
/// own), and none of the names the formats reserve: `le` (histogram buckets), `quantile`
/// (summaries) and [`OVERFLOW_LABEL`].
///
/// # Errors
/// The first [`Problem`] found; [`Problem::is_reserved`] tells a reserved name from a
/// malformed one.
pub fn label_name(name: &str) -> Result<(), Problem> {
    let rule = Rule::LabelName;
    let mut chars = name.chars();
    match chars.next() {
        None => return Err(Problem::Empty),
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        Some(c) if c.is_ascii_digit() => return Err(Problem::StartsWithDigit),
        Some(_) => return Err(Problem::BadStart(rule)),
    }
    if chars.any(|c| !(c.is_ascii_alphanumeric() || c == '_')) {
        return Err(Problem::BadChar(rule));
    }
    if name.starts_with("__") {
        return Err(Problem::ReservedPrefix(rule));
    }
    match name {
        "le" => Err(Problem::ReservedLe),
        "quantile" => Err(Problem::ReservedQuantile),
        OVERFLOW_LABEL => Err(Problem::ReservedOverflow),
        _ => Ok(()),
    }
}

/// Checks a unit: a non-empty fragment of `[a-zA-Z0-9_]` (appended to a metric name after
/// `_`, so it may start with a digit).
///
/// # Errors
/// [`Problem::Empty`] or [`Problem::BadChar`].
pub fn unit(unit: &str) -> Result<(), Problem> {
    if unit.is_empty() {
        return Err(Problem::Empty);
    }
    if !unit.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Problem::BadChar(Rule::Unit));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn metric_names() {
        for good in [
            "http_requests",
            "a:b_c9",
            "http.server.duration",
            "_x",
            ":x",
            "a__b",
        ] {
            assert_eq!(metric_name(good), Ok(()), "{good}");
        }
        let cases = [
            ("", Problem::Empty),
            ("9lives", Problem::StartsWithDigit),
            ("-x", Problem::BadStart(Rule::MetricName)),
            (".x", Problem::BadStart(Rule::MetricName)),
            ("é", Problem::BadStart(Rule::MetricName)),
            ("a-b", Problem::BadChar(Rule::MetricName)),
            ("a b", Problem::BadChar(Rule::MetricName)),
            ("__x", Problem::ReservedPrefix(Rule::MetricName)),
            ("_.x", Problem::ReservedPrefix(Rule::MetricName)),
            ("__", Problem::ReservedPrefix(Rule::MetricName)),
        ];
        for (bad, problem) in cases {
            assert_eq!(metric_name(bad), Err(problem), "{bad}");
        }
    }

    #[test]
    fn label_names() {
        for good in ["method", "_x1", "A", "le_", "quantiles"] {
            assert_eq!(label_name(good), Ok(()), "{good}");
        }
        let malformed = [
            ("", Problem::Empty),
            ("1a", Problem::StartsWithDigit),
            (":a", Problem::BadStart(Rule::LabelName)),
            ("a:b", Problem::BadChar(Rule::LabelName)),
            ("a.b", Problem::BadChar(Rule::LabelName)),
            ("a-b", Problem::BadChar(Rule::LabelName)),
        ];
        for (bad, problem) in malformed {
            assert_eq!(label_name(bad), Err(problem), "{bad}");
            assert!(!problem.is_reserved(), "{bad}");
        }
        let reserved = [
            ("__name__", Problem::ReservedPrefix(Rule::LabelName)),
            ("__x", Problem::ReservedPrefix(Rule::LabelName)),
            ("le", Problem::ReservedLe),
            ("quantile", Problem::ReservedQuantile),
            ("otel_metric_overflow", Problem::ReservedOverflow),
        ];
        for (bad, problem) in reserved {
            assert_eq!(label_name(bad), Err(problem), "{bad}");
            assert!(problem.is_reserved(), "{bad}");
        }
    }

    #[test]
    fn units() {
        assert_eq!(unit("seconds"), Ok(()));
        assert_eq!(unit("9"), Ok(()));
        assert_eq!(unit(""), Err(Problem::Empty));
        assert_eq!(unit("a.b"), Err(Problem::BadChar(Rule::Unit)));
    }

    #[test]
    fn messages_say_what_is_wrong() {
        assert_eq!(
            Problem::StartsWithDigit.to_string(),
            "it starts with a digit"
        );
        assert_eq!(
            metric_name("a b").unwrap_err().to_string(),
            "it contains a character outside [a-zA-Z0-9_:.]"
        );
        assert_eq!(
            label_name("a.b").unwrap_err().to_string(),
            "it contains a character outside [a-zA-Z0-9_]"
        );
        assert_eq!(
            label_name(":").unwrap_err().reason(),
            "it starts with a character outside [a-zA-Z_]"
        );
        assert!(label_name("__x")
            .unwrap_err()
            .to_string()
            .contains("\"__\""));
        assert!(!Problem::BadChar(Rule::LabelName).is_reserved());
    }

    proptest! {
        #[test]
        fn valid_metric_names_pass(name in "[a-zA-Z_:][a-zA-Z0-9_:]{0,40}") {
            if name.starts_with("__") {
                prop_assert_eq!(metric_name(&name), Err(Problem::ReservedPrefix(Rule::MetricName)));
            } else {
                prop_assert_eq!(metric_name(&name), Ok(()));
            }
        }

        #[test]
        fn accepted_names_are_prometheus_names(name in "\\PC{0,20}") {
            if metric_name(&name).is_ok() {
                let n = name.replace('.', "_");
                let mut cs = n.chars();
                let first = cs.next().unwrap();
                prop_assert!(first.is_ascii_alphabetic() || first == '_' || first == ':');
                prop_assert!(cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'));
                prop_assert!(!n.starts_with("__"));
            }
        }

        #[test]
        fn accepted_label_names_are_prometheus_label_names(name in "\\PC{0,20}") {
            if label_name(&name).is_ok() {
                let mut cs = name.chars();
                let first = cs.next().unwrap();
                prop_assert!(first.is_ascii_alphabetic() || first == '_');
                prop_assert!(cs.all(|c| c.is_ascii_alphanumeric() || c == '_'));
                prop_assert!(!name.starts_with("__") && name != "le" && name != "quantile");
                prop_assert!(name != OVERFLOW_LABEL);
            }
        }

        #[test]
        fn accepted_label_names_are_accepted_metric_names(name in "[a-zA-Z0-9_.:-]{0,12}") {
            if label_name(&name).is_ok() {
                prop_assert_eq!(metric_name(&name), Ok(()));
            }
        }
    }
}
