//! Registries whose exposition a strict parser accepts: no two families write the same
//! sample name, and no value makes a sum NaN, negative or wrapped. Checked on snapshots
//! with the OpenMetrics suffix table written out here, independently of the registry's.

use std::collections::HashMap;

use tallyho::{
    Buckets, Error, FamilySnapshot, MetricKind, Registry, SeriesValue, Snapshot, OVERFLOW_METRIC,
    REFUSED_METRIC,
};

/// The sample names (and the `# TYPE` name) OpenMetrics' text format gives a family.
fn written_names(f: &FamilySnapshot) -> Vec<String> {
    let suffixes: &[&str] = match f.kind {
        MetricKind::Counter => &["", "_total", "_created"],
        MetricKind::Histogram => &["", "_bucket", "_count", "_sum", "_created"],
        _ => &[""],
    };
    suffixes.iter().map(|s| format!("{}{s}", f.name)).collect()
}

/// Fails when two families of the snapshot write one name.
fn assert_no_shared_names(s: &Snapshot) {
    let mut owner: HashMap<String, &str> = HashMap::new();
    for f in &s.families {
        for n in written_names(f) {
            if let Some(other) = owner.insert(n.clone(), &f.name) {
                panic!("{n:?} is written by both {other:?} and {:?}", f.name);
            }
        }
    }
}

/// A registration that should be refused, as a closure.
type Attempt<'a> = Box<dyn Fn() -> Result<(), Error> + 'a>;

fn refused(s: &Snapshot, metric: &str) -> Option<f64> {
    s.value(REFUSED_METRIC, &[("metric", metric)])
}

#[test]
fn every_suffix_collision_is_refused_naming_both_families() {
    let r = Registry::new();
    r.counter("coll", "C.").unwrap();
    r.histogram("x", "X.", Buckets::new([1.0]).unwrap())
        .unwrap();
    let cases: Vec<(&str, Attempt<'_>)> = vec![
        ("coll", Box::new(|| r.gauge("coll_total", "").map(drop))),
        ("coll", Box::new(|| r.gauge("coll_created", "").map(drop))),
        ("x", Box::new(|| r.gauge("x_count", "").map(drop))),
        ("x", Box::new(|| r.gauge("x_sum", "").map(drop))),
        ("x", Box::new(|| r.gauge("x_bucket", "").map(drop))),
        (
            "x",
            Box::new(|| r.metric("x_created", "").up_down_counter().map(drop)),
        ),
        // A counter whose own family name is a histogram's sample name.
        ("x", Box::new(|| r.counter("x_count", "").map(drop))),
        // Labelled families collide the same way.
        (
            "coll",
            Box::new(|| r.metric("coll_total", "").gauge_family(&["a"]).map(drop)),
        ),
        (
            "x",
            Box::new(|| r.metric("x_sum", "").observable_gauge(|| 1.0)),
        ),
    ];
    for (first, register) in &cases {
        let err = register().unwrap_err();
        let Error::NameCollision {
            ref name,
            ref other,
            ref sample,
            ..
        } = err
        else {
            panic!("expected a collision, got {err:?}");
        };
        assert_eq!(other, first);
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("{name:?}")) && msg.contains(&format!("{first:?}")),
            "{msg}"
        );
        assert!(sample.starts_with(*first), "{sample}");
    }
    // The later registration is the refused one whichever kind comes first.
    r.gauge("y_sum", "").unwrap();
    assert!(matches!(
        r.histogram("y", "", Buckets::default_seconds()),
        Err(Error::NameCollision { .. })
    ));
    r.gauge("z_total", "").unwrap();
    assert!(r.counter("z", "").is_err());
    // Names near the suffixes but not equal to a written one stay fine.
    r.gauge("coll_totals", "").unwrap();
    r.gauge("x_counts", "").unwrap();
    assert_no_shared_names(&r.snapshot());
}

#[test]
fn prefixes_and_self_metrics_count_as_written_names() {
    let r = Registry::new();
    let app = r.sub_registry("app", &[("svc", "a")]).unwrap();
    app.counter("jobs", "").unwrap();
    assert!(r.gauge("app_jobs_total", "").is_err());
    // The same family from another view is one family, not a collision.
    r.sub_registry("app", &[("svc", "b")])
        .unwrap()
        .counter("jobs", "")
        .unwrap();
    for name in [OVERFLOW_METRIC, REFUSED_METRIC] {
        assert!(r.counter(name, "").is_err(), "{name}");
        assert!(r.gauge(&format!("{name}_total"), "").is_err(), "{name}");
    }
    assert_no_shared_names(&r.snapshot());
}

#[test]
fn double_underscore_names_are_reserved() {
    let r = Registry::new();
    for name in ["__x", "_.x", "__"] {
        let err = r.gauge(name, "").unwrap_err();
        assert!(err.to_string().contains("reserved"), "{name}: {err}");
    }
    assert!(Registry::builder().prefix("__app").build().is_err());
    assert!(r.gauge("_x", "").is_ok(), "one underscore is allowed");
}

#[test]
fn collector_families_that_collide_are_left_out() {
    let r = Registry::new();
    r.counter("coll", "").unwrap().inc();
    r.register_collector(|| {
        vec![
            FamilySnapshot::new("coll_total", "clashes", MetricKind::Gauge).with_point(&[], 1.0),
            FamilySnapshot::new("other", "fine", MetricKind::Gauge).with_point(&[], 2.0),
        ]
    });
    let s = r.snapshot();
    assert!(s.family("coll_total").is_none());
    assert_eq!(s.value("other", &[]), Some(2.0));
    assert_eq!(s.value("coll", &[]), Some(1.0));
    assert_no_shared_names(&s);
}

#[test]
fn histogram_sums_stay_counters_and_refusals_are_counted() {
    let r = Registry::new();
    let inputs = [
        0.5,
        -1.0,
        f64::NAN,
        2.0,
        f64::NEG_INFINITY,
        -0.0,
        3.0,
        f64::NAN,
    ];
    let h = r
        .histogram("lat", "", Buckets::new([1.0, 2.5]).unwrap())
        .unwrap();
    let fam = r
        .metric("lat_by", "")
        .buckets(Buckets::new([1.0]).unwrap())
        .histogram_family(&["route"])
        .unwrap();
    for v in inputs {
        h.observe(v);
        fam.with(&["/a"]).observe(v);
        fam.with(&["/b"]).observe(v);
    }
    // No negative bound: what is kept is what is >= 0 (NaN is not).
    let kept: Vec<f64> = inputs.iter().copied().filter(|v| *v >= 0.0).collect();
    let refusals = (inputs.len() - kept.len()) as u64;
    assert_eq!(h.refused(), refusals);
    let s = r.snapshot();
    let data = s.family("lat").unwrap().series[0].value.clone();
    let SeriesValue::Histogram(data) = data else {
        panic!("not a histogram")
    };
    assert_eq!(data.count, kept.len() as u64);
    assert_eq!(data.sum, kept.iter().sum::<f64>());
    assert!(data.sum >= 0.0 && data.sum_is_counter());
    assert_eq!(refused(&s, "lat"), Some(refusals as f64));
    assert_eq!(refused(&s, "lat_by"), Some(2.0 * refusals as f64));
    assert_no_shared_names(&s);
}

#[test]
fn negative_bounds_keep_negative_values_and_flag_the_sum() {
    let r = Registry::new();
    let h = r
        .histogram("drift", "", Buckets::new([-1.0, 0.0, 1.0]).unwrap())
        .unwrap();
    for v in [-2.0, -0.5, 0.5, f64::NAN] {
        h.observe(v);
    }
    let s = r.snapshot();
    let series = &s.family("drift").unwrap().series[0];
    let data = series.value.as_histogram().unwrap();
    assert_eq!((data.count, data.sum), (3, -2.0));
    assert!(
        !data.sum_is_counter(),
        "OpenMetrics: no sum with negative buckets"
    );
    assert_eq!(refused(&s, "drift"), Some(1.0));
}

#[test]
fn counters_saturate_and_float_counters_refuse_bad_increments() {
    let r = Registry::new();
    let c = r.counter("big", "").unwrap();
    c.add(u64::MAX);
    c.add(2);
    assert_eq!(c.get(), u64::MAX, "no wrap back to a small total");
    let f = r.metric("secs", "").counter_f64().unwrap();
    let steps = [1.5, -1.0, f64::NAN, f64::INFINITY, 2.0, f64::NEG_INFINITY];
    for v in steps {
        f.add(v);
    }
    let good: Vec<f64> = steps
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .collect();
    let bad = (steps.len() - good.len()) as u64;
    assert_eq!(f.get(), good.iter().sum::<f64>());
    assert_eq!(f.refused(), bad);
    let s = r.snapshot();
    assert_eq!(s.value("secs", &[]), Some(good.iter().sum::<f64>()));
    assert_eq!(refused(&s, "secs"), Some(bad as f64));
    assert_eq!(refused(&s, "big"), None, "saturation is not a refusal");
    // A registry where nothing was refused has no refusal family at all.
    let clean = Registry::new();
    clean.metric("ok", "").counter_f64().unwrap().add(1.0);
    assert!(clean.snapshot().family(REFUSED_METRIC).is_none());
}
