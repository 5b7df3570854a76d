//! The alert state machine, recording rules and the evaluation loop, on an in-memory
//! storage with an injected clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tallyho_query::is_stale;
use tallyho_rules::api::{alerts_body, rules_body, RuleType};
use tallyho_rules::{
    AlertState, Health, ManagerOptions, ManualClock, Notification, NotifierOptions, Notifiers,
    RuleManager, Rules,
};

use crate::common::{wait_for, MemStore};

fn manager(yaml: &str, store: &Arc<MemStore>, notifiers: Notifiers) -> RuleManager {
    let rules = Rules::from_text("test.yml", yaml).expect("valid rules");
    let opts = ManagerOptions {
        external_labels: tallyho_query::Labels::new([("cluster".to_string(), "eu1".to_string())]),
        external_url: "http://tallyho:9464".into(),
        ..ManagerOptions::default()
    };
    RuleManager::new(
        rules,
        store.clone(),
        store.clone(),
        notifiers,
        Arc::new(ManualClock::new(0)),
        opts,
    )
}

type Sent = Arc<Mutex<Vec<(i64, Notification)>>>;

/// A callback notifier recording what it receives, stamped with the evaluation time.
fn recorder(now: Arc<Mutex<i64>>) -> (Notifiers, Sent) {
    let sent: Sent = Arc::default();
    let n = Notifiers::new();
    let s = sent.clone();
    n.callback(
        "test",
        move |batch: &[Notification]| {
            let t = *now.lock().unwrap();
            s.lock()
                .unwrap()
                .extend(batch.iter().map(|a| (t, a.clone())));
            Ok(())
        },
        NotifierOptions::default(),
    )
    .unwrap();
    (n, sent)
}

const HOT: &str = r#"
groups:
  - name: temps
    rules:
      - alert: HighTemp
        expr: temp > 30
        for: 2m
        labels: { severity: page, room: "{{ $labels.room }}-x" }
        annotations:
          summary: "{{ $labels.room }} at {{ $value }} in {{ $externalLabels.cluster }}"
"#;

#[test]
fn pending_firing_resolved_with_alerts_series_and_notifications() {
    let store = MemStore::new();
    for (t, v) in [
        (0, 35.0),
        (60, 35.0),
        (120, 35.0),
        (180, 36.0),
        (240, 20.0),
        (300, 20.0),
        (360, 20.0),
    ] {
        store.put(r#"temp{room="lab"}"#, t * 1000, v);
    }
    let now = Arc::new(Mutex::new(0));
    let (notifiers, sent) = recorder(now.clone());
    let m = manager(HOT, &store, notifiers.clone());
    let pending =
        r#"ALERTS{alertname="HighTemp", alertstate="pending", room="lab-x", severity="page"}"#;
    let firing =
        r#"ALERTS{alertname="HighTemp", alertstate="firing", room="lab-x", severity="page"}"#;
    let for_state = r#"ALERTS_FOR_STATE{alertname="HighTemp", room="lab-x", severity="page"}"#;
    let mut states = Vec::new();
    for t in [60, 120, 180, 240, 300, 360] {
        *now.lock().unwrap() = t * 1000;
        m.evaluate_at(t * 1000);
        assert!(notifiers.flush(Duration::from_secs(5)));
        let g = m.groups();
        states.push(g[0].rules[0].state);
    }
    use AlertState::*;
    assert_eq!(
        states,
        [Pending, Pending, Firing, Inactive, Inactive, Inactive]
    );
    assert_eq!(store.at(pending, 60_000), Some(1.0));
    assert_eq!(store.at(pending, 120_000), Some(1.0));
    assert!(
        store.at(pending, 180_000).is_some_and(is_stale),
        "pending series goes stale when it fires"
    );
    assert_eq!(store.at(firing, 180_000), Some(1.0));
    assert!(store.at(firing, 240_000).is_some_and(is_stale));
    assert_eq!(
        store.at(for_state, 180_000),
        Some(60.0),
        "ALERTS_FOR_STATE holds activeAt in seconds"
    );
    let sent = sent.lock().unwrap();
    let times: Vec<(i64, bool, i64)> = sent
        .iter()
        .map(|(t, n)| (*t, n.resolved, n.ends_at_ms))
        .collect();
    // Fired at 180 s: endsAt = 180 + 4 × max(resend 1m, interval 1m). Resolved at 240 s: sent
    // at once with endsAt = 240 s, then again each resend delay (not at 300: 240+60 is not < 300).
    assert_eq!(
        times,
        [
            (180_000, false, 420_000),
            (240_000, true, 240_000),
            (360_000, true, 240_000)
        ]
    );
    let first = &sent[0].1;
    assert_eq!(first.starts_at_ms, 180_000);
    assert_eq!(
        first.labels.get("cluster"),
        "eu1",
        "external labels are added"
    );
    assert_eq!(first.annotations.get("summary"), "lab at 36 in eu1");
    assert_eq!(
        first.generator_url,
        "http://tallyho:9464/graph?g0.expr=temp+%3E+30&g0.tab=1"
    );
}

#[test]
fn resolved_alerts_are_forgotten_after_15_minutes() {
    let store = MemStore::new();
    store.put(r#"temp{room="lab"}"#, 0, 40.0);
    let m = manager(&HOT.replace("for: 2m", "for: 0s"), &store, Notifiers::new());
    m.evaluate_at(60_000);
    assert_eq!(m.groups()[0].rules[0].state, AlertState::Firing);
    // The sample is older than the 5-minute lookback from 6 minutes on: resolved at 360 s.
    m.evaluate_at(360_000);
    assert_eq!(m.groups()[0].rules[0].state, AlertState::Inactive);
    m.evaluate_at(360_000 + 900_000);
    assert_eq!(
        m.groups()[0].rules[0].state,
        AlertState::Inactive,
        "kept for exactly 15 minutes"
    );
    m.evaluate_at(360_000 + 960_000);
    let body = rules_body(&m.groups(), RuleType::All);
    assert_eq!(body["data"]["groups"][0]["rules"][0]["state"], "inactive");
    assert!(m.groups()[0].rules[0].alerts.is_empty());
}

#[test]
fn keep_firing_for_holds_a_cleared_alert() {
    let yaml = r#"
groups:
  - name: g
    rules:
      - alert: Flap
        expr: up == 0
        keep_firing_for: 2m
"#;
    let store = MemStore::new();
    store.put("up", 0, 0.0);
    store.put("up", 60_000, 0.0);
    for t in [120, 180, 240, 300] {
        store.put("up", t * 1000, 1.0);
    }
    let m = manager(yaml, &store, Notifiers::new());
    let mut states = Vec::new();
    for t in [60, 120, 180, 240, 300] {
        m.evaluate_at(t * 1000);
        states.push(m.groups()[0].rules[0].state);
    }
    use AlertState::*;
    // Cleared at 120 s; kept firing while less than 2m has passed since then.
    assert_eq!(states, [Firing, Firing, Firing, Inactive, Inactive]);
}

#[test]
fn recording_rules_chain_relabel_and_mark_stale() {
    let yaml = r#"
groups:
  - name: rec
    rules:
      - record: job:req:sum
        expr: sum by (job) (req)
        labels: { env: prod }
      - record: job:req:double
        expr: job:req:sum * 2
"#;
    let store = MemStore::new();
    store.put(r#"req{job="a", i="1"}"#, 0, 1.0);
    store.put(r#"req{job="a", i="2"}"#, 0, 2.0);
    store.put(r#"req{job="b", i="1"}"#, 0, 5.0);
    store.put(r#"req{job="a", i="1"}"#, 60_000, 3.0);
    let m = manager(yaml, &store, Notifiers::new());
    m.evaluate_at(30_000);
    assert_eq!(
        store.at(r#"job:req:sum{env="prod", job="a"}"#, 30_000),
        Some(3.0)
    );
    assert_eq!(
        store.at(r#"job:req:sum{env="prod", job="b"}"#, 30_000),
        Some(5.0)
    );
    assert_eq!(
        store.at(r#"job:req:double{env="prod", job="a"}"#, 30_000),
        Some(6.0),
        "reads the first rule's result at the same time"
    );
    // job b's series disappear when its only input is filtered out by a new matcher.
    store
        .series
        .lock()
        .unwrap()
        .retain(|s| s.labels.get("job") != "b");
    m.evaluate_at(90_000);
    assert_eq!(
        store.at(r#"job:req:sum{env="prod", job="a"}"#, 90_000),
        Some(5.0)
    );
    assert!(store
        .at(r#"job:req:sum{env="prod", job="b"}"#, 90_000)
        .is_some_and(is_stale));
    assert!(store
        .at(r#"job:req:double{env="prod", job="b"}"#, 90_000)
        .is_some_and(is_stale));
}

#[test]
fn failures_show_in_health_and_templates_fail_softly() {
    let yaml = r#"
groups:
  - name: g
    rules:
      - alert: Dup
        expr: '{a="1"}'
      - alert: BadTemplate
        expr: vector(1)
        annotations: { x: '{{ humanize "abc" }}' }
"#;
    let store = MemStore::new();
    store.put(r#"x{a="1"}"#, 0, 1.0);
    store.put(r#"y{a="1"}"#, 0, 1.0);
    let m = manager(yaml, &store, Notifiers::new());
    m.evaluate_at(10_000);
    let g = m.groups();
    assert_eq!(g[0].rules[0].health, Health::Err);
    assert_eq!(
        g[0].rules[0].last_error,
        "vector contains metrics with the same labelset after applying alert labels"
    );
    assert_eq!(g[0].rules[1].health, Health::Ok);
    let x = g[0].rules[1].alerts[0].annotations.get("x").to_string();
    assert!(
        x.starts_with("<error expanding template: error executing template __alert_BadTemplate:"),
        "{x}"
    );
    let body = rules_body(&g, RuleType::Alerting);
    assert_eq!(body["data"]["groups"][0]["rules"][0]["health"], "err");
    assert_eq!(
        body["data"]["groups"][0]["rules"][0]["lastError"],
        g[0].rules[0].last_error
    );
}

#[test]
fn api_bodies_have_prometheus_shapes() {
    let store = MemStore::new();
    store.put(r#"temp{room="lab"}"#, 0, 35.5);
    let yaml = format!("{HOT}      - record: temp:max\n        expr: max(temp)\n");
    let m = manager(&yaml, &store, Notifiers::new());
    m.evaluate_at(60_000);
    let rules = rules_body(&m.groups(), RuleType::All);
    let g = &rules["data"]["groups"][0];
    assert_eq!(rules["status"], "success");
    assert_eq!(g["name"], "temps");
    assert_eq!(g["file"], "test.yml");
    assert_eq!(g["interval"], 60.0);
    assert_eq!(g["lastEvaluation"], "1970-01-01T00:01:00Z");
    let alert_rule = &g["rules"][0];
    assert_eq!(alert_rule["type"], "alerting");
    assert_eq!(alert_rule["state"], "pending");
    assert_eq!(alert_rule["query"], "temp > 30");
    assert_eq!(alert_rule["duration"], 120.0);
    assert_eq!(alert_rule["labels"]["severity"], "page");
    assert!(alert_rule.get("lastError").is_none());
    let a = &alert_rule["alerts"][0];
    assert_eq!(a["state"], "pending");
    assert_eq!(a["value"], "3.55e+01");
    assert_eq!(a["activeAt"], "1970-01-01T00:01:00Z");
    assert_eq!(a["labels"]["alertname"], "HighTemp");
    let rec = &g["rules"][1];
    assert_eq!(rec["type"], "recording");
    assert!(rec.get("labels").is_none() && rec.get("state").is_none());
    let only_rec = rules_body(&m.groups(), RuleType::parse(Some("record")).unwrap());
    assert_eq!(
        only_rec["data"]["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(RuleType::parse(Some("bogus")).is_err());
    let alerts = alerts_body(&m.groups());
    assert_eq!(alerts["data"]["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(
        alerts["data"]["alerts"][0]["annotations"]["summary"],
        "lab at 35.5 in eu1"
    );
}

#[test]
fn the_loop_evaluates_on_aligned_slots_of_the_injected_clock() {
    let yaml = r#"
groups:
  - name: fast
    interval: 10s
    rules:
      - record: one
        expr: vector(1)
"#;
    let store = MemStore::new();
    let clock = Arc::new(ManualClock::new(3_000));
    let opts = ManagerOptions {
        spread_groups: false,
        ..ManagerOptions::default()
    };
    let m = RuleManager::new(
        Rules::from_text("t.yml", yaml).unwrap(),
        store.clone(),
        store.clone(),
        Notifiers::new(),
        clock.clone(),
        opts,
    );
    m.start().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(m.evaluations(), 0, "waits for the first slot after now");
    for k in 1..=3u64 {
        clock.set(k as i64 * 10_000);
        assert!(
            wait_for(Duration::from_secs(5), || m.evaluations() == k),
            "evaluation {k}"
        );
    }
    // A jump over several slots skips the missed ones, as Prometheus does.
    clock.set(75_000);
    assert!(wait_for(Duration::from_secs(5), || m.evaluations() == 4));
    clock.set(80_000);
    assert!(wait_for(Duration::from_secs(5), || m.evaluations() == 5));
    let started = std::time::Instant::now();
    m.stop();
    assert!(started.elapsed() < Duration::from_secs(1));
    let s = store.series.lock().unwrap();
    let ts: Vec<i64> = s
        .iter()
        .find(|r| r.labels.name() == "one")
        .unwrap()
        .samples
        .iter()
        .map(|p| p.t)
        .collect();
    assert_eq!(ts, [10_000, 20_000, 30_000, 70_000, 80_000]);
}
