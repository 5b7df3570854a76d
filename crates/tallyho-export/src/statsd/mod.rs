//! StatsD over UDP, in the lines Etsy statsd and collectd's statsd plugin both read
//! exactly.
//!
//! | series | lines | in both daemons |
//! |---|---|---|
//! | counter | its change since the previous export, `jobs:3\|c` (none when 0) | the sum of the changes |
//! | gauge | its value, `temp:21.5\|g` | the value |
//! | up-down counter | its value, `inflight:3\|g` | the value |
//! | histogram | gauges of its totals: `lat.count:5\|g`, `lat.sum:0.445\|g`, and the cumulative count at or below each bound, `lat.bucket.le_0_25:4\|g` | the same numbers `/metrics` shows as `_count`, `_sum`, `_bucket{le}` |
//!
//! Why these and not the obvious ones:
//! - A leading sign on a gauge means "adjust" (`x:-2|g` subtracts 2), so a change must
//!   never be sent as a value: up-down counters go as their value, and a negative value as
//!   `x:0|g` then `x:-4|g` (set, then adjust; both daemons apply a datagram's lines in
//!   order). A value also survives a lost datagram or a restarted daemon, a change does not.
//! - A bucketed histogram has no raw observations to send as timers (`|ms`), and the
//!   daemons read a timer's sample rate differently: Etsy statsd counts `1/rate` per line
//!   and sums the values as sent, collectd counts lines and sums `value/rate`. No set of
//!   timer lines gives the right count in both unless each observation is one line.
//!   `|h` is refused by collectd and counted as a counter by Etsy statsd.
//! - collectd keeps counters as integers (each flush adds the rounded value and carries
//!   the rest), so a fractional sum sent as `|c` arrives late and rounded; gauges are
//!   doubles in both daemons. Totals as gauges also need no flush alignment: whatever
//!   flush reads them reads the latest.
//!
//! What cannot arrive: a histogram's maximum (and minimum, percentiles). Buckets keep no
//! maximum, only bound it: it lies in the first bucket whose cumulative count equals
//! `count` (above the last bound when none does). Per-period counts and sums are the
//! differences of the totals (Graphite's `nonNegativeDerivative`); the totals restart
//! from zero when the program does. NaN and ±Inf values cannot be written and are left
//! out ([`skipped_values`](StatsdExporter::skipped_values)).
//!
//! Without tags, labels are folded into the name: `jobs.outcome.ok`; with
//! [`dogstatsd_tags`](StatsdExporter::dogstatsd_tags) they become `|#outcome:ok`. Lines
//! are packed into datagrams of at most `max_datagram` bytes.
//!
//! The exporter asks the pipeline for cumulative batches and keeps the counters' previous
//! values itself, moving that baseline only once a batch is sent. A delta batch handed to
//! [`export`](crate::Exporter::export) directly is sent as changes: counters as `|c`,
//! up-down counters and histogram totals as signed adjustments (`+N|g`, `-N|g`).

mod lines;

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};

use tallyho::{MetricKind, Snapshot};

use crate::delta::DeltaState;
use crate::exporter::{Batch, ExportError, Exporter, FailureReason, Temporality};
use lines::{Lines, Naming};

/// Default largest datagram: fits a 1500-byte Ethernet MTU with IP and UDP headers.
pub const DEFAULT_MAX_DATAGRAM: usize = 1432;

/// Sends batches as StatsD lines over UDP.
pub struct StatsdExporter {
    socket: UdpSocket,
    target: SocketAddr,
    naming: Naming,
    max_datagram: usize,
    counters: DeltaState,
    skipped: u64,
}

impl std::fmt::Debug for StatsdExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatsdExporter")
            .field("target", &self.target)
            .field("naming", &self.naming)
            .field("max_datagram", &self.max_datagram)
            .field("skipped", &self.skipped)
            .finish_non_exhaustive()
    }
}

impl StatsdExporter {
    /// To a StatsD server at `addr` (e.g. `127.0.0.1:8125`).
    ///
    /// # Errors
    /// The address does not resolve, or no local UDP socket can be bound.
    pub fn new(addr: impl ToSocketAddrs) -> std::io::Result<Self> {
        let target = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address"))?;
        let local: SocketAddr = if target.is_ipv4() {
            ([127, 0, 0, 1], 0).into()
        } else {
            (std::net::Ipv6Addr::LOCALHOST, 0).into()
        };
        let bind = if target.ip().is_loopback() {
            local
        } else if target.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        Ok(StatsdExporter {
            socket: UdpSocket::bind(bind)?,
            target,
            naming: Naming::default(),
            max_datagram: DEFAULT_MAX_DATAGRAM,
            counters: DeltaState::default(),
            skipped: 0,
        })
    }

    /// Puts `prefix.` before every name.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.naming.prefix = prefix.into();
        self
    }

    /// Sends labels as DogStatsD tags instead of folding them into names.
    pub fn dogstatsd_tags(mut self, yes: bool) -> Self {
        self.naming.tags = yes;
        self
    }

    /// Largest datagram in bytes (at least 64).
    pub fn max_datagram(mut self, bytes: usize) -> Self {
        self.max_datagram = bytes.max(64);
        self
    }

    /// The StatsD lines for one batch (what `export` sends), without packing.
    ///
    /// For a cumulative batch (what the pipeline hands this exporter) counters are sent
    /// as their change since the previous *sent* batch, so calling this does not move
    /// that baseline; a delta batch's counters are sent as they are, and its up-down
    /// counters and histograms as signed gauge adjustments (`+N|g`, `-N|g`).
    pub fn lines(&self, batch: &Batch) -> Vec<String> {
        self.encode(batch).0.lines
    }

    /// How many values StatsD could not carry (NaN, ±Inf) were left out so far.
    pub fn skipped_values(&self) -> u64 {
        self.skipped
    }

    /// The lines, and the counter baseline to keep once they are sent.
    fn encode(&self, batch: &Batch) -> (Lines, Option<DeltaState>) {
        let snapshot = &batch.snapshot;
        if batch.temporality == Temporality::Delta {
            return (self.naming.encode(snapshot, snapshot, true), None);
        }
        let counters = Snapshot {
            time: snapshot.time,
            families: snapshot
                .families
                .iter()
                .filter(|f| f.kind == MetricKind::Counter)
                .cloned()
                .collect(),
        };
        let mut state = self.counters.clone();
        let changes = state.delta(&counters, batch.start);
        (self.naming.encode(snapshot, &changes, false), Some(state))
    }

    /// Sends `lines` packed into datagrams; how many datagrams went out before an error.
    fn send(&self, lines: &[String]) -> Result<(), (usize, std::io::Error)> {
        let mut sent = 0;
        let mut datagram = String::new();
        let send = |d: &str, sent: &mut usize| {
            self.socket
                .send_to(d.as_bytes(), self.target)
                .map(|_| *sent += 1)
                .map_err(|e| (*sent, e))
        };
        for line in lines {
            if !datagram.is_empty() && datagram.len() + 1 + line.len() > self.max_datagram {
                send(&datagram, &mut sent)?;
                datagram.clear();
            }
            if !datagram.is_empty() {
                datagram.push('\n');
            }
            datagram.push_str(line);
        }
        if !datagram.is_empty() {
            send(&datagram, &mut sent)?;
        }
        Ok(())
    }
}

impl Exporter for StatsdExporter {
    fn name(&self) -> &str {
        "statsd"
    }

    /// Cumulative: gauges and histogram totals are sent as values, and the exporter works
    /// out the counters' changes itself.
    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }

    fn export(&mut self, batch: &Batch) -> Result<(), ExportError> {
        let (lines, state) = self.encode(batch);
        self.skipped += lines.skipped;
        match self.send(&lines.lines) {
            Ok(()) => {
                if let Some(state) = state {
                    self.counters = state;
                }
                Ok(())
            }
            // Nothing went out: the pipeline may retry the same batch.
            Err((0, e)) => Err(ExportError::retryable(
                "statsd",
                format!("sending to {}: {e}", self.target),
            )
            .with_reason(FailureReason::Connection)),
            // Some datagrams went out: a retry would count their counters twice, so the
            // baseline moves on and the rest of this batch is lost, as a lost datagram is.
            Err((sent, e)) => {
                if let Some(state) = state {
                    self.counters = state;
                }
                Err(ExportError::permanent(
                    "statsd",
                    format!(
                        "sending to {} after {sent} datagrams: {e}; the rest of this batch is lost",
                        self.target
                    ),
                )
                .with_reason(FailureReason::Connection))
            }
        }
    }
}
