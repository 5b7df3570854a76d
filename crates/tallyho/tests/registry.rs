//! Registration rules and collection through the public API.

use tallyho::{
    Buckets, Counter, Error, FamilySnapshot, MetricKind, Registry, SeriesValue, OVERFLOW_LABEL,
    OVERFLOW_METRIC,
};

#[test]
fn same_name_type_and_labels_returns_the_existing_instrument() {
    let r = Registry::new();
    let a = r.counter("jobs_total", "Jobs.").unwrap();
    let b = r.counter("jobs", "Jobs.").unwrap();
    a.inc();
    b.inc();
    assert_eq!(a.get(), 2);
    let f1 = r.metric("req", "R.").counter_family(&["code"]).unwrap();
    let f2 = r.metric("req", "R.").counter_family(&["code"]).unwrap();
    f1.with(&["200"]).inc();
    assert_eq!(f2.with(&["200"]).get(), 1);
    assert_eq!(r.snapshot().families.len(), 2);
}

#[test]
fn conflicting_registration_names_both_sides() {
    let r = Registry::new();
    r.counter("thing", "A thing.").unwrap();
    let e = r.gauge("thing", "A thing.").unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("\"thing\"") && msg.contains("counter") && msg.contains("gauge"),
        "{msg}"
    );

    r.metric("fam", "F.").counter_family(&["a"]).unwrap();
    let msg = r
        .metric("fam", "F.")
        .counter_family(&["b"])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("[\"a\"]") && msg.contains("[\"b\"]"), "{msg}");

    r.histogram("h", "H.", Buckets::new([1.0]).unwrap())
        .unwrap();
    assert!(r
        .histogram("h", "H.", Buckets::new([2.0]).unwrap())
        .is_err());
    assert!(r.histogram("h", "H.", Buckets::new([1.0]).unwrap()).is_ok());
    // Same kind, other value type.
    assert!(r.metric("thing", "").counter_f64().is_err());
}

#[test]
fn invalid_names_and_labels_are_refused_with_the_rule() {
    let r = Registry::new();
    let msg = r.counter("9lives", "").unwrap_err().to_string();
    assert!(
        msg.contains("9lives") && msg.contains("[a-zA-Z_:]"),
        "{msg}"
    );
    assert!(r.counter("", "").is_err());
    assert!(r.counter("has space", "").is_err());
    assert!(r.counter("_total", "").is_err());
    for bad in ["le", "quantile", "__name", OVERFLOW_LABEL, "0x", "a-b", ""] {
        let e = r.metric("m", "").gauge_family(&[bad]).unwrap_err();
        assert!(e.to_string().contains(&format!("{bad:?}")), "{bad}: {e}");
    }
    let e = r.metric("m", "").gauge_family(&["a", "a"]).unwrap_err();
    assert!(matches!(e, Error::DuplicateLabelName { .. }));
    assert!(r.metric("m", "").unit("sec onds").gauge().is_err());
    assert!(r
        .metric("m", "")
        .cardinality_limit(0)
        .gauge_family(&["a"])
        .is_err());
    // Nothing invalid got registered.
    assert!(r.snapshot().families.is_empty());
}

#[test]
fn dotted_names_map_to_underscores_and_units_are_appended() {
    let r = Registry::new();
    r.metric("http.server.duration", "D.")
        .unit("seconds")
        .histogram()
        .unwrap()
        .observe(0.2);
    r.metric("payload_bytes", "P.")
        .unit("bytes")
        .gauge()
        .unwrap();
    let s = r.snapshot();
    let h = s
        .family("http_server_duration_seconds")
        .expect("unit appended");
    assert_eq!(h.unit, "seconds");
    assert_eq!(h.kind, MetricKind::Histogram);
    assert!(
        s.family("payload_bytes").is_some(),
        "unit suffix not doubled"
    );
}

#[test]
fn prefix_constant_labels_and_sub_registries() {
    let r = Registry::builder()
        .prefix("app")
        .constant_label("service", "api")
        .build()
        .unwrap();
    let db_a = r.sub_registry("db", &[("db", "a")]).unwrap();
    let db_b = r.sub_registry("db", &[("db", "b")]).unwrap();
    db_a.counter("queries", "Queries.").unwrap().add(3);
    db_b.counter("queries", "Queries.").unwrap().add(4);
    let s = r.snapshot();
    let fam = s.family("app_db_queries").unwrap();
    assert_eq!(
        fam.series.len(),
        2,
        "one family, one series per sub-registry"
    );
    assert_eq!(
        s.value("app_db_queries", &[("service", "api"), ("db", "a")]),
        Some(3.0)
    );
    assert_eq!(
        s.value("app_db_queries", &[("service", "api"), ("db", "b")]),
        Some(4.0)
    );
    assert!(r.sub_registry("x", &[("service", "again")]).is_err());
    assert!(Registry::builder().prefix("1bad").build().is_err());
    assert!(Registry::builder()
        .constant_label("le", "1")
        .build()
        .is_err());
    // A family label may not shadow a constant label.
    assert!(r.metric("m", "").counter_family(&["service"]).is_err());
}

#[test]
fn disabled_registry_hands_out_noops_but_still_validates() {
    let r = Registry::disabled();
    let c = r.counter("c", "").unwrap();
    c.inc();
    assert_eq!(c.get(), 0);
    let f = r.metric("f", "").histogram_family(&["a"]).unwrap();
    f.with(&["x"]).observe(1.0);
    assert!(f.is_empty());
    assert!(r.counter("bad name", "").is_err());
    r.metric("o", "").observable_gauge(|| 1.0).unwrap();
    assert!(r.snapshot().families.is_empty());
}

#[test]
fn observables_and_collectors_are_read_at_collection() {
    let r = Registry::builder().prefix("p").build().unwrap();
    let depth = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(5));
    let d = depth.clone();
    r.metric("queue_depth", "Depth.")
        .observable_gauge(move || d.load(std::sync::atomic::Ordering::Relaxed) as f64)
        .unwrap();
    r.metric("bytes_read", "Read.")
        .observable_counter(|| 42)
        .unwrap();
    assert!(r
        .metric("queue_depth", "")
        .observable_gauge(|| 0.0)
        .is_err());
    r.register_collector(|| {
        vec![
            FamilySnapshot::new("external", "From elsewhere.", MetricKind::Gauge)
                .with_point(&[("k", "v")], 7i64),
            FamilySnapshot::new("bad name", "", MetricKind::Gauge).with_point(&[], 1i64),
        ]
    });
    r.metric("panics", "")
        .observable_gauge(|| panic!("callback bug"))
        .unwrap();
    assert_eq!(r.snapshot().value("p_queue_depth", &[]), Some(5.0));
    depth.store(9, std::sync::atomic::Ordering::Relaxed);
    let s = r.snapshot();
    assert_eq!(s.value("p_queue_depth", &[]), Some(9.0));
    assert_eq!(s.value("p_bytes_read", &[]), Some(42.0));
    assert_eq!(s.value("p_external", &[("k", "v")]), Some(7.0));
    assert!(s.families.iter().all(|f| !f.name.contains(' ')));
    assert!(s.family("p_panics").unwrap().series.is_empty());
}

#[test]
fn cardinality_overflow_is_bounded_and_reported() {
    let r = Registry::builder().cardinality_limit(10).build().unwrap();
    let f = r.metric("users", "").counter_family(&["id"]).unwrap();
    let g = r
        .metric("small", "")
        .cardinality_limit(2)
        .gauge_family(&["id"])
        .unwrap();
    for i in 0..100 {
        f.with(&[&i.to_string()]).inc();
        g.with(&[&i.to_string()]).set(1.0);
    }
    let s = r.snapshot();
    let users = s.family("users").unwrap();
    assert_eq!(users.series.len(), 11);
    let overflow = users.series_with(&[(OVERFLOW_LABEL, "true")]).unwrap();
    assert_eq!(overflow.value.as_f64(), Some(90.0));
    assert_eq!(
        overflow.labels.len(),
        1,
        "overflow series carries only the marker"
    );
    assert_eq!(s.family("small").unwrap().series.len(), 3);
    assert_eq!(s.value(OVERFLOW_METRIC, &[("metric", "users")]), Some(90.0));
    assert_eq!(s.value(OVERFLOW_METRIC, &[("metric", "small")]), Some(98.0));
}

#[test]
fn snapshot_carries_every_kind_with_start_times() {
    let r = Registry::new();
    r.metric("c", "").counter_f64().unwrap().add(1.5);
    r.metric("u", "").up_down_counter().unwrap().add(-2);
    r.metric("g", "").gauge_i64().unwrap().set(-7);
    let h = r
        .histogram("h", "", Buckets::new([1.0, 2.0]).unwrap())
        .unwrap();
    h.observe(1.5);
    h.observe(9.0);
    let s = r.snapshot();
    assert_eq!(s.value("c", &[]), Some(1.5));
    assert_eq!(s.value("u", &[]), Some(-2.0));
    assert_eq!(s.family("u").unwrap().kind, MetricKind::UpDownCounter);
    assert_eq!(s.value("g", &[]), Some(-7.0));
    let hs = &s.family("h").unwrap().series[0];
    let SeriesValue::Histogram(d) = &hs.value else {
        panic!("not a histogram")
    };
    assert_eq!((d.count, d.sum, d.counts.clone()), (2, 10.5, vec![0, 1, 1]));
    assert!(hs.start <= s.time);
}

#[test]
fn global_registry_is_shared() {
    let c: Counter = tallyho::global().counter("global_test", "").unwrap();
    c.inc();
    assert_eq!(
        tallyho::global().counter("global_test", "").unwrap().get(),
        1
    );
    assert!(tallyho::set_global(Registry::new()).is_err());
}

#[test]
fn handles_and_registries_are_send_and_sync() {
    fn is<T: Send + Sync + Clone>() {}
    is::<Registry>();
    is::<tallyho::Family<Counter>>();
    is::<tallyho::Histogram>();
    is::<tallyho::Gauge>();
}

#[test]
fn otel_sdk_disabled_makes_noop_handles() {
    // The environment is a lookup: a map here, the process environment by default.
    let env = |k: &str| (k == "OTEL_SDK_DISABLED").then(|| " TRUE".to_string());
    let r = tallyho::Registry::builder()
        .enabled_from_env(&env)
        .build()
        .unwrap();
    assert!(!r.is_enabled());
    let c = r.counter("c", "").unwrap();
    c.inc();
    assert_eq!(c.get(), 0);
    for other in ["false", "1", "yes", ""] {
        let env = move |k: &str| (k == "OTEL_SDK_DISABLED").then(|| other.to_string());
        let r = tallyho::Registry::builder()
            .enabled_from_env(&env)
            .build()
            .unwrap();
        assert!(r.is_enabled(), "OTEL_SDK_DISABLED={other:?}");
    }
    // An explicit setting wins over the environment.
    let r = tallyho::Registry::builder()
        .enabled_from_env(&env)
        .enabled(true)
        .build()
        .unwrap();
    r.counter("c", "").unwrap().inc();
    assert_eq!(r.snapshot().value("c", &[]), Some(1.0));
}
