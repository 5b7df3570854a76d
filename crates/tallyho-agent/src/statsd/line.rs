//! Reading one StatsD / DogStatsD line.

use super::{Kind, Line, Malformed};

/// Parses one line.
///
/// # Errors
/// [`Malformed::Syntax`] saying which part is wrong, or [`Malformed::Unsupported`] for a
/// field after the type that is not part of the DogStatsD format.
pub fn parse(line: &str) -> Result<Line<'_>, Malformed> {
    let syntax = Malformed::Syntax;
    let (name, rest) = line
        .split_once(':')
        .ok_or(syntax("no ':' after the name"))?;
    if name.is_empty() {
        return Err(syntax("empty name"));
    }
    let mut parts = rest.split('|');
    let raw = parts.next().unwrap_or("");
    let kind = parts.next().ok_or(syntax("no '|type'"))?;
    let mut rate = 1.0;
    let mut tags = Vec::new();
    for p in parts {
        if let Some(r) = p.strip_prefix('@') {
            rate = r
                .parse()
                .map_err(|_| syntax("sample rate is not a number"))?;
            if !(rate > 0.0 && rate <= 1.0) {
                return Err(syntax("sample rate must be in (0, 1]"));
            }
        } else if let Some(t) = p.strip_prefix('#') {
            for tag in t.split(',').filter(|t| !t.is_empty()) {
                tags.push(tag.split_once(':').unwrap_or((tag, "true")));
            }
        } else if let Some(ts) = p.strip_prefix('T') {
            // DogStatsD timestamp (unix seconds): checked, then ignored.
            if ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax("timestamp is not unix seconds"));
            }
        } else if p.starts_with("c:") || p.starts_with("e:") || p.starts_with("card:") {
            // DogStatsD container id, external data, cardinality: ignored.
        } else {
            return Err(Malformed::Unsupported("unknown_field"));
        }
    }
    let number = |raw: &str| -> Result<f64, Malformed> {
        let v: f64 = raw.parse().map_err(|_| syntax("value is not a number"))?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(syntax("value is not finite"))
        }
    };
    let kind = match kind {
        "c" => Kind::Counter,
        "g" => Kind::Gauge { delta: false },
        "ms" => Kind::Timing,
        "h" | "d" => Kind::Histogram,
        "s" => Kind::Set,
        _ => return Err(syntax("unknown type (c, g, ms, h, d, s)")),
    };
    let (value, more) = if kind == Kind::Set {
        (0.0, Vec::new())
    } else {
        let mut values = raw.split(':');
        let first = number(values.next().unwrap_or(""))?;
        (first, values.map(number).collect::<Result<Vec<_>, _>>()?)
    };
    let kind = match kind {
        // A sign makes a gauge value a delta; multi-value gauges take the first value's.
        Kind::Gauge { .. } => Kind::Gauge {
            delta: raw.starts_with('+') || raw.starts_with('-'),
        },
        k => k,
    };
    Ok(Line {
        name,
        value,
        more,
        member: raw,
        kind,
        rate,
        tags,
    })
}
