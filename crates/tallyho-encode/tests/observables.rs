//! Observable families and abbreviated units through the text encoders, checked by
//! `promtool check metrics` and the Python `prometheus_client` OpenMetrics parser (both
//! installed by `scripts/test.sh`; a missing tool fails the test).

use std::io::Write;
use std::process::{Command, Stdio};

use tallyho::{BatchObserver, Observer, Registry};
use tallyho_encode::{openmetrics, prometheus};

/// `abbreviated`: with `task_duration_ms` (unit `milliseconds`), which promtool's linter
/// refuses ("metric names should not contain abbreviated units") though the format allows it.
fn registry(abbreviated: bool) -> Registry {
    let r = Registry::builder().prefix("obs").build().unwrap();
    r.metric("gpu_temp", "Temperature.")
        .unit("celsius")
        .observable_gauge_family(&["gpu"], |o: &mut Observer| {
            o.observe(&["0"], 71.0);
            o.observe(&["say \"hi\" \\ \nbye"], 64.5);
            o.observe(&["0"], 1.0); // duplicate: refused
        })
        .unwrap();
    if abbreviated {
        r.metric("task_duration_ms", "Task time.")
            .unit("milliseconds")
            .observable_counter_family(&["task"], |o: &mut Observer| o.observe(&["a"], 12.5))
            .unwrap();
    }
    let open = r
        .metric("pool_open", "Open.")
        .cardinality_limit(1)
        .batch_up_down_counter_family(&["pool"])
        .unwrap();
    let o = open.clone();
    r.observe_batch(&[&open], move |b: &mut BatchObserver| {
        b.observe(&o, &["a"], 3.0);
        b.observe(&o, &["b"], -1.0); // past the limit: overflow series
    })
    .unwrap();
    r
}

fn run(cmd: &mut Command, input: &[u8]) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tool not found: run scripts/test.sh");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}{}\n--- input ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(input)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn prometheus_text_of_observables_passes_promtool() {
    let mut text = Vec::new();
    prometheus::encode(&mut text, &registry(false)).unwrap();
    let s = String::from_utf8(text.clone()).unwrap();
    assert!(s.contains("obs_gpu_temp_celsius{gpu=\"0\"} 71\n"), "{s}");
    assert!(
        s.contains(r#"obs_gpu_temp_celsius{gpu="say \"hi\" \\ \nbye"} 64.5"#),
        "{s}"
    );
    assert!(s.contains("obs_pool_open{pool=\"a\"} 3\n"), "{s}");
    assert!(
        s.contains("obs_pool_open{otel_metric_overflow=\"true\"} -1\n"),
        "{s}"
    );
    assert!(
        s.contains("tallyho_refused_values_total{metric=\"obs_gpu_temp_celsius\"} 1\n"),
        "{s}"
    );
    run(Command::new("promtool").args(["check", "metrics"]), &text);
}

const PARSE: &str = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(sys.stdin.buffer.read().decode("utf-8")):
    for s in fam.samples:
        print(fam.name, repr(fam.unit), s.name, sorted(s.labels.items()), s.value)
"#;

#[test]
fn openmetrics_with_an_abbreviated_unit_passes_the_parser() {
    let mut text = Vec::new();
    openmetrics::encode(&mut text, &registry(true)).unwrap();
    let s = String::from_utf8(text.clone()).unwrap();
    assert!(s.contains("# UNIT obs_gpu_temp_celsius celsius\n"), "{s}");
    assert!(!s.contains("# UNIT obs_task_duration_ms"), "{s}");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let parsed = run(Command::new(python).args(["-c", PARSE]), &text);
    assert!(
        parsed.contains("obs_task_duration_ms '' obs_task_duration_ms_total [('task', 'a')] 12.5"),
        "{parsed}"
    );
    assert!(
        parsed.contains("obs_gpu_temp_celsius 'celsius' obs_gpu_temp_celsius [('gpu', 'say \"hi\" \\\\ \\nbye')] 64.5"),
        "{parsed}"
    );
}
