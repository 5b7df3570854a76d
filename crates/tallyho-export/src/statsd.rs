//! StatsD over UDP: counters as deltas (`|c`), gauges (`|g`), and histograms as timings
//! (`|ms`, for units in seconds) or histogram samples (`|h`), with optional DogStatsD tags.
//!
//! A histogram reaches the exporter as bucket counts, not raw observations, so each
//! non-empty bucket becomes one line at the bucket's upper bound with a sample rate of
//! `1/count` (`lat:250|ms|@0.25` stands for 4 observations of up to 250 ms); a StatsD server
//! scales by the rate and counts them all. Observations above the last bound are sent at
//! that bound. Lines are packed into datagrams of at most `max_datagram` bytes.
//!
//! Without tags, labels are folded into the name: `jobs.outcome.ok`; with
//! [`dogstatsd_tags`](StatsdExporter::dogstatsd_tags) they become `|#outcome:ok`.

use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};

use tallyho::{MetricKind, Number, SeriesValue};

use crate::exporter::{Batch, ExportError, Exporter, Temporality};

/// Default largest datagram: fits a 1500-byte Ethernet MTU with IP and UDP headers.
pub const DEFAULT_MAX_DATAGRAM: usize = 1432;

/// Sends batches as StatsD lines over UDP.
#[derive(Debug)]
pub struct StatsdExporter {
    socket: UdpSocket,
    target: SocketAddr,
    prefix: String,
    tags: bool,
    max_datagram: usize,
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
            prefix: String::new(),
            tags: false,
            max_datagram: DEFAULT_MAX_DATAGRAM,
        })
    }

    /// Puts `prefix.` before every name.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sends labels as DogStatsD tags instead of folding them into names.
    pub fn dogstatsd_tags(mut self, yes: bool) -> Self {
        self.tags = yes;
        self
    }

    /// Largest datagram in bytes (at least 64).
    pub fn max_datagram(mut self, bytes: usize) -> Self {
        self.max_datagram = bytes.max(64);
        self
    }

    /// The StatsD lines for one batch (what `export` sends), without packing.
    pub fn lines(&self, batch: &Batch) -> Vec<String> {
        let mut lines = Vec::new();
        for f in &batch.snapshot.families {
            for s in &f.series {
                let (name, tags) = self.name_and_tags(&f.name, &s.labels);
                match &s.value {
                    SeriesValue::Counter(n) if f.kind == MetricKind::Counter => {
                        if n.as_f64() != 0.0 {
                            lines.push(format!("{name}:{}|c{tags}", number(*n)));
                        }
                    }
                    SeriesValue::Counter(n) | SeriesValue::Gauge(n) => {
                        let v = n.as_f64();
                        // A leading sign means "adjust" in StatsD: set negatives from zero.
                        if v < 0.0 {
                            lines.push(format!("{name}:0|g{tags}"));
                        }
                        lines.push(format!("{name}:{}|g{tags}", number(*n)));
                    }
                    SeriesValue::Histogram(h) => {
                        let (scale, kind) = if f.unit == "seconds" {
                            (1000.0, "ms")
                        } else {
                            (1.0, "h")
                        };
                        let last = h.bounds.last().copied().unwrap_or(0.0);
                        for (i, &c) in h.counts.iter().enumerate() {
                            if c == 0 {
                                continue;
                            }
                            let bound = h.bounds.get(i).copied().unwrap_or(last) * scale;
                            let mut line = format!("{name}:{}|{kind}", float(bound));
                            if c > 1 {
                                let _ = write!(line, "|@{}", float(1.0 / c as f64));
                            }
                            line.push_str(&tags);
                            lines.push(line);
                        }
                    }
                }
            }
        }
        lines
    }

    fn name_and_tags(&self, family: &str, labels: &[(String, String)]) -> (String, String) {
        let mut name = String::new();
        if !self.prefix.is_empty() {
            name.push_str(&self.prefix);
            name.push('.');
        }
        name.push_str(family);
        let mut tags = String::new();
        for (k, v) in labels {
            if self.tags {
                tags.push(if tags.is_empty() { '#' } else { ',' });
                tags.push_str(&sanitize(k));
                tags.push(':');
                tags.push_str(&sanitize(v));
            } else {
                name.push('.');
                name.push_str(&sanitize(k));
                name.push('.');
                name.push_str(&sanitize(v));
            }
        }
        if !tags.is_empty() {
            tags.insert(0, '|');
        }
        (name, tags)
    }
}

/// Characters that would break the line format (`:|@#,` and whitespace) become `_`.
fn sanitize(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if matches!(c, ':' | '|' | '@' | '#' | ',') || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if out.is_empty() {
        "_".to_owned()
    } else {
        out
    }
}

fn number(n: Number) -> String {
    match n {
        Number::U64(v) => v.to_string(),
        Number::I64(v) => v.to_string(),
        Number::F64(v) => float(v),
    }
}

fn float(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "0".to_owned()
    }
}

impl Exporter for StatsdExporter {
    fn name(&self) -> &str {
        "statsd"
    }

    fn temporality(&self) -> Temporality {
        Temporality::Delta
    }

    fn export(&mut self, batch: &Batch) -> Result<(), ExportError> {
        let mut datagram = String::new();
        let send = |d: &str| {
            self.socket
                .send_to(d.as_bytes(), self.target)
                .map(drop)
                .map_err(|e| {
                    ExportError::retryable("statsd", format!("sending to {}: {e}", self.target))
                })
        };
        for line in self.lines(batch) {
            if !datagram.is_empty() && datagram.len() + 1 + line.len() > self.max_datagram {
                send(&datagram)?;
                datagram.clear();
            }
            if !datagram.is_empty() {
                datagram.push('\n');
            }
            datagram.push_str(&line);
        }
        if !datagram.is_empty() {
            send(&datagram)?;
        }
        Ok(())
    }
}
