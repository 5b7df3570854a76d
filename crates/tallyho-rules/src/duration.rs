//! Prometheus durations (`1h30m`, `5m`, `90s`, `500ms`), parsed and printed as Prometheus does.

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a Prometheus duration into milliseconds: units `y w d h m s ms`, each at most
/// once and in that order; `0` alone is zero.
///
/// # Errors
/// `not a valid duration string: "…"`, as Prometheus words it.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let bad = || format!("not a valid duration string: {s:?}");
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err("empty duration string".to_string());
    }
    let mut rest = s;
    let mut next_unit = 0usize;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        // Longest unit first so `ms` is not read as `m`.
        let (idx, unit) = UNITS
            .iter()
            .enumerate()
            .filter(|(_, (u, _))| rest.starts_with(u))
            .max_by_key(|(_, (u, _))| u.len())
            .ok_or_else(bad)?;
        if idx < next_unit {
            return Err(bad());
        }
        next_unit = idx + 1;
        rest = &rest[unit.0.len()..];
        total = n
            .checked_mul(unit.1)
            .and_then(|v| total.checked_add(v))
            .filter(|v| *v <= i64::MAX as u64)
            .ok_or_else(|| format!("duration out of range: {s:?}"))?;
    }
    Ok(total)
}

/// Prints milliseconds as Prometheus prints a duration: `0s`, `1m30s`, `1d`, `500ms`.
pub fn format_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, size) in UNITS {
        let n = rest / size;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(unit);
            rest -= n * size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration("1m500ms"), Ok(60_500));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("2w1d"), Ok(15 * 86_400_000));
    }

    #[test]
    fn rejects_bad_durations() {
        for s in [
            "",
            "5",
            "5x",
            "m",
            "1m1h",
            "1m1m",
            "-1m",
            "1.5m",
            "99999999999999999y",
        ] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
        assert_eq!(
            parse_duration("5x").unwrap_err(),
            "not a valid duration string: \"5x\""
        );
    }

    #[test]
    fn prints_like_prometheus() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(90_000), "1m30s");
        assert_eq!(format_duration(86_400_000), "1d");
        assert_eq!(format_duration(500), "500ms");
        for s in ["1h30m", "5m", "1w2d3h4m5s6ms"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }
}
