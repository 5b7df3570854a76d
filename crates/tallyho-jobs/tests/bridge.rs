//! A program instrumented only with the `metrics` crate's macros, recorded into tallyho.

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};
use tallyho::{Buckets, Registry};
use tallyho_jobs::bridge::REJECTED_METRIC;
use tallyho_jobs::TallyhoRecorder;

/// The "application": knows nothing about tallyho.
fn instrumented_app() {
    describe_counter!("http.requests", "HTTP requests handled.");
    describe_gauge!("queue.depth", Unit::Count, "Items waiting.");
    describe_histogram!("http.latency", Unit::Seconds, "Time to answer a request.");
    describe_gauge!("cache.size", Unit::Bytes, "Bytes held by the cache.");

    for _ in 0..3 {
        counter!("http.requests", "method" => "GET", "code" => "200").increment(1);
    }
    // Label order does not matter: keys are sorted.
    counter!("http.requests", "code" => "500", "method" => "POST").increment(2);
    let cached = counter!("http.requests", "method" => "GET", "code" => "200");
    cached.increment(10);
    cached.absolute(5); // never lowers a counter
    counter!("plain_total").absolute(42);

    gauge!("queue.depth").set(10.0);
    gauge!("queue.depth").increment(5.0);
    gauge!("queue.depth").decrement(3.0);
    gauge!("cache.size", "tier" => "l1").set(1024.0);

    for v in [0.003, 0.2, 0.2, 4.0] {
        histogram!("http.latency", "route" => "/users").record(v);
    }
    histogram!("batch.size").record(70.0);

    // A different key set than the first registration: rejected and counted.
    counter!("http.requests", "method" => "GET").increment(100);
    counter!("http.requests").increment(100);
    // Invalid names for tallyho: rejected and counted.
    counter!("bad-name").increment(1);
    // Described after first use: help is not applied (documented limitation).
    gauge!("late").set(1.0);
    describe_gauge!("late", "Too late.");
    gauge!("late").set(2.0);
}

#[test]
fn macros_record_into_the_registry() {
    let registry = Registry::new();
    let recorder = TallyhoRecorder::new(&registry)
        .buckets_for("batch.size", Buckets::new([10.0, 100.0]).unwrap());
    metrics::with_local_recorder(&recorder, instrumented_app);

    let s = registry.snapshot();

    let requests = s.family("http_requests").expect("http_requests");
    assert_eq!(requests.help, "HTTP requests handled.");
    assert_eq!(requests.unit, "");
    assert_eq!(requests.series.len(), 2);
    assert_eq!(
        s.value("http_requests", &[("method", "GET"), ("code", "200")]),
        Some(13.0)
    );
    assert_eq!(
        s.value("http_requests", &[("method", "POST"), ("code", "500")]),
        Some(2.0)
    );
    // Label names are the sorted keys.
    let labels: Vec<&str> = requests.series[0]
        .labels
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(labels, ["code", "method"]);
    // `plain_total` is the counter `plain` (tallyho strips `_total`).
    assert_eq!(s.value("plain", &[]), Some(42.0));

    let depth = s.family("queue_depth").unwrap();
    assert_eq!(depth.help, "Items waiting.");
    assert_eq!(depth.unit, "", "Unit::Count has no unit");
    assert_eq!(s.value("queue_depth", &[]), Some(12.0));

    let cache = s
        .family("cache_size_bytes")
        .expect("unit appended to the name");
    assert_eq!(cache.unit, "bytes");
    assert_eq!(s.value("cache_size_bytes", &[("tier", "l1")]), Some(1024.0));

    let latency = s.family("http_latency_seconds").expect("seconds unit");
    assert_eq!(latency.unit, "seconds");
    assert_eq!(latency.help, "Time to answer a request.");
    let h = latency
        .series_with(&[("route", "/users")])
        .unwrap()
        .value
        .as_histogram()
        .unwrap();
    assert_eq!(h.count, 4);
    assert!((h.sum - 4.403).abs() < 1e-9);
    assert_eq!(h.bounds, Buckets::default_seconds().bounds());

    let batch = s.family("batch_size").unwrap().series[0]
        .value
        .as_histogram()
        .unwrap()
        .clone();
    assert_eq!(batch.bounds, vec![10.0, 100.0]);
    assert_eq!(batch.counts, vec![0, 1, 0]);

    assert_eq!(
        s.value(REJECTED_METRIC, &[("metric", "http.requests")]),
        Some(2.0)
    );
    assert_eq!(
        s.value(REJECTED_METRIC, &[("metric", "bad-name")]),
        Some(1.0)
    );

    let late = s.family("late").unwrap();
    assert_eq!(late.help, "");
    assert_eq!(s.value("late", &[]), Some(2.0));

    // End to end: the Prometheus text format.
    let mut out = Vec::new();
    tallyho_encode::prometheus::encode(&mut out, &registry).unwrap();
    let text = String::from_utf8(out).unwrap();
    for line in [
        "# HELP http_requests_total HTTP requests handled.",
        "# TYPE http_requests_total counter",
        "http_requests_total{code=\"200\",method=\"GET\"} 13",
        "http_requests_total{code=\"500\",method=\"POST\"} 2",
        "# TYPE queue_depth gauge",
        "queue_depth 12",
        "# UNIT cache_size_bytes bytes",
        "cache_size_bytes{tier=\"l1\"} 1024",
        "# TYPE http_latency_seconds histogram",
        "http_latency_seconds_bucket{route=\"/users\",le=\"0.005\"} 1",
        "http_latency_seconds_bucket{route=\"/users\",le=\"+Inf\"} 4",
        "http_latency_seconds_count{route=\"/users\"} 4",
        "tallyho_metrics_bridge_rejected_total{metric=\"http.requests\"} 2",
    ] {
        if line.starts_with("# UNIT") {
            continue; // Prometheus 0.0.4 text has no UNIT line
        }
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn dotted_label_keys_and_many_labels() {
    let registry = Registry::new();
    let recorder = TallyhoRecorder::new(&registry);
    metrics::with_local_recorder(&recorder, || {
        counter!("otel.style", "http.method" => "GET").increment(1);
        counter!(
            "wide",
            "k9" => "9", "k1" => "1", "k2" => "2", "k3" => "3", "k4" => "4",
            "k5" => "5", "k6" => "6", "k7" => "7", "k8" => "8", "k0" => "0"
        )
        .increment(3);
        counter!(
            "wide",
            "k0" => "0", "k1" => "1", "k2" => "2", "k3" => "3", "k4" => "4",
            "k5" => "5", "k6" => "6", "k7" => "7", "k8" => "8", "k9" => "9"
        )
        .increment(4);
    });
    let s = registry.snapshot();
    assert_eq!(s.value("otel_style", &[("http_method", "GET")]), Some(1.0));
    assert_eq!(s.value("wide", &[("k0", "0"), ("k9", "9")]), Some(7.0));
    assert_eq!(s.family("wide").unwrap().series.len(), 1);
}

#[test]
fn concurrent_macros_are_exact() {
    let registry = Registry::new();
    let recorder = std::sync::Arc::new(TallyhoRecorder::new(&registry));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let r = recorder.clone();
            std::thread::spawn(move || {
                metrics::with_local_recorder(&*r, || {
                    for i in 0..10_000u64 {
                        let shard = if i % 2 == 0 { "a" } else { "b" };
                        counter!("events", "shard" => shard).increment(1);
                        gauge!("g", "t" => t.to_string()).increment(1.0);
                    }
                });
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = registry.snapshot();
    assert_eq!(s.value("events", &[("shard", "a")]), Some(20_000.0));
    assert_eq!(s.value("events", &[("shard", "b")]), Some(20_000.0));
    assert_eq!(s.value("g", &[("t", "3")]), Some(10_000.0));
}

#[test]
fn same_name_for_two_types_is_rejected_not_panicking() {
    let registry = Registry::new();
    let recorder = TallyhoRecorder::new(&registry);
    metrics::with_local_recorder(&recorder, || {
        counter!("dual").increment(1);
        gauge!("dual").set(5.0);
    });
    let s = registry.snapshot();
    assert_eq!(s.value("dual", &[]), Some(1.0));
    assert_eq!(s.value(REJECTED_METRIC, &[("metric", "dual")]), Some(1.0));
}

#[test]
fn install_sets_the_global_recorder() {
    let registry = Registry::new();
    TallyhoRecorder::new(&registry).install().unwrap();
    // Run on a fresh thread: no local recorder there.
    std::thread::spawn(|| counter!("global_hits").increment(7))
        .join()
        .unwrap();
    assert_eq!(registry.snapshot().value("global_hits", &[]), Some(7.0));
    assert!(TallyhoRecorder::new(&Registry::new()).install().is_err());
}
