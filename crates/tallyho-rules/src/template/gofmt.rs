//! Go's number formatting (`strconv.FormatFloat` and `fmt`'s verbs), which rule templates
//! show to users: `{{ $value }}` prints `1e+06`, `%.4g` drops trailing zeros.

/// Decimal digits (no leading or trailing zeros) and the position of the decimal point:
/// the value is `0.d1d2d3… × 10^dp`.
struct Digits {
    d: Vec<u8>,
    dp: i32,
}

/// Digits of `|v|` rounded to `sig` significant digits, or the shortest round-trip digits.
fn digits(v: f64, sig: Option<usize>) -> Digits {
    let v = v.abs();
    if v == 0.0 {
        return Digits {
            d: Vec::new(),
            dp: 0,
        };
    }
    let s = match sig {
        Some(p) => format!("{:.*e}", p.max(1) - 1, v),
        None => format!("{v:e}"),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    Digits { d, dp: exp + 1 }
}

fn special(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("+Inf")
    } else if v == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

fn fmt_e(neg: bool, dg: &Digits, prec: usize) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push(char::from(dg.d.first().copied().unwrap_or(b'0')));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(char::from(dg.d.get(i).copied().unwrap_or(b'0')));
        }
    }
    let exp = if dg.d.is_empty() { 0 } else { dg.dp - 1 };
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs();
    if e < 10 {
        out.push('0');
    }
    out.push_str(&e.to_string());
    out
}

fn fmt_f(neg: bool, dg: &Digits, prec: usize) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if dg.dp > 0 {
        for i in 0..dg.dp as usize {
            out.push(char::from(dg.d.get(i).copied().unwrap_or(b'0')));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec as i32 {
            let j = dg.dp + i;
            let c = if j < 0 {
                b'0'
            } else {
                dg.d.get(j as usize).copied().unwrap_or(b'0')
            };
            out.push(char::from(c));
        }
    }
    out
}

/// Go's `%g` (`prec` = `None` is the shortest representation, as `%v` prints floats).
pub(crate) fn format_g(v: f64, prec: Option<usize>) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    let neg = v.is_sign_negative() && v != 0.0;
    let dg = digits(v, prec.map(|p| p.max(1)));
    let nd = dg.d.len() as i32;
    let mut p = prec.map_or(nd, |p| p.max(1) as i32);
    let mut eprec = p;
    if eprec > nd && nd >= dg.dp {
        eprec = nd;
    }
    if prec.is_none() {
        eprec = 6;
    }
    let exp = dg.dp - 1;
    if exp < -4 || exp >= eprec {
        if p > nd {
            p = nd;
        }
        return fmt_e(neg, &dg, (p - 1).max(0) as usize);
    }
    if p > dg.dp {
        p = nd;
    }
    fmt_f(neg, &dg, (p - dg.dp).max(0) as usize)
}

/// Go's `%e` with `prec` digits after the point.
pub(crate) fn format_e(v: f64, prec: usize) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    let neg = v.is_sign_negative() && v != 0.0;
    let dg = digits(v, Some(prec + 1));
    fmt_e(neg, &dg, prec)
}

/// Go's `%f` with `prec` digits after the point.
pub(crate) fn format_f(v: f64, prec: usize) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    format!("{:.*}", prec, v)
}

/// `strconv.FormatFloat(v, 'e', -1, 64)`: the API's alert `value`.
pub(crate) fn format_e_shortest(v: f64) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    let neg = v.is_sign_negative() && v != 0.0;
    let dg = digits(v, None);
    let prec = dg.d.len().saturating_sub(1);
    fmt_e(neg, &dg, prec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_g_matches_go() {
        let cases = [
            (0.0, "0"),
            (1.0, "1"),
            (0.5, "0.5"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (123456789.0, "1.23456789e+08"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (1e21, "1e+21"),
            (0.1 + 0.2, "0.30000000000000004"),
        ];
        for (v, want) in cases {
            assert_eq!(format_g(v, None), want, "{v}");
        }
    }

    #[test]
    fn precision_g_matches_go() {
        let cases = [
            (1.5, "1.5"),
            (100.0, "100"),
            (1000.0, "1000"),
            (10000.0, "1e+04"),
            (123.456, "123.5"),
            (1234567.0, "1.235e+06"),
            (0.00001234, "1.234e-05"),
            (0.0, "0"),
            (99.99999, "100"),
            (-0.5, "-0.5"),
        ];
        for (v, want) in cases {
            assert_eq!(format_g(v, Some(4)), want, "{v}");
        }
    }

    #[test]
    fn e_and_f_match_go() {
        assert_eq!(format_e(1234.5678, 2), "1.23e+03");
        assert_eq!(format_e(0.0, 6), "0.000000e+00");
        assert_eq!(format_f(1.005, 2), "1.00");
        assert_eq!(format_f(2.5, 0), "2");
        assert_eq!(format_e_shortest(1.0), "1e+00");
        assert_eq!(format_e_shortest(0.55), "5.5e-01");
        assert_eq!(format_e_shortest(12345.0), "1.2345e+04");
    }
}
