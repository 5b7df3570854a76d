//! StatsD ingestion: parse lines (`name:value|type[|@rate][|#tag:v,...]`) and record them
//! into a registry. Counters, gauges (with `+`/`-` deltas), timings, histograms,
//! distributions and sets; sample rates scale counts; DogStatsD tags become labels.
//! Malformed lines are counted and skipped, never fatal.

use std::collections::{HashMap, HashSet};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tallyho::{Buckets, CounterF64, Family, Gauge, Histogram, Registry};

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

/// Most distinct members remembered per set name (memory stays bounded).
const MAX_SET_MEMBERS: usize = 10_000;

enum Instrument {
    Counter(Family<CounterF64>),
    Gauge(Family<Gauge>),
    Histogram(Family<Histogram>),
}

/// A StatsD metric: name, type, and its sorted tag keys.
type FamilyKey = (String, Kind2, Vec<String>);

/// Records parsed lines into a registry.
pub struct Ingest {
    registry: Registry,
    families: Mutex<HashMap<FamilyKey, Instrument>>,
    sets: Mutex<HashMap<String, HashSet<String>>>,
    lines: tallyho::Counter,
    malformed: tallyho::Counter,
    rejected: tallyho::Counter,
}

#[derive(Hash, PartialEq, Eq, Clone, Copy)]
enum Kind2 {
    Counter,
    Gauge,
    Timing,
    Histogram,
}

impl Ingest {
    /// Records into `registry`, with the agent's own counters of lines seen and refused.
    ///
    /// # Errors
    /// The self-metric names are taken with another type.
    pub fn new(registry: &Registry) -> Result<Self, tallyho::Error> {
        Ok(Ingest {
            registry: registry.clone(),
            families: Mutex::new(HashMap::new()),
            sets: Mutex::new(HashMap::new()),
            lines: registry.counter("tallyho_statsd_lines", "StatsD lines received.")?,
            malformed: registry.counter(
                "tallyho_statsd_malformed_lines",
                "StatsD lines that could not be parsed and were skipped.",
            )?,
            rejected: registry.counter(
                "tallyho_statsd_rejected_lines",
                "StatsD lines that parsed but clash with an existing metric (name, type or tags).",
            )?,
        })
    }

    /// Parses and records every line of a datagram.
    pub fn datagram(&self, text: &str) {
        for line in text
            .split('\n')
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.is_empty())
        {
            self.lines.inc();
            match parse(line) {
                Ok(l) => self.record(&l),
                Err(_) => self.malformed.inc(),
            }
        }
    }

    fn record(&self, l: &Line<'_>) {
        let mut keys: Vec<&str> = l.tags.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.len() != l.tags.len() {
            self.rejected.inc();
            return;
        }
        let mut tags = l.tags.clone();
        tags.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let values: Vec<&str> = tags.iter().map(|(_, v)| *v).collect();
        let scale = 1.0 / l.rate;
        let kind2 = match l.kind {
            Kind::Counter => Kind2::Counter,
            Kind::Gauge { .. } | Kind::Set => Kind2::Gauge,
            Kind::Timing => Kind2::Timing,
            Kind::Histogram => Kind2::Histogram,
        };
        let value = if let Kind::Set = l.kind {
            let mut sets = self.sets.lock().unwrap_or_else(|p| p.into_inner());
            let key = format!("{}\u{0}{}", l.name, values.join("\u{0}"));
            let members = sets.entry(key).or_default();
            if members.len() < MAX_SET_MEMBERS {
                members.insert(l.member.to_owned());
            }
            members.len() as f64
        } else {
            l.value
        };
        let mut families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        let key = (
            l.name.to_owned(),
            kind2,
            keys.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>(),
        );
        if !families.contains_key(&key) {
            match self.register(l.name, kind2, &keys) {
                Ok(i) => {
                    families.insert(key.clone(), i);
                }
                Err(_) => {
                    self.rejected.inc();
                    return;
                }
            }
        }
        let Some(instrument) = families.get(&key) else {
            return;
        };
        match (instrument, l.kind) {
            (Instrument::Counter(f), _) => f.with(&values).add(value * scale),
            (Instrument::Gauge(f), Kind::Gauge { delta: true }) => f.with(&values).add(value),
            (Instrument::Gauge(f), _) => f.with(&values).set(value),
            (Instrument::Histogram(f), kind) => {
                let v = if kind == Kind::Timing {
                    value / 1000.0
                } else {
                    value
                };
                let h = f.with(&values);
                // A sampled observation stands for 1/rate of them (capped).
                let n = scale.round().clamp(1.0, 1000.0) as u32;
                for _ in 0..n {
                    h.observe(v);
                }
            }
        }
    }

    fn register(
        &self,
        name: &str,
        kind: Kind2,
        keys: &[&str],
    ) -> Result<Instrument, tallyho::Error> {
        let help = "From StatsD.";
        Ok(match kind {
            Kind2::Counter => Instrument::Counter(self.registry.metric(name, help).family(keys)?),
            Kind2::Gauge => Instrument::Gauge(self.registry.metric(name, help).family(keys)?),
            Kind2::Timing => Instrument::Histogram(
                self.registry
                    .metric(name, help)
                    .unit("seconds")
                    .buckets(Buckets::default_seconds())
                    .family(keys)?,
            ),
            Kind2::Histogram => Instrument::Histogram(
                self.registry
                    .metric(name, help)
                    .buckets(Buckets::exponential(0.001, 4.0, 16)?)
                    .family(keys)?,
            ),
        })
    }
}

/// Receives datagrams on `socket` until `stop` is set.
pub fn serve(socket: &UdpSocket, ingest: &Ingest, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65_536];
    // Wake up now and then to notice `stop`.
    let _ = socket.set_read_timeout(Some(std::time::Duration::from_millis(100)));
    while !stop.load(Ordering::Relaxed) {
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => continue,
        };
        match std::str::from_utf8(&buf[..n]) {
            Ok(text) => ingest.datagram(text),
            Err(_) => {
                ingest.lines.inc();
                ingest.malformed.inc();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
