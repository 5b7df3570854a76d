//! Differential test against Prometheus 2.42: tallyho evaluates a rule file over input
//! series; its firing alerts (labels, annotations) and recorded values at each checked time
//! are written as the expectations of a `promtool test rules` file over the same series,
//! and the real promtool, which evaluates the same rules itself, must agree.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;
use std::sync::Arc;

use tallyho_query::is_stale;
use tallyho_rules::{AlertState, ManagerOptions, ManualClock, Notifiers, RuleManager, Rules};

use crate::common::{temp_dir, tool, MemStore};

const RULES: &str = r#"
groups:
  - name: diff
    rules:
      - record: job:requests:rate1m
        expr: sum by (job) (rate(requests_total[2m]))
      - record: job:requests:ratio
        expr: job:requests:rate1m / scalar(sum(job:requests:rate1m))
        labels:
          kind: share
      - alert: HighRate
        expr: job:requests:rate1m > 0.5
        for: 2m
        labels:
          severity: page
          level: '{{ if gt $value 1.0 }}high{{ else }}mid{{ end }}'
        annotations:
          summary: 'Rate of {{ $labels.job }} is {{ $value | humanize }}/s ({{ printf "%.3f" $value }})'
          share: '{{ with query "job:requests:ratio" }}{{ . | first | value | humanizePercentage }}{{ end }}'
          cluster: '{{ $externalLabels.cluster }}'
      - alert: Down
        expr: up == 0
        for: 1m
        keep_firing_for: 2m
        annotations:
          summary: '{{ $labels.instance }} down since {{ humanizeDuration 90 }}'
      - alert: Absent
        expr: absent(heartbeat)
        labels: { severity: info }
"#;

/// (series, values at 0, 1m, 2m, …; `_` = no sample).
const SERIES: &[(&str, &str)] = &[
    (
        r#"requests_total{job="api", instance="a"}"#,
        "0 30 90 150 210 300 400 400 400 410 420 430",
    ),
    (
        r#"requests_total{job="api", instance="b"}"#,
        "0 10 20 30 5 35 65 95 125 155 185 215",
    ),
    (
        r#"requests_total{job="web", instance="c"}"#,
        "0 6 12 18 24 30 36 42 48 54 60 66",
    ),
    (r#"up{job="api", instance="a"}"#, "1 1 0 0 0 1 1 1 1 0 1 1"),
    (r#"heartbeat"#, "1 1 1 _ _ _ _ _ _ _ 1 1"),
];

const EVAL_MINUTES: i64 = 11;

fn yaml_map(l: &tallyho_query::Labels) -> String {
    let parts: Vec<String> = l
        .iter()
        .map(|(k, v)| format!("{k}: {}", serde_json::to_string(v).unwrap()))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

#[test]
fn tallyho_and_promtool_agree_on_alerts_and_recorded_values() {
    let store = MemStore::new();
    for (series, values) in SERIES {
        for (k, v) in values.split(' ').enumerate() {
            if v != "_" {
                store.put(series, k as i64 * 60_000, v.parse().unwrap());
            }
        }
    }
    let opts = ManagerOptions {
        external_labels: tallyho_query::Labels::new([("cluster".to_string(), "eu1".to_string())]),
        ..ManagerOptions::default()
    };
    let m = RuleManager::new(
        Rules::from_text("rules.yml", RULES).unwrap(),
        store.clone(),
        store.clone(),
        Notifiers::new(),
        Arc::new(ManualClock::new(0)),
        opts,
    );

    let mut alert_tests = String::new();
    let mut expr_tests = String::new();
    let mut firing_seen = BTreeMap::<String, usize>::new();
    for minute in 0..=EVAL_MINUTES {
        let t = minute * 60_000;
        m.evaluate_at(t);
        let g = &m.groups()[0];
        for r in g.rules.iter().filter(|r| r.spec.alerting) {
            let firing: Vec<_> = r
                .alerts
                .iter()
                .filter(|a| a.state == AlertState::Firing)
                .collect();
            *firing_seen.entry(r.spec.name.clone()).or_default() += firing.len();
            writeln!(
                alert_tests,
                "      - eval_time: {minute}m\n        alertname: {}\n        exp_alerts:",
                r.spec.name
            )
            .unwrap();
            if firing.is_empty() {
                alert_tests.push_str("          []\n");
            }
            for a in firing {
                let mut l = a.labels.clone();
                l.remove("alertname");
                writeln!(
                    alert_tests,
                    "          - exp_labels: {}\n            exp_annotations: {}",
                    yaml_map(&l),
                    yaml_map(&a.annotations)
                )
                .unwrap();
            }
        }
        for name in ["job:requests:rate1m", "job:requests:ratio"] {
            writeln!(
                expr_tests,
                "      - expr: '{name}'\n        eval_time: {minute}m\n        exp_samples:"
            )
            .unwrap();
            let series = store.series.lock().unwrap();
            let mut n = 0;
            for s in series.iter().filter(|s| s.labels.name() == name) {
                if let Some(p) = s.samples.iter().find(|p| p.t == t && !is_stale(p.v)) {
                    writeln!(
                        expr_tests,
                        "          - labels: '{}'\n            value: {}",
                        s.labels, p.v
                    )
                    .unwrap();
                    n += 1;
                }
            }
            if n == 0 {
                expr_tests.push_str("          []\n");
            }
        }
    }
    // The scenario must exercise every alert, or the comparison proves little.
    for name in ["HighRate", "Down", "Absent"] {
        assert!(
            firing_seen.get(name).copied().unwrap_or(0) > 0,
            "{name} never fired: {firing_seen:?}"
        );
    }

    let dir = temp_dir("promtool");
    std::fs::write(dir.join("rules.yml"), RULES).unwrap();
    let mut test = String::from("rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    external_labels:\n      cluster: eu1\n    input_series:\n");
    for (series, values) in SERIES {
        writeln!(
            test,
            "      - series: '{series}'\n        values: '{values}'"
        )
        .unwrap();
    }
    test.push_str("    alert_rule_test:\n");
    test.push_str(&alert_tests);
    test.push_str("    promql_expr_test:\n");
    test.push_str(&expr_tests);
    std::fs::write(dir.join("test.yml"), &test).unwrap();
    let out = Command::new(tool("promtool"))
        .current_dir(&dir)
        .args(["test", "rules", "test.yml"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool disagrees with tallyho:\n{text}\n--- test file ---\n{test}"
    );
}
