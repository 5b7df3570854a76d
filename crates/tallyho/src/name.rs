//! Validation of metric names, label names and units by the Prometheus rules.
//!
//! The rules themselves live in `tallyho-names`, shared with the macros and the exporters;
//! this module maps what they find into [`Error`].

use crate::Error;

/// Checks a metric name and returns it in its Prometheus form (`.` mapped to `_`).
/// Names starting with `__` (after the mapping) are reserved for Prometheus' own use.
///
/// # Errors
/// [`Error::InvalidMetricName`] naming the value and the rule it broke.
pub fn metric_name(name: &str) -> Result<String, Error> {
    tallyho_names::metric_name(name).map_err(|problem| Error::InvalidMetricName {
        name: name.to_owned(),
        reason: problem.reason(),
    })?;
    Ok(name.replace('.', "_"))
}

/// Checks a label name: the Prometheus rule, and not reserved by a format.
///
/// # Errors
/// [`Error::InvalidLabelName`] or [`Error::ReservedLabelName`].
pub fn label_name(name: &str) -> Result<(), Error> {
    tallyho_names::label_name(name).map_err(|problem| {
        let name = name.to_owned();
        let reason = problem.reason();
        if problem.is_reserved() {
            Error::ReservedLabelName { name, reason }
        } else {
            Error::InvalidLabelName { name, reason }
        }
    })
}

/// Checks a unit: a non-empty fragment of `[a-zA-Z0-9_]`.
///
/// # Errors
/// [`Error::InvalidUnit`].
pub fn unit(unit: &str) -> Result<(), Error> {
    tallyho_names::unit(unit).map_err(|_| Error::InvalidUnit {
        unit: unit.to_owned(),
    })
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

    #[test]
    fn messages_are_unchanged() {
        assert_eq!(
            metric_name("9lives").unwrap_err().to_string(),
            "invalid metric name \"9lives\": it starts with a digit (allowed: [a-zA-Z_:][a-zA-Z0-9_:]*, not starting with \"__\", '.' is mapped to '_')"
        );
        assert_eq!(
            metric_name("_.x").unwrap_err(),
            Error::InvalidMetricName {
                name: "_.x".into(),
                reason: "names starting with \"__\" are reserved for Prometheus' internal use",
            }
        );
        assert_eq!(
            label_name("a-b").unwrap_err().to_string(),
            "invalid label name \"a-b\": it contains a character outside [a-zA-Z0-9_] (allowed: [a-zA-Z_][a-zA-Z0-9_]*, not starting with \"__\")"
        );
        assert_eq!(
            label_name("le").unwrap_err().to_string(),
            "label name \"le\" is reserved: \"le\" holds histogram bucket bounds"
        );
        assert_eq!(
            label_name("__x").unwrap_err().to_string(),
            "label name \"__x\" is reserved: names starting with \"__\" are for Prometheus' internal use"
        );
        assert_eq!(
            label_name(crate::OVERFLOW_LABEL).unwrap_err().to_string(),
            "label name \"otel_metric_overflow\" is reserved: \"otel_metric_overflow\" marks the series that collects label sets past the cardinality limit"
        );
        assert_eq!(unit("seconds"), Ok(()));
        assert_eq!(
            unit(""),
            Err(Error::InvalidUnit {
                unit: String::new()
            })
        );
        assert_eq!(unit("a b"), Err(Error::InvalidUnit { unit: "a b".into() }));
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
        // The label-name rule itself is property-tested in tallyho-names, with these
        // assertions and more; core's `label_name` only maps its `Problem`.
    }
}
