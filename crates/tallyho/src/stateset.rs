//! [`StateSet`]: OpenMetrics' stateset, a fixed list of named states each true or false.
//!
//! The states are one `u64` of bits, so setting them is one atomic store (an enum-like
//! state: exactly one true) or one `fetch_or`/`fetch_and` (flags): no lock, no allocation.
//! Hence at most [`MAX_STATES`] states.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::instrument::{sealed::Sealed, Instrument, Shape};
use crate::visit::{MetricKind, PointValue, StateSetValue};
use crate::Error;

/// The most states one stateset can have (one bit each in a `u64`).
pub const MAX_STATES: usize = 64;

/// A set of named states, each true or false: a job's phase (`starting`, `running`,
/// `stopped`: one true at a time, set with [`set`](Self::set)) or feature flags (any
/// number true, set with [`set_flag`](Self::set_flag)). Exposed as OpenMetrics
/// `stateset`, as one gauge per state (1 or 0) where a format has no such type.
///
/// ```
/// let registry = tallyho::Registry::new();
/// let phase = registry
///     .metric("job_phase", "The job's phase.")
///     .stateset(&["starting", "running", "stopped"])?;
/// phase.set("running");
/// assert!(phase.is_set("running") && !phase.is_set("starting"));
/// let snapshot = registry.snapshot();
/// let value = snapshot.family("job_phase").unwrap().series[0].value.as_stateset().unwrap();
/// assert!(value.is_set("running"));
/// # Ok::<(), tallyho::Error>(())
/// ```
///
/// A state name that is not one of the states records nothing and is counted in
/// [`REFUSED_METRIC`](crate::REFUSED_METRIC); look an index up once with
/// [`index`](Self::index) to skip the name comparison in a hot loop.
#[derive(Clone, Default)]
pub struct StateSet(Option<Arc<Inner>>);

struct Inner {
    states: Arc<[Box<str>]>,
    bits: AtomicU64,
    refused: AtomicU64,
}

static NOOP: StateSet = StateSet(None);

impl StateSet {
    /// A stateset that records nothing.
    pub const fn noop() -> Self {
        StateSet(None)
    }

    fn live(states: Arc<[Box<str>]>) -> Self {
        StateSet(Some(Arc::new(Inner {
            states,
            bits: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        })))
    }

    /// The state names, in registration order (empty for a no-op handle).
    pub fn states(&self) -> &[Box<str>] {
        self.0.as_ref().map_or(&[], |i| &i.states)
    }

    /// The position of `state` among the states.
    pub fn index(&self, state: &str) -> Option<usize> {
        self.states().iter().position(|s| **s == *state)
    }

    /// The index of `state`, or the refusal counted.
    fn resolve(&self, state: &str) -> Option<(&Inner, usize)> {
        let inner = self.0.as_deref()?;
        match inner.states.iter().position(|s| **s == *state) {
            Some(i) => Some((inner, i)),
            None => {
                inner.refused.fetch_add(1, Relaxed);
                None
            }
        }
    }

    /// The state at `index`, or the refusal counted.
    fn resolve_index(&self, index: usize) -> Option<&Inner> {
        let inner = self.0.as_deref()?;
        if index < inner.states.len() {
            Some(inner)
        } else {
            inner.refused.fetch_add(1, Relaxed);
            None
        }
    }

    /// Makes `state` the one true state (every other false). An unknown name records
    /// nothing and is counted as refused.
    #[inline]
    pub fn set(&self, state: &str) {
        if let Some((inner, i)) = self.resolve(state) {
            inner.bits.store(1 << i, Relaxed);
        }
    }

    /// As [`set`](Self::set), by position.
    #[inline]
    pub fn set_index(&self, index: usize) {
        if let Some(inner) = self.resolve_index(index) {
            inner.bits.store(1 << index, Relaxed);
        }
    }

    /// Turns one state on or off, leaving the others as they are (flags).
    #[inline]
    pub fn set_flag(&self, state: &str, on: bool) {
        if let Some((inner, i)) = self.resolve(state) {
            flag(&inner.bits, i, on);
        }
    }

    /// As [`set_flag`](Self::set_flag), by position.
    #[inline]
    pub fn set_flag_index(&self, index: usize, on: bool) {
        if let Some(inner) = self.resolve_index(index) {
            flag(&inner.bits, index, on);
        }
    }

    /// Turns every state off.
    pub fn clear(&self) {
        if let Some(inner) = &self.0 {
            inner.bits.store(0, Relaxed);
        }
    }

    /// Whether `state` is one of the states and true.
    pub fn is_set(&self, state: &str) -> bool {
        self.index(state).is_some_and(|i| self.bits() >> i & 1 == 1)
    }

    /// Bit `i` set when state `i` is true.
    pub fn bits(&self) -> u64 {
        self.0.as_ref().map_or(0, |i| i.bits.load(Relaxed))
    }
}

fn flag(bits: &AtomicU64, i: usize, on: bool) {
    if on {
        bits.fetch_or(1 << i, Relaxed);
    } else {
        bits.fetch_and(!(1 << i), Relaxed);
    }
}

impl std::fmt::Debug for StateSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bits = self.bits();
        let on: Vec<&str> = self
            .states()
            .iter()
            .enumerate()
            .filter(|(i, _)| bits >> i & 1 == 1)
            .map(|(_, s)| &**s)
            .collect();
        f.debug_tuple("StateSet").field(&on).finish()
    }
}

impl Sealed for StateSet {}
impl Instrument for StateSet {
    const KIND: MetricKind = MetricKind::StateSet;
    const REFUSES: bool = true;
    fn noop_ref() -> &'static Self {
        &NOOP
    }
    fn is_noop(&self) -> bool {
        self.0.is_none()
    }
    fn create(shape: &Shape) -> Self {
        StateSet::live(shape.states.clone())
    }
    fn refused(&self) -> u64 {
        self.0.as_ref().map_or(0, |i| i.refused.load(Relaxed))
    }
    fn fingerprint(&self) -> u64 {
        self.bits() ^ self.refused().wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
    fn shared(&self) -> bool {
        self.0.as_ref().is_some_and(|a| Arc::strong_count(a) > 1)
    }
    fn read(&self, f: &mut dyn FnMut(PointValue<'_>) -> io::Result<()>) -> io::Result<()> {
        f(PointValue::StateSet(StateSetValue {
            states: self.states(),
            set: self.bits(),
        }))
    }
}

/// Checks a stateset's definition: its states (1 to [`MAX_STATES`], each non-empty and
/// distinct) and its name, which is also the label that names a state in every sample,
/// so it must be a valid label name and differ from the family's other labels.
pub(crate) fn check(
    metric: &str,
    states: &[&str],
    labels: &[&str],
    constant: &[(Box<str>, Box<str>)],
) -> Result<Arc<[Box<str>]>, Error> {
    let bad = |reason: String| Error::InvalidDefinition {
        metric: metric.to_owned(),
        kind: "stateset",
        reason,
    };
    if states.is_empty() {
        return Err(bad("a stateset needs at least one state".into()));
    }
    if states.len() > MAX_STATES {
        return Err(bad(format!(
            "{} states given, at most {MAX_STATES} are allowed",
            states.len()
        )));
    }
    for (i, s) in states.iter().enumerate() {
        if s.is_empty() {
            return Err(bad(format!(
                "state {i} is empty (an empty label value is an absent label)"
            )));
        }
        if states[..i].contains(s) {
            return Err(bad(format!("state {s:?} is given twice")));
        }
    }
    crate::name::label_name(metric).map_err(|e| {
        bad(format!(
            "its name is also the label naming each state, and is not a valid label name: {e}"
        ))
    })?;
    let mut taken = labels
        .iter()
        .copied()
        .chain(constant.iter().map(|(n, _)| &**n));
    if let Some(l) = taken.find(|l| *l == metric) {
        return Err(bad(format!(
            "the label {l:?} has the stateset's name, which is the label naming each state"
        )));
    }
    Ok(states.iter().map(|s| Box::<str>::from(*s)).collect())
}
