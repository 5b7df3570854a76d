//! Alerting rules: Prometheus 2.42's state machine (inactive → pending → firing → resolved,
//! with `for` and `keep_firing_for`), templated labels and annotations, and the `ALERTS` /
//! `ALERTS_FOR_STATE` series.

use std::collections::HashMap;
use std::sync::Arc;

use tallyho_query::Labels;

use crate::eval::{query_vector, EvalEnv};
use crate::rulefmt::RuleSpec;
use crate::template::TemplateData;

/// How long a resolved alert is kept (and re-sent as resolved): 15 minutes.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60_000;

/// An alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertState {
    /// Resolved (kept for 15 minutes so receivers learn it is over).
    Inactive,
    /// Active for less than `for`.
    Pending,
    /// Active for at least `for`.
    Firing,
}

impl AlertState {
    /// `inactive`, `pending` or `firing`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of an alerting rule. Times are milliseconds since the epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The sample's labels without `__name__`, the rule's labels, and `alertname`.
    pub labels: Labels,
    /// Expanded annotations, sorted by name.
    pub annotations: Labels,
    /// The state.
    pub state: AlertState,
    /// The expression's value at the last evaluation where it was active.
    pub value: f64,
    /// When it became pending.
    pub active_at_ms: i64,
    /// When it started firing.
    pub fired_at_ms: Option<i64>,
    /// When it was resolved.
    pub resolved_at_ms: Option<i64>,
    /// When it was last handed to the notifiers.
    pub last_sent_at_ms: Option<i64>,
    /// The `endsAt` sent for a firing alert.
    pub valid_until_ms: i64,
    /// Since when it has been kept firing after its condition cleared.
    pub keep_firing_since_ms: Option<i64>,
}

impl Alert {
    /// Prometheus' `needsSending`: not pending; resolved since the last send, or not sent
    /// for more than `resend_delay`.
    fn needs_sending(&self, ts: i64, resend_delay_ms: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        if let Some(resolved) = self.resolved_at_ms {
            if self.last_sent_at_ms.map_or(true, |sent| resolved > sent) {
                return true;
            }
        }
        match self.last_sent_at_ms {
            None => true,
            Some(sent) => sent + resend_delay_ms < ts,
        }
    }
}

/// An alerting rule with its active alerts.
#[derive(Debug)]
pub(crate) struct AlertingRule {
    pub spec: Arc<RuleSpec>,
    pub active: HashMap<Labels, Alert>,
}

impl AlertingRule {
    pub fn new(spec: Arc<RuleSpec>) -> Self {
        AlertingRule {
            spec,
            active: HashMap::new(),
        }
    }

    /// Whether `other` is the same rule (so state carries over a reload).
    pub fn same_rule(&self, other: &RuleSpec) -> bool {
        self.spec.name == other.name
            && self.spec.expr == other.expr
            && self.spec.labels == other.labels
    }

    /// Evaluates at `ts`, updating the alerts; returns the `ALERTS` and `ALERTS_FOR_STATE`
    /// samples.
    ///
    /// # Errors
    /// The query's error, duplicate label sets, or too many alerts for `limit`.
    pub fn eval(
        &mut self,
        ts: i64,
        env: &EvalEnv<'_>,
        limit: usize,
    ) -> Result<Vec<(Labels, f64)>, String> {
        let res = query_vector(env, &self.spec.parsed, ts)?;
        let mut fresh: HashMap<Labels, Alert> = HashMap::with_capacity(res.len());
        let ext: Vec<(&str, &str)> = env.external_labels.iter().collect();
        for smpl in &res {
            let data = TemplateData {
                labels: smpl.labels.iter().collect(),
                external_labels: ext.clone(),
                external_url: env.external_url,
                value: smpl.v,
            };
            let q = env.template_query(ts);
            let mut lb = smpl.labels.without_name();
            for (k, t) in &self.spec.label_templates {
                lb.set(k, &t.expand_or_error(&data, &q));
            }
            lb.set("alertname", &self.spec.name);
            let annotations = Labels::new(
                self.spec
                    .annotation_templates
                    .iter()
                    .map(|(k, t)| (k.clone(), t.expand_or_error(&data, &q))),
            );
            if fresh.contains_key(&lb) {
                return Err(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .into(),
                );
            }
            fresh.insert(
                lb.clone(),
                Alert {
                    labels: lb,
                    annotations,
                    state: AlertState::Pending,
                    value: smpl.v,
                    active_at_ms: ts,
                    fired_at_ms: None,
                    resolved_at_ms: None,
                    last_sent_at_ms: None,
                    valid_until_ms: 0,
                    keep_firing_since_ms: None,
                },
            );
        }
        let returned: std::collections::HashSet<Labels> = fresh.keys().cloned().collect();
        for (key, a) in fresh {
            match self.active.get_mut(&key) {
                Some(old) if old.state != AlertState::Inactive => {
                    old.value = a.value;
                    old.annotations = a.annotations;
                }
                _ => {
                    self.active.insert(key, a);
                }
            }
        }
        self.advance(ts, &returned, limit)
    }

    fn advance(
        &mut self,
        ts: i64,
        returned: &std::collections::HashSet<Labels>,
        limit: usize,
    ) -> Result<Vec<(Labels, f64)>, String> {
        let hold = self.spec.for_ms as i64;
        let keep = self.spec.keep_firing_for_ms as i64;
        let mut out = Vec::new();
        let mut active_pending = 0usize;
        let mut remove = Vec::new();
        for (key, a) in self.active.iter_mut() {
            if !returned.contains(key) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && keep > 0 {
                    let since = *a.keep_firing_since_ms.get_or_insert(ts);
                    keep_firing = ts - since < keep;
                }
                if a.state == AlertState::Pending
                    || a.resolved_at_ms
                        .is_some_and(|r| ts - r > RESOLVED_RETENTION_MS)
                {
                    remove.push(key.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at_ms = Some(ts);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since_ms = None;
            }
            active_pending += 1;
            if a.state == AlertState::Pending && ts - a.active_at_ms >= hold {
                a.state = AlertState::Firing;
                a.fired_at_ms = Some(ts);
            }
            out.push(self::series(&self.spec, a, "ALERTS", Some(a.state), 1.0));
            let active_secs = a.active_at_ms.div_euclid(1000) as f64;
            out.push(self::series(
                &self.spec,
                a,
                "ALERTS_FOR_STATE",
                None,
                active_secs,
            ));
        }
        for key in remove {
            self.active.remove(&key);
        }
        if limit > 0 && active_pending > limit {
            self.active.clear();
            return Err(format!(
                "exceeded limit of {limit} with {active_pending} alerts"
            ));
        }
        Ok(out)
    }

    /// Alerts to hand to the notifiers at `ts`, marking them sent.
    pub fn take_due(&mut self, ts: i64, resend_delay_ms: i64, interval_ms: i64) -> Vec<Alert> {
        let delta = resend_delay_ms.max(interval_ms);
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            if a.needs_sending(ts, resend_delay_ms) {
                a.last_sent_at_ms = Some(ts);
                a.valid_until_ms = ts + 4 * delta;
                out.push(a.clone());
            }
        }
        out.sort_by(|x, y| x.labels.cmp(&y.labels));
        out
    }

    /// Alerts that are pending or firing, sorted by labels.
    pub fn current(&self) -> Vec<Alert> {
        let mut v: Vec<Alert> = self
            .active
            .values()
            .filter(|a| a.state != AlertState::Inactive)
            .cloned()
            .collect();
        v.sort_by(|x, y| x.labels.cmp(&y.labels));
        v
    }

    /// The rule's state: the highest of its alerts'.
    pub fn state(&self) -> AlertState {
        self.active
            .values()
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }
}

/// `ALERTS{…, alertstate}` or `ALERTS_FOR_STATE{…}`: the rule's raw labels overlaid with the
/// alert's.
fn series(
    spec: &RuleSpec,
    a: &Alert,
    name: &str,
    state: Option<AlertState>,
    v: f64,
) -> (Labels, f64) {
    let mut l = Labels::new(spec.labels.iter().cloned());
    for (k, val) in a.labels.iter() {
        l.set(k, val);
    }
    l.set("__name__", name);
    l.set("alertname", &spec.name);
    if let Some(s) = state {
        l.set("alertstate", s.as_str());
    }
    (l, v)
}
