//! Recording parsed lines into a registry, within bounds.

use std::collections::HashMap;
use std::sync::Mutex;

use tallyho::{Buckets, CounterF64, Family, Gauge, Histogram, Registry};

use super::{parse, Distinct, Kind, Line};

/// Bounds on what StatsD input may create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Distinct metrics (name, type and tag keys); lines for new ones beyond are refused.
    pub max_families: usize,
    /// Distinct sets (name and tag values); members of new ones beyond are refused.
    pub max_sets: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_families: 10_000,
            max_sets: 1_000,
        }
    }
}

/// Why a line that parsed was not recorded (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    TooManyFamilies,
    TooManySets,
    NameCollision,
    ReservedName,
    InvalidName,
    NegativeCounter,
    NegativeTiming,
    NotFinite,
    Overflow,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Refusal::TooManyFamilies => "too_many_families",
            Refusal::TooManySets => "too_many_sets",
            Refusal::NameCollision => "name_collision",
            Refusal::ReservedName => "reserved_name",
            Refusal::InvalidName => "invalid_name",
            Refusal::NegativeCounter => "negative_counter",
            Refusal::NegativeTiming => "negative_timing",
            Refusal::NotFinite => "not_finite",
            Refusal::Overflow => "overflow",
        }
    }
}

enum Instrument {
    Counter(Family<CounterF64>),
    Gauge(Family<Gauge>),
    Histogram(Family<Histogram>),
}

#[derive(Hash, PartialEq, Eq, Clone, Copy)]
enum Kind2 {
    Counter,
    Gauge,
    Timing,
    Histogram,
}

/// A StatsD metric: name, type, and its sorted tag keys.
type FamilyKey = (String, Kind2, Vec<String>);

#[derive(Default)]
struct Families {
    by_key: HashMap<FamilyKey, Instrument>,
    /// Every name a family renders (`x`, `x_total`, `x_bucket`, ...) → the family's name.
    claimed: HashMap<String, String>,
}

/// Records parsed lines into a registry.
pub struct Ingest {
    registry: Registry,
    limits: Limits,
    families: Mutex<Families>,
    sets: Mutex<HashMap<String, Distinct>>,
    pub(super) lines: tallyho::Counter,
    pub(super) malformed: tallyho::Counter,
    rejected: tallyho::Counter,
    refused: Family<tallyho::Counter>,
}

/// The names a family of `kind` called `name` puts in an exposition.
fn rendered(name: &str, kind: &str) -> Vec<String> {
    let suffixes: &[&str] = match kind {
        "gauge" => &[""],
        "counter" => &["", "_total", "_created"],
        "histogram" => &["", "_bucket", "_count", "_sum", "_created"],
        _ => &[
            "", "_total", "_created", "_bucket", "_count", "_sum", "_info",
        ],
    };
    suffixes.iter().map(|s| format!("{name}{s}")).collect()
}

impl Ingest {
    /// Records into `registry` with the default [`Limits`].
    ///
    /// # Errors
    /// The self-metric names are taken with another type.
    pub fn new(registry: &Registry) -> Result<Self, tallyho::Error> {
        Self::with_limits(registry, Limits::default())
    }

    /// Records into `registry`, with the agent's own counters of lines seen and refused.
    /// The names of the families `registry` holds now (host metrics) are reserved.
    ///
    /// # Errors
    /// The self-metric names are taken with another type.
    pub fn with_limits(registry: &Registry, limits: Limits) -> Result<Self, tallyho::Error> {
        let mut families = Families::default();
        for f in registry.snapshot().families {
            for n in rendered(&f.name, f.kind.as_str()) {
                families.claimed.insert(n, f.name.clone());
            }
        }
        Ok(Ingest {
            registry: registry.clone(),
            limits,
            families: Mutex::new(families),
            sets: Mutex::new(HashMap::new()),
            lines: registry.counter("tallyho_statsd_lines", "StatsD lines received.")?,
            malformed: registry.counter(
                "tallyho_statsd_malformed_lines",
                "StatsD lines that could not be parsed (or were not UTF-8) and were skipped.",
            )?,
            rejected: registry.counter(
                "tallyho_statsd_rejected_lines",
                "StatsD lines that parsed but clash with an existing metric (name, type or tags).",
            )?,
            refused: registry
                .metric(
                    "tallyho_statsd_refused_lines",
                    "StatsD lines that parsed but were not recorded, by reason (limits, reserved or colliding names, values no parser accepts).",
                )
                .counter_family(&["reason"])?,
        })
    }

    /// Lines refused for `reason` so far (as in the `tallyho_statsd_refused_lines` metric).
    pub fn refused_count(&self, reason: &str) -> u64 {
        self.refused.with(&[reason]).get()
    }

    fn refuse(&self, why: Refusal) {
        self.refused.with(&[why.as_str()]).inc();
    }

    /// Parses and records every line of a datagram of text.
    pub fn datagram(&self, text: &str) {
        self.datagram_bytes(text.as_bytes());
    }

    /// Parses and records every line of a datagram; a line that is not UTF-8 is counted as
    /// malformed and skipped alone.
    pub fn datagram_bytes(&self, bytes: &[u8]) {
        for line in bytes.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            self.lines.inc();
            match std::str::from_utf8(line).ok().map(parse) {
                Some(Ok(l)) => self.record(&l),
                _ => self.malformed.inc(),
            }
        }
    }

    fn check_value(l: &Line<'_>) -> Result<(), Refusal> {
        let scaled = l.value / l.rate;
        match l.kind {
            Kind::Counter if l.value < 0.0 => Err(Refusal::NegativeCounter),
            Kind::Timing if l.value < 0.0 => Err(Refusal::NegativeTiming),
            _ if !scaled.is_finite() => Err(Refusal::NotFinite),
            _ => Ok(()),
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
        if let Err(why) = Self::check_value(l) {
            return self.refuse(why);
        }
        let mut tags = l.tags.clone();
        tags.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let values: Vec<&str> = tags.iter().map(|(_, v)| *v).collect();
        let kind2 = match l.kind {
            Kind::Counter => Kind2::Counter,
            Kind::Gauge { .. } | Kind::Set => Kind2::Gauge,
            Kind::Timing => Kind2::Timing,
            Kind::Histogram => Kind2::Histogram,
        };
        let mut families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        let key = (
            l.name.to_owned(),
            kind2,
            keys.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>(),
        );
        if !families.by_key.contains_key(&key) {
            match self.admit(&mut families, key.clone(), &keys) {
                Ok(()) => {}
                Err(Some(why)) => return self.refuse(why),
                Err(None) => return self.rejected.inc(),
            }
        }
        let Some(instrument) = families.by_key.get(&key) else {
            return;
        };
        let value = if let Kind::Set = l.kind {
            let mut sets = self.sets.lock().unwrap_or_else(|p| p.into_inner());
            let set_key = format!("{}\u{0}{}", l.name, values.join("\u{0}"));
            if !sets.contains_key(&set_key) && sets.len() >= self.limits.max_sets {
                drop(sets);
                return self.refuse(Refusal::TooManySets);
            }
            let members = sets.entry(set_key).or_default();
            members.insert(l.member);
            members.count()
        } else {
            l.value
        };
        let scale = 1.0 / l.rate;
        match (instrument, l.kind) {
            (Instrument::Counter(f), _) => {
                let c = f.with(&values);
                if (c.get() + value * scale).is_finite() {
                    c.add(value * scale);
                } else {
                    self.refuse(Refusal::Overflow);
                }
            }
            (Instrument::Gauge(f), Kind::Gauge { delta: true }) => {
                let g = f.with(&values);
                if (g.get() + value).is_finite() {
                    g.add(value);
                } else {
                    self.refuse(Refusal::Overflow);
                }
            }
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

    /// Registers a new family when the limits and the names allow; `Err(None)` when the
    /// registry refuses it (a clash of type or tags with a family of the same name).
    fn admit(
        &self,
        families: &mut Families,
        key: FamilyKey,
        keys: &[&str],
    ) -> Result<(), Option<Refusal>> {
        if families.by_key.len() >= self.limits.max_families {
            return Err(Some(Refusal::TooManyFamilies));
        }
        let (name, kind) = (key.0.as_str(), key.1);
        let mut full = tallyho::name::metric_name(name).map_err(|_| Some(Refusal::InvalidName))?;
        let exposed_kind = match kind {
            Kind2::Counter => {
                if let Some(s) = full.strip_suffix("_total") {
                    full = s.to_owned();
                }
                "counter"
            }
            Kind2::Gauge => "gauge",
            Kind2::Timing => {
                if !full.ends_with("_seconds") {
                    full.push_str("_seconds");
                }
                "histogram"
            }
            Kind2::Histogram => "histogram",
        };
        if full.starts_with("__") || full.starts_with("tallyho_") {
            return Err(Some(Refusal::ReservedName));
        }
        let names = rendered(&full, exposed_kind);
        if names
            .iter()
            .any(|n| families.claimed.get(n).is_some_and(|owner| *owner != full))
        {
            return Err(Some(Refusal::NameCollision));
        }
        match self.register(name, kind, keys) {
            Ok(i) => {
                for n in names {
                    families.claimed.insert(n, full.clone());
                }
                families.by_key.insert(key, i);
                Ok(())
            }
            Err(_) => Err(None),
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
