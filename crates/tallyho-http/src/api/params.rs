//! Request parameters as Prometheus' HTTP API reads them: form values from the URL query and
//! a form-encoded POST body, times (RFC 3339 or Unix seconds), durations (`5m`, `1h30m` or
//! float seconds) and `match[]` series selectors.

use promql_parser::label::MatchOp as ParsedOp;
use promql_parser::parser::{self, Expr};
use tallyho_query::{MatchOp, Matcher};

use super::ApiError;

/// Form values: those of a POST body first, then those of the URL query, as Go's
/// `Request.ParseForm` orders them.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` text (a URL query or a body) after any
    /// pairs already held.
    pub(crate) fn extend_from(&mut self, encoded: &str) -> Result<(), ApiError> {
        for pair in encoded.split('&').filter(|p| !p.is_empty()) {
            if pair.contains(';') {
                return Err(form_error("invalid semicolon separator in query"));
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(k)?;
            let value = decode(v)?;
            self.pairs.push((key, value));
        }
        Ok(())
    }

    /// The first value of `name`, `""` when absent (Go's `FormValue`).
    pub(crate) fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn form_error(detail: &str) -> ApiError {
    ApiError::bad_data(format!("error parsing form values: {detail}"))
}

fn decode(s: &str) -> Result<String, ApiError> {
    crate::server::percent_decode(s).ok_or_else(|| {
        form_error(&format!(
            "invalid URL escape or non-UTF-8 text in {:?}",
            truncate(s)
        ))
    })
}

/// At most 100 characters of `s`, for error messages about user input.
pub(crate) fn truncate(s: &str) -> &str {
    match s.char_indices().nth(100) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `invalid parameter "name": detail`, Prometheus' wording for a bad parameter.
pub(crate) fn invalid(name: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_data(format!("invalid parameter {name:?}: {detail}"))
}

/// Milliseconds since the epoch that a time parameter may hold: within ±2^53 ms (about
/// 285,000 years), where an `f64` of seconds still has millisecond precision.
const MAX_ABS_MS: i64 = 1 << 53;

/// Parses a time as Prometheus does: Unix seconds (a float, rounded to the millisecond) or
/// RFC 3339 with optional fraction. Returns milliseconds since the epoch.
pub(crate) fn parse_time(s: &str) -> Result<i64, String> {
    let bad = || format!("cannot parse {:?} to a valid timestamp", truncate(s));
    if let Ok(secs) = s.parse::<f64>() {
        if !secs.is_finite() {
            return Err(bad());
        }
        let whole = secs.trunc();
        let ms = ((secs - whole) * 1000.0).round();
        let total = whole * 1000.0 + ms;
        if total.abs() > MAX_ABS_MS as f64 {
            return Err(bad());
        }
        return Ok(total as i64);
    }
    rfc3339_ms(s).ok_or_else(bad)
}

/// A time parameter that defaults when absent or empty, with Prometheus' message.
pub(crate) fn time_param(params: &Params, name: &str, default: i64) -> Result<i64, ApiError> {
    match params.get(name) {
        "" => Ok(default),
        s => parse_time(s)
            .map_err(|e| invalid(name, format!("Invalid time value for '{name}': {e}"))),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` → ms since the epoch (fraction truncated to ms).
fn rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, min, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        let padded = format!("{:0<3}", &frac[..digits.min(3)]);
        ms = padded.parse::<i64>().ok()?;
        rest = &frac[digits..];
    }
    let offset_min = match rest {
        "Z" => 0,
        _ => {
            let r = rest.as_bytes();
            if r.len() != 6 || r[3] != b':' || !(r[0] == b'+' || r[0] == b'-') {
                return None;
            }
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            let sign = if r[0] == b'-' { -1 } else { 1 };
            sign * (h * 60 + m)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_min * 60;
    Some(secs * 1000 + ms)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a duration as Prometheus does: float seconds, or `1y2w3d4h5m6s7ms` (each unit at
/// most once, in that order). Returns nanoseconds.
pub(crate) fn parse_duration(s: &str) -> Result<i128, String> {
    if let Ok(secs) = s.parse::<f64>() {
        let ns = secs * 1e9;
        if !ns.is_finite() || ns.abs() > i64::MAX as f64 {
            return Err(format!(
                "cannot parse {:?} to a valid duration. It overflows int64",
                truncate(s)
            ));
        }
        return Ok(ns as i128);
    }
    units_ns(s).ok_or_else(|| format!("cannot parse {:?} to a valid duration", truncate(s)))
}

/// Prometheus' `model.ParseDuration` units, largest first.
const UNITS: [(&str, i128); 7] = [
    ("y", 365 * 86_400 * 1_000_000_000),
    ("w", 7 * 86_400 * 1_000_000_000),
    ("d", 86_400 * 1_000_000_000),
    ("h", 3_600 * 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
];

fn units_ns(s: &str) -> Option<i128> {
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut next_unit = 0;
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 18 {
            return None;
        }
        let n: i128 = rest[..digits].parse().ok()?;
        let after = &rest[digits..];
        // "ms" must be tried before "m".
        let unit_len = if after.starts_with("ms") {
            2
        } else {
            after.chars().next().map_or(0, char::len_utf8)
        };
        let unit = after.get(..unit_len)?;
        let idx = UNITS.iter().position(|(u, _)| *u == unit)?;
        if idx < next_unit {
            return None;
        }
        next_unit = idx + 1;
        total += n * UNITS[idx].1;
        rest = &after[unit_len..];
    }
    (total <= i64::MAX as i128).then_some(total)
}

/// The `match[]` selectors: each a series selector such as `up{job="x"}`, turned into
/// matcher sets (a selector with `or` gives one set per alternative).
pub(crate) fn matcher_sets<'a>(
    selectors: impl Iterator<Item = &'a str>,
) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let mut sets = Vec::new();
    for s in selectors {
        sets.extend(selector(s)?);
    }
    for set in &sets {
        if set.iter().all(Matcher::matches_empty) {
            return Err(ApiError::bad_data(
                "match[] must contain at least one non-empty matcher",
            ));
        }
    }
    Ok(sets)
}

fn selector(s: &str) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let expr = parser::parse(s)
        .map_err(|e| ApiError::bad_data(format!("invalid match[] {:?}: {e}", truncate(s))))?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(ApiError::bad_data(format!(
            "invalid match[] {:?}: a series selector such as up{{job=\"x\"}} is required",
            truncate(s)
        )));
    };
    if vs.offset.is_some() || vs.at.is_some() {
        return Err(ApiError::bad_data(format!(
            "invalid match[] {:?}: offset and @ are not allowed in a series selector",
            truncate(s)
        )));
    }
    let groups = if vs.matchers.or_matchers.is_empty() {
        vec![vs.matchers.matchers]
    } else {
        vs.matchers.or_matchers
    };
    groups
        .into_iter()
        .map(|group| {
            let mut set = Vec::with_capacity(group.len() + 1);
            if let Some(name) = &vs.name {
                set.push(Matcher::new("__name__", MatchOp::Equal, name.clone()).map_err(api)?);
            }
            for m in group {
                let op = match m.op {
                    ParsedOp::Equal => MatchOp::Equal,
                    ParsedOp::NotEqual => MatchOp::NotEqual,
                    ParsedOp::Re(_) => MatchOp::Regex,
                    ParsedOp::NotRe(_) => MatchOp::NotRegex,
                };
                set.push(Matcher::new(m.name, op, m.value).map_err(api)?);
            }
            Ok(set)
        })
        .collect()
}

fn api(e: tallyho_query::QueryError) -> ApiError {
    ApiError::from_query(&e)
}

/// Whether `name` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub(crate) fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_like_prometheus() {
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("1700000000.1234"), Ok(1_700_000_000_123));
        assert_eq!(parse_time("1700000000.9996"), Ok(1_700_000_001_000));
        assert_eq!(parse_time("-1.5"), Ok(-1500));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("2023-11-14T22:13:20.5Z"), Ok(1_700_000_000_500));
        assert_eq!(
            parse_time("2023-11-15T00:13:20.123456789+02:00"),
            Ok(1_700_000_000_123)
        );
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_time("2024-02-29T00:00:00Z"), Ok(1_709_164_800_000));
        for bad in [
            "",
            "x",
            "NaN",
            "inf",
            "1e300",
            "2023-02-29T00:00:00Z",
            "2023-11-14 22:13:20Z",
            "2023-11-14T22:13:20",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T24:00:00Z",
        ] {
            let e = parse_time(bad).unwrap_err();
            assert!(e.contains("cannot parse"), "{bad}: {e}");
        }
    }

    #[test]
    fn durations_parse_like_prometheus() {
        let s = 1_000_000_000i128;
        assert_eq!(parse_duration("15"), Ok(15 * s));
        assert_eq!(parse_duration("0.5"), Ok(s / 2));
        assert_eq!(parse_duration("5m"), Ok(300 * s));
        assert_eq!(parse_duration("1h30m"), Ok(5400 * s));
        assert_eq!(parse_duration("1d2h"), Ok(26 * 3600 * s));
        assert_eq!(parse_duration("100ms"), Ok(s / 10));
        assert_eq!(parse_duration("1m30s500ms"), Ok(90 * s + s / 2));
        assert_eq!(parse_duration("-1"), Ok(-s));
        for bad in ["", "5x", "m", "30m1h", "1h1h", "1.5h", "1e300", "5 m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn form_values_keep_order_and_reject_bad_escapes() {
        let mut p = Params::default();
        p.extend_from("query=up%7Bjob%3D%22a%22%7D&match[]=a&match%5B%5D=b+c")
            .unwrap();
        assert_eq!(p.get("query"), r#"up{job="a"}"#);
        assert_eq!(p.all("match[]").collect::<Vec<_>>(), ["a", "b c"]);
        assert_eq!(p.get("missing"), "");
        let e = p.extend_from("query=%zz").unwrap_err();
        assert!(e.message.contains("error parsing form values"), "{e:?}");
        assert!(Params::default().extend_from("a=1;b=2").is_err());
    }

    #[test]
    fn selectors_become_matcher_sets() {
        let sets = matcher_sets([r#"up{job=~"a|b"}"#, r#"{__name__="x"}"#].into_iter()).unwrap();
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0][0].name, "__name__");
        assert_eq!(sets[0][1].op, MatchOp::Regex);
        assert!(sets[0][1].matches("a") && !sets[0][1].matches("ab"));
        for bad in [
            "rate(x[5m])",
            "up[5m]",
            "{",
            r#"{job=~".*"}"#,
            "up offset 5m",
        ] {
            let e = matcher_sets([bad].into_iter()).unwrap_err();
            assert_eq!(e.error_type, "bad_data", "{bad}");
        }
    }

    #[test]
    fn label_names() {
        assert!(is_label_name("job") && is_label_name("__name__") && is_label_name("_a1"));
        assert!(!is_label_name("") && !is_label_name("1a") && !is_label_name("a-b"));
    }
}
