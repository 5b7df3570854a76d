//! The functions rule templates may call: Prometheus' (`humanize`, `query`, `first`, …) and
//! Go's builtins (`printf`, `eq`, `len`, …).

use std::rc::Rc;

use super::exec::{Env, Val};
use super::gofmt::format_g;
use super::printf::sprintf;

/// Every function name a template may use.
pub(crate) const NAMES: &[&str] = &[
    // Prometheus
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "sortByLabel",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "reReplaceAll",
    "match",
    "title",
    "toUpper",
    "toLower",
    "safeHtml",
    "stripPort",
    "stripDomain",
    "graphLink",
    "tableLink",
    "parseDuration",
    "externalURL",
    "pathPrefix",
    // Go builtins
    "and",
    "or",
    "not",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "urlquery",
    "html",
    "js",
];

/// Whether `name` is a function templates may call.
pub(crate) fn known(name: &str) -> bool {
    NAMES.contains(&name)
}

fn want(args: &[Val], n: usize, name: &str) -> Result<(), String> {
    if args.len() != n {
        return Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

/// Go's `convertToFloat`: numbers, and strings that parse as floats.
pub(crate) fn to_float(v: &Val) -> Result<f64, String> {
    match v {
        Val::Float(f) => Ok(*f),
        Val::Int(i) => Ok(*i as f64),
        Val::Str(s) => parse_go_float(s)
            .ok_or_else(|| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax")),
        other => Err(format!("can't convert {} to float", other.type_name())),
    }
}

fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "Inf" | "+Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

fn text(v: &Val) -> String {
    v.print()
}

/// Prometheus' `humanize`: SI prefixes, 4 significant digits.
pub(crate) fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format_g(v, Some(4));
    }
    let mut v = v;
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", format_g(v, Some(4)))
}

fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return format_g(v, Some(4));
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", format_g(v, Some(4)))
}

/// Prometheus' `humanizeDuration`: seconds as `1d 2h 3m 4s`, or with a sub-second prefix.
pub(crate) fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return format_g(v, Some(4));
    }
    if v == 0.0 {
        return format!("{}s", format_g(v, Some(4)));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let v = v.abs();
        let total = v as i64;
        let (s, m, h, d) = (
            total % 60,
            (total / 60) % 60,
            (total / 3600) % 24,
            total / 86_400,
        );
        return if d != 0 {
            format!("{sign}{d}d {h}h {m}m {s}s")
        } else if h != 0 {
            format!("{sign}{h}h {m}m {s}s")
        } else if m != 0 {
            format!("{sign}{m}m {s}s")
        } else {
            format!("{sign}{}s", format_g(v, Some(4)))
        };
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", format_g(v, Some(4)))
}

/// Go's `time.Time.String()` in UTC for a Unix time in seconds.
fn humanize_timestamp(v: f64) -> String {
    if !v.is_finite() {
        return format_g(v, Some(4));
    }
    let nanos = (v * 1e9).round() as i128;
    let secs = nanos.div_euclid(1_000_000_000) as i64;
    let frac = nanos.rem_euclid(1_000_000_000) as u32;
    let mut out = crate::time::civil(secs);
    if frac > 0 {
        let f = format!("{frac:09}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

fn compare(name: &str, a: &Val, b: &Val) -> Result<bool, String> {
    use std::cmp::Ordering;
    let ord = match (a, b) {
        (Val::Str(x), Val::Str(y)) => x.cmp(y),
        (Val::Int(x), Val::Int(y)) => x.cmp(y),
        (Val::Float(_) | Val::Int(_), Val::Float(_) | Val::Int(_)) => {
            let (x, y) = (to_float(a)?, to_float(b)?);
            match x.partial_cmp(&y) {
                Some(o) => o,
                None => return Ok(name == "ne"),
            }
        }
        (Val::Bool(x), Val::Bool(y)) if name == "eq" || name == "ne" => x.cmp(y),
        _ => return Err("incompatible types for comparison".into()),
    };
    Ok(match name {
        "eq" => ord == Ordering::Equal,
        "ne" => ord != Ordering::Equal,
        "lt" => ord == Ordering::Less,
        "le" => ord != Ordering::Greater,
        "gt" => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    })
}

fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("error parsing regexp: {e}"))
}

fn sample_of(v: &Val) -> Result<&super::exec::QuerySample, String> {
    match v {
        Val::Sample(s) => Ok(s),
        other => Err(format!(
            "wrong type for value; expected *template.sample; got {}",
            other.type_name()
        )),
    }
}

fn go_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_letter = false;
    for c in s.chars() {
        if !prev_letter && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Calls function `name` with evaluated `args`.
pub(crate) fn call(name: &str, args: &[Val], env: &dyn Env) -> Result<Val, String> {
    let one = |n: &str| -> Result<&Val, String> {
        want(args, 1, n)?;
        Ok(&args[0])
    };
    Ok(match name {
        "humanize" => Val::Str(humanize(to_float(one(name)?)?)),
        "humanize1024" => Val::Str(humanize1024(to_float(one(name)?)?)),
        "humanizeDuration" => Val::Str(humanize_duration(to_float(one(name)?)?)),
        "humanizePercentage" => Val::Str(format!(
            "{}%",
            format_g(to_float(one(name)?)? * 100.0, Some(4))
        )),
        "humanizeTimestamp" => Val::Str(humanize_timestamp(to_float(one(name)?)?)),
        "query" => match one(name)? {
            Val::Str(q) => Val::List(Rc::new(env.query(q)?)),
            other => {
                return Err(format!(
                    "wrong type for value; expected string; got {}",
                    other.type_name()
                ))
            }
        },
        "first" => match one(name)? {
            Val::List(l) => l
                .first()
                .cloned()
                .ok_or("first() called on vector with no elements")?,
            other => {
                return Err(format!(
                    "wrong type for value; expected template.queryResult; got {}",
                    other.type_name()
                ))
            }
        },
        "label" => {
            want(args, 2, name)?;
            Val::Str(
                sample_of(&args[1])?
                    .labels
                    .get(&text(&args[0]))
                    .cloned()
                    .unwrap_or_default(),
            )
        }
        "value" => Val::Float(sample_of(one(name)?)?.value),
        "strvalue" => Val::Str(
            sample_of(one(name)?)?
                .labels
                .get("__value__")
                .cloned()
                .unwrap_or_default(),
        ),
        "sortByLabel" => {
            want(args, 2, name)?;
            let key = text(&args[0]);
            let Val::List(l) = &args[1] else {
                return Err("wrong type for value; expected template.queryResult".into());
            };
            let mut v: Vec<Val> = l.as_ref().clone();
            v.sort_by(|a, b| {
                let la = sample_of(a)
                    .map(|s| s.labels.get(&key).cloned().unwrap_or_default())
                    .unwrap_or_default();
                let lb = sample_of(b)
                    .map(|s| s.labels.get(&key).cloned().unwrap_or_default())
                    .unwrap_or_default();
                la.cmp(&lb)
            });
            Val::List(Rc::new(v))
        }
        "reReplaceAll" => {
            want(args, 3, name)?;
            // Go's replacement syntax (`$1`, `${name}`, `$$`) is the regex crate's.
            let re = regex(&text(&args[0]))?;
            Val::Str(
                re.replace_all(&text(&args[2]), text(&args[1]).as_str())
                    .into_owned(),
            )
        }
        "match" => {
            want(args, 2, name)?;
            Val::Bool(regex(&text(&args[0]))?.is_match(&text(&args[1])))
        }
        "title" => Val::Str(go_title(&text(one(name)?))),
        "toUpper" => Val::Str(text(one(name)?).to_uppercase()),
        "toLower" => Val::Str(text(one(name)?).to_lowercase()),
        "safeHtml" => Val::Str(text(one(name)?)),
        "stripPort" => {
            let s = text(one(name)?);
            Val::Str(strip_port(&s))
        }
        "stripDomain" => {
            let s = text(one(name)?);
            let (host, port) = match s.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => {
                    (h.to_string(), format!(":{p}"))
                }
                _ => (s.clone(), String::new()),
            };
            let short = if host.parse::<std::net::IpAddr>().is_ok() {
                host
            } else {
                host.split('.').next().unwrap_or("").to_string()
            };
            Val::Str(format!("{short}{port}"))
        }
        "graphLink" => Val::Str(format!(
            "/graph?g0.expr={}&g0.tab=0",
            query_escape(&text(one(name)?))
        )),
        "tableLink" => Val::Str(format!(
            "/graph?g0.expr={}&g0.tab=1",
            query_escape(&text(one(name)?))
        )),
        "parseDuration" => {
            let ms = crate::duration::parse_duration(&text(one(name)?))?;
            Val::Float(ms as f64 / 1000.0)
        }
        "externalURL" | "pathPrefix" => Val::Str(String::new()),
        "not" => Val::Bool(!one(name)?.truthy()),
        "len" => match one(name)? {
            Val::Str(s) => Val::Int(s.len() as i64),
            Val::Map(m) => Val::Int(m.len() as i64),
            Val::List(l) => Val::Int(l.len() as i64),
            other => return Err(format!("len of type {}", other.type_name())),
        },
        "index" => {
            let Some((first, keys)) = args.split_first() else {
                return Err("wrong number of args for index: want at least 1 got 0".into());
            };
            let mut v = first.clone();
            for k in keys {
                v = match (&v, k) {
                    (Val::Map(m), key) => Val::Str(m.get(&text(key)).cloned().unwrap_or_default()),
                    (Val::List(l), Val::Int(i)) => l
                        .get(usize::try_from(*i).unwrap_or(usize::MAX))
                        .cloned()
                        .ok_or_else(|| format!("index out of range: {i}"))?,
                    (other, _) => {
                        return Err(format!("can't index item of type {}", other.type_name()))
                    }
                };
            }
            v
        }
        "print" => Val::Str(go_print(args)),
        "println" => Val::Str(args.iter().map(Val::print).collect::<Vec<_>>().join(" ") + "\n"),
        "printf" => {
            let Some((f, rest)) = args.split_first() else {
                return Err("wrong number of args for printf: want at least 1 got 0".into());
            };
            Val::Str(sprintf(&text(f), rest))
        }
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" => {
            if name == "eq" && args.len() > 2 {
                let hit = args[1..]
                    .iter()
                    .any(|b| compare("eq", &args[0], b).unwrap_or(false));
                return Ok(Val::Bool(hit));
            }
            want(args, 2, name)?;
            Val::Bool(compare(name, &args[0], &args[1])?)
        }
        "urlquery" => Val::Str(query_escape(&go_print(args))),
        "html" => Val::Str(html_escape(&go_print(args))),
        "js" => Val::Str(
            go_print(args)
                .replace('\\', "\\\\")
                .replace('\'', "\\'")
                .replace('"', "\\\""),
        ),
        other => return Err(format!("function {other:?} not defined")),
    })
}

fn strip_port(s: &str) -> String {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((host, _)) = rest.split_once(']') {
            return host.to_string();
        }
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h.to_string(),
        _ => s.to_string(),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// Go's `fmt.Sprint`: spaces between operands when neither is a string.
fn go_print(args: &[Val]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Val::Str(_)) && !matches!(args[i - 1], Val::Str(_)) {
            out.push(' ');
        }
        out.push_str(&a.print());
    }
    out
}
