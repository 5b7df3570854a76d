//! Numbers and timestamps as the text formats write them.
//!
//! | value             | [`write_f64`] (sample values) | [`write_prometheus_le`] | [`write_le`] (OpenMetrics) |
//! |-------------------|-------------------------------|-------------------------|----------------------------|
//! | NaN, +∞, -∞       | `NaN`, `+Inf`, `-Inf`         | same                    | same                       |
//! | 1, 100            | `1`, `100`                    | `1`, `100`              | `1.0`, `100.0`             |
//! | 0.005, 2.5        | `0.005`, `2.5`                | same                    | same                       |
//! | 1e6, 1048576      | `1000000`, `1048576`          | `1e+06`, `1.048576e+06` | same                       |
//! | 1e-5              | `0.00001`                     | `1e-05`                 | same                       |
//! | 1e300, 1e-300     | `1e300`, `1e-300`             | `1e+300`, `1e-300`      | same                       |
//!
//! [`write_f64`] prints integral values below 2^53 as integers and anything else in ryu's
//! shortest round-trip form. The `le` writers follow Go's `strconv.FormatFloat(v, 'g', -1, 64)`,
//! which the Go and Python reference clients use, so the same bound gets the same label value
//! whoever exports it. Every output parses back to the same `f64` with Go's
//! `strconv.ParseFloat`, Rust's `str::parse` (after mapping `±Inf`) and the OpenMetrics ABNF.

use std::io::{self, Write};
use std::time::{Duration, SystemTime};

use tallyho::Number;

/// Integral floats below this magnitude print as integers: every one of them is exact.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53

/// Writes `NaN`, `+Inf` or `-Inf` and returns `true` when `v` is not finite.
fn write_non_finite<W: Write + ?Sized>(w: &mut W, v: f64) -> io::Result<bool> {
    let text: &[u8] = if v.is_nan() {
        b"NaN"
    } else if v == f64::INFINITY {
        b"+Inf"
    } else if v == f64::NEG_INFINITY {
        b"-Inf"
    } else {
        return Ok(false);
    };
    w.write_all(text)?;
    Ok(true)
}

/// Writes a float as a sample value: `NaN`, `+Inf`, `-Inf`, integral values below 2^53
/// without a fraction (`3`), anything else in the shortest form that round-trips (`0.005`,
/// `1e300`).
///
/// # Errors
/// Any error from `w`.
pub fn write_f64<W: Write + ?Sized>(w: &mut W, v: f64) -> io::Result<()> {
    if write_non_finite(w, v)? {
        return Ok(());
    }
    if v.fract() == 0.0 && v.abs() < EXACT_INTEGER_LIMIT {
        if v == 0.0 && v.is_sign_negative() {
            return w.write_all(b"-0");
        }
        // Exact: |v| < 2^53 fits an i64 and has no fraction.
        return write_i64(w, v as i64);
    }
    w.write_all(ryu::Buffer::new().format_finite(v).as_bytes())
}

/// Writes a bucket bound the way Prometheus' Go client writes `le` in text format 0.0.4 (Go's
/// `strconv.FormatFloat(v, 'g', -1, 64)`): `0.005`, `1`, `123456`, `1e+06`, `1e-05`, `+Inf`.
///
/// Matching the reference client keeps `le` label values, which are strings to the server,
/// identical for the same bound across exporters.
///
/// # Errors
/// Any error from `w`.
pub fn write_prometheus_le<W: Write + ?Sized>(w: &mut W, v: f64) -> io::Result<()> {
    if write_non_finite(w, v)? {
        return Ok(());
    }
    w.write_all(GoFloat::new(v).as_bytes())
}

/// Writes a float in the OpenMetrics canonical form for `le` (and `quantile`) label values:
/// as [`write_prometheus_le`], with `.0` added when that has neither `.` nor exponent, as the
/// Go and Python reference clients write it: `0.005`, `1.0`, `123456.0`, `1e+06`, `+Inf`.
///
/// # Errors
/// Any error from `w`.
pub fn write_le<W: Write + ?Sized>(w: &mut W, v: f64) -> io::Result<()> {
    if write_non_finite(w, v)? {
        return Ok(());
    }
    let text = GoFloat::new(v);
    w.write_all(text.as_bytes())?;
    if !text.as_bytes().iter().any(|&b| b == b'.' || b == b'e') {
        w.write_all(b".0")?;
    }
    Ok(())
}

/// The shortest decimal digits that round-trip a finite float: `|v| = 0.d₁d₂…dₙ × 10^point`,
/// with no leading or trailing zeros (`n == 0` for zero).
struct Digits {
    digits: [u8; 32],
    len: usize,
    point: i32,
}

impl Digits {
    /// Reads the digits back out of ryu's shortest form (`0.005`, `1.0`, `1e300`, `1.5e-7`).
    fn new(v: f64) -> Digits {
        let mut buffer = ryu::Buffer::new();
        let text = buffer.format_finite(v.abs()).as_bytes();
        let (mantissa, exponent) = match text.iter().position(|&b| b == b'e') {
            Some(e) => (&text[..e], parse_exponent(&text[e + 1..])),
            None => (text, 0),
        };
        let mut out = Digits {
            digits: [0; 32],
            len: 0,
            point: exponent,
        };
        let mut after_point = false;
        for &b in mantissa {
            if b == b'.' {
                after_point = true;
                continue;
            }
            if after_point {
                out.point -= 1;
            }
            if out.len == 0 && b == b'0' {
                continue; // a leading zero
            }
            if let Some(slot) = out.digits.get_mut(out.len) {
                *slot = b;
                out.len += 1;
            }
        }
        while out.len > 0 && out.digits.get(out.len - 1) == Some(&b'0') {
            out.len -= 1;
            out.point += 1;
        }
        // Every digit kept so far sits left of the point scaled by `point`: `123` × 10^point.
        out.point += out.len as i32;
        out
    }

    fn digit(&self, i: i32) -> u8 {
        usize::try_from(i)
            .ok()
            .filter(|&i| i < self.len)
            .and_then(|i| self.digits.get(i).copied())
            .unwrap_or(b'0')
    }
}

fn parse_exponent(text: &[u8]) -> i32 {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let magnitude = digits.iter().fold(0i32, |acc, &d| {
        acc.saturating_mul(10)
            .saturating_add(i32::from(d.wrapping_sub(b'0')))
    });
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// A finite float spelled as Go's `strconv.FormatFloat(v, 'g', -1, 64)`.
struct GoFloat {
    buf: [u8; 48],
    len: usize,
}

impl GoFloat {
    fn new(v: f64) -> GoFloat {
        let mut out = GoFloat {
            buf: [0; 48],
            len: 0,
        };
        if v.is_sign_negative() {
            out.push(b'-');
        }
        let d = Digits::new(v);
        if d.len == 0 {
            out.push(b'0');
            return out;
        }
        let len = d.len as i32;
        let exponent = d.point - 1;
        if !(-4..6).contains(&exponent) {
            // d.ddde±XX, at least two exponent digits.
            out.push(d.digit(0));
            if len > 1 {
                out.push(b'.');
                (1..len).for_each(|i| out.push(d.digit(i)));
            }
            out.push(b'e');
            out.push(if exponent < 0 { b'-' } else { b'+' });
            let magnitude = exponent.unsigned_abs();
            if magnitude < 10 {
                out.push(b'0');
            }
            out.extend(itoa::Buffer::new().format(magnitude).as_bytes());
        } else {
            // Whole part (or 0), then the fraction if any digits fall after the point.
            if d.point <= 0 {
                out.push(b'0');
            }
            (0..d.point).for_each(|i| out.push(d.digit(i)));
            if len > d.point {
                out.push(b'.');
                (d.point.min(0)..0).for_each(|_| out.push(b'0'));
                (d.point.max(0)..len).for_each(|i| out.push(d.digit(i)));
            }
        }
        out
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&b| self.push(b));
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// Writes an unsigned integer in decimal.
///
/// # Errors
/// Any error from `w`.
pub fn write_u64<W: Write + ?Sized>(w: &mut W, v: u64) -> io::Result<()> {
    w.write_all(itoa::Buffer::new().format(v).as_bytes())
}

/// Writes a signed integer in decimal.
///
/// # Errors
/// Any error from `w`.
pub fn write_i64<W: Write + ?Sized>(w: &mut W, v: i64) -> io::Result<()> {
    w.write_all(itoa::Buffer::new().format(v).as_bytes())
}

/// Writes a recorded number: integers exactly, floats by [`write_f64`].
///
/// # Errors
/// Any error from `w`.
pub fn write_number<W: Write + ?Sized>(w: &mut W, n: Number) -> io::Result<()> {
    match n {
        Number::U64(v) => write_u64(w, v),
        Number::I64(v) => write_i64(w, v),
        Number::F64(v) => write_f64(w, v),
    }
}

/// The distance of `t` from the Unix epoch, and whether it lies before it.
fn since_epoch(t: SystemTime) -> (bool, Duration) {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => (false, d),
        Err(e) => (true, e.duration()),
    }
}

/// Writes a time as seconds since the Unix epoch, exactly, with the nanoseconds as a trimmed
/// decimal fraction: `1700000000.25`, `1700000000.0`, `-1.5` (before 1970). This is the
/// OpenMetrics `_created` value.
///
/// # Errors
/// Any error from `w`.
pub fn write_unix_seconds<W: Write + ?Sized>(w: &mut W, t: SystemTime) -> io::Result<()> {
    let (negative, d) = since_epoch(t);
    if negative && !d.is_zero() {
        w.write_all(b"-")?;
    }
    write_u64(w, d.as_secs())?;
    let nanos = d.subsec_nanos();
    if nanos == 0 {
        return w.write_all(b".0");
    }
    // Nine digits with leading zeros, then trailing zeros trimmed.
    let mut digits = [b'0'; 10];
    digits[0] = b'.';
    let mut rest = nanos;
    for slot in digits[1..].iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let len = digits.iter().rposition(|&d| d != b'0').map_or(1, |i| i + 1);
    w.write_all(digits.get(..len).unwrap_or(b"."))
}

/// Milliseconds since the Unix epoch, negative before 1970, saturating at the `i64` range.
pub fn unix_millis(t: SystemTime) -> i64 {
    let (negative, d) = since_epoch(t);
    let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    if negative {
        -ms
    } else {
        ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn f64_text(v: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, v).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn text_of(write: fn(&mut Vec<u8>, f64) -> io::Result<()>, v: f64) -> String {
        let mut out = Vec::new();
        write(&mut out, v).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Parses the formats' spelling of a float back.
    fn parse(text: &str) -> f64 {
        match text {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            _ => text.parse().unwrap(),
        }
    }

    #[test]
    fn f64_spellings() {
        let cases = [
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (0.0, "0"),
            (-0.0, "-0"),
            (3.0, "3"),
            (-7.0, "-7"),
            (0.005, "0.005"),
            (0.00001, "0.00001"),
            (2.5, "2.5"),
            (1e300, "1e300"),
            (1e-300, "1e-300"),
            (9_007_199_254_740_991.0, "9007199254740991"),
            (1e16, "1e16"),
            (f64::MAX, "1.7976931348623157e308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
        ];
        for (v, want) in cases {
            assert_eq!(f64_text(v), want, "{v:?}");
        }
    }

    #[test]
    fn le_spellings() {
        // (value, Go's FormatFloat(v, 'g', -1, 64), OpenMetrics canonical)
        let cases = [
            (f64::INFINITY, "+Inf", "+Inf"),
            (f64::NEG_INFINITY, "-Inf", "-Inf"),
            (f64::NAN, "NaN", "NaN"),
            (0.0, "0", "0.0"),
            (-0.0, "-0", "-0.0"),
            (0.005, "0.005", "0.005"),
            (0.0001, "0.0001", "0.0001"),
            (0.00001, "1e-05", "1e-05"),
            (1.5e-7, "1.5e-07", "1.5e-07"),
            (1.0, "1", "1.0"),
            (2.5, "2.5", "2.5"),
            (10.0, "10", "10.0"),
            (-7.0, "-7", "-7.0"),
            (123_456.0, "123456", "123456.0"),
            (123_456.5, "123456.5", "123456.5"),
            (999_999.0, "999999", "999999.0"),
            (1e6, "1e+06", "1e+06"),
            (1_048_576.0, "1.048576e+06", "1.048576e+06"),
            (1_234_567.5, "1.2345675e+06", "1.2345675e+06"),
            (1e21, "1e+21", "1e+21"),
            (1e300, "1e+300", "1e+300"),
            (1e-300, "1e-300", "1e-300"),
            (5e-324, "5e-324", "5e-324"),
            (
                f64::MAX,
                "1.7976931348623157e+308",
                "1.7976931348623157e+308",
            ),
            (0.1 + 0.2, "0.30000000000000004", "0.30000000000000004"),
        ];
        for (v, go, canonical) in cases {
            assert_eq!(text_of(write_prometheus_le, v), go, "{v:?}");
            assert_eq!(text_of(write_le, v), canonical, "{v:?}");
        }
    }

    #[test]
    fn integers_and_numbers() {
        let mut out = Vec::new();
        write_number(&mut out, Number::U64(u64::MAX)).unwrap();
        out.push(b' ');
        write_number(&mut out, Number::I64(i64::MIN)).unwrap();
        out.push(b' ');
        write_number(&mut out, Number::F64(0.5)).unwrap();
        assert_eq!(out, b"18446744073709551615 -9223372036854775808 0.5");
    }

    #[test]
    fn unix_seconds() {
        let at = |t: SystemTime| {
            let mut out = Vec::new();
            write_unix_seconds(&mut out, t).unwrap();
            String::from_utf8(out).unwrap()
        };
        let epoch = SystemTime::UNIX_EPOCH;
        assert_eq!(at(epoch), "0.0");
        assert_eq!(
            at(epoch + Duration::new(1_700_000_000, 250_000_000)),
            "1700000000.25"
        );
        assert_eq!(at(epoch + Duration::new(1, 1)), "1.000000001");
        assert_eq!(at(epoch + Duration::new(12, 0)), "12.0");
        assert_eq!(at(epoch - Duration::new(1, 500_000_000)), "-1.5");
    }

    #[test]
    fn millis() {
        let epoch = SystemTime::UNIX_EPOCH;
        assert_eq!(unix_millis(epoch), 0);
        assert_eq!(unix_millis(epoch + Duration::from_micros(1_500)), 1);
        assert_eq!(unix_millis(epoch - Duration::from_millis(5)), -5);
    }

    proptest! {
        #[test]
        fn f64_round_trips(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            let text = f64_text(v);
            let back = parse(&text);
            prop_assert!(back.to_bits() == v.to_bits() || (v.is_nan() && back.is_nan()), "{text}");
        }

        #[test]
        fn le_round_trips_and_looks_like_a_float(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            let go = text_of(write_prometheus_le, v);
            let back = parse(&go);
            prop_assert!(back.to_bits() == v.to_bits() || (v.is_nan() && back.is_nan()), "{go}");
            let canonical = text_of(write_le, v);
            let back = parse(&canonical);
            prop_assert!(back.to_bits() == v.to_bits() || (v.is_nan() && back.is_nan()), "{canonical}");
            prop_assert!(!v.is_finite() || canonical.contains('.') || canonical.contains('e'), "{canonical}");
            prop_assert!(canonical.starts_with(go.as_str()));
        }
    }
}
