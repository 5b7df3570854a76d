//! The bodies of Prometheus' `GET /api/v1/rules` and `GET /api/v1/alerts`, without any
//! HTTP framework: the server hands these values to its JSON encoder.

use serde_json::{json, Map, Value};
use tallyho_query::Labels;

use crate::alert::{Alert, AlertState};
use crate::group::{GroupStatus, RuleStatus};
use crate::template::format_e_shortest;
use crate::time::{rfc3339_ms, ZERO_TIME};

/// Which rules `/api/v1/rules?type=` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleType {
    /// Both kinds (no `type`).
    All,
    /// `type=alert`.
    Alerting,
    /// `type=record`.
    Recording,
}

impl RuleType {
    /// The `type` parameter: absent or empty, `alert` or `record`.
    ///
    /// # Errors
    /// Prometheus' message for any other value.
    pub fn parse(param: Option<&str>) -> Result<RuleType, String> {
        match param.unwrap_or("") {
            "" => Ok(RuleType::All),
            "alert" => Ok(RuleType::Alerting),
            "record" => Ok(RuleType::Recording),
            other => Err(format!("not supported value {other:?}")),
        }
    }
}

fn labels_obj(l: &Labels) -> Value {
    Value::Object(
        l.iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect::<Map<_, _>>(),
    )
}

fn pairs_obj(p: &[(String, String)]) -> Value {
    labels_obj(&Labels::new(p.iter().cloned()))
}

fn time(ms: Option<i64>) -> String {
    ms.map_or_else(|| ZERO_TIME.to_string(), rfc3339_ms)
}

/// One alert as the API shows it.
pub fn alert_json(a: &Alert) -> Value {
    json!({
        "labels": labels_obj(&a.labels),
        "annotations": labels_obj(&a.annotations),
        "state": a.state.as_str(),
        "activeAt": rfc3339_ms(a.active_at_ms),
        "value": format_e_shortest(a.value),
    })
}

fn rule_json(r: &RuleStatus) -> Value {
    let s = &r.spec;
    let mut m = Map::new();
    if s.alerting {
        m.insert("state".into(), json!(r.state.as_str()));
    }
    m.insert("name".into(), json!(s.name));
    m.insert("query".into(), json!(s.query()));
    if s.alerting {
        m.insert("duration".into(), json!(s.for_ms as f64 / 1000.0));
        m.insert(
            "keepFiringFor".into(),
            json!(s.keep_firing_for_ms as f64 / 1000.0),
        );
        m.insert("labels".into(), pairs_obj(&s.labels));
        m.insert("annotations".into(), pairs_obj(&s.annotations));
        m.insert(
            "alerts".into(),
            Value::Array(r.alerts.iter().map(alert_json).collect()),
        );
    } else if !s.labels.is_empty() {
        m.insert("labels".into(), pairs_obj(&s.labels));
    }
    m.insert("health".into(), json!(r.health.as_str()));
    if !r.last_error.is_empty() {
        m.insert("lastError".into(), json!(r.last_error));
    }
    m.insert("evaluationTime".into(), json!(r.eval_seconds));
    m.insert("lastEvaluation".into(), json!(time(r.last_eval_ms)));
    m.insert(
        "type".into(),
        json!(if s.alerting { "alerting" } else { "recording" }),
    );
    Value::Object(m)
}

/// `{"status":"success","data":{"groups":[…]}}` for `GET /api/v1/rules`.
pub fn rules_body(groups: &[std::sync::Arc<GroupStatus>], which: RuleType) -> Value {
    let groups: Vec<Value> = groups
        .iter()
        .map(|g| {
            let rules: Vec<Value> = g
                .rules
                .iter()
                .filter(|r| match which {
                    RuleType::All => true,
                    RuleType::Alerting => r.spec.alerting,
                    RuleType::Recording => !r.spec.alerting,
                })
                .map(rule_json)
                .collect();
            json!({
                "name": g.name,
                "file": g.file,
                "rules": rules,
                "interval": g.interval_ms as f64 / 1000.0,
                "limit": g.limit,
                "evaluationTime": g.eval_seconds,
                "lastEvaluation": time(g.last_eval_ms),
            })
        })
        .collect();
    json!({ "status": "success", "data": { "groups": groups } })
}

/// `{"status":"success","data":{"alerts":[…]}}` for `GET /api/v1/alerts`: every pending
/// and firing alert.
pub fn alerts_body(groups: &[std::sync::Arc<GroupStatus>]) -> Value {
    let alerts: Vec<Value> = groups
        .iter()
        .flat_map(|g| g.rules.iter())
        .flat_map(|r| r.alerts.iter())
        .filter(|a| a.state != AlertState::Inactive)
        .map(alert_json)
        .collect();
    json!({ "status": "success", "data": { "alerts": alerts } })
}

/// Prometheus' `TableLinkForExpression`: `/graph?g0.expr=…&g0.tab=1`.
pub fn table_link(expr: &str) -> String {
    let mut q = String::new();
    for b in expr.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                q.push(char::from(b))
            }
            b' ' => q.push('+'),
            other => q.push_str(&format!("%{other:02X}")),
        }
    }
    format!("/graph?g0.expr={q}&g0.tab=1")
}
