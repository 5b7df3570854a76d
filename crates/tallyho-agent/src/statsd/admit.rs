//! Admitting a new StatsD metric: limits, the naming rule, claims on exposed names, and
//! registration.

use std::collections::HashMap;

use std::time::Duration;

use tallyho::{Buckets, CounterF64, ExpiringFamily, Gauge, Histogram};

use super::ingest::{Ingest, Refusal};
use super::names::{rendered, sanitize_name, sanitize_tag_key};

/// A registered StatsD metric.
pub(super) enum Instrument {
    Counter(ExpiringFamily<CounterF64>),
    Gauge(ExpiringFamily<Gauge>),
    Histogram(ExpiringFamily<Histogram>),
}

#[derive(Hash, PartialEq, Eq, Clone, Copy, Debug)]
pub(super) enum Kind2 {
    Counter,
    Gauge,
    Timing,
    Histogram,
}

/// A StatsD metric as sent: raw name, type, and its sorted raw tag keys.
pub(super) type FamilyKey = (String, Kind2, Vec<String>);

/// A metric admitted, with what its lines need at every record.
pub(super) struct Entry {
    pub(super) instrument: Instrument,
    /// The exposed name (after sanitising, `_total` dropped, `_seconds` added).
    pub(super) full: String,
    /// The sanitised tag keys, in the order of the raw ones.
    pub(super) keys: Vec<String>,
    pub(super) name_changed: bool,
    pub(super) keys_changed: bool,
    /// A counter's `<name>_decrements`, made on its first negative value.
    pub(super) decrements: Option<ExpiringFamily<CounterF64>>,
}

#[derive(Default)]
pub(super) struct Families {
    pub(super) by_key: HashMap<FamilyKey, Entry>,
    /// Every name a family renders (`x`, `x_total`, `x_bucket`, ...) → who owns it: the
    /// raw StatsD name, `<raw>:decrements` for a companion (no raw name has a `:`), or a
    /// family's name for what the registry held at start.
    pub(super) claimed: HashMap<String, String>,
    /// `exposed name{sanitised keys}` → the raw keys that claimed it.
    pub(super) label_sets: HashMap<String, Vec<String>>,
    /// Decrement companions made (they count against `max_families`).
    pub(super) companions: usize,
}

impl Families {
    fn full(&self) -> usize {
        self.by_key.len() + self.companions
    }

    /// Whether any of `names` is claimed by another owner than `owner`.
    fn taken(&self, names: &[String], owner: &str) -> bool {
        names
            .iter()
            .any(|n| self.claimed.get(n).is_some_and(|o| o != owner))
    }

    fn claim(&mut self, names: Vec<String>, owner: &str) {
        for n in names {
            self.claimed.insert(n, owner.to_owned());
        }
    }
}

impl Ingest {
    /// Registers a new family when the limits and the names allow; `Err(None)` when the
    /// registry refuses it (a clash of type or tags with a family of the same name).
    pub(super) fn admit(
        &self,
        families: &mut Families,
        key: FamilyKey,
        keys: &[&str],
    ) -> Result<(), Option<Refusal>> {
        if families.full() >= self.limits.max_families {
            return Err(Some(Refusal::TooManyFamilies));
        }
        let (raw, kind) = (key.0.as_str(), key.1);
        let sanitized = sanitize_name(raw);
        let name = sanitized.name;
        let mut full = name.clone();
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
        if families.taken(&names, raw) {
            return Err(Some(Refusal::NameCollision));
        }
        let mut keys_changed = false;
        let mut clean = Vec::with_capacity(keys.len());
        for k in keys {
            if k.is_empty() {
                return Err(Some(Refusal::InvalidTagKey));
            }
            let s = sanitize_tag_key(k);
            keys_changed |= s.changed;
            clean.push(s.name);
        }
        let mut sorted = clean.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(Some(Refusal::TagKeyCollision));
        }
        let label_set = format!("{full}{{{}}}", sorted.join(","));
        if families
            .label_sets
            .get(&label_set)
            .is_some_and(|raw_keys| *raw_keys != key.2)
        {
            return Err(Some(Refusal::TagKeyCollision));
        }
        let clean_refs: Vec<&str> = clean.iter().map(String::as_str).collect();
        let instrument = self.register(&name, kind, &clean_refs).map_err(|_| None)?;
        families.claim(names, raw);
        families.label_sets.insert(label_set, key.2.clone());
        families.by_key.insert(
            key,
            Entry {
                instrument,
                full,
                keys: clean,
                name_changed: sanitized.changed,
                keys_changed,
                decrements: None,
            },
        );
        Ok(())
    }

    /// Makes the counter `key`'s `<name>_decrements` companion if it has none yet.
    pub(super) fn admit_decrements(
        &self,
        families: &mut Families,
        key: &FamilyKey,
    ) -> Result<(), Option<Refusal>> {
        let Some(entry) = families.by_key.get(key) else {
            return Err(None);
        };
        if entry.decrements.is_some() {
            return Ok(());
        }
        if families.full() >= self.limits.max_families {
            return Err(Some(Refusal::TooManyFamilies));
        }
        let name = format!("{}_decrements", entry.full);
        let names = rendered(&name, "counter");
        let owner = format!("{}:decrements", key.0);
        if families.taken(&names, &owner) {
            return Err(Some(Refusal::NameCollision));
        }
        let keys: Vec<&str> = entry.keys.iter().map(String::as_str).collect();
        let family = self
            .registry
            .metric(
                &name,
                "From StatsD: the magnitudes of negative counter increments.",
            )
            .expiring_family(&keys, self.ttl())
            .map_err(|_| None)?;
        families.claim(names, &owner);
        families.companions += 1;
        if let Some(entry) = families.by_key.get_mut(key) {
            entry.decrements = Some(family);
        }
        Ok(())
    }

    /// How long a series may go without a line before it expires.
    fn ttl(&self) -> Duration {
        match self.limits.series_ttl {
            Duration::ZERO => Duration::MAX,
            ttl => ttl,
        }
    }

    fn register(
        &self,
        name: &str,
        kind: Kind2,
        keys: &[&str],
    ) -> Result<Instrument, tallyho::Error> {
        let help = "From StatsD.";
        let r = &self.registry;
        let ttl = self.ttl();
        Ok(match kind {
            Kind2::Counter => Instrument::Counter(r.metric(name, help).expiring_family(keys, ttl)?),
            Kind2::Gauge => Instrument::Gauge(r.metric(name, help).expiring_family(keys, ttl)?),
            Kind2::Timing => Instrument::Histogram(
                r.metric(name, help)
                    .unit("seconds")
                    .buckets(Buckets::default_seconds())
                    .expiring_family(keys, ttl)?,
            ),
            Kind2::Histogram => Instrument::Histogram(
                r.metric(name, help)
                    .buckets(Buckets::exponential(0.001, 4.0, 16)?)
                    .expiring_family(keys, ttl)?,
            ),
        })
    }
}
