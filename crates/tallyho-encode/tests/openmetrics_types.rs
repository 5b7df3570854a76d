//! Exact output of info and stateset in every format, from a registry and from an owned
//! snapshot (which must replay them the same way).

use tallyho::{MetricKind, Registry, SeriesValue, Snapshot};
use tallyho_encode::Format;

fn registry() -> Registry {
    let r = Registry::builder()
        .constant_label("env", "prod")
        .build()
        .unwrap();
    r.info("build", "Build \"facts\".", &[("version", "1.2\n3")])
        .unwrap();
    let phase = r
        .metric("phase", "Phase.")
        .stateset(&["starting", "run\"ning"])
        .unwrap();
    phase.set("run\"ning");
    let pools = r
        .metric("pool_flags", "Flags.")
        .stateset_family(&["pool"], &["a", "b"])
        .unwrap();
    pools.with(&["p1"]).set_flag("a", true);
    pools.with(&["p1"]).set_flag("b", true);
    pools.with(&["p2"]).set_flag("b", true);
    pools.with(&["p2"]).set_flag("b", false);
    let queue = r
        .metric("queue_wait", "Waiting.")
        .unit("seconds")
        .buckets(tallyho::Buckets::new([1.0]).unwrap())
        .gauge_histogram_family(&["q"])
        .unwrap();
    queue.with(&["x"]).add(0.5);
    queue.with(&["x"]).add(2.5);
    queue.with(&["y"]).add(3.0);
    r
}

fn encoded(format: Format, source: &dyn tallyho::Source) -> String {
    let mut out = Vec::new();
    format.encode(&mut out, source).unwrap();
    String::from_utf8(out).unwrap()
}

/// Every format gives the same bytes for the registry and for its snapshot.
fn both(format: Format) -> String {
    let r = registry();
    let direct = encoded(format, &r);
    let snap = r.snapshot();
    let replayed = encoded(format, &snap);
    if !matches!(format, Format::Json | Format::Csv) {
        assert_eq!(direct, replayed, "{format:?}");
    }
    replayed
}

#[test]
fn openmetrics_text_is_exactly_the_spec() {
    let text = both(Format::OpenMetrics);
    assert_eq!(
        text,
        "# TYPE build info\n\
         # HELP build Build \\\"facts\\\".\n\
         build_info{env=\"prod\",version=\"1.2\\n3\"} 1\n\
         # TYPE phase stateset\n\
         # HELP phase Phase.\n\
         phase{env=\"prod\",phase=\"starting\"} 0\n\
         phase{env=\"prod\",phase=\"run\\\"ning\"} 1\n\
         # TYPE pool_flags stateset\n\
         # HELP pool_flags Flags.\n\
         pool_flags{env=\"prod\",pool=\"p1\",pool_flags=\"a\"} 1\n\
         pool_flags{env=\"prod\",pool=\"p1\",pool_flags=\"b\"} 1\n\
         pool_flags{env=\"prod\",pool=\"p2\",pool_flags=\"a\"} 0\n\
         pool_flags{env=\"prod\",pool=\"p2\",pool_flags=\"b\"} 0\n\
         # TYPE queue_wait_seconds gaugehistogram\n\
         # UNIT queue_wait_seconds seconds\n\
         # HELP queue_wait_seconds Waiting.\n\
         queue_wait_seconds_bucket{env=\"prod\",q=\"x\",le=\"1.0\"} 1\n\
         queue_wait_seconds_bucket{env=\"prod\",q=\"x\",le=\"+Inf\"} 2\n\
         queue_wait_seconds_gcount{env=\"prod\",q=\"x\"} 2\n\
         queue_wait_seconds_gsum{env=\"prod\",q=\"x\"} 3\n\
         queue_wait_seconds_bucket{env=\"prod\",q=\"y\",le=\"1.0\"} 0\n\
         queue_wait_seconds_bucket{env=\"prod\",q=\"y\",le=\"+Inf\"} 1\n\
         queue_wait_seconds_gcount{env=\"prod\",q=\"y\"} 1\n\
         queue_wait_seconds_gsum{env=\"prod\",q=\"y\"} 3\n\
         # EOF\n"
    );
}

#[test]
fn prometheus_text_writes_gauges() {
    let text = both(Format::Prometheus);
    assert_eq!(
        text,
        "# HELP build_info Build \"facts\".\n\
         # TYPE build_info gauge\n\
         build_info{env=\"prod\",version=\"1.2\\n3\"} 1\n\
         # HELP phase Phase.\n\
         # TYPE phase gauge\n\
         phase{env=\"prod\",phase=\"starting\"} 0\n\
         phase{env=\"prod\",phase=\"run\\\"ning\"} 1\n\
         # HELP pool_flags Flags.\n\
         # TYPE pool_flags gauge\n\
         pool_flags{env=\"prod\",pool=\"p1\",pool_flags=\"a\"} 1\n\
         pool_flags{env=\"prod\",pool=\"p1\",pool_flags=\"b\"} 1\n\
         pool_flags{env=\"prod\",pool=\"p2\",pool_flags=\"a\"} 0\n\
         pool_flags{env=\"prod\",pool=\"p2\",pool_flags=\"b\"} 0\n\
         # HELP queue_wait_seconds Waiting.\n\
         # TYPE queue_wait_seconds histogram\n\
         queue_wait_seconds_bucket{env=\"prod\",q=\"x\",le=\"1\"} 1\n\
         queue_wait_seconds_bucket{env=\"prod\",q=\"x\",le=\"+Inf\"} 2\n\
         queue_wait_seconds_bucket{env=\"prod\",q=\"y\",le=\"1\"} 0\n\
         queue_wait_seconds_bucket{env=\"prod\",q=\"y\",le=\"+Inf\"} 1\n\
         # HELP queue_wait_seconds_gsum Waiting.\n\
         # TYPE queue_wait_seconds_gsum gauge\n\
         queue_wait_seconds_gsum{env=\"prod\",q=\"x\"} 3\n\
         queue_wait_seconds_gsum{env=\"prod\",q=\"y\"} 3\n\
         # HELP queue_wait_seconds_gcount Waiting.\n\
         # TYPE queue_wait_seconds_gcount gauge\n\
         queue_wait_seconds_gcount{env=\"prod\",q=\"x\"} 2\n\
         queue_wait_seconds_gcount{env=\"prod\",q=\"y\"} 1\n"
    );
}

#[test]
fn json_has_the_types_and_every_state() {
    let text = both(Format::Json);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let fams = v["families"].as_array().unwrap();
    assert_eq!(fams[0]["name"], "build");
    assert_eq!(fams[0]["type"], "info");
    assert_eq!(fams[0]["series"][0]["value"], 1);
    assert_eq!(fams[0]["series"][0]["labels"]["version"], "1.2\n3");
    assert_eq!(fams[1]["type"], "stateset");
    let states = &fams[1]["series"][0]["states"];
    assert_eq!(
        states,
        &serde_json::json!({"starting": false, "run\"ning": true})
    );
    // Registration order is kept.
    assert!(text.find("\"starting\":false").unwrap() < text.find("\"run\\\"ning\":true").unwrap());
    assert_eq!(
        fams[2]["series"][1]["states"],
        serde_json::json!({"a": false, "b": false})
    );
}

#[test]
fn csv_writes_a_row_per_state() {
    let text = both(Format::Csv);
    let rows: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    // Header, one info row, two phase rows, four pool rows, two gauge histogram rows.
    assert_eq!(rows.len(), 10, "{text}");
    let tail = |row: &str| row.split_once(',').unwrap().1.to_owned();
    assert_eq!(
        tail(rows[1]),
        "build,info,\"{\"\"env\"\":\"\"prod\"\",\"\"version\"\":\"\"1.2\\n3\"\"}\",1,,,"
    );
    assert_eq!(
        tail(rows[3]),
        "phase,stateset,\"{\"\"env\"\":\"\"prod\"\",\"\"phase\"\":\"\"run\\\"\"ning\"\"}\",1,,,"
    );
    assert_eq!(
        tail(rows[5]),
        "pool_flags,stateset,\"{\"\"env\"\":\"\"prod\"\",\"\"pool\"\":\"\"p1\"\",\"\"pool_flags\"\":\"\"b\"\"}\",1,,,"
    );
}

#[test]
fn protobuf_marks_gauge_histograms() {
    // MetricFamily: name (1), help (2), type (3) = GAUGE_HISTOGRAM (5).
    let text = {
        let mut out = Vec::new();
        Format::Protobuf.encode(&mut out, &registry()).unwrap();
        out
    };
    let name = b"queue_wait_seconds";
    let at = text
        .windows(name.len())
        .position(|w| w == name)
        .expect("family present");
    let help = b"Waiting.";
    let after = at + name.len() + 2 + help.len();
    assert_eq!(&text[at + name.len()..at + name.len() + 2], &[0x12, 8]);
    assert_eq!(&text[after..after + 2], &[0x18, 5]);
}

/// A summary of 1..=100 read as one window: the median and the 0.9 quantile.
fn summary_registry() -> Registry {
    let r = Registry::new();
    let s = r
        .metric("rpc", "RPC time.")
        .summary_config(
            tallyho::SummaryConfig::default()
                .quantiles(&[0.5, 1.0])
                .unwrap(),
        )
        .summary()
        .unwrap();
    for v in 1..=100 {
        s.observe(f64::from(v));
    }
    r
}

#[test]
fn summaries_in_the_text_formats() {
    let snap = summary_registry().snapshot();
    let sm = snap.families[0].series[0].value.as_summary().unwrap();
    let (median, max) = (sm.quantiles[0].1, sm.quantiles[1].1);
    // The estimates are the bucket's, clamped to the maximum for q = 1.
    assert!((median - 50.0).abs() / 50.0 < 0.01, "{median}");
    assert_eq!(max, 100.0);
    let om = encoded(Format::OpenMetrics, &snap);
    let created = om
        .lines()
        .find(|l| l.starts_with("rpc_created "))
        .expect("a _created line");
    assert_eq!(
        om,
        format!(
            "# TYPE rpc summary\n\
             # HELP rpc RPC time.\n\
             rpc{{quantile=\"0.5\"}} {median}\n\
             rpc{{quantile=\"1.0\"}} 100\n\
             rpc_sum 5050\n\
             rpc_count 100\n\
             {created}\n\
             # EOF\n"
        )
    );
    assert_eq!(
        encoded(Format::Prometheus, &snap),
        format!(
            "# HELP rpc RPC time.\n\
             # TYPE rpc summary\n\
             rpc{{quantile=\"0.5\"}} {median}\n\
             rpc{{quantile=\"1\"}} 100\n\
             rpc_sum 5050\n\
             rpc_count 100\n"
        )
    );
    let json: serde_json::Value = serde_json::from_str(&encoded(Format::Json, &snap)).unwrap();
    let s = &json["families"][0]["series"][0];
    assert_eq!(json["families"][0]["type"], "summary");
    assert_eq!(
        (s["count"].as_u64(), s["sum"].as_f64()),
        (Some(100), Some(5050.0))
    );
    assert_eq!(
        s["quantiles"][1],
        serde_json::json!({"quantile": 1.0, "value": 100.0})
    );
    let csv = encoded(Format::Csv, &snap);
    let row = csv.split("\r\n").nth(1).unwrap();
    assert!(
        row.ends_with(&format!(",rpc,summary,{{}},,100,5050,0.5:{median}|1:100")),
        "{row}"
    );
}

#[test]
fn snapshots_keep_the_kinds_and_states() {
    let snap: Snapshot = registry().snapshot();
    assert_eq!(snap.families[0].kind, MetricKind::Info);
    let SeriesValue::StateSet(s) = &snap.families[1].series[0].value else {
        panic!("a stateset")
    };
    assert!(s.is_set("run\"ning") && !s.is_set("starting"));
    assert_eq!(s.set, 0b10);
}
