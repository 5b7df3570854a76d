//! Collecting and encoding for a scrape: one shared collection for concurrent scrapes, an
//! optional family-name filter, and the numbers `/health` reports.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use tallyho::{FamilyInfo, MetricKind, Point, PointValue, Registry, Source, Visitor};
use tallyho_encode::Format;
use tokio::sync::OnceCell;

/// One encoded collection.
#[derive(Clone, Debug)]
pub(crate) struct Encoded {
    pub(crate) body: Bytes,
    pub(crate) format: Format,
    pub(crate) stats: Stats,
}

/// What one collection held and cost.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stats {
    pub(crate) families: usize,
    pub(crate) series: BTreeMap<&'static str, usize>,
    pub(crate) overflow: BTreeMap<String, f64>,
    pub(crate) duration: Duration,
    pub(crate) bytes: usize,
    pub(crate) at: Option<SystemTime>,
}

/// Counts families and series (and reads the overflow self-metric) on the way through to
/// the real encoder; drops families not in `only` when a filter is set.
struct Tally<'a> {
    inner: &'a mut dyn Visitor,
    only: Option<&'a HashSet<String>>,
    skipping: bool,
    current: Option<(MetricKind, bool)>,
    stats: Stats,
}

impl Visitor for Tally<'_> {
    fn family(&mut self, info: &FamilyInfo<'_>) -> io::Result<()> {
        self.skipping = self.only.is_some_and(|only| !only.contains(info.name));
        if self.skipping {
            return Ok(());
        }
        self.stats.families += 1;
        self.current = Some((info.kind, info.name == tallyho::OVERFLOW_METRIC));
        self.inner.family(info)
    }

    fn point(&mut self, point: &Point<'_>) -> io::Result<()> {
        if self.skipping {
            return Ok(());
        }
        if let Some((kind, overflow)) = self.current {
            *self.stats.series.entry(kind.as_str()).or_default() += 1;
            if overflow {
                if let (Some(metric), PointValue::Counter(n)) =
                    (point.labels.get("metric"), point.value)
                {
                    self.stats.overflow.insert(metric, n.as_f64());
                }
            }
        }
        self.inner.point(point)
    }

    fn end_family(&mut self) -> io::Result<()> {
        if self.skipping {
            return Ok(());
        }
        self.inner.end_family()
    }
}

/// A source seen through a [`Tally`].
struct Counted<'a> {
    source: &'a dyn Source,
    only: Option<&'a HashSet<String>>,
    stats: &'a Mutex<Stats>,
}

impl Source for Counted<'_> {
    fn visit(&self, visitor: &mut dyn Visitor) -> io::Result<()> {
        let mut tally = Tally {
            inner: visitor,
            only: self.only,
            skipping: false,
            current: None,
            stats: Stats::default(),
        };
        let result = self.source.visit(&mut tally);
        *self.stats.lock().unwrap_or_else(|p| p.into_inner()) = tally.stats;
        result
    }
}

/// Encodes `registry` (optionally only the families in `only`) and measures it.
pub(crate) fn encode(
    registry: &Registry,
    format: Format,
    only: Option<&HashSet<String>>,
) -> io::Result<Encoded> {
    let started = Instant::now();
    let stats = Mutex::new(Stats::default());
    let mut body = Vec::with_capacity(64 * 1024);
    format.encode(
        &mut body,
        &Counted {
            source: registry,
            only,
            stats: &stats,
        },
    )?;
    let mut stats = stats.into_inner().unwrap_or_else(|p| p.into_inner());
    stats.duration = started.elapsed();
    stats.bytes = body.len();
    stats.at = Some(SystemTime::now());
    Ok(Encoded {
        body: Bytes::from(body),
        format,
        stats,
    })
}

type Cell = Arc<OnceCell<Result<Encoded, String>>>;

/// Scrapes that arrive while a collection of the same format runs wait for it and share its
/// result, so a burst of scrapers costs one collection, not one each.
#[derive(Default)]
pub(crate) struct SingleFlight {
    cells: Mutex<Vec<(Format, Cell)>>,
}

impl SingleFlight {
    pub(crate) async fn get(&self, registry: &Registry, format: Format) -> Result<Encoded, String> {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
            match cells.iter_mut().find(|(f, _)| *f == format) {
                // A finished collection is stale: start a new one.
                Some((_, cell)) if cell.initialized() => {
                    *cell = Arc::new(OnceCell::new());
                    cell.clone()
                }
                Some((_, cell)) => cell.clone(),
                None => {
                    let cell: Cell = Arc::new(OnceCell::new());
                    cells.push((format, cell.clone()));
                    cell
                }
            }
        };
        cell.get_or_init(|| {
            let registry = registry.clone();
            async move {
                tokio::task::spawn_blocking(move || encode(&registry, format, None))
                    .await
                    .map_err(|e| format!("collection failed: {e}"))?
                    .map_err(|e| format!("collection failed: {e}"))
            }
        })
        .await
        .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_and_counts() {
        let r = Registry::new();
        r.counter("a", "").unwrap().inc();
        r.gauge("b", "").unwrap().set(1.0);
        let f = r.metric("c", "").counter_family(&["k"]).unwrap();
        f.with(&["x"]).inc();
        f.with(&["y"]).inc();
        let all = encode(&r, Format::Prometheus, None).unwrap();
        assert_eq!(all.stats.families, 3);
        assert_eq!(all.stats.series["counter"], 3);
        assert_eq!(all.stats.bytes, all.body.len());
        let only: HashSet<String> = ["b".to_owned()].into();
        let some = encode(&r, Format::Prometheus, Some(&only)).unwrap();
        let text = String::from_utf8(some.body.to_vec()).unwrap();
        assert!(text.contains("b 1") && !text.contains("a_total"), "{text}");
    }
}
