//! A summary table per period on a terminal: counters with their rate, gauges, and
//! histogram count, mean and p50/p90/p99.

use std::collections::HashMap;
use std::io::Write;

use tallyho::{MetricKind, SeriesValue};

use crate::exporter::{Batch, ExportError, Exporter};
use crate::quantile::quantile;

/// Writes a table per batch to stdout (or any writer).
pub struct ConsoleExporter {
    out: Box<dyn Write + Send>,
    last: HashMap<(String, Vec<(String, String)>), f64>,
}

impl ConsoleExporter {
    /// To standard output.
    pub fn stdout() -> Self {
        Self::to_writer(Box::new(std::io::stdout()))
    }

    /// Each line of the table to `line` (a logger: `|l| tracing::info!("{l}")`), so the
    /// table lands in the program's log instead of on standard output.
    pub fn to_lines(line: impl FnMut(&str) + Send + 'static) -> Self {
        Self::to_writer(Box::new(Lines {
            line: Box::new(line),
            pending: Vec::new(),
        }))
    }

    /// To `out`.
    pub fn to_writer(out: Box<dyn Write + Send>) -> Self {
        ConsoleExporter {
            out,
            last: HashMap::new(),
        }
    }

    /// The table for one batch (what `export` writes).
    pub fn render(&mut self, batch: &Batch) -> String {
        let secs = batch
            .end
            .duration_since(batch.start)
            .map_or(0.0, |d| d.as_secs_f64());
        let mut rows: Vec<[String; 3]> = Vec::new();
        for f in &batch.snapshot.families {
            for s in &f.series {
                let labels = s
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect::<Vec<_>>()
                    .join(",");
                let name = if labels.is_empty() {
                    f.name.clone()
                } else {
                    format!("{}{{{labels}}}", f.name)
                };
                let value = match (&s.value, f.kind) {
                    (SeriesValue::Counter(n), _) => {
                        let v = n.as_f64();
                        let key = (f.name.clone(), s.labels.clone());
                        let rate = match self.last.insert(key, v) {
                            Some(prev) if secs > 0.0 && v >= prev => {
                                format!("{:.3}/s", (v - prev) / secs)
                            }
                            _ => "-".to_owned(),
                        };
                        format!("{} ({rate})", fmt(v))
                    }
                    (SeriesValue::Gauge(n), _) => fmt(n.as_f64()),
                    (SeriesValue::Summary(sm), _) => {
                        let qs: Vec<String> = sm
                            .quantiles
                            .iter()
                            .map(|(q, v)| format!("q{q}={}", fmt(*v)))
                            .collect();
                        format!("count={} sum={} {}", sm.count, fmt(sm.sum), qs.join(" "))
                    }
                    (SeriesValue::StateSet(states), _) => {
                        let on: Vec<&str> = states
                            .iter()
                            .filter(|(_, on)| *on)
                            .map(|(s, _)| s)
                            .collect();
                        if on.is_empty() {
                            "-".to_owned()
                        } else {
                            on.join(",")
                        }
                    }
                    (SeriesValue::Histogram(h), _) => {
                        let q = |p| quantile(h, p).map_or("-".to_owned(), fmt);
                        let mean = if h.count > 0 {
                            fmt(h.sum / h.count as f64)
                        } else {
                            "-".to_owned()
                        };
                        format!(
                            "count={} mean={mean} p50={} p90={} p99={}",
                            h.count,
                            q(0.5),
                            q(0.9),
                            q(0.99)
                        )
                    }
                };
                let kind = match f.kind {
                    MetricKind::Counter => "counter",
                    MetricKind::Histogram => "histogram",
                    MetricKind::UpDownCounter => "updown",
                    MetricKind::Info => "info",
                    MetricKind::GaugeHistogram => "gaugehistogram",
                    MetricKind::Summary => "summary",
                    MetricKind::StateSet => "stateset",
                    _ => "gauge",
                };
                rows.push([name, kind.to_owned(), value]);
            }
        }
        let w0 = rows
            .iter()
            .map(|r| r[0].chars().count())
            .max()
            .unwrap_or(0)
            .max(6);
        let w1 = 9;
        let mut out = format!("--- metrics over {secs:.1}s ---\n");
        out.push_str(&format!("{:<w0$}  {:<w1$}  value\n", "metric", "type"));
        for [n, k, v] in rows {
            out.push_str(&format!("{n:<w0$}  {k:<w1$}  {v}\n"));
        }
        out
    }
}

/// A writer that hands each complete line, without its newline, to a callback.
struct Lines {
    line: Box<dyn FnMut(&str) + Send>,
    pending: Vec<u8>,
}

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let rest = self.pending.split_off(end + 1);
            let text = String::from_utf8_lossy(&self.pending[..end]).into_owned();
            (self.line)(&text);
            self.pending = rest;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let text = String::from_utf8_lossy(&self.pending).into_owned();
            self.pending.clear();
            (self.line)(&text);
        }
        Ok(())
    }
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

impl Exporter for ConsoleExporter {
    fn name(&self) -> &str {
        "console"
    }
    fn export(&mut self, batch: &Batch) -> Result<(), ExportError> {
        let text = self.render(batch);
        self.out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(|e| ExportError::permanent("console", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime};

    #[test]
    fn to_lines_hands_over_each_line_of_the_table() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = seen.clone();
        let mut c = ConsoleExporter::to_lines(move |l| sink.lock().unwrap().push(l.to_owned()));
        let r = tallyho::Registry::new();
        r.counter("jobs", "Jobs.").unwrap().add(3);
        let end = SystemTime::now();
        let batch = Batch {
            start: end - Duration::from_secs(10),
            end,
            snapshot: r.snapshot(),
            temporality: crate::Temporality::Cumulative,
        };
        // What the table is, from an exporter of its own (rendering keeps rate state).
        let table = ConsoleExporter::to_writer(Box::new(std::io::sink())).render(&batch);
        c.export(&batch).unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.join("\n") + "\n", table);
        assert!(seen
            .iter()
            .any(|l| l.starts_with("jobs ") && l.contains("counter")));
        assert!(seen.iter().all(|l| !l.contains('\n')));
    }
}
