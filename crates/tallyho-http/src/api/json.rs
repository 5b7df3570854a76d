//! Prometheus' JSON for query results, written by hand so numbers come out exactly as
//! Prometheus writes them: timestamps as seconds with up to three decimals, values as
//! strings in the shortest form (`1.5`, `NaN`, `+Inf`, `1e-07`).

use std::fmt::Write;

use tallyho_query::{Labels, RangeSeries, Sample, Value};

/// A value as Prometheus' `MarshalValue` writes it (Go's `strconv.FormatFloat(v, 'f', -1,
/// 64)`, switching to the exponent form below 1e-6 and from 1e21).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust writes `1.5e-7`; Go writes `1.5e-07` (sign always, two digits at least).
        let s = format!("{v:e}");
        if let Some((mantissa, exp)) = s.split_once('e') {
            if let Ok(exp) = exp.parse::<i32>() {
                let sign = if exp < 0 { '-' } else { '+' };
                return format!("{mantissa}e{sign}{:02}", exp.unsigned_abs());
            }
        }
        return s;
    }
    format!("{v}")
}

/// Writes a millisecond timestamp as Prometheus' `MarshalTimestamp` does: seconds, then
/// three digits of milliseconds when they are not zero.
pub fn write_timestamp(out: &mut String, ms: i64) {
    if ms < 0 {
        out.push('-');
    }
    let abs = ms.unsigned_abs();
    let _ = write!(out, "{}", abs / 1000);
    if abs % 1000 != 0 {
        let _ = write!(out, ".{:03}", abs % 1000);
    }
}

/// Writes `s` as a JSON string, escaping as Go's `encoding/json` does (HTML characters and
/// the line separators U+2028/U+2029 as `\u` escapes).
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes a label set as a JSON object, names in byte order as Go sorts map keys.
pub fn write_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, k);
        out.push(':');
        write_str(out, v);
    }
    out.push('}');
}

/// `[t, "v"]`.
fn write_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    write_timestamp(out, t);
    out.push(',');
    out.push('"');
    out.push_str(&format_value(v));
    out.push('"');
    out.push(']');
}

fn write_series(out: &mut String, series: &RangeSeries) {
    out.push_str("{\"metric\":");
    write_labels(out, &series.labels);
    if !series.samples.is_empty() {
        out.push_str(",\"values\":[");
        for (i, Sample { t, v }) in series.samples.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_point(out, *t, *v);
        }
        out.push(']');
    }
    out.push('}');
}

/// `{"resultType":"matrix","result":[...]}` for a range query.
pub fn matrix_data(series: &[RangeSeries]) -> String {
    let mut out = String::with_capacity(64 + series.len() * 128);
    out.push_str("{\"resultType\":\"matrix\",\"result\":[");
    for (i, s) in series.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_series(&mut out, s);
    }
    out.push_str("]}");
    out
}

/// `{"resultType":...,"result":...}` for an instant query.
pub fn value_data(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"resultType\":\"");
    out.push_str(value.type_name());
    out.push_str("\",\"result\":");
    match value {
        Value::Scalar { t, v } => write_point(&mut out, *t, *v),
        Value::String { t, s } => {
            out.push('[');
            write_timestamp(&mut out, *t);
            out.push(',');
            write_str(&mut out, s);
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(&mut out, &s.labels);
                out.push_str(",\"value\":");
                write_point(&mut out, s.t, s.v);
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push('[');
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_series(&mut out, s);
            }
            out.push(']');
        }
    }
    out.push('}');
    out
}

/// `["a","b"]`.
pub fn string_list(items: &[String]) -> String {
    let mut out = String::with_capacity(2 + items.len() * 16);
    out.push('[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(&mut out, s);
    }
    out.push(']');
    out
}

/// `[{"__name__":"up",...},...]`.
pub fn label_sets(sets: &[Labels]) -> String {
    let mut out = String::with_capacity(2 + sets.len() * 64);
    out.push('[');
    for (i, l) in sets.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_labels(&mut out, l);
    }
    out.push(']');
    out
}

/// The body `/api/v1/query` answers with for `value`.
pub fn instant_response(value: &Value) -> String {
    success(&value_data(value))
}

/// The body `/api/v1/query_range` answers with for `series`.
pub fn range_response(series: &[RangeSeries]) -> String {
    success(&matrix_data(series))
}

/// `{"status":"success","data":<data>}`.
pub fn success(data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 32);
    out.push_str("{\"status\":\"success\",\"data\":");
    out.push_str(data);
    out.push('}');
    out
}

/// `{"status":"error","errorType":...,"error":...}`.
pub fn error(error_type: &str, message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 64);
    out.push_str("{\"status\":\"error\",\"errorType\":");
    write_str(&mut out, error_type);
    out.push_str(",\"error\":");
    write_str(&mut out, message);
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tallyho_query::InstantSample;

    #[test]
    fn values_format_like_go() {
        let cases: &[(f64, &str)] = &[
            (1.5, "1.5"),
            (2.0, "2"),
            (0.0, "0"),
            (-0.0, "-0"),
            (0.1, "0.1"),
            (1e-6, "0.000001"),
            (1.5e-7, "1.5e-07"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (-2.5e300, "-2.5e+300"),
            (5e-324, "5e-324"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (123456789.125, "123456789.125"),
            (f64::MAX, "1.7976931348623157e+308"),
        ];
        for (v, want) in cases {
            assert_eq!(format_value(*v), *want, "{v}");
        }
    }

    #[test]
    fn timestamps_format_like_prometheus() {
        let t = |ms| {
            let mut s = String::new();
            write_timestamp(&mut s, ms);
            s
        };
        assert_eq!(t(1_700_000_000_000), "1700000000");
        assert_eq!(t(1_700_000_000_123), "1700000000.123");
        assert_eq!(t(1_700_000_000_120), "1700000000.120");
        assert_eq!(t(1_700_000_000_005), "1700000000.005");
        assert_eq!(t(-1500), "-1.500");
        assert_eq!(t(0), "0");
    }

    #[test]
    fn results_are_valid_json_with_prometheus_shapes() {
        let labels = Labels::new([
            ("__name__".to_string(), "up".to_string()),
            ("job".to_string(), "a\"<b>\n".to_string()),
        ]);
        let v = Value::Vector(vec![InstantSample {
            labels: labels.clone(),
            t: 1_700_000_000_123,
            v: f64::NAN,
        }]);
        let parsed: serde_json::Value = serde_json::from_str(&success(&value_data(&v))).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"__name__":"up","job":"a\"<b>\n"},"value":[1700000000.123,"NaN"]}]}})
        );
        let m = matrix_data(&[RangeSeries {
            labels,
            samples: vec![Sample { t: 1000, v: 1.0 }, Sample { t: 2000, v: 2.0 }],
        }]);
        let parsed: serde_json::Value = serde_json::from_str(&m).unwrap();
        assert_eq!(
            parsed["result"][0]["values"],
            serde_json::json!([[1, "1"], [2, "2"]])
        );
        let s = value_data(&Value::Scalar { t: 1000, v: 2.0 });
        assert_eq!(s, r#"{"resultType":"scalar","result":[1,"2"]}"#);
        let e: serde_json::Value = serde_json::from_str(&error("bad_data", "x\u{1}")).unwrap();
        assert_eq!(e["error"], "x\u{1}");
    }
}
