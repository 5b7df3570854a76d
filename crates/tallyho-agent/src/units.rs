//! Durations and byte sizes as configuration values: `"24h"`, `"1h30m"`, `"15d"` (or a
//! number of seconds), `"256MiB"`, `"1GB"` (or a number of bytes).

use std::time::Duration;

/// Duration units, largest first, as Prometheus writes durations (`1y2w3d4h5m6s7ms`).
const DURATION_UNITS: [(&str, u64); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses `"24h"`, `"1h30m"`, `"500ms"` or a plain number of seconds (`"90"`, `"1.5"`).
///
/// # Errors
/// A message saying what is allowed.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || {
        format!("{s:?} is not a duration: use a number of seconds or units like \"24h\", \"1h30m\", \"15d\" (y, w, d, h, m, s, ms)")
    };
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| bad());
    }
    if s.is_empty() {
        return Err(bad());
    }
    let (mut rest, mut next, mut total_ms) = (s, 0usize, 0u64);
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let after = &rest[digits..];
        let len = if after.starts_with("ms") {
            2
        } else {
            after.chars().next().map_or(0, char::len_utf8)
        };
        let unit = after.get(..len).ok_or_else(bad)?;
        let idx = DURATION_UNITS
            .iter()
            .position(|(u, _)| *u == unit)
            .filter(|&i| i >= next)
            .ok_or_else(bad)?;
        next = idx + 1;
        total_ms = n
            .checked_mul(DURATION_UNITS[idx].1)
            .and_then(|v| v.checked_add(total_ms))
            .ok_or_else(bad)?;
        rest = &after[len..];
    }
    Ok(Duration::from_millis(total_ms))
}

/// Byte units. As Prometheus' `--storage.tsdb.retention.size`, `KB`, `MB`, ... are powers
/// of 1024, like `KiB`, `MiB`, ...
const BYTE_UNITS: [(&str, u64); 10] = [
    ("B", 1),
    ("KB", 1 << 10),
    ("KiB", 1 << 10),
    ("MB", 1 << 20),
    ("MiB", 1 << 20),
    ("GB", 1 << 30),
    ("GiB", 1 << 30),
    ("TB", 1 << 40),
    ("TiB", 1 << 40),
    ("", 1),
];

/// Parses `"256MiB"`, `"1GB"`, `"1.5GiB"` or a plain number of bytes.
///
/// # Errors
/// A message saying what is allowed.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let bad = || {
        format!("{s:?} is not a size: use a number of bytes or units like \"256MiB\", \"1GB\" (B, KB, MB, GB, TB; KiB, MiB, GiB, TiB)")
    };
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let unit = unit.trim();
    let scale = BYTE_UNITS
        .iter()
        .find(|(u, _)| u.eq_ignore_ascii_case(unit))
        .map(|(_, m)| *m)
        .ok_or_else(bad)?;
    let n: f64 = num.parse().map_err(|_| bad())?;
    let bytes = n * scale as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("15d"), Ok(Duration::from_secs(15 * 86_400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        for bad in ["", "soon", "1h1h", "30m1h", "-5", "5 m", "1.5h", "h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("256MiB"), Ok(256 << 20));
        assert_eq!(parse_bytes("256MB"), Ok(256 << 20));
        assert_eq!(parse_bytes("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("10 kb"), Ok(10 << 10));
        for bad in ["", "lots", "1XB", "-1", "1e30TB", "MiB"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
