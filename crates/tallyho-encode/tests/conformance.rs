//! The text formats checked by the reference implementations, not by our own reading of the
//! specs: `promtool check metrics` (Prometheus) and the Python `prometheus_client` parsers for
//! the Prometheus text format and OpenMetrics. `scripts/test.sh` installs both; a missing tool
//! fails the test rather than skipping it.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;
use tallyho::{Buckets, Registry, SeriesValue, Snapshot, OVERFLOW_LABEL};
use tallyho_encode::{openmetrics, prometheus};

const HOSTILE: &[&str] = &[
    "quote\"d",
    "back\\slash",
    "new\nline",
    "tab\there",
    "emoji 🦀 ünïcødé",
    "",
    "\\n literal",
    "all \" \\ \n \t",
];

/// A registry holding every instrument type, hostile label values, constant labels, an
/// overflowed family and awkward numbers.
fn registry() -> Registry {
    let r = Registry::builder()
        .prefix("conf")
        .constant_label("service", "svc \"one\"")
        .build()
        .unwrap();
    let c = r
        .counter(
            "events_total",
            "Events seen.\nSecond line with \\ backslash.",
        )
        .unwrap();
    c.add(12_345_678_901);
    let cf = r
        .metric("cpu", "CPU seconds.")
        .unit("seconds")
        .counter_f64()
        .unwrap();
    cf.add(1.0e-300);
    cf.add(12.5);
    r.metric("temperature", "Degrees.")
        .gauge()
        .unwrap()
        .set(-273.15);
    r.metric("huge", "Very large.")
        .gauge()
        .unwrap()
        .set(1.0e300);
    r.metric("tiny", "Very small.")
        .gauge()
        .unwrap()
        .set(-1.5e-300);
    r.metric("not_a_number", "NaN gauge.")
        .gauge()
        .unwrap()
        .set(f64::NAN);
    r.metric("plus_inf", "+Inf gauge.")
        .gauge()
        .unwrap()
        .set(f64::INFINITY);
    r.metric("minus_inf", "-Inf gauge.")
        .gauge()
        .unwrap()
        .set(f64::NEG_INFINITY);
    r.metric("slots", "Slots in use.")
        .gauge_i64()
        .unwrap()
        .set(i64::MIN);
    r.metric("in_flight", "Items in flight.")
        .up_down_counter()
        .unwrap()
        .add(-3);
    let h = r
        .metric("latency", "Latency.")
        .unit("seconds")
        .buckets(Buckets::new([0.005, 0.1, 1.0, 2.5, 100.0]).unwrap())
        .histogram()
        .unwrap();
    // NaN and a negative value are refused by a histogram without negative bounds (they
    // would make its `_sum` NaN or negative) and counted in `tallyho_refused_values`.
    for v in [0.001, 0.05, 0.5, 0.5, 3.0, 1000.0, f64::NAN, -2.0] {
        h.observe(v);
    }
    // With a negative bound, negative values count, and OpenMetrics then has no `_sum`.
    let offsets = r
        .metric("offset", "Clock offset.")
        .unit("seconds")
        .buckets(Buckets::new([-0.1, 0.0, 0.1]).unwrap())
        .histogram()
        .unwrap();
    for v in [-0.5, -0.05, 0.02, 0.3] {
        offsets.observe(v);
    }
    // Exponential histograms reach these formats as their classic view: one bucket per
    // exponential bucket, its upper bound as `le`.
    let native = r
        .metric("exp_latency", "Latency, exponential buckets.")
        .unit("seconds")
        .exponential(tallyho::ExpConfig::default().max_buckets(20).unwrap())
        .exponential_histogram()
        .unwrap();
    for v in [0.0, 0.001, 0.003, 0.25, 7.0, f64::NAN] {
        native.observe(v);
    }
    let signed = r
        .metric("exp_offset", "Offsets, exponential buckets.")
        .exponential_histogram()
        .unwrap();
    for v in [-2.0, -0.5, 0.0, 0.5, 3.0] {
        signed.observe(v);
    }
    let f = r
        .metric("requests", "Requests by label.")
        .counter_family(&["path", "code"])
        .unwrap();
    let hf = r
        .metric("sizes", "Sizes by label.")
        .unit("bytes")
        .buckets(Buckets::exponential(1.0, 10.0, 4).unwrap())
        .histogram_family(&["kind"])
        .unwrap();
    for (i, v) in HOSTILE.iter().enumerate() {
        f.with(&[v, "200"]).add(i as u64 + 1);
        hf.with(&[v]).observe(i as f64 * 7.0);
    }
    let small = r
        .metric("users", "Per-user counts.")
        .cardinality_limit(2)
        .counter_family(&["user"])
        .unwrap();
    for u in ["a", "b", "c", "d"] {
        small.with(&[u]).inc();
    }
    r.metric("empty_family", "Registered, never used.")
        .gauge_family(&["x"])
        .unwrap();
    // OpenMetrics info and stateset, hostile values in labels and state names.
    r.info(
        "build_info",
        "Build facts.",
        &[
            ("version", "1.2.3"),
            ("note", HOSTILE[7]),
            ("emoji", HOSTILE[4]),
        ],
    )
    .unwrap();
    let states: Vec<&str> = HOSTILE.iter().copied().filter(|v| !v.is_empty()).collect();
    let phase = r.metric("phase", "Phase.").stateset(&states).unwrap();
    phase.set(HOSTILE[2]);
    let flags = r
        .metric("features", "Feature flags by pool.")
        .stateset_family(&["pool"], &["fast", "safe", "audit"])
        .unwrap();
    flags.with(&["a"]).set_flag("fast", true);
    flags.with(&["a"]).set_flag("audit", true);
    flags.with(&[HOSTILE[0]]).set("safe");
    // Gauge histograms: one that emptied again (a `_gsum` of 0, not a rounding residue),
    // one per hostile label, one with a negative bound and a negative `_gsum`.
    let queue = r
        .metric("queue_wait", "Jobs waiting.")
        .unit("seconds")
        .buckets(Buckets::new([0.1, 1.0, 10.0]).unwrap())
        .gauge_histogram_family(&["queue"])
        .unwrap();
    for (i, v) in HOSTILE.iter().enumerate() {
        for k in 0..i {
            queue.with(&[v]).add(k as f64 * 0.7);
        }
    }
    let drained = queue.with(&["drained"]);
    for v in [0.1, 0.2, 0.3] {
        drained.add(v);
    }
    for v in [0.3, 0.1, 0.2] {
        drained.remove(v);
    }
    let skew = r
        .metric("skew", "Clock skew now.")
        .buckets(Buckets::new([-1.0, 0.0, 1.0]).unwrap())
        .gauge_histogram()
        .unwrap();
    for v in [-5.0, -0.5, 0.25] {
        skew.add(v);
    }
    // Summaries: one with data (and refused values), an empty one (NaN quantiles), a
    // family with hostile labels.
    let rpc = r
        .metric("rpc", "RPC time.")
        .unit("seconds")
        .summary()
        .unwrap();
    for v in [0.002, 0.02, 0.2, 2.0, -1.0, f64::NAN] {
        rpc.observe(v);
    }
    r.metric("idle", "Never observed.").summary().unwrap();
    let per = r
        .metric("per_path", "By path.")
        .summary_config(
            tallyho::SummaryConfig::default()
                .quantiles(&[0.0, 0.25, 1.0])
                .unwrap(),
        )
        .summary_family(&["path"])
        .unwrap();
    for (i, v) in HOSTILE.iter().enumerate() {
        per.with(&[v]).observe(i as f64);
    }
    r
}

fn promtool_check(text: &[u8]) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "promtool not found: run scripts/test.sh, which installs Debian's prometheus package",
        );
    child.stdin.take().unwrap().write_all(text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed ({}):\n{}{}\n--- input ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(text)
    );
}

const PARSE: &str = r#"
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families
kind = sys.argv[1]
text = sys.stdin.buffer.read().decode("utf-8")
parse = om_families if kind == "openmetrics" else text_string_to_metric_families
out = []
for fam in parse(text):
    for s in fam.samples:
        v = s.value
        v = "NaN" if math.isnan(v) else ("+Inf" if v == math.inf else ("-Inf" if v == -math.inf else v))
        ex = getattr(s, "exemplar", None)
        ex = ex and {"labels": ex.labels, "value": ex.value, "timestamp": float(ex.timestamp)}
        out.append({"family": fam.name, "type": fam.type, "unit": getattr(fam, "unit", ""),
                    "name": s.name, "labels": s.labels, "value": v, "exemplar": ex})
print(json.dumps(out))
"#;

fn python_parse(kind: &str, text: &[u8]) -> Vec<Value> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(python)
        .args(["-c", PARSE, kind])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 not found");
    child.stdin.take().unwrap().write_all(text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client ({kind}) rejected the output (run scripts/test.sh to install it):\n{}\n--- input ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(text)
    );
    match serde_json::from_slice(&out.stdout).unwrap() {
        Value::Array(v) => v,
        other => panic!("unexpected parser output {other}"),
    }
}

/// A sample key: name plus sorted labels, with `le` normalised through f64 so that `1` and
/// `1.0` compare equal.
type Key = (String, BTreeMap<String, String>);

fn key(name: &str, labels: impl IntoIterator<Item = (String, String)>) -> Key {
    let labels = labels
        .into_iter()
        .map(|(k, v)| {
            if k == "le" || k == "quantile" {
                let f: f64 = v.replace("+Inf", "inf").parse().expect("le parses");
                (k, format!("{f:?}"))
            } else {
                (k, v)
            }
        })
        .collect();
    (name.to_owned(), labels)
}

fn num(v: f64) -> Value {
    if v.is_nan() {
        Value::from("NaN")
    } else if v == f64::INFINITY {
        Value::from("+Inf")
    } else if v == f64::NEG_INFINITY {
        Value::from("-Inf")
    } else {
        Value::from(v)
    }
}

/// What a correct parser must find, computed from the snapshot.
fn expected(s: &Snapshot, openmetrics: bool) -> BTreeMap<Key, Value> {
    let mut want = BTreeMap::new();
    for f in &s.families {
        for series in &f.series {
            let labels = || series.labels.iter().cloned();
            match &series.value {
                SeriesValue::Counter(n) => {
                    want.insert(key(&format!("{}_total", f.name), labels()), num(n.as_f64()));
                }
                SeriesValue::Gauge(n) if f.kind == tallyho::MetricKind::Info => {
                    want.insert(key(&format!("{}_info", f.name), labels()), num(n.as_f64()));
                }
                SeriesValue::Gauge(n) => {
                    want.insert(key(&f.name, labels()), num(n.as_f64()));
                }
                SeriesValue::Summary(sm) => {
                    for &(q, v) in &sm.quantiles {
                        let with_q = labels().chain([("quantile".to_owned(), format!("{q}"))]);
                        want.insert(key(&f.name, with_q), num(v));
                    }
                    want.insert(
                        key(&format!("{}_count", f.name), labels()),
                        num(sm.count as f64),
                    );
                    want.insert(key(&format!("{}_sum", f.name), labels()), num(sm.sum));
                }
                SeriesValue::StateSet(states) => {
                    for (state, on) in states.iter() {
                        let with_state = labels().chain([(f.name.clone(), state.to_owned())]);
                        want.insert(key(&f.name, with_state), num(if on { 1.0 } else { 0.0 }));
                    }
                }
                SeriesValue::Histogram(h) => {
                    let mut cum = 0;
                    for (i, c) in h.counts.iter().enumerate() {
                        cum += c;
                        let le = h.bounds.get(i).copied().unwrap_or(f64::INFINITY);
                        let with_le = labels().chain([("le".to_owned(), format!("{le}"))]);
                        want.insert(key(&format!("{}_bucket", f.name), with_le), num(cum as f64));
                    }
                    if f.kind == tallyho::MetricKind::GaugeHistogram {
                        want.insert(
                            key(&format!("{}_gcount", f.name), labels()),
                            num(h.count as f64),
                        );
                        want.insert(key(&format!("{}_gsum", f.name), labels()), num(h.sum));
                    } else if !openmetrics || h.sum_is_counter() {
                        want.insert(
                            key(&format!("{}_count", f.name), labels()),
                            num(h.count as f64),
                        );
                        want.insert(key(&format!("{}_sum", f.name), labels()), num(h.sum));
                    }
                }
            }
            if openmetrics
                && matches!(
                    f.kind,
                    tallyho::MetricKind::Counter
                        | tallyho::MetricKind::Histogram
                        | tallyho::MetricKind::Summary
                )
            {
                // `_created` values are checked for presence and plausibility, not equality.
                want.insert(key(&format!("{}_created", f.name), labels()), Value::Null);
            }
        }
    }
    want
}

fn compare(kind: &str, parsed: Vec<Value>, want: BTreeMap<Key, Value>) {
    let mut got = BTreeMap::new();
    for sample in parsed {
        let labels: Vec<(String, String)> = sample["labels"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let k = key(sample["name"].as_str().unwrap(), labels);
        assert!(
            got.insert(k.clone(), sample["value"].clone()).is_none(),
            "{kind}: duplicate sample {k:?}"
        );
    }
    let got_keys: Vec<_> = got.keys().collect();
    let want_keys: Vec<_> = want.keys().collect();
    assert_eq!(got_keys, want_keys, "{kind}: samples differ");
    for (k, w) in &want {
        let g = &got[k];
        if w.is_null() {
            let created = g.as_f64().expect("_created is a number");
            assert!(
                created > 1.6e9 && created < 4.0e9,
                "{kind}: implausible {k:?} = {created}"
            );
        } else if let (Some(gf), Some(wf)) = (g.as_f64(), w.as_f64()) {
            assert_eq!(
                gf.to_bits(),
                wf.to_bits(),
                "{kind}: {k:?}: parsed {gf}, recorded {wf}"
            );
        } else {
            assert_eq!(g, w, "{kind}: {k:?}");
        }
    }
}

#[test]
fn prometheus_text_passes_promtool_and_python_parser() {
    let r = registry();
    let snapshot = r.snapshot();
    let mut text = Vec::new();
    prometheus::encode(&mut text, &snapshot).unwrap();
    promtool_check(&text);
    compare(
        "prometheus",
        python_parse("prometheus", &text),
        expected(&snapshot, false),
    );
    // The registry itself encodes the same bytes as its snapshot (times aside, none in this format).
    let mut direct = Vec::new();
    prometheus::encode(&mut direct, &r).unwrap();
    assert_eq!(
        String::from_utf8(direct).unwrap(),
        String::from_utf8(text).unwrap()
    );
}

#[test]
fn openmetrics_passes_python_parser_with_types_and_units() {
    let r = registry();
    let snapshot = r.snapshot();
    let mut text = Vec::new();
    openmetrics::encode(&mut text, &snapshot).unwrap();
    let parsed = python_parse("openmetrics", &text);
    for sample in &parsed {
        let family = sample["family"].as_str().unwrap();
        let f = snapshot
            .family(family)
            .unwrap_or_else(|| panic!("unknown family {family}"));
        let want_type = match f.kind {
            tallyho::MetricKind::Counter => "counter",
            tallyho::MetricKind::Histogram => "histogram",
            tallyho::MetricKind::Info => "info",
            tallyho::MetricKind::StateSet => "stateset",
            tallyho::MetricKind::GaugeHistogram => "gaugehistogram",
            tallyho::MetricKind::Summary => "summary",
            _ => "gauge",
        };
        assert_eq!(sample["type"], want_type, "{family}");
        assert_eq!(sample["unit"], f.unit.as_str(), "{family}");
    }
    compare("openmetrics", parsed, expected(&snapshot, true));
}

#[test]
fn hostile_labels_survive_both_formats() {
    let snapshot = registry().snapshot();
    for (kind, encode) in [
        (
            "prometheus",
            prometheus::encode as fn(&mut dyn Write, &dyn tallyho::Source) -> std::io::Result<()>,
        ),
        ("openmetrics", openmetrics::encode),
    ] {
        let mut text = Vec::new();
        encode(&mut text, &snapshot).unwrap();
        let parsed = python_parse(kind, &text);
        for v in HOSTILE {
            assert!(
                parsed
                    .iter()
                    .any(|s| s["name"] == "conf_requests_total" && s["labels"]["path"] == *v),
                "{kind}: label value {v:?} lost"
            );
        }
        assert!(parsed
            .iter()
            .any(|s| s["labels"][OVERFLOW_LABEL] == "true" && s["name"] == "conf_users_total"));
        assert!(parsed
            .iter()
            .all(|s| s["labels"]["service"] == "svc \"one\""));
    }
}

/// Exemplars on a counter, a family counter and histogram buckets, read back by the strict
/// OpenMetrics parser with their trace and span ids, values and timestamps exactly; from
/// the registry and from a snapshot of it alike. The Prometheus text format has none.
#[test]
fn exemplars_pass_the_strict_openmetrics_parser_exactly() {
    use tallyho::TraceContext;
    let r = Registry::new();
    let jobs = r.counter("jobs", "Jobs.").unwrap();
    let by = r
        .metric("calls", "Calls.")
        .counter_family(&["route"])
        .unwrap();
    let took = r
        .histogram("took_seconds", "Took.", Buckets::new([0.1, 1.0]).unwrap())
        .unwrap();
    let a = TraceContext::from_hex("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7").unwrap();
    let b = TraceContext::from_hex("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331").unwrap();
    jobs.add_with_exemplar(3, Some(a));
    by.with(&["/x"]).inc_with_exemplar(Some(b));
    by.with(&["/y"]).inc();
    took.observe_with_exemplar(0.05, Some(a));
    took.observe_with_exemplar(0.5, Some(b));
    took.observe(7.0);
    let ids = |t: &TraceContext| serde_json::json!({"trace_id": t.trace_id_hex(), "span_id": t.span_id_hex()});
    let when = |e: tallyho::Exemplar| {
        e.time
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let snapshot = r.snapshot();
    let mut from_registry = Vec::new();
    openmetrics::encode(&mut from_registry, &r).unwrap();
    let mut from_snapshot = Vec::new();
    openmetrics::encode(&mut from_snapshot, &snapshot).unwrap();
    assert_eq!(from_registry, from_snapshot);
    let parsed = python_parse("openmetrics", &from_snapshot);
    let sample = |name: &str, label: Option<(&str, &str)>| {
        parsed
            .iter()
            .find(|s| s["name"] == name && label.map_or(true, |(k, v)| s["labels"][k] == v))
            .unwrap_or_else(|| panic!("no sample {name} {label:?} in {parsed:?}"))
            .clone()
    };
    let check = |s: Value, trace: &TraceContext, value: f64, at: f64| {
        let ex = &s["exemplar"];
        assert_eq!(ex["labels"], ids(trace), "{s}");
        assert_eq!(ex["value"], value, "{s}");
        let ts = ex["timestamp"].as_f64().unwrap();
        assert!((ts - at).abs() < 1e-6, "{s}: timestamp {ts} vs {at}");
    };
    let ex = jobs.exemplar().unwrap();
    check(sample("jobs_total", None), &a, 3.0, when(ex));
    let ex = by.with(&["/x"]).exemplar().unwrap();
    check(
        sample("calls_total", Some(("route", "/x"))),
        &b,
        1.0,
        when(ex),
    );
    assert_eq!(
        sample("calls_total", Some(("route", "/y")))["exemplar"],
        Value::Null
    );
    let kept = took.exemplars();
    check(
        sample("took_seconds_bucket", Some(("le", "0.1"))),
        &a,
        0.05,
        when(kept[0].unwrap()),
    );
    check(
        sample("took_seconds_bucket", Some(("le", "1.0"))),
        &b,
        0.5,
        when(kept[1].unwrap()),
    );
    assert_eq!(
        sample("took_seconds_bucket", Some(("le", "+Inf")))["exemplar"],
        Value::Null
    );
    // The Prometheus text format carries no exemplars and stays valid.
    let mut text = Vec::new();
    prometheus::encode(&mut text, &snapshot).unwrap();
    assert!(!String::from_utf8_lossy(&text).contains("trace_id"));
    promtool_check(&text);
}

/// Random label values (any Unicode, control characters, quotes, backslashes, newlines)
/// through both text encoders to the reference parsers: every sample comes back with its
/// exact labels and value, and `promtool` accepts the Prometheus text. (JSON and CSV are
/// checked against `serde_json` and a CSV reader in `golden.rs`'s properties.)
mod label_values {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[\"\\\\\n\t\r a-z{}=,#é🦀\u{0}\u{7f}\u{2028}\u{feff}]{0,16}",
            prop::sample::select(HOSTILE).prop_map(str::to_owned),
        ]
    }

    fn registry_with(values: &[(String, String)]) -> Registry {
        let r = Registry::new();
        let requests = r
            .metric("prop_requests", "Requests.")
            .counter_family(&["path"])
            .unwrap();
        let pairs = r
            .metric("prop_pairs", "Two labels.")
            .gauge_family(&["a", "b"])
            .unwrap();
        let latency = r
            .metric("prop_latency", "Latency.")
            .unit("seconds")
            .buckets(Buckets::new([0.1, 1.0]).unwrap())
            .histogram_family(&["path"])
            .unwrap();
        for (i, (a, b)) in values.iter().enumerate() {
            requests.with(&[a]).add(i as u64 + 1);
            pairs.with(&[a, b]).set(i as f64 - 0.5);
            latency.with(&[b]).observe(i as f64 * 0.3);
        }
        r
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn random_label_values_survive_the_reference_parsers(
            values in prop::collection::vec((value(), value()), 1..6)
        ) {
            let snapshot = registry_with(&values).snapshot();
            let mut text = Vec::new();
            prometheus::encode(&mut text, &snapshot).unwrap();
            promtool_check(&text);
            compare("prometheus", python_parse("prometheus", &text), expected(&snapshot, false));
            let mut text = Vec::new();
            openmetrics::encode(&mut text, &snapshot).unwrap();
            compare("openmetrics", python_parse("openmetrics", &text), expected(&snapshot, true));
        }
    }
}
