//! Recording parsed lines into a registry, within bounds.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tallyho::{CounterF64, ExpiringFamily, Family, Gauge, Registry};

use super::admit::{Families, FamilyKey, Instrument, Kind2};
use super::names::rendered;
use super::sets::{Sets, DEFAULT_SET_WINDOW};
use super::{parse, Kind, Line, Malformed};

/// Bounds on what StatsD input may create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Distinct metrics (name, type and tag keys, and each counter's decrements);
    /// lines for new ones beyond are refused.
    pub max_families: usize,
    /// Distinct sets (name and tag values) with an open window; members of new ones
    /// beyond are refused.
    pub max_sets: usize,
    /// A series no line updated for this long expires: it stops being exported and its
    /// memory is freed (`Duration::ZERO` keeps series for ever).
    pub series_ttl: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_families: 10_000,
            max_sets: 1_000,
            series_ttl: Duration::from_secs(300),
        }
    }
}

/// The most observations one line may make (values times `1 / rate`).
pub const MAX_OBSERVATIONS: usize = 10_000;

/// Why a line that parsed was not recorded (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    TooManyFamilies,
    TooManySets,
    NameCollision,
    TagKeyCollision,
    InvalidTagKey,
    ReservedName,
    NegativeTiming,
    NotFinite,
    Overflow,
    TooManyObservations,
    TagNotAllowed,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Refusal::TooManyFamilies => "too_many_families",
            Refusal::TooManySets => "too_many_sets",
            Refusal::NameCollision => "name_collision",
            Refusal::TagKeyCollision => "tag_key_collision",
            Refusal::InvalidTagKey => "invalid_tag_key",
            Refusal::ReservedName => "reserved_name",
            Refusal::NegativeTiming => "negative_timing",
            Refusal::NotFinite => "not_finite",
            Refusal::Overflow => "overflow",
            Refusal::TooManyObservations => "too_many_observations",
            Refusal::TagNotAllowed => "tag_not_allowed",
        }
    }
}

/// Records parsed lines into a registry.
pub struct Ingest {
    pub(super) registry: Registry,
    pub(super) limits: Limits,
    policy: super::TagPolicy,
    families: Mutex<Families>,
    sets: Mutex<Sets>,
    pub(super) lines: tallyho::Counter,
    pub(super) malformed: tallyho::Counter,
    rejected: tallyho::Counter,
    refused: Family<tallyho::Counter>,
    sanitized: Family<tallyho::Counter>,
    decrements: tallyho::Counter,
}

/// How many times a sampled observation is recorded: `floor(1 / rate)`, as the
/// `statsd_exporter` does (the epsilon keeps `1 / 0.2` from flooring to 4).
fn observations(rate: f64) -> usize {
    let n = (1.0 / rate + 1e-9).floor();
    if n.is_finite() && n < MAX_OBSERVATIONS as f64 {
        (n as usize).max(1)
    } else {
        MAX_OBSERVATIONS + 1
    }
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
            policy: super::TagPolicy::default(),
            families: Mutex::new(families),
            sets: Mutex::new(Sets::new(DEFAULT_SET_WINDOW, limits.max_sets)),
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
                    "StatsD lines that parsed but were not recorded, by reason (limits, reserved or colliding names, values no parser accepts, unknown fields).",
                )
                .counter_family(&["reason"])?,
            sanitized: registry
                .metric(
                    "tallyho_statsd_sanitized_lines",
                    "StatsD lines recorded under a sanitised name or tag key, by the part changed (name, tag_key; tag_dropped and tag_value by the tag policy).",
                )
                .counter_family(&["part"])?,
            decrements: registry.counter(
                "tallyho_statsd_decrement_lines",
                "StatsD counter lines with a negative value, recorded in the counter's <name>_decrements companion.",
            )?,
        })
    }

    /// Sets the window over which a set counts distinct members (default
    /// [`DEFAULT_SET_WINDOW`]; the agent's collection interval is the natural choice).
    #[must_use]
    pub fn with_set_window(self, window: Duration) -> Self {
        self.sets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .set_window(window);
        self
    }

    /// Applies `policy` to every line's tags and name: allowed tag keys, the value length
    /// cap and the name prefix ([`TagPolicy`](super::TagPolicy)).
    #[must_use]
    pub fn with_tag_policy(mut self, policy: super::TagPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Lines refused for `reason` so far (as in the `tallyho_statsd_refused_lines` metric).
    pub fn refused_count(&self, reason: &str) -> u64 {
        self.refused.with(&[reason]).get()
    }

    pub(super) fn refuse(&self, why: Refusal) {
        self.refused.with(&[why.as_str()]).inc();
    }

    /// Closes the sets' windows that have ended (their gauges read 0). The listener calls
    /// it about once a second.
    pub fn expire_sets(&self) {
        self.expire_sets_at(Instant::now());
    }

    pub(super) fn expire_sets_at(&self, now: Instant) {
        self.sets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .expire(now);
    }

    /// Parses and records every line of a datagram of text.
    pub fn datagram(&self, text: &str) {
        self.datagram_bytes(text.as_bytes());
    }

    /// Parses and records every line of a datagram; a line that is not UTF-8 is counted as
    /// malformed and skipped alone.
    pub fn datagram_bytes(&self, bytes: &[u8]) {
        self.datagram_at(bytes, Instant::now());
    }

    pub(super) fn datagram_at(&self, bytes: &[u8], now: Instant) {
        for line in bytes.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            self.lines.inc();
            match std::str::from_utf8(line).map(parse) {
                Ok(Ok(l)) => self.record(&l, now),
                Ok(Err(Malformed::Unsupported(reason))) => self.refused.with(&[reason]).inc(),
                _ => self.malformed.inc(),
            }
        }
    }

    fn check_values(l: &Line<'_>) -> Result<(), Refusal> {
        for v in l.values() {
            match l.kind {
                Kind::Timing if v < 0.0 => return Err(Refusal::NegativeTiming),
                _ if !(v / l.rate).is_finite() => return Err(Refusal::NotFinite),
                _ => {}
            }
        }
        if matches!(l.kind, Kind::Timing | Kind::Histogram)
            && observations(l.rate).saturating_mul(1 + l.more.len()) > MAX_OBSERVATIONS
        {
            return Err(Refusal::TooManyObservations);
        }
        Ok(())
    }

    fn record(&self, l: &Line<'_>, now: Instant) {
        let mut tags = l.tags.clone();
        match self.policy.apply(&mut tags) {
            Err(()) => return self.refuse(Refusal::TagNotAllowed),
            Ok(applied) => {
                if applied.dropped {
                    self.sanitized.with(&["tag_dropped"]).inc();
                }
                if applied.cut {
                    self.sanitized.with(&["tag_value"]).inc();
                }
            }
        }
        tags.sort_unstable_by(|a, b| a.0.cmp(b.0));
        if tags.windows(2).any(|w| w[0].0 == w[1].0) {
            self.rejected.inc();
            return;
        }
        if let Err(why) = Self::check_values(l) {
            return self.refuse(why);
        }
        let keys: Vec<&str> = tags.iter().map(|(k, _)| *k).collect();
        let values: Vec<&str> = tags.iter().map(|(_, v)| *v).collect();
        let kind2 = match l.kind {
            Kind::Counter => Kind2::Counter,
            Kind::Gauge { .. } | Kind::Set => Kind2::Gauge,
            Kind::Timing => Kind2::Timing,
            Kind::Histogram => Kind2::Histogram,
        };
        let mut families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        let key: FamilyKey = (
            self.policy.name(l.name),
            kind2,
            keys.iter().map(|k| (*k).to_owned()).collect(),
        );
        if !families.by_key.contains_key(&key) {
            match self.admit(&mut families, key.clone(), &keys) {
                Ok(()) => {}
                Err(Some(why)) => return self.refuse(why),
                Err(None) => return self.rejected.inc(),
            }
        }
        let negative = l.kind == Kind::Counter && l.values().any(|v| v < 0.0);
        if negative {
            if let Err(why) = self.admit_decrements(&mut families, &key) {
                return why.map_or_else(|| self.rejected.inc(), |why| self.refuse(why));
            }
        }
        let Some(entry) = families.by_key.get(&key) else {
            return;
        };
        let recorded = match &entry.instrument {
            Instrument::Counter(f) => self.add(f, entry.decrements.as_ref(), l, &values),
            Instrument::Gauge(f) if l.kind == Kind::Set => self.add_member(f, l, &values, now),
            Instrument::Gauge(f) => self.set_gauge(&f.with(&values), l),
            Instrument::Histogram(f) => {
                let h = f.with(&values);
                let scale = if l.kind == Kind::Timing { 1e-3 } else { 1.0 };
                for v in l.values() {
                    for _ in 0..observations(l.rate) {
                        h.observe(v * scale);
                    }
                }
                Ok(())
            }
        };
        match recorded {
            Ok(()) => {
                if entry.name_changed {
                    self.sanitized.with(&["name"]).inc();
                }
                if entry.keys_changed {
                    self.sanitized.with(&["tag_key"]).inc();
                }
                if negative {
                    self.decrements.inc();
                }
            }
            Err(why) => self.refuse(why),
        }
    }

    /// Adds a counter line: positive values to the counter, the magnitude of negative ones
    /// to its decrements. Nothing is added when a sum would overflow.
    fn add(
        &self,
        counter: &ExpiringFamily<CounterF64>,
        decrements: Option<&ExpiringFamily<CounterF64>>,
        l: &Line<'_>,
        values: &[&str],
    ) -> Result<(), Refusal> {
        let (mut up, mut down) = (0.0, 0.0);
        for v in l.values() {
            if v < 0.0 {
                down -= v / l.rate;
            } else {
                up += v / l.rate;
            }
        }
        let c = counter.with(values);
        let d = decrements.map(|f| f.with(values));
        let finite = |x: f64| x.is_finite();
        if !finite(c.get() + up) || !d.as_ref().map_or(true, |d| finite(d.get() + down)) {
            return Err(Refusal::Overflow);
        }
        if up > 0.0 || down == 0.0 {
            c.add(up);
        }
        if let Some(d) = d.filter(|_| down > 0.0) {
            d.add(down);
        }
        Ok(())
    }

    /// Applies gauge values in turn: a signed one adjusts, an unsigned one sets. Nothing is
    /// applied when an adjustment would overflow.
    fn set_gauge(&self, g: &Gauge, l: &Line<'_>) -> Result<(), Refusal> {
        let mut value = g.get();
        for (raw, v) in l.member.split(':').zip(l.values()) {
            value = if raw.starts_with('+') || raw.starts_with('-') {
                value + v
            } else {
                v
            };
            if !value.is_finite() {
                return Err(Refusal::Overflow);
            }
        }
        g.set(value);
        Ok(())
    }

    fn add_member(
        &self,
        gauge: &ExpiringFamily<Gauge>,
        l: &Line<'_>,
        values: &[&str],
        now: Instant,
    ) -> Result<(), Refusal> {
        let key = format!("{}\u{0}{}", l.name, values.join("\u{0}"));
        self.sets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, l.member, gauge, values, now)
            .map_err(|_| Refusal::TooManySets)
    }
}
