//! OpenMetrics info and stateset in the core: registration rules, recording, snapshots.

use std::sync::Arc;

use tallyho::{Error, MetricKind, Registry, SeriesValue, StateSet, REFUSED_METRIC};

/// A series' labels and its states.
type Read = (Vec<(String, String)>, Vec<(String, bool)>);

fn states(r: &Registry, family: &str) -> Vec<Read> {
    let snap = r.snapshot();
    let fam = snap.family(family).expect("family present");
    assert_eq!(fam.kind, MetricKind::StateSet);
    fam.series
        .iter()
        .map(|s| {
            let SeriesValue::StateSet(v) = &s.value else {
                panic!("not a stateset: {:?}", s.value)
            };
            let on = v.iter().map(|(n, b)| (n.to_owned(), b)).collect();
            (s.labels.clone(), on)
        })
        .collect()
}

fn pairs(v: &[(&str, bool)]) -> Vec<(String, bool)> {
    v.iter().map(|(s, b)| ((*s).to_owned(), *b)).collect()
}

#[test]
fn enum_like_set_keeps_exactly_one_state_true() {
    let r = Registry::new();
    let phase = r
        .metric("job_phase", "Phase.")
        .stateset(&["starting", "running", "stopped"])
        .unwrap();
    assert_eq!(
        states(&r, "job_phase")[0].1,
        pairs(&[("starting", false), ("running", false), ("stopped", false)])
    );
    phase.set("starting");
    phase.set("stopped");
    assert_eq!(
        states(&r, "job_phase")[0].1,
        pairs(&[("starting", false), ("running", false), ("stopped", true)])
    );
    phase.set_index(1);
    assert!(phase.is_set("running") && !phase.is_set("stopped"));
    assert_eq!(phase.bits(), 0b010);
}

#[test]
fn flags_change_one_state_at_a_time() {
    let r = Registry::new();
    let f = r
        .metric("features", "Feature flags.")
        .stateset(&["a", "b", "c"])
        .unwrap();
    f.set_flag("a", true);
    f.set_flag("c", true);
    f.set_flag_index(1, true);
    f.set_flag("b", false);
    assert_eq!(
        states(&r, "features")[0].1,
        pairs(&[("a", true), ("b", false), ("c", true)])
    );
    f.clear();
    assert_eq!(f.bits(), 0);
}

#[test]
fn unknown_states_record_nothing_and_are_counted() {
    let r = Registry::new();
    let f = r.metric("mode", "Mode.").stateset(&["on", "off"]).unwrap();
    f.set("on");
    f.set("sideways");
    f.set_index(2);
    f.set_flag("nope", true);
    assert!(f.is_set("on"));
    assert!(!f.is_set("sideways"));
    let snap = r.snapshot();
    assert_eq!(snap.value(REFUSED_METRIC, &[("metric", "mode")]), Some(3.0));
}

#[test]
fn concurrent_flags_lose_no_update() {
    let r = Registry::new();
    let names: Vec<String> = (0..64).map(|i| format!("s{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let f = Arc::new(r.metric("many", "Many flags.").stateset(&refs).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let f: Arc<StateSet> = f.clone();
            std::thread::spawn(move || {
                for i in (t..64).step_by(4) {
                    f.set_flag_index(i, true);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(f.bits(), u64::MAX);
}

#[test]
fn stateset_families_have_a_series_per_label_set() {
    let r = Registry::builder()
        .constant_label("service", "api")
        .build()
        .unwrap();
    let fam = r
        .metric("pool_state", "Pool state.")
        .stateset_family(&["pool"], &["up", "down"])
        .unwrap();
    fam.with(&["a"]).set("up");
    fam.with(&["b"]).set("down");
    let got = states(&r, "pool_state");
    assert_eq!(got.len(), 2);
    let label = |s: &[(String, String)]| s.iter().find(|(n, _)| n == "pool").unwrap().1.clone();
    assert_eq!(label(&got[0].0), "a");
    assert_eq!(got[0].1, pairs(&[("up", true), ("down", false)]));
    assert_eq!(label(&got[1].0), "b");
    assert_eq!(got[1].1, pairs(&[("up", false), ("down", true)]));
}

#[test]
fn bad_statesets_are_refused_naming_the_problem() {
    let r = Registry::builder()
        .constant_label("env", "prod")
        .build()
        .unwrap();
    let msg = |e: Error| e.to_string();
    let none = r.metric("a", "A.").stateset(&[]).unwrap_err();
    assert!(msg(none).contains("at least one state"));
    let dup = r.metric("b", "B.").stateset(&["x", "x"]).unwrap_err();
    assert!(msg(dup).contains("\"x\" is given twice"));
    let empty = r.metric("c", "C.").stateset(&["x", ""]).unwrap_err();
    assert!(msg(empty).contains("state 1 is empty"));
    let names: Vec<String> = (0..65).map(|i| format!("s{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let many = r.metric("d", "D.").stateset(&refs).unwrap_err();
    assert!(msg(many).contains("65 states"));
    let colon = r.metric("e:f", "E.").stateset(&["x"]).unwrap_err();
    assert!(msg(colon).contains("not a valid label name"));
    let label = r
        .metric("g", "G.")
        .stateset_family(&["g"], &["x"])
        .unwrap_err();
    assert!(msg(label.clone()).contains("the label \"g\""), "{label:?}");
    let constant = r.metric("env", "Env.").stateset(&["x"]).unwrap_err();
    assert!(msg(constant).contains("the label \"env\""));
    let unit = r
        .metric("h", "H.")
        .unit("seconds")
        .stateset(&["x"])
        .unwrap_err();
    assert!(msg(unit.clone()).contains("no unit"), "{unit}");
    // Another set of states under the same name is a conflict, the same one is not.
    r.metric("k", "K.").stateset(&["x", "y"]).unwrap();
    r.metric("k", "K.").stateset(&["x", "y"]).unwrap();
    assert!(matches!(
        r.metric("k", "K.").stateset(&["x"]),
        Err(Error::Conflict { .. })
    ));
}

#[test]
fn info_is_one_point_of_one_with_its_labels() {
    let r = Registry::builder().prefix("app").build().unwrap();
    let info = r
        .info(
            "build_info",
            "Build.",
            &[("version", "1.2\"x"), ("commit", "abc")],
        )
        .unwrap();
    assert_eq!(info.label("version"), Some("1.2\"x"));
    let snap = r.snapshot();
    let fam = snap.family("app_build").expect("`_info` is stripped");
    assert_eq!(fam.kind, MetricKind::Info);
    assert_eq!(fam.series.len(), 1);
    assert_eq!(
        fam.series[0].labels,
        [("version", "1.2\"x"), ("commit", "abc")].map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    assert_eq!(fam.series[0].value.as_f64(), Some(1.0));
    // The same labels again are the same info; others conflict.
    r.info(
        "build",
        "Build.",
        &[("version", "1.2\"x"), ("commit", "abc")],
    )
    .unwrap();
    assert!(matches!(
        r.info("build", "Build.", &[("version", "2")]),
        Err(Error::Conflict { .. })
    ));
}

#[test]
fn info_names_collide_with_what_they_write() {
    let r = Registry::new();
    r.info("target", "Target.", &[("os", "linux")]).unwrap();
    let err = r.gauge("target_info", "A gauge.").unwrap_err();
    assert!(
        matches!(&err, Error::NameCollision { sample, other, .. } if sample == "target_info" && other == "target"),
        "{err}"
    );
    r.gauge("other_info", "A gauge.").unwrap();
    assert!(matches!(
        r.info("other", "Other.", &[]),
        Err(Error::NameCollision { .. })
    ));
    let dup = r.info("x", "X.", &[("a", "1"), ("a", "2")]).unwrap_err();
    assert!(matches!(dup, Error::DuplicateLabelName { .. }), "{dup}");
    let bad = r.info("y", "Y.", &[("1a", "1")]).unwrap_err();
    assert!(matches!(bad, Error::InvalidLabelName { .. }), "{bad}");
    let unit = r.metric("z", "Z.").unit("bytes").info(&[]).unwrap_err();
    assert!(unit.to_string().contains("no unit"), "{unit}");
    assert!(matches!(
        r.info("_info", "Bare.", &[]),
        Err(Error::InvalidMetricName { .. })
    ));
}

#[test]
fn expiring_statesets_take_their_states_from_the_builder() {
    let r = Registry::new();
    let fam = r
        .metric("conn_state", "Connection state.")
        .states(&["open", "closed"])
        .expiring_family::<StateSet>(&["peer"], std::time::Duration::MAX)
        .unwrap();
    fam.with(&["x"]).set("closed");
    let got = states(&r, "conn_state");
    assert_eq!(got[0].1, pairs(&[("open", false), ("closed", true)]));
    assert!(fam.remove(&["x"]));
    assert!(states(&r, "conn_state").is_empty());
    // Without states the generic path refuses it by name.
    let err = r
        .metric("bare", "No states.")
        .family::<StateSet>(&["x"])
        .unwrap_err();
    assert!(err.to_string().contains("at least one state"), "{err}");
}

#[test]
fn disabled_registries_hand_out_noops() {
    let r = Registry::disabled();
    let s = r.metric("s", "S.").stateset(&["a"]).unwrap();
    s.set("a");
    assert_eq!(s.bits(), 0);
    let i = r.info("i", "I.", &[("a", "b")]).unwrap();
    assert!(i.labels().is_empty());
    assert!(r.snapshot().families.is_empty());
}

#[test]
fn gauge_histograms_go_up_and_down() {
    use tallyho::{Buckets, GaugeHistogram, Instrument as _};
    let r = Registry::new();
    let g = r
        .metric("queue_wait", "Waiting.")
        .buckets(Buckets::new([1.0, 10.0]).unwrap())
        .gauge_histogram()
        .unwrap();
    for v in [0.5, 0.5, 4.0, 50.0] {
        g.add(v);
    }
    g.remove(0.5);
    g.remove(50.0);
    // Refused: NaN, infinities, and negatives with no negative bound.
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0] {
        g.add(v);
    }
    let snap = r.snapshot();
    let fam = snap.family("queue_wait").unwrap();
    assert_eq!(fam.kind, MetricKind::GaugeHistogram);
    let h = fam.series[0].value.as_histogram().unwrap();
    assert_eq!(h.bounds, [1.0, 10.0]);
    assert_eq!(h.counts, [1, 1, 0]);
    assert_eq!((h.count, h.sum), (2, 4.5));
    assert_eq!(
        snap.value(REFUSED_METRIC, &[("metric", "queue_wait")]),
        Some(4.0)
    );
    // Rounding residue never makes the sum negative without negative bounds.
    let lone = GaugeHistogram::new(Buckets::new([1.0]).unwrap());
    for v in [0.1, 0.2, 0.3] {
        lone.add(v);
    }
    for v in [0.3, 0.1, 0.2] {
        lone.remove(v);
    }
    assert_eq!((lone.count(), lone.sum()), (0, 0.0));
    // A remove without its add reads as an empty bucket, not a wrapped one.
    lone.remove(0.5);
    assert_eq!(lone.count(), 0);
    assert!(!lone.is_noop());
    // With a negative bound, negative values count and the sum may go below zero.
    let signed = r
        .metric("offset", "Offsets.")
        .buckets(Buckets::new([-1.0, 0.0]).unwrap())
        .gauge_histogram_family(&["host"])
        .unwrap();
    signed.with(&["a"]).add(-3.0);
    let h = r.snapshot().family("offset").unwrap().series[0]
        .value
        .as_histogram()
        .unwrap()
        .clone();
    assert_eq!((h.counts.as_slice(), h.sum), (&[1, 0, 0][..], -3.0));
}

#[test]
fn gauge_histogram_names_collide_with_what_they_write() {
    let r = Registry::new();
    r.metric("q", "Q.").gauge_histogram().unwrap();
    for taken in ["q_bucket", "q_gcount", "q_gsum"] {
        assert!(
            matches!(r.gauge(taken, "G."), Err(Error::NameCollision { .. })),
            "{taken}"
        );
    }
    r.gauge("q_count", "Not written by a gauge histogram.")
        .unwrap();
}
