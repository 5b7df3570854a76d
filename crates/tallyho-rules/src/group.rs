//! A rule group: its rules evaluated in order at one timestamp, their series written with
//! staleness markers for series that went away, and a status snapshot for the API.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use tallyho_query::{Labels, STALE_NAN};

use crate::alert::{Alert, AlertState, AlertingRule};
use crate::eval::{Appender, EvalEnv, RecordingRule};
use crate::rulefmt::{GroupSpec, RuleSpec};

/// A rule's health after its last evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not evaluated yet.
    Unknown,
    /// The last evaluation succeeded.
    Ok,
    /// The last evaluation failed.
    Err,
}

impl Health {
    /// `unknown`, `ok` or `err`, as Prometheus' API says.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Err => "err",
        }
    }
}

/// A rule as of its last evaluation.
#[derive(Debug, Clone)]
pub struct RuleStatus {
    /// The rule.
    pub spec: Arc<RuleSpec>,
    /// Health.
    pub health: Health,
    /// The last error, empty when none.
    pub last_error: String,
    /// When it was last evaluated (ms), `None` before the first time.
    pub last_eval_ms: Option<i64>,
    /// How long that took, seconds.
    pub eval_seconds: f64,
    /// Alerting rules: the highest state of its alerts.
    pub state: AlertState,
    /// Alerting rules: pending and firing alerts, sorted by labels.
    pub alerts: Vec<Alert>,
}

/// A group as of its last evaluation.
#[derive(Debug, Clone)]
pub struct GroupStatus {
    /// Name.
    pub name: String,
    /// File.
    pub file: String,
    /// Evaluation interval, ms.
    pub interval_ms: u64,
    /// `limit:`.
    pub limit: usize,
    /// Rules in order.
    pub rules: Vec<RuleStatus>,
    /// When it was last evaluated (ms).
    pub last_eval_ms: Option<i64>,
    /// How long that took, seconds.
    pub eval_seconds: f64,
}

pub(crate) enum Rule {
    Alerting(AlertingRule),
    Recording(RecordingRule),
}

struct Slot {
    rule: Rule,
    health: Health,
    last_error: String,
    last_eval_ms: Option<i64>,
    eval_seconds: f64,
    prev_series: HashSet<Labels>,
}

/// What one group evaluation produced for the notifiers and counters.
pub(crate) struct Outcome {
    /// (expression text, alerts to send) per alerting rule with something to send.
    pub notices: Vec<(String, Vec<Alert>)>,
    pub failures: usize,
    pub seconds: f64,
}

pub(crate) struct Group {
    pub name: String,
    pub file: String,
    pub interval_ms: u64,
    pub limit: usize,
    slots: Vec<Slot>,
    last_eval_ms: Option<i64>,
    eval_seconds: f64,
}

impl Group {
    pub fn new(spec: &GroupSpec, default_interval_ms: u64) -> Self {
        let slots = spec
            .rules
            .iter()
            .map(|r| {
                let spec = Arc::new(r.clone());
                Slot {
                    rule: if r.alerting {
                        Rule::Alerting(AlertingRule::new(spec))
                    } else {
                        Rule::Recording(RecordingRule { spec })
                    },
                    health: Health::Unknown,
                    last_error: String::new(),
                    last_eval_ms: None,
                    eval_seconds: 0.0,
                    prev_series: HashSet::new(),
                }
            })
            .collect();
        Group {
            name: spec.name.clone(),
            file: spec.file.clone(),
            interval_ms: spec.interval_ms.unwrap_or(default_interval_ms).max(1),
            limit: spec.limit,
            slots,
            last_eval_ms: None,
            eval_seconds: 0.0,
        }
    }

    /// Takes over the alert state and previous series of rules that are unchanged in
    /// `old` (same name, expression and labels), as Prometheus does on reload.
    pub fn copy_state(&mut self, old: &mut Group) {
        for slot in &mut self.slots {
            let Rule::Alerting(new) = &mut slot.rule else {
                let Rule::Recording(rec) = &slot.rule else {
                    continue;
                };
                if let Some(o) = old.slots.iter_mut().find(|o| matches!(&o.rule, Rule::Recording(r) if r.spec.name == rec.spec.name && r.spec.expr == rec.spec.expr && r.spec.labels == rec.spec.labels)) {
                    slot.prev_series = std::mem::take(&mut o.prev_series);
                }
                continue;
            };
            if let Some(o) = old
                .slots
                .iter_mut()
                .find(|o| matches!(&o.rule, Rule::Alerting(a) if a.same_rule(&new.spec)))
            {
                if let Rule::Alerting(a) = &mut o.rule {
                    new.active = std::mem::take(&mut a.active);
                }
                slot.prev_series = std::mem::take(&mut o.prev_series);
            }
        }
    }

    /// Stale markers for every series this group wrote last time (used when it is removed).
    pub fn stale_all(&mut self) -> Vec<(Labels, f64)> {
        self.slots
            .iter_mut()
            .flat_map(|s| std::mem::take(&mut s.prev_series))
            .map(|l| (l, f64::from_bits(STALE_NAN)))
            .collect()
    }

    /// Evaluates every rule at `ts`, in order, writing through `app`.
    pub fn eval(
        &mut self,
        ts: i64,
        env: &EvalEnv<'_>,
        app: &dyn Appender,
        resend_delay_ms: i64,
    ) -> Outcome {
        let start = Instant::now();
        let mut notices = Vec::new();
        let mut failures = 0;
        for slot in &mut self.slots {
            let t0 = Instant::now();
            let res = match &mut slot.rule {
                Rule::Alerting(a) => a.eval(ts, env, self.limit),
                Rule::Recording(r) => r.eval(ts, env, self.limit),
            };
            slot.last_eval_ms = Some(ts);
            let series = match res {
                Ok(v) => {
                    slot.health = Health::Ok;
                    slot.last_error.clear();
                    v
                }
                Err(e) => {
                    slot.health = Health::Err;
                    slot.last_error = e;
                    failures += 1;
                    slot.eval_seconds = t0.elapsed().as_secs_f64();
                    continue;
                }
            };
            if let Rule::Alerting(a) = &mut slot.rule {
                let send = a.take_due(ts, resend_delay_ms, self.interval_ms as i64);
                if !send.is_empty() {
                    notices.push((a.spec.query(), send));
                }
            }
            let mut batch = series;
            let returned: HashSet<Labels> = batch.iter().map(|(l, _)| l.clone()).collect();
            for gone in slot.prev_series.difference(&returned) {
                batch.push((gone.clone(), f64::from_bits(STALE_NAN)));
            }
            if let Err(e) = app.append(ts, &batch) {
                slot.health = Health::Err;
                slot.last_error = format!("appending samples: {e}");
                failures += 1;
            }
            slot.prev_series = returned;
            slot.eval_seconds = t0.elapsed().as_secs_f64();
        }
        self.last_eval_ms = Some(ts);
        self.eval_seconds = start.elapsed().as_secs_f64();
        Outcome {
            notices,
            failures,
            seconds: self.eval_seconds,
        }
    }

    /// The group's status now.
    pub fn status(&self) -> GroupStatus {
        GroupStatus {
            name: self.name.clone(),
            file: self.file.clone(),
            interval_ms: self.interval_ms,
            limit: self.limit,
            last_eval_ms: self.last_eval_ms,
            eval_seconds: self.eval_seconds,
            rules: self
                .slots
                .iter()
                .map(|s| {
                    let (spec, state, alerts) = match &s.rule {
                        Rule::Alerting(a) => (a.spec.clone(), a.state(), a.current()),
                        Rule::Recording(r) => (r.spec.clone(), AlertState::Inactive, Vec::new()),
                    };
                    RuleStatus {
                        spec,
                        health: s.health,
                        last_error: s.last_error.clone(),
                        last_eval_ms: s.last_eval_ms,
                        eval_seconds: s.eval_seconds,
                        state,
                        alerts,
                    }
                })
                .collect(),
        }
    }
}

/// FNV-1a of the group's file and name: the offset that spreads groups over an interval.
pub(crate) fn group_hash(file: &str, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in file.bytes().chain([0xff]).chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Prometheus' `EvalTimestamp`: the latest slot `base + offset` at or before `now`, where
/// slots are `interval` apart and `offset` = hash mod interval.
pub(crate) fn eval_timestamp(now_ms: i64, interval_ms: u64, offset_ms: u64) -> i64 {
    let interval = interval_ms.max(1) as i64;
    let offset = (offset_ms % interval_ms.max(1)) as i64;
    let adj = now_ms - offset;
    adj - adj.rem_euclid(interval) + offset
}
