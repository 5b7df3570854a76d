//! `tallyho_rules_*` self-metrics: evaluations, failures and durations per group, reloads,
//! and notifier deliveries, exposed as a [`tallyho::Collector`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tallyho::{Collector, FamilySnapshot, MetricKind, Number, Series, SeriesValue};

use crate::notify::Notifiers;

#[derive(Debug, Default, Clone)]
struct GroupCounts {
    evaluations: u64,
    failures: u64,
    missed: u64,
    last_seconds: f64,
}

/// Counters the manager updates.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    groups: Mutex<BTreeMap<(String, String), GroupCounts>>,
    total: AtomicU64,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    last_reload_failed: AtomicBool,
}

impl Metrics {
    fn groups(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), GroupCounts>> {
        self.groups.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn evaluated(&self, key: &(String, String), failures: u64, seconds: f64) {
        let mut g = self.groups();
        let c = g.entry(key.clone()).or_default();
        c.evaluations += 1;
        c.failures += failures;
        c.last_seconds = seconds;
        self.total.fetch_add(1, Ordering::SeqCst);
    }

    pub fn missed(&self, key: &(String, String), n: u64) {
        self.groups().entry(key.clone()).or_default().missed += n;
    }

    pub fn reload(&self, ok: bool) {
        self.reloads.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.reload_failures.fetch_add(1, Ordering::Relaxed);
        }
        self.last_reload_failed.store(!ok, Ordering::Relaxed);
    }

    pub fn total_evaluations(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }
}

/// The rule manager's self-metrics as a [`Collector`].
pub struct RulesCollector {
    metrics: Arc<Metrics>,
    notifiers: Notifiers,
}

impl RulesCollector {
    pub(crate) fn new(metrics: Arc<Metrics>, notifiers: Notifiers) -> Self {
        RulesCollector { metrics, notifiers }
    }
}

fn family(name: &str, help: &str, kind: MetricKind) -> FamilySnapshot {
    FamilySnapshot::new(name, help, kind)
}

fn push(f: &mut FamilySnapshot, labels: &[(&str, &str)], v: Number) {
    let value = match f.kind {
        MetricKind::Counter => SeriesValue::Counter(v),
        _ => SeriesValue::Gauge(v),
    };
    f.series.push(Series {
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
        start: std::time::UNIX_EPOCH,
        value,
    });
}

impl Collector for RulesCollector {
    fn collect(&self) -> Vec<FamilySnapshot> {
        let c = MetricKind::Counter;
        let mut evals = family(
            "tallyho_rules_group_evaluations",
            "Rule group evaluations.",
            c,
        );
        let mut fails = family(
            "tallyho_rules_evaluation_failures",
            "Rule evaluations that failed.",
            c,
        );
        let mut missed = family(
            "tallyho_rules_group_iterations_missed",
            "Group evaluations skipped because the previous one ran late.",
            c,
        );
        let mut dur = family(
            "tallyho_rules_group_last_duration_seconds",
            "How long the last evaluation of the group took.",
            MetricKind::Gauge,
        );
        for ((file, group), g) in self.metrics.groups().iter() {
            let l = [("file", file.as_str()), ("rule_group", group.as_str())];
            push(&mut evals, &l, Number::U64(g.evaluations));
            push(&mut fails, &l, Number::U64(g.failures));
            push(&mut missed, &l, Number::U64(g.missed));
            push(&mut dur, &l, Number::F64(g.last_seconds));
        }
        let mut reloads = family("tallyho_rules_reloads", "Rule reloads attempted.", c);
        push(
            &mut reloads,
            &[],
            Number::U64(self.metrics.reloads.load(Ordering::Relaxed)),
        );
        let mut reload_fail = family(
            "tallyho_rules_reload_failures",
            "Rule reloads refused (the old rules kept running).",
            c,
        );
        push(
            &mut reload_fail,
            &[],
            Number::U64(self.metrics.reload_failures.load(Ordering::Relaxed)),
        );
        let mut ok = family(
            "tallyho_rules_last_reload_successful",
            "Whether the last reload succeeded (1) or was refused (0).",
            MetricKind::Gauge,
        );
        push(
            &mut ok,
            &[],
            Number::I64(i64::from(
                !self.metrics.last_reload_failed.load(Ordering::Relaxed),
            )),
        );
        let mut sent = family("tallyho_rules_notifications_sent", "Alerts delivered.", c);
        let mut failed = family(
            "tallyho_rules_notifications_failed",
            "Alerts whose delivery failed after every retry.",
            c,
        );
        let mut dropped = family(
            "tallyho_rules_notifications_dropped",
            "Alerts dropped because the notifier's queue was full.",
            c,
        );
        let mut retries = family(
            "tallyho_rules_notifications_retries",
            "Delivery retries.",
            c,
        );
        let mut queued = family(
            "tallyho_rules_notifications_queue_length",
            "Alerts waiting to be delivered.",
            MetricKind::Gauge,
        );
        for s in self.notifiers.stats() {
            let l = [("notifier", s.name.as_str())];
            push(&mut sent, &l, Number::U64(s.sent));
            push(&mut failed, &l, Number::U64(s.failed));
            push(&mut dropped, &l, Number::U64(s.dropped));
            push(&mut retries, &l, Number::U64(s.retries));
            push(&mut queued, &l, Number::U64(s.queued as u64));
        }
        vec![
            evals,
            fails,
            missed,
            dur,
            reloads,
            reload_fail,
            ok,
            sent,
            failed,
            dropped,
            retries,
            queued,
        ]
    }
}
