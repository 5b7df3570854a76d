//! Whether a metric name already carries its unit, spelled out or abbreviated.

/// Common abbreviations of units, as they end metric names (`task_duration_ms`). A name
/// ending in `_` and one of these keeps its name when given the unit; the spelled-out unit
/// always counts too. Matching is exact (lowercase).
pub const UNIT_ABBREVIATIONS: &[(&str, &[&str])] = &[
    ("seconds", &["s", "sec", "secs"]),
    ("milliseconds", &["ms", "msec", "msecs", "millis"]),
    ("microseconds", &["us", "usec", "usecs", "micros"]),
    ("nanoseconds", &["ns", "nsec", "nsecs", "nanos"]),
    ("minutes", &["min", "mins"]),
    ("hours", &["h", "hr", "hrs"]),
    ("bytes", &["b"]),
    ("kilobytes", &["kb"]),
    ("megabytes", &["mb"]),
    ("gigabytes", &["gb"]),
    ("kibibytes", &["kib"]),
    ("mebibytes", &["mib"]),
    ("gibibytes", &["gib"]),
    ("percent", &["pct"]),
];

/// The abbreviations of `unit` in [`UNIT_ABBREVIATIONS`] (none for other units).
pub fn unit_abbreviations(unit: &str) -> &'static [&'static str] {
    UNIT_ABBREVIATIONS
        .iter()
        .find(|(u, _)| *u == unit)
        .map_or(&[], |(_, abbrs)| abbrs)
}

/// Whether `name` ends with `_` followed by exactly `suffix`.
fn ends_with_word(name: &str, suffix: &str) -> bool {
    name.strip_suffix(suffix)
        .is_some_and(|rest| rest.ends_with('_'))
}

/// Whether `name` ends with `_<unit>` spelled out: what OpenMetrics requires of a family
/// with a `# UNIT` line.
///
/// ```
/// assert!(tallyho_names::ends_with_exact_unit("request_seconds", "seconds"));
/// assert!(!tallyho_names::ends_with_exact_unit("request_s", "seconds"));
/// ```
pub fn ends_with_exact_unit(name: &str, unit: &str) -> bool {
    !unit.is_empty() && ends_with_word(name, unit)
}

/// Whether `name` already carries `unit`: it ends with `_<unit>` or with `_` and an
/// abbreviation of the unit from [`UNIT_ABBREVIATIONS`] (`task_duration_ms` carries
/// `milliseconds`). Such a name is not given the unit again.
///
/// ```
/// use tallyho_names::ends_with_unit;
///
/// assert!(ends_with_unit("task_duration_ms", "milliseconds"));
/// assert!(ends_with_unit("payload_bytes", "bytes"));
/// assert!(!ends_with_unit("task_duration", "milliseconds"));
/// assert!(!ends_with_unit("items", "seconds")); // "s" is a whole word only
/// ```
pub fn ends_with_unit(name: &str, unit: &str) -> bool {
    ends_with_exact_unit(name, unit)
        || unit_abbreviations(unit)
            .iter()
            .any(|abbr| ends_with_word(name, abbr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviated_and_spelled_out_units_are_recognised() {
        for (name, unit) in [
            ("task_duration_ms", "milliseconds"),
            ("task_duration_milliseconds", "milliseconds"),
            ("rtt_us", "microseconds"),
            ("gc_pause_ns", "nanoseconds"),
            ("uptime_s", "seconds"),
            ("uptime_secs", "seconds"),
            ("heap_b", "bytes"),
            ("heap_kb", "kilobytes"),
            ("cpu_pct", "percent"),
            ("x_celsius", "celsius"),
        ] {
            assert!(ends_with_unit(name, unit), "{name} {unit}");
        }
        for (name, unit) in [
            ("task_duration", "milliseconds"),
            ("items", "seconds"),
            ("task_durationms", "milliseconds"),
            ("ms", "milliseconds"),
            ("heap_kb", "bytes"),
            ("latency_ms", "seconds"),
            ("latency_MS", "milliseconds"),
            ("x", ""),
        ] {
            assert!(!ends_with_unit(name, unit), "{name} {unit}");
        }
    }

    #[test]
    fn exact_unit_needs_the_spelled_out_word() {
        assert!(ends_with_exact_unit("a_bytes", "bytes"));
        assert!(!ends_with_exact_unit("a_b", "bytes"));
        assert!(!ends_with_exact_unit("abytes", "bytes"));
        assert!(ends_with_exact_unit("_bytes", "bytes"));
        assert!(!ends_with_exact_unit("a_", ""));
    }

    #[test]
    fn the_table_is_well_formed() {
        for (i, (unit, abbrs)) in UNIT_ABBREVIATIONS.iter().enumerate() {
            assert_eq!(crate::unit(unit), Ok(()), "{unit}");
            assert!(!abbrs.is_empty(), "{unit}");
            assert!(
                UNIT_ABBREVIATIONS[..i].iter().all(|(u, _)| u != unit),
                "{unit} twice"
            );
            for a in *abbrs {
                assert_eq!(crate::unit(a), Ok(()), "{a}");
                assert!(
                    a.chars().all(|c| c.is_ascii_lowercase()),
                    "{a} is lowercase"
                );
            }
            assert_eq!(unit_abbreviations(unit), *abbrs);
        }
        assert!(unit_abbreviations("celsius").is_empty());
    }
}
