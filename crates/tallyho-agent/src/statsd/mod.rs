//! StatsD ingestion: parse lines (`name:value[:value...]|type[|@rate][|#tag:v,...]`) and
//! record them into a registry. Counters, gauges (with `+`/`-` deltas), timings,
//! histograms, distributions and sets; DogStatsD tags become labels. Malformed lines are
//! counted and skipped, never fatal.
//!
//! # Names and tag keys
//! Names are sanitised as the Prometheus `statsd_exporter` does: `.` becomes `_` (the
//! agent's naming, not counted as a change), every other character outside
//! `[a-zA-Z0-9_:]` becomes one `_`, and a leading digit gets a `_` in front
//! (`my-app.req` → `my_app_req`, `a/b` → `a_b`, `9lives` → `_9lives`). Tag keys are
//! sanitised the same way to `[a-zA-Z0-9_]` (`.` counts as a change there). Lines whose
//! name or tag keys changed are counted in `tallyho_statsd_sanitized_lines{part}`
//! (`part="name"` or `"tag_key"`). The first raw name to claim an exposed name keeps it:
//! a different raw name that renders the same (`my_app.req` after `my-app.req`, `a_b`
//! after `a.b`, `x_total` after the counter `x`) is refused as `name_collision`, and a tag
//! key set that sanitises to another one of the same metric as `tag_key_collision`, since
//! mixing two sources in one series would be wrong data.
//!
//! # Values
//! - Counters are monotonic. A negative increment (`decr` in every client: `x:-2|c`) adds
//!   its magnitude to a companion counter `<name>_decrements` (`x_decrements_total`), made
//!   on the first one, so `x_total - x_decrements_total` is the net StatsD value and both
//!   stay counters. Such lines are counted in `tallyho_statsd_decrement_lines`.
//! - Sample rates: a counter adds `value / rate`; a timing, histogram or distribution
//!   sampled at `@rate` is observed `floor(1 / rate)` times (`40|ms|@0.25` → 4
//!   observations of 40 ms), as the `statsd_exporter` does; gauges and sets ignore it. A
//!   line that would make more than 10,000 observations is refused (`too_many_observations`).
//! - DogStatsD multi-value lines (`x:1:2:3|d`) record each value in turn, for every numeric
//!   type (as the Datadog agent accepts them); a set's member is the whole value, colons
//!   included. A line with one bad value is refused whole.
//! - Sets: the gauge `<name>` is the number of distinct members in the current window
//!   (the agent's notion of a StatsD flush interval, [`DEFAULT_SET_WINDOW`] unless
//!   [`Ingest::with_set_window`] says otherwise). A set's window opens with its first member
//!   and closes `window` later; the set then reads 0 and frees its slot until the next member
//!   opens a new window. The last value before it drops is what Etsy statsd flushes for the
//!   interval (`max_over_time` over the window recovers it in PromQL).
//!
//! # Tags and extensions
//! A bare DogStatsD tag (`#flag`) becomes `flag="true"` (an empty value would make the
//! label invisible in Prometheus); `flag:` keeps its explicit empty value. The DogStatsD
//! fields `|c:<container id>`, `|e:<external data>` and `|card:<cardinality>` are accepted
//! and ignored (the agent does no origin detection), and so is `|T<unix seconds>`: series
//! here are cumulative and sampled at collection, so a client's timestamp cannot be applied
//! and the value is recorded on arrival. Any other field is refused as `unknown_field`.
//!
//! # Bounds
//! Every map fed from the network is bounded ([`Limits`]): new names past the limit, names
//! that would collide in the exposition with another family or a reserved name, and
//! values no parser accepts are refused and counted in `tallyho_statsd_refused_lines`
//! with a `reason` label.

mod admit;
#[cfg(target_os = "linux")]
mod batch;
mod distinct;
mod ingest;
mod line;
mod names;
mod policy;
mod sets;
mod socket;
#[cfg(test)]
mod tests;

#[cfg(target_os = "linux")]
pub use batch::BATCH;
pub use distinct::Distinct;
pub use ingest::{Ingest, Limits};
pub use line::parse;
pub use names::{sanitize_name, sanitize_tag_key, Sanitized};
pub use policy::TagPolicy;
pub use sets::DEFAULT_SET_WINDOW;
pub use socket::{bind, kernel_drops, register_metrics, serve, serve_one_by_one, Bound};

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
    /// `s`: count of distinct values per name and window.
    Set,
}

/// One parsed line, borrowing the datagram.
#[derive(Debug, Clone, PartialEq)]
pub struct Line<'a> {
    /// The metric name as sent.
    pub name: &'a str,
    /// The value; the first one of a DogStatsD multi-value line (sets: the raw member is in
    /// `member`).
    pub value: f64,
    /// The further values of a multi-value line (`x:1:2:3|d` → `[2.0, 3.0]`).
    pub more: Vec<f64>,
    /// A set's member.
    pub member: &'a str,
    /// The type.
    pub kind: Kind,
    /// `@rate`, 1 when absent.
    pub rate: f64,
    /// DogStatsD tags, `key:value` (a bare `key` has the value `true`).
    pub tags: Vec<(&'a str, &'a str)>,
}

impl Line<'_> {
    /// Every value of the line, the first one included.
    pub fn values(&self) -> impl Iterator<Item = f64> + '_ {
        std::iter::once(self.value).chain(self.more.iter().copied())
    }
}

/// Why a line was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// Not a StatsD line (counted in `tallyho_statsd_malformed_lines`); says which part is
    /// wrong.
    Syntax(&'static str),
    /// A StatsD line with a part the agent does not support (counted in
    /// `tallyho_statsd_refused_lines` with this reason).
    Unsupported(&'static str),
}
