//! StatsD sets counted per window: each set's distinct members since its window opened.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tallyho::{ExpiringFamily, Gauge};

use super::Distinct;

/// The default window of a set: the agent's default collection interval.
pub const DEFAULT_SET_WINDOW: Duration = Duration::from_secs(15);

/// One set's open window and the gauge it writes.
struct Window {
    members: Distinct,
    opened: Instant,
    gauge: ExpiringFamily<Gauge>,
    values: Vec<String>,
}

impl Window {
    fn clear_gauge(&self) {
        let values: Vec<&str> = self.values.iter().map(String::as_str).collect();
        self.gauge.with(&values).set(0.0);
    }
}

/// Open windows, at most `max` of them.
pub(super) struct Sets {
    window: Duration,
    max: usize,
    open: HashMap<String, Window>,
}

/// No room for a new set.
pub(super) struct Full;

impl Sets {
    pub(super) fn new(window: Duration, max: usize) -> Self {
        Sets {
            window,
            max,
            open: HashMap::new(),
        }
    }

    pub(super) fn set_window(&mut self, window: Duration) {
        self.window = window;
    }

    /// Adds `member` to the set `key` (its gauge: `gauge` at `values`) at `now`, opening a
    /// new window when the last one has closed, and sets the gauge to the window's count.
    pub(super) fn insert(
        &mut self,
        key: String,
        member: &str,
        gauge: &ExpiringFamily<Gauge>,
        values: &[&str],
        now: Instant,
    ) -> Result<(), Full> {
        if !self.open.contains_key(&key) && self.open.len() >= self.max {
            self.expire(now);
            if self.open.len() >= self.max {
                return Err(Full);
            }
        }
        let window = self.window;
        let w = self.open.entry(key).or_insert_with(|| Window {
            members: Distinct::default(),
            opened: now,
            gauge: gauge.clone(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        });
        if now.saturating_duration_since(w.opened) >= window {
            w.members = Distinct::default();
            w.opened = now;
        }
        w.members.insert(member);
        gauge.with(values).set(w.members.count());
        Ok(())
    }

    /// Closes every window older than the window length at `now`: its gauge reads 0 and
    /// its slot is free until a member opens it again.
    pub(super) fn expire(&mut self, now: Instant) {
        let window = self.window;
        self.open.retain(|_, w| {
            let open = now.saturating_duration_since(w.opened) < window;
            if !open {
                w.clear_gauge();
            }
            open
        });
    }
}
