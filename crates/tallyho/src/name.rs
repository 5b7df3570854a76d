//! Validation of metric names, label names and units by the Prometheus rules.

use crate::Error;

/// Checks a metric name and returns it in its Prometheus form (`.` mapped to `_`).
/// Names starting with `__` (after the mapping) are reserved for Prometheus' own use.
///
/// # Errors
/// [`Error::InvalidMetricName`] naming the value and the rule it broke.
pub fn metric_name(name: &str) -> Result<String, Error> {
    let bad = |reason| Error::InvalidMetricName {
        name: name.to_owned(),
        reason,
    };
    let mut chars = name.chars();
    match chars.next() {
        None => return Err(bad("it is empty")),
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':' => {}
        Some(c) if c.is_ascii_digit() => return Err(bad("it starts with a digit")),
        Some(_) => return Err(bad("it starts with a character outside [a-zA-Z_:]")),
    }
    if chars.any(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '.')) {
        return Err(bad("it contains a character outside [a-zA-Z0-9_:.]"));
    }
    let mapped = name.replace('.', "_");
    if mapped.starts_with("__") {
        return Err(bad(
            "names starting with \"__\" are reserved for Prometheus' internal use",
        ));
    }
    Ok(mapped)
}

/// Checks a label name: the Prometheus rule, and not reserved by a format.
///
/// # Errors
/// [`Error::InvalidLabelName`] or [`Error::ReservedLabelName`].
pub fn label_name(name: &str) -> Result<(), Error> {
    let bad = |reason| Error::InvalidLabelName {
        name: name.to_owned(),
        reason,
    };
    let mut chars = name.chars();
    match chars.next() {
        None => return Err(bad("it is empty")),
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        Some(c) if c.is_ascii_digit() => return Err(bad("it starts with a digit")),
        Some(_) => return Err(bad("it starts with a character outside [a-zA-Z_]")),
    }
    if chars.any(|c| !(c.is_ascii_alphanumeric() || c == '_')) {
        return Err(bad("it contains a character outside [a-zA-Z0-9_]"));
    }
    let reserved = |reason| Error::ReservedLabelName {
        name: name.to_owned(),
        reason,
    };
    if name.starts_with("__") {
        return Err(reserved(
            "names starting with \"__\" are for Prometheus' internal use",
        ));
    }
    match name {
        "le" => Err(reserved("\"le\" holds histogram bucket bounds")),
        "quantile" => Err(reserved("\"quantile\" holds summary quantiles")),
        crate::OVERFLOW_LABEL => Err(reserved(
            "\"otel_metric_overflow\" marks the series that collects label sets past the cardinality limit",
        )),
        _ => Ok(()),
    }
}

/// Checks a unit: a non-empty fragment of `[a-zA-Z0-9_]`.
///
/// # Errors
/// [`Error::InvalidUnit`].
pub fn unit(unit: &str) -> Result<(), Error> {
    if unit.is_empty() || !unit.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::InvalidUnit {
            unit: unit.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn metric_names() {
        assert_eq!(metric_name("http_requests").unwrap(), "http_requests");
        assert_eq!(metric_name("a:b_c9").unwrap(), "a:b_c9");
        assert_eq!(
            metric_name("http.server.duration").unwrap(),
            "http_server_duration"
        );
        for bad in [
            "", "9lives", "a-b", "a b", "é", "-x", ".x", "__x", "_.x", "__",
        ] {
            let err = metric_name(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn label_names() {
        assert!(label_name("method").is_ok());
        assert!(label_name("_x1").is_ok());
        for bad in ["", "1a", "a:b", "a.b", "a-b"] {
            assert!(
                matches!(label_name(bad), Err(Error::InvalidLabelName { .. })),
                "{bad}"
            );
        }
        for reserved in ["le", "quantile", "__name__", "__x", "otel_metric_overflow"] {
            assert!(
                matches!(label_name(reserved), Err(Error::ReservedLabelName { .. })),
                "{reserved}"
            );
        }
    }

    proptest! {
        #[test]
        fn valid_metric_names_pass(name in "[a-zA-Z_:][a-zA-Z0-9_:]{0,40}") {
            if name.starts_with("__") {
                prop_assert!(metric_name(&name).is_err());
            } else {
                prop_assert_eq!(metric_name(&name).unwrap(), name);
            }
        }

        #[test]
        fn accepted_names_are_prometheus_names(name in "\\PC{0,20}") {
            if let Ok(n) = metric_name(&name) {
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
            }
        }
    }
}
