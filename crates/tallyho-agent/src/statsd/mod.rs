//! StatsD ingestion: parse lines (`name:value|type[|@rate][|#tag:v,...]`) and record them
//! into a registry. Counters, gauges (with `+`/`-` deltas), timings, histograms,
//! distributions and sets; sample rates scale counts; DogStatsD tags become labels.
//! Malformed lines are counted and skipped, never fatal.
//!
//! Every map fed from the network is bounded ([`Limits`]): new names past the limit, names
//! that would collide in the exposition with another family or a reserved name, and
//! values no parser accepts are refused and counted in `tallyho_statsd_refused_lines`
//! with a `reason` label.

mod distinct;
mod ingest;
mod socket;

pub use distinct::Distinct;
pub use ingest::{Ingest, Limits};
pub use socket::{bind, kernel_drops, register_metrics, serve, Bound};

/// What a line asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// `c`
    Counter,
    /// `g`; `delta` when the value had an explicit sign.
    Gauge {
        /// Whether the value adjusts rather than sets.
        delta: bool,
    },
    /// `ms`: milliseconds, recorded in seconds.
    Timing,
    /// `h` or `d`.
    Histogram,
    /// `s`: count of distinct values per name.
    Set,
}

/// One parsed line, borrowing the datagram.
#[derive(Debug, Clone, PartialEq)]
pub struct Line<'a> {
    /// The metric name as sent.
    pub name: &'a str,
    /// The value (sets: the raw member is in `member`).
    pub value: f64,
    /// A set's member.
    pub member: &'a str,
    /// The type.
    pub kind: Kind,
    /// `@rate`, 1 when absent.
    pub rate: f64,
    /// DogStatsD tags, `key:value` (a bare `key` has an empty value).
    pub tags: Vec<(&'a str, &'a str)>,
}

/// Why a line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// Parses one line.
///
/// # Errors
/// [`Malformed`] saying which part is wrong.
pub fn parse(line: &str) -> Result<Line<'_>, Malformed> {
    let (name, rest) = line
        .split_once(':')
        .ok_or(Malformed("no ':' after the name"))?;
    if name.is_empty() {
        return Err(Malformed("empty name"));
    }
    let mut parts = rest.split('|');
    let raw = parts.next().unwrap_or("");
    let kind = parts.next().ok_or(Malformed("no '|type'"))?;
    let mut rate = 1.0;
    let mut tags = Vec::new();
    for p in parts {
        if let Some(r) = p.strip_prefix('@') {
            rate = r
                .parse()
                .map_err(|_| Malformed("sample rate is not a number"))?;
            if !(rate > 0.0 && rate <= 1.0) {
                return Err(Malformed("sample rate must be in (0, 1]"));
            }
        } else if let Some(t) = p.strip_prefix('#') {
            for tag in t.split(',').filter(|t| !t.is_empty()) {
                tags.push(tag.split_once(':').unwrap_or((tag, "")));
            }
        } else if p.starts_with('c') || p.starts_with('T') {
            // DogStatsD container id / timestamp extensions: ignored.
        } else {
            return Err(Malformed("unknown field after the type"));
        }
    }
    let number = || -> Result<f64, Malformed> {
        let v: f64 = raw
            .parse()
            .map_err(|_| Malformed("value is not a number"))?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(Malformed("value is not finite"))
        }
    };
    let (kind, value) = match kind {
        "c" => (Kind::Counter, number()?),
        "g" => (
            Kind::Gauge {
                delta: raw.starts_with('+') || raw.starts_with('-'),
            },
            number()?,
        ),
        "ms" => (Kind::Timing, number()?),
        "h" | "d" => (Kind::Histogram, number()?),
        "s" => (Kind::Set, 0.0),
        _ => return Err(Malformed("unknown type (c, g, ms, h, d, s)")),
    };
    Ok(Line {
        name,
        value,
        member: raw,
        kind,
        rate,
        tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tallyho::Registry;

    #[test]
    fn parses_every_type() {
        let l = parse("api.hits:3|c|@0.5|#route:/x,code:200").unwrap();
        assert_eq!(
            (l.name, l.value, l.kind, l.rate),
            ("api.hits", 3.0, Kind::Counter, 0.5)
        );
        assert_eq!(l.tags, vec![("route", "/x"), ("code", "200")]);
        assert_eq!(parse("q:-2|g").unwrap().kind, Kind::Gauge { delta: true });
        assert_eq!(parse("q:2|g").unwrap().kind, Kind::Gauge { delta: false });
        assert_eq!(parse("t:12.5|ms").unwrap().kind, Kind::Timing);
        assert_eq!(parse("u:alice|s").unwrap().member, "alice");
        for bad in [
            "nocolon",
            ":1|c",
            "x:1",
            "x:abc|c",
            "x:1|zz",
            "x:1|c|@2",
            "x:1|c|junk",
            "x:inf|g",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ingest_records_and_counts_bad_lines() {
        let r = Registry::new();
        let i = Ingest::new(&r).unwrap();
        i.datagram("jobs:1|c\njobs:2|c|@0.5\nqueue:10|g\nqueue:-3|g\nlat:250|ms|#route:/a\nusers:a|s\nusers:b|s\nusers:a|s\nbroken\njobs:1|g");
        let s = r.snapshot();
        assert_eq!(s.value("jobs", &[]), Some(5.0));
        assert_eq!(s.value("queue", &[]), Some(7.0));
        assert_eq!(s.value("users", &[]), Some(2.0));
        let lat = s
            .family("lat_seconds")
            .unwrap()
            .series_with(&[("route", "/a")])
            .unwrap();
        let h = lat.value.as_histogram().unwrap();
        assert_eq!((h.count, h.sum), (1, 0.25));
        assert_eq!(s.value("tallyho_statsd_malformed_lines", &[]), Some(1.0));
        assert_eq!(
            s.value("tallyho_statsd_rejected_lines", &[]),
            Some(1.0),
            "jobs as a gauge clashes"
        );
        assert_eq!(s.value("tallyho_statsd_lines", &[]), Some(10.0));
    }

    fn refused(s: &tallyho::Snapshot, reason: &str) -> Option<f64> {
        s.value("tallyho_statsd_refused_lines", &[("reason", reason)])
    }

    #[test]
    fn new_names_past_the_limit_are_refused_and_counted() {
        let r = Registry::new();
        let i = Ingest::with_limits(
            &r,
            Limits {
                max_families: 100,
                max_sets: 3,
            },
        )
        .unwrap();
        let text: String = (0..1000).map(|n| format!("m{n}:1|c\n")).collect();
        i.datagram(&text);
        i.datagram("m5:1|c");
        let s = r.snapshot();
        assert_eq!(s.value("m5", &[]), Some(2.0), "known names still record");
        assert_eq!(s.value("m500", &[]), None);
        assert_eq!(refused(&s, "too_many_families"), Some(900.0));
        let sets: String = (0..10).map(|n| format!("s{n}:x|s\n")).collect();
        let r = Registry::new();
        let i = Ingest::with_limits(
            &r,
            Limits {
                max_families: 100,
                max_sets: 3,
            },
        )
        .unwrap();
        i.datagram(&sets);
        assert_eq!(refused(&r.snapshot(), "too_many_sets"), Some(7.0));
    }

    #[test]
    fn a_set_of_many_members_is_estimated_in_bounded_memory() {
        let r = Registry::new();
        let i = Ingest::new(&r).unwrap();
        for chunk in 0..200 {
            let text: String = (0..1000)
                .map(|n| format!("u:m{}|s\n", chunk * 1000 + n))
                .collect();
            i.datagram(&text);
        }
        let v = r.snapshot().value("u", &[]).unwrap();
        assert!((v - 200_000.0).abs() < 20_000.0, "{v}");
    }

    #[test]
    fn colliding_and_reserved_names_are_refused() {
        let r = Registry::new();
        r.gauge("host_load", "A host family.").unwrap().set(1.0);
        let i = Ingest::new(&r).unwrap();
        i.datagram("coll:1|c\ncoll_total:7|g\nx:1|h\nx_count:1|g\nx_sum:1|g\nx_bucket:1|g\n");
        i.datagram("host_load:5|c\ntallyho_statsd_lines:1|c\n__x:1|g\ny_total:1|g\ny:1|c\n");
        let s = r.snapshot();
        assert_eq!(s.value("coll", &[]), Some(1.0));
        assert_eq!(s.value("coll_total", &[]), None);
        assert!(s.family("x_count").is_none() && s.family("x_sum").is_none());
        assert_eq!(
            refused(&s, "name_collision"),
            Some(5.0),
            "coll_total, x_*, y"
        );
        assert_eq!(refused(&s, "reserved_name"), Some(2.0));
        assert_eq!(
            s.value("tallyho_statsd_rejected_lines", &[]),
            Some(1.0),
            "host_load as a counter clashes in the registry"
        );
        let mut text = Vec::new();
        tallyho_encode::Format::Prometheus
            .encode(&mut text, &s)
            .unwrap();
        let text = String::from_utf8(text).unwrap();
        assert_eq!(text.matches("# TYPE coll").count(), 1, "{text}");
    }

    #[test]
    fn values_no_parser_accepts_are_refused_with_a_reason() {
        let r = Registry::new();
        let i = Ingest::new(&r).unwrap();
        i.datagram("c:-3|c\nt:-5|ms\nbig:1e308|c\nbig:1e308|c\ntiny:1|c|@1e-320\ng:1e308|g\ng:+1e308|g\nok:2|c");
        let s = r.snapshot();
        assert_eq!(refused(&s, "negative_counter"), Some(1.0));
        assert_eq!(refused(&s, "negative_timing"), Some(1.0));
        assert_eq!(refused(&s, "overflow"), Some(2.0), "big twice, g delta");
        assert_eq!(refused(&s, "not_finite"), Some(1.0), "tiny rate");
        assert_eq!(s.value("big", &[]), Some(1e308));
        assert_eq!(s.value("ok", &[]), Some(2.0));
    }

    #[test]
    fn one_bad_utf8_line_drops_only_itself() {
        let r = Registry::new();
        let i = Ingest::new(&r).unwrap();
        i.datagram_bytes(b"a:1|c\nb\xff\xfe:1|c\r\nc:2|c\n");
        let s = r.snapshot();
        assert_eq!(s.value("a", &[]), Some(1.0));
        assert_eq!(s.value("c", &[]), Some(2.0));
        assert_eq!(s.value("tallyho_statsd_malformed_lines", &[]), Some(1.0));
        assert_eq!(s.value("tallyho_statsd_lines", &[]), Some(3.0));
    }
}
