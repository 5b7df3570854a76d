//! OpenTelemetry names, units and attribute keys in tallyho's (Prometheus') terms.
//!
//! The mapping follows the OpenTelemetry specification's "Prometheus and OpenMetrics
//! Compatibility" section: characters a Prometheus name cannot hold become `_`, and UCUM
//! units become the words Prometheus names end in.

/// An instrument name as a tallyho metric name: the API's name rule
/// (`[A-Za-z][A-Za-z0-9_.\-/]{0,254}`) allows `-` and `/`, which Prometheus names do not:
/// both become `_` (`.` the registry maps itself). Anything else the registry refuses with
/// an error naming the rule.
pub(crate) fn metric_name(name: &str) -> String {
    name.replace(['-', '/'], "_")
}

/// The Prometheus unit word for an OpenTelemetry (UCUM) unit, `None` for no unit.
///
/// Annotations (`{request}`) are dropped; `X/Y` becomes `X_per_Y`; `1` is `ratio` for
/// gauges and nothing otherwise; a unit without a known word keeps its letters and digits
/// (other characters become `_`).
pub(crate) fn unit(unit: &str, gauge: bool) -> Option<String> {
    let without_annotations = strip_annotations(unit);
    let unit = without_annotations.trim();
    if unit.is_empty() {
        return None;
    }
    if unit == "1" {
        return gauge.then(|| "ratio".to_owned());
    }
    let word = match unit.split_once('/') {
        Some((per, of)) => {
            let per = word(per.trim());
            let of = per_word(of.trim());
            match (per.is_empty(), of.is_empty()) {
                (false, false) => format!("{per}_per_{of}"),
                (true, false) => format!("per_{of}"),
                _ => per,
            }
        }
        None => word(unit),
    };
    let clean = sanitize(&word);
    (!clean.is_empty()).then_some(clean)
}

fn strip_annotations(unit: &str) -> String {
    let mut out = String::with_capacity(unit.len());
    let mut depth = 0usize;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The word for one UCUM unit (the specification's table).
fn word(unit: &str) -> String {
    let w = match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" | "kBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        other => other,
    };
    w.to_owned()
}

/// The word after `per_` (the specification's singular table for time units).
fn per_word(unit: &str) -> String {
    let w = match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => return word(other),
    };
    w.to_owned()
}

/// Letters, digits and `_` kept, runs of anything else as one `_`, no `_` at the ends.
fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_owned()
}

/// An attribute key as a label name: each character a label name cannot hold becomes `_`
/// and a key starting with a digit gets a `key_` prefix, as the specification says.
/// Returns an error naming the problem when the result is still not a label name
/// (reserved ones: `le`, `quantile`, `otel_metric_overflow`, a `__` prefix; or empty).
pub(crate) fn label_name(key: &str) -> Result<String, String> {
    let mut name: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "key_");
    }
    match tallyho_names::label_name(&name) {
        Ok(()) => Ok(name),
        Err(problem) => Err(format!(
            "attribute key {key:?} (label {name:?}): {}",
            problem.reason()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_the_specification_table() {
        assert_eq!(unit("s", false).as_deref(), Some("seconds"));
        assert_eq!(unit("By", false).as_deref(), Some("bytes"));
        assert_eq!(unit("{request}", false), None);
        assert_eq!(unit("1", true).as_deref(), Some("ratio"));
        assert_eq!(unit("1", false), None);
        assert_eq!(unit("m/s", false).as_deref(), Some("meters_per_second"));
        assert_eq!(unit("{packet}/s", false).as_deref(), Some("per_second"));
        assert_eq!(unit("widgets", false).as_deref(), Some("widgets"));
        assert_eq!(unit("a b-c", false).as_deref(), Some("a_b_c"));
        assert_eq!(unit("", false), None);
    }

    #[test]
    fn keys_become_label_names_or_say_why_not() {
        assert_eq!(label_name("http.method").unwrap(), "http_method");
        assert_eq!(label_name("net-peer").unwrap(), "net_peer");
        assert_eq!(label_name("0day").unwrap(), "key_0day");
        let err = label_name("le").unwrap_err();
        assert!(err.contains("\"le\""), "{err}");
        assert!(label_name("__x").is_err());
        assert!(label_name("").is_err());
    }

    #[test]
    fn names_lose_dashes_and_slashes() {
        assert_eq!(
            metric_name("http.server/req-count"),
            "http.server_req_count"
        );
    }
}
