//! The history's own numbers as a `tallyho::Collector`.

use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::UNIX_EPOCH;

use tallyho::{Collector, FamilySnapshot, HistogramData, MetricKind, Series, SeriesValue};

use crate::history::{History, Inner, QUERY_BUCKETS};

/// Self-metrics of a [`History`]; register with
/// [`Registry::register_collector`](tallyho::Registry::register_collector). Holds the
/// history weakly: once it is gone, the families are empty.
#[derive(Debug, Clone)]
pub struct HistoryMetrics {
    inner: Weak<Inner>,
}

fn counter(name: &str, help: &str, v: u64) -> FamilySnapshot {
    FamilySnapshot::new(name, help, MetricKind::Counter).with_point(&[], v)
}

fn gauge(name: &str, help: &str, v: u64) -> FamilySnapshot {
    FamilySnapshot::new(name, help, MetricKind::Gauge).with_point(&[], v)
}

impl Collector for HistoryMetrics {
    fn collect(&self) -> Vec<FamilySnapshot> {
        let Some(inner) = self.inner.upgrade() else {
            return Vec::new();
        };
        let h = History { inner };
        let s = h.stats();
        let q = &h.inner.queries;
        let counts: Vec<u64> = q
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let mut duration = FamilySnapshot::new(
            "tallyho_history_query_duration_seconds",
            "Time spent evaluating queries.",
            MetricKind::Histogram,
        )
        .with_unit("seconds");
        duration.series.push(Series {
            labels: Vec::new(),
            start: UNIX_EPOCH,
            value: SeriesValue::Histogram(HistogramData {
                bounds: QUERY_BUCKETS.to_vec(),
                count: counts.iter().sum(),
                counts,
                sum: q.nanos.load(Ordering::Relaxed) as f64 / 1e9,
                exponential: None,
            }),
        });
        vec![
            counter(
                "tallyho_history_samples_appended",
                "Samples appended (staleness markers included).",
                s.samples_appended,
            ),
            FamilySnapshot::new(
                "tallyho_history_bytes",
                "Bytes held, in memory (head) and on disk (blocks and WAL).",
                MetricKind::Gauge,
            )
            .with_unit("bytes")
            .with_point(&[("where", "memory")], s.head_bytes)
            .with_point(&[("where", "disk")], s.disk_bytes),
            gauge(
                "tallyho_history_series",
                "Series in the head.",
                s.series as u64,
            ),
            gauge("tallyho_history_blocks", "Blocks on disk.", s.blocks as u64),
            counter(
                "tallyho_history_compactions",
                "Blocks written from the head.",
                s.compactions,
            ),
            counter(
                "tallyho_history_block_write_errors",
                "Blocks that could not be written (their samples stayed in memory and the WAL).",
                s.block_write_errors,
            ),
            counter(
                "tallyho_history_queries",
                "Queries evaluated through History::query and query_range (the HTTP API \
                 counts its own in tallyho_query_requests_total).",
                s.queries,
            ),
            duration,
            counter(
                "tallyho_history_corrupt_files",
                "Block files and WAL segments found damaged (skipped whole or in part).",
                s.corrupt_files,
            ),
            counter(
                "tallyho_history_out_of_order_samples",
                "Samples refused: not newer than their series' last sample, or too old.",
                s.out_of_order_rejected,
            ),
            counter(
                "tallyho_history_retention_dropped_bytes",
                "Bytes dropped by time or size retention.",
                s.retention_dropped_bytes,
            ),
        ]
    }
}

impl History {
    /// The history's self-metrics, to register on a registry.
    pub fn metrics(&self) -> HistoryMetrics {
        HistoryMetrics {
            inner: std::sync::Arc::downgrade(&self.inner),
        }
    }
}
