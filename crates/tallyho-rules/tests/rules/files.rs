//! Rule files: validation agrees with `promtool check rules`, errors name file, line and
//! reason, and a bad file on reload keeps the old rules running.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use tallyho_rules::{
    AlertState, ManagerOptions, ManualClock, Notifiers, RuleManager, Rules, RulesError,
};

use crate::common::{temp_dir, tool, MemStore};

fn promtool_accepts(path: &Path) -> (bool, String) {
    let out = Command::new(tool("promtool"))
        .arg("check")
        .arg("rules")
        .arg(path)
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn shipped_rule_files_pass_promtool_and_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            let (ok, text) = promtool_accepts(&path);
            assert!(ok, "promtool check rules {}:\n{text}", path.display());
            let rules = Rules::load(&[path.to_str().unwrap()]).unwrap();
            assert!(!rules.groups().is_empty());
            assert!(rules.warnings().is_empty(), "{:?}", rules.warnings());
            // Files shipped must work in Prometheus 2.42 unchanged.
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(!text.contains("keep_firing_for"));
            n += 1;
        }
    }
    assert!(n >= 1, "no rule files in {}", dir.display());
}

/// (file text, a phrase our error must contain, the line it must name).
const BAD: &[(&str, &str, Option<usize>)] = &[
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n", "could not parse expression", Some(5)),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        foo: 1\n", "field foo not found in type rulefmt.RuleNode", Some(6)),
    ("groups:\n  - name: g\n    rules:\n      - record: \"bad name\"\n        expr: up\n", "invalid recording rule name: bad name", Some(4)),
    ("groups:\n  - name: g\n    rules:\n      - alert: B\n        expr: up\n        annotations: {summary: \"{{ $labels.x \"}\n", "annotation \"summary\": template: __alert_B:1: unclosed action", Some(6)),
    ("groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n", "groupname: \"g\" is repeated in the same file", Some(4)),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5x\n", "not a valid duration string: \"5x\"", Some(6)),
    ("groups:\n  - name: \"\"\n    rules: []\n", "Groupname must not be empty", Some(2)),
    ("foo: bar\n", "field foo not found in type rulefmt.RuleGroups", Some(1)),
    ("groups:\n  - name: g\n    rules:\n      - record: r\n        alert: a\n        expr: up\n", "only one of 'record' and 'alert' must be set", Some(4)),
    ("groups:\n  - name: g\n    rules:\n      - record: r\n        expr: \"\"\n", "field 'expr' must be set in rule", Some(5)),
    ("groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n        for: 1m\n", "invalid field 'for' in recording rule", Some(4)),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels: {\"bad-l\": y}\n", "invalid label name: bad-l", Some(6)),
    ("groups:\n  - name: g\n    rules:\n      - alert: Y\n        expr: up\n        labels: {sev: \"{{ nope }}\"}\n", "function \"nope\" not defined", Some(6)),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: rate(up[5m]\n", "could not parse expression", Some(5)),
    ("groups:\n  - name: g\n    rules: [\n", "yaml:", Some(4)),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: [up]\n", "cannot unmarshal !!seq", Some(5)),
];

#[test]
fn bad_files_are_refused_like_promtool_with_file_and_line() {
    let dir = temp_dir("bad");
    for (i, (text, phrase, line)) in BAD.iter().enumerate() {
        let path = dir.join(format!("bad{i}.yml"));
        std::fs::write(&path, text).unwrap();
        let (ok, out) = promtool_accepts(&path);
        assert!(!ok, "promtool accepted case {i}:\n{text}\n{out}");
        let p = path.to_str().unwrap();
        let err = Rules::load(&[p]).expect_err(text);
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("{p}: ")), "case {i}: {msg}");
        assert!(msg.contains(phrase), "case {i}: want {phrase:?} in {msg}");
        if let Some(l) = line {
            let lines: Vec<Option<usize>> = err.problems().iter().map(|p| p.line).collect();
            assert!(
                lines.contains(&Some(*l)),
                "case {i}: want line {l} in {lines:?}: {msg}"
            );
        }
    }
}

#[test]
fn good_files_are_accepted_like_promtool() {
    let good = [
        "groups: []\n",
        "groups:\n  - name: g\n    interval: 30s\n    limit: 10\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n        labels: {env: prod}\n",
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        for: 1m\n        keep_firing_for: 5m\n        annotations:\n          d: '{{ with query \"up\" }}{{ . | first | value | humanize }}{{ end }} {{ printf \"%.2f\" $value }} {{ if gt $value 1.0 }}x{{ else }}y{{ end }}'\n",
    ];
    let dir = temp_dir("good");
    for (i, text) in good.iter().enumerate() {
        let path = dir.join(format!("good{i}.yml"));
        std::fs::write(&path, text).unwrap();
        let (ok, out) = promtool_accepts(&path);
        assert!(ok, "promtool refused case {i}: {out}");
        Rules::load(&[path.to_str().unwrap()]).unwrap_or_else(|e| panic!("case {i}: {e}"));
    }
}

#[test]
fn duplicate_rules_warn_without_refusing() {
    let text = "groups:\n  - name: g\n    rules:\n      - record: a:b\n        expr: up\n      - record: a:b\n        expr: up\n";
    let rules = Rules::from_text("dup.yml", text).unwrap();
    assert_eq!(rules.warnings().len(), 1);
    assert!(rules.warnings()[0].contains("duplicate rule: a:b"));
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = Rules::load(&["/nonexistent/rules.yml"]).unwrap_err();
    assert!(matches!(err, RulesError::Io { .. }));
    assert!(
        err.to_string().starts_with("/nonexistent/rules.yml: "),
        "{err}"
    );
}

#[test]
fn reload_keeps_old_rules_on_error_and_carries_alert_state() {
    let dir = temp_dir("reload");
    let path = dir.join("r.yml");
    let p = path.to_str().unwrap().to_string();
    let v1 = "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n        for: 1m\n";
    std::fs::write(&path, v1).unwrap();
    let store = MemStore::new();
    for t in 0..10 {
        store.put(r#"up{job="a"}"#, t * 60_000, 0.0);
    }
    let m = RuleManager::new(
        Rules::load(&[&p]).unwrap(),
        store.clone(),
        store.clone(),
        Notifiers::new(),
        Arc::new(ManualClock::new(0)),
        ManagerOptions::default(),
    );
    m.evaluate_at(60_000);
    assert_eq!(m.groups()[0].rules[0].state, AlertState::Pending);

    std::fs::write(
        &path,
        "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up ==\n",
    )
    .unwrap();
    let err = m.reload().unwrap_err();
    assert!(err.to_string().contains(&format!("{p}: 5:")), "{err}");
    assert_eq!(
        m.rules().groups()[0].rules[0].expr,
        "up == 0",
        "old rules kept"
    );
    m.evaluate_at(120_000);
    assert_eq!(
        m.groups()[0].rules[0].state,
        AlertState::Firing,
        "old rules keep evaluating"
    );

    // A valid change: the unchanged alert keeps its state, the new rule starts fresh.
    let v2 = format!("{v1}      - record: up:count\n        expr: count(up)\n");
    std::fs::write(&path, v2).unwrap();
    m.reload().unwrap();
    m.evaluate_at(180_000);
    let g = m.groups();
    assert_eq!(g[0].rules.len(), 2);
    assert_eq!(g[0].rules[0].state, AlertState::Firing);
    assert_eq!(
        g[0].rules[0].alerts[0].active_at_ms, 60_000,
        "state carried over the reload"
    );
    assert_eq!(store.at("up:count", 180_000), Some(1.0));
    let families = tallyho::Collector::collect(&m.collector());
    let reload_fail = families
        .iter()
        .find(|f| f.name == "tallyho_rules_reload_failures")
        .unwrap();
    assert_eq!(
        reload_fail.series[0].value,
        tallyho::SeriesValue::Counter(tallyho::Number::U64(1))
    );
}

#[test]
fn load_files_switches_to_a_new_list_or_keeps_the_old_one() {
    let dir = temp_dir("load-files");
    let (a, b) = (dir.join("a.yml"), dir.join("b.yml"));
    std::fs::write(
        &a,
        "groups:\n  - name: a\n    rules:\n      - record: one\n        expr: vector(1)\n",
    )
    .unwrap();
    std::fs::write(
        &b,
        "groups:\n  - name: b\n    rules:\n      - record: two\n        expr: vector(2)\n",
    )
    .unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let store = MemStore::new();
    let m = RuleManager::new(
        Rules::load(&[a]).unwrap(),
        store.clone(),
        store.clone(),
        Notifiers::new(),
        Arc::new(ManualClock::new(0)),
        ManagerOptions::default(),
    );
    m.load_files(&[a, b]).unwrap();
    let names: Vec<String> = m.groups().iter().map(|g| g.name.clone()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(m.rules().files(), [a, b]);
    let missing = dir.join("missing.yml");
    let err = m.load_files(&[a, missing.to_str().unwrap()]).unwrap_err();
    assert!(err.to_string().contains("missing.yml"), "{err}");
    assert_eq!(m.groups().len(), 2, "the old list keeps running");
    m.evaluate_at(60_000);
    assert_eq!(store.at("two", 60_000), Some(2.0));
    let families = tallyho::Collector::collect(&m.collector());
    let count = |name: &str| {
        families
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.series[0].value.clone())
            .unwrap()
    };
    let n = |v| tallyho::SeriesValue::Counter(tallyho::Number::U64(v));
    assert_eq!(count("tallyho_rules_reloads"), n(2));
    assert_eq!(count("tallyho_rules_reload_failures"), n(1));
}
