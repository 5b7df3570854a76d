//! End to end with a real Prometheus (Debian package `prometheus`; scripts/test.sh installs
//! it): Prometheus scrapes a tallyho endpoint on 127.0.0.1 every second, and the values,
//! a `histogram_quantile` and hostile label values are read back through its query API.

mod common;

use common::prometheus::{start, Prometheus};
use common::*;
use serde_json::Value;
use tallyho_http::{Auth, Endpoint};

fn encode_query(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `data.result` of an instant query.
fn query(prom: &Prometheus, q: &str) -> Vec<Value> {
    let url = format!(
        "http://127.0.0.1:{}/api/v1/query?query={}",
        prom.port,
        encode_query(q)
    );
    let (status, _, body) = get(&url, &[]);
    assert_eq!(status, 200, "{q}: {}", String::from_utf8_lossy(&body));
    let v: Value = serde_json::from_slice(&body).unwrap();
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

fn value(sample: &Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

#[test]
fn prometheus_scrapes_exact_values_with_basic_auth() {
    let registry = registry();
    // OpenMetrics info and stateset, which Prometheus reads from the OpenMetrics text it
    // negotiates (and would read as gauges from its own text format).
    registry
        .info("e2e_build", "Build.", &[("version", "1.2.3")])
        .unwrap();
    let phase = registry
        .metric("e2e_phase", "Phase.")
        .stateset_family(&["pool"], &["starting", "running"])
        .unwrap();
    phase.with(&["a"]).set("running");
    let waiting = registry
        .metric("e2e_wait", "Waiting.")
        .buckets(tallyho::Buckets::new([1.0]).unwrap())
        .gauge_histogram()
        .unwrap();
    for v in [0.5, 3.0, 4.0] {
        waiting.add(v);
    }
    let rpc = registry.metric("e2e_rpc", "RPC time.").summary().unwrap();
    for v in 1..=100 {
        rpc.observe(f64::from(v));
    }
    let rpc_median = rpc.read_now().unwrap().quantiles[0].1;
    let running = Endpoint::new(registry)
        .auth(Auth::basic("prom", "pa:ss"))
        .spawn("127.0.0.1:0")
        .unwrap();
    let target = running.local_addr();
    let config = format!(
        r#"global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tallyho
    static_configs: [{{ targets: ["{target}"] }}]
    basic_auth: {{ username: prom, password: "pa:ss" }}
  - job_name: noauth
    static_configs: [{{ targets: ["{target}"] }}]
"#
    );
    let prom = start(&config, &[]);
    prom.wait_for("Prometheus to answer and scrape", || {
        let url = format!("http://127.0.0.1:{}/api/v1/query?query=up", prom.port);
        match ureq::get(&url).call() {
            Ok(_) => {
                let up = query(&prom, r#"up{job="tallyho"}"#);
                up.first().is_some_and(|s| value(s) == 1.0)
            }
            Err(_) => false,
        }
    });
    // Wait until the histogram samples are there as well (same scrape, but be exact).
    prom.wait_for("the first full scrape", || {
        !query(&prom, r#"job_duration_seconds_count{job="tallyho"}"#).is_empty()
    });

    let jobs = query(&prom, r#"jobs_total{job="tallyho"}"#);
    assert_eq!(jobs.len(), 1);
    assert_eq!(value(&jobs[0]), 42.0);
    assert_eq!(jobs[0]["metric"]["service"], "e2e");
    let depth = query(&prom, r#"queue_depth{job="tallyho"}"#);
    assert_eq!(value(&depth[0]), -7.5);
    assert_eq!(
        value(&query(&prom, r#"job_duration_seconds_sum{job="tallyho"}"#)[0]),
        6.0
    );
    // Cumulative buckets 2, 5, 9, 10, 10 at 0.1, 0.5, 1, 5, +Inf: rank 7.5 lies in (0.5, 1]
    // at (7.5 - 5) / 4 of the way: 0.8125.
    let q = query(
        &prom,
        r#"histogram_quantile(0.75, job_duration_seconds_bucket{job="tallyho"})"#,
    );
    assert!((value(&q[0]) - 0.8125).abs() < 1e-12, "{q:?}");

    let build = query(&prom, r#"e2e_build_info{job="tallyho"}"#);
    assert_eq!(build.len(), 1, "{build:?}");
    assert_eq!(value(&build[0]), 1.0);
    assert_eq!(build[0]["metric"]["version"], "1.2.3");
    let states = query(&prom, r#"e2e_phase{job="tallyho",pool="a"}"#);
    let mut got: Vec<(String, f64)> = states
        .iter()
        .map(|s| {
            (
                s["metric"]["e2e_phase"].as_str().unwrap().to_owned(),
                value(s),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        [("running".to_owned(), 1.0), ("starting".to_owned(), 0.0)]
    );

    let gcount = query(&prom, r#"e2e_wait_gcount{job="tallyho"}"#);
    assert_eq!(value(&gcount[0]), 3.0, "{gcount:?}");
    assert_eq!(
        value(&query(&prom, r#"e2e_wait_gsum{job="tallyho"}"#)[0]),
        7.5
    );
    let low = query(&prom, r#"e2e_wait_bucket{job="tallyho",le="1.0"}"#);
    assert_eq!(value(&low[0]), 1.0, "{low:?}");

    assert_eq!(
        value(&query(&prom, r#"e2e_rpc_count{job="tallyho"}"#)[0]),
        100.0
    );
    assert_eq!(
        value(&query(&prom, r#"e2e_rpc_sum{job="tallyho"}"#)[0]),
        5050.0
    );
    let median = query(&prom, r#"e2e_rpc{job="tallyho",quantile="0.5"}"#);
    assert_eq!(value(&median[0]), rpc_median, "{median:?}");
    assert!((rpc_median - 50.0).abs() / 50.0 < 0.01);

    let requests = query(&prom, r#"requests_total{job="tallyho"}"#);
    assert_eq!(requests.len(), HOSTILE.len());
    for (i, v) in HOSTILE.iter().enumerate() {
        let found = requests.iter().find(|s| {
            let path = &s["metric"]["path"];
            // Prometheus drops empty labels: an empty value means the label is absent.
            if v.is_empty() {
                path.is_null()
            } else {
                path == *v
            }
        });
        let found = found.unwrap_or_else(|| panic!("label value {v:?} not found in {requests:?}"));
        assert_eq!(value(found), (i + 1) as f64, "{v:?}");
    }

    // Without credentials the scrape fails and no data leaks.
    prom.wait_for("the unauthenticated job to report down", || {
        query(&prom, r#"up{job="noauth"}"#)
            .first()
            .is_some_and(|s| value(s) == 0.0)
    });
    assert!(query(&prom, r#"jobs_total{job="noauth"}"#).is_empty());
    let (status, _, _) = get(&format!("http://{target}/metrics"), &[]);
    assert_eq!(status, 401);
}

/// Native histograms: Prometheus run with `--enable-feature=native-histograms` asks for
/// the protobuf exposition and stores an exponential histogram as one native histogram,
/// whose count, sum and quantiles its own functions then compute.
#[test]
fn prometheus_scrapes_exponential_histograms_as_native_histograms() {
    let r = tallyho::Registry::new();
    let h = r
        .metric("rtt", "Round trips.")
        .unit("seconds")
        .exponential_histogram()
        .unwrap();
    let classic = r.counter("pings", "Pings sent.").unwrap();
    // 1,000 values between 10 ms and 20 ms, deterministic.
    let mut values: Vec<f64> = (0..1000)
        .map(|i| 0.010 + 0.010 * f64::from(i * 7919 % 1000) / 1000.0)
        .collect();
    for &v in &values {
        h.observe(v);
    }
    classic.add(5);
    values.sort_by(f64::total_cmp);
    let running = Endpoint::new(r).spawn("127.0.0.1:0").unwrap();
    let target = running.local_addr();
    let config = format!(
        r#"global:
  scrape_interval: 1s
scrape_configs:
  - job_name: native
    static_configs: [{{ targets: ["{target}"] }}]
"#
    );
    let prom = start(&config, &["--enable-feature=native-histograms"]);
    prom.wait_for("a scrape with the native histogram", || {
        let url = format!("http://127.0.0.1:{}/api/v1/query?query=up", prom.port);
        ureq::get(&url).call().is_ok() && !query(&prom, "histogram_count(rtt_seconds)").is_empty()
    });
    assert_eq!(
        value(&query(&prom, "histogram_count(rtt_seconds)")[0]),
        1000.0
    );
    let sum = value(&query(&prom, "histogram_sum(rtt_seconds)")[0]);
    let want_sum: f64 = values.iter().sum();
    assert!((sum - want_sum).abs() < 1e-9, "{sum} against {want_sum}");
    // No classic series were made from it: the native histogram is one series.
    assert!(query(&prom, "rtt_seconds_bucket").is_empty());
    assert_eq!(value(&query(&prom, "pings_total")[0]), 5.0);
    // Quantiles by Prometheus' own interpolation, against the exact ones: within one
    // bucket's width at the schema sent (data within a factor of 2: schema >= 7).
    let bound = 2f64.powf(2f64.powi(-7)) - 1.0;
    for q in [0.1, 0.5, 0.9, 0.99] {
        let got = value(&query(&prom, &format!("histogram_quantile({q}, rtt_seconds)"))[0]);
        let want = values[(q * 999.0) as usize];
        let err = ((got - want) / want).abs();
        assert!(
            err <= bound,
            "q {q}: Prometheus says {got}, exact {want} (error {err})"
        );
    }
}

/// Exemplars: Prometheus run with `--enable-feature=exemplar-storage` scrapes the
/// OpenMetrics exposition and keeps each exemplar with its trace and span ids, value and
/// timestamp, which its `query_exemplars` API then returns.
#[test]
fn prometheus_stores_the_exemplars_it_scrapes() {
    use tallyho::TraceContext;
    let r = tallyho::Registry::new();
    let took = r
        .histogram(
            "took_seconds",
            "Took.",
            tallyho::Buckets::new([0.1, 1.0]).unwrap(),
        )
        .unwrap();
    let jobs = r.counter("jobs", "Jobs.").unwrap();
    let a = TraceContext::from_hex("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7").unwrap();
    let b = TraceContext::from_hex("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331").unwrap();
    took.observe_with_exemplar(0.05, Some(a));
    took.observe_with_exemplar(0.5, Some(b));
    jobs.add_with_exemplar(4, Some(b));
    let running = Endpoint::new(r).spawn("127.0.0.1:0").unwrap();
    let target = running.local_addr();
    let config = format!(
        r#"global:
  scrape_interval: 1s
scrape_configs:
  - job_name: exemplars
    static_configs: [{{ targets: ["{target}"] }}]
"#
    );
    let prom = start(&config, &["--enable-feature=exemplar-storage"]);
    prom.wait_ready();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exemplars = |q: &str| -> Vec<Value> {
        let url = format!(
            "http://127.0.0.1:{}/api/v1/query_exemplars?query={}&start={}&end={}",
            prom.port,
            encode_query(q),
            now - 600,
            now + 600
        );
        let (status, _, body) = get(&url, &[]);
        if status != 200 {
            return Vec::new();
        }
        let v: Value = serde_json::from_slice(&body).unwrap();
        v["data"].as_array().cloned().unwrap_or_default()
    };
    prom.wait_for("a scrape with exemplars", || {
        exemplars("took_seconds_bucket").len() == 2 && !exemplars("jobs_total").is_empty()
    });
    let buckets = exemplars("took_seconds_bucket");
    let of = |le: &str| {
        buckets
            .iter()
            .find(|s| s["seriesLabels"]["le"] == le)
            .unwrap_or_else(|| panic!("no exemplar for le={le}: {buckets:?}"))["exemplars"][0]
            .clone()
    };
    let want = |e: &Value, t: &TraceContext, v: &str, kept: tallyho::Exemplar| {
        assert_eq!(e["labels"]["trace_id"], t.trace_id_hex().as_str(), "{e}");
        assert_eq!(e["labels"]["span_id"], t.span_id_hex().as_str(), "{e}");
        assert_eq!(e["value"], v, "{e}");
        // Prometheus keeps milliseconds.
        let ms = kept
            .time
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as f64;
        let got = e["timestamp"].as_f64().unwrap() * 1000.0;
        assert!((got - ms).abs() <= 1.0, "{e}: {got} ms vs {ms} ms");
    };
    let kept = took.exemplars();
    want(&of("0.1"), &a, "0.05", kept[0].unwrap());
    want(&of("1.0"), &b, "0.5", kept[1].unwrap());
    let counter = exemplars("jobs_total");
    want(
        &counter[0]["exemplars"][0],
        &b,
        "4",
        jobs.exemplar().unwrap(),
    );
}

/// The protobuf exposition carries exemplars too: Prometheus run with native histograms
/// (so it asks for protobuf) and exemplar storage keeps a counter's and a classic bucket's
/// exemplar, and scrapes an exponential histogram with exemplars as a native histogram.
#[test]
fn prometheus_reads_exemplars_from_the_protobuf_exposition() {
    use tallyho::TraceContext;
    let r = tallyho::Registry::new();
    let jobs = r.counter("pjobs", "Jobs.").unwrap();
    let took = r
        .histogram(
            "ptook_seconds",
            "Took.",
            tallyho::Buckets::new([0.1, 1.0]).unwrap(),
        )
        .unwrap();
    let rtt = r
        .metric("prtt", "Round trips.")
        .unit("seconds")
        .exponential_histogram()
        .unwrap();
    let a = TraceContext::from_hex("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7").unwrap();
    let b = TraceContext::from_hex("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331").unwrap();
    jobs.add_with_exemplar(2, Some(a));
    took.observe_with_exemplar(0.05, Some(b));
    for i in 0..100 {
        rtt.observe_with_exemplar(0.010 + f64::from(i) * 0.0001, Some(a));
    }
    assert!(!rtt.exemplars().is_empty());
    let running = Endpoint::new(r).spawn("127.0.0.1:0").unwrap();
    let target = running.local_addr();
    let config = format!(
        r#"global:
  scrape_interval: 1s
scrape_configs:
  - job_name: protobuf_exemplars
    static_configs: [{{ targets: ["{target}"] }}]
"#
    );
    let prom = start(
        &config,
        &[
            "--enable-feature=native-histograms",
            "--enable-feature=exemplar-storage",
        ],
    );
    prom.wait_ready();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exemplars = |q: &str| -> Vec<Value> {
        let url = format!(
            "http://127.0.0.1:{}/api/v1/query_exemplars?query={}&start={}&end={}",
            prom.port,
            encode_query(q),
            now - 600,
            now + 600
        );
        let (status, _, body) = get(&url, &[]);
        if status != 200 {
            return Vec::new();
        }
        let v: Value = serde_json::from_slice(&body).unwrap();
        v["data"].as_array().cloned().unwrap_or_default()
    };
    prom.wait_for("a protobuf scrape with exemplars", || {
        !exemplars("pjobs_total").is_empty()
            && !exemplars("ptook_seconds_bucket").is_empty()
            && !query(&prom, "histogram_count(prtt_seconds)").is_empty()
    });
    let c = &exemplars("pjobs_total")[0]["exemplars"][0];
    assert_eq!(c["labels"]["trace_id"], a.trace_id_hex().as_str(), "{c}");
    assert_eq!(c["value"], "2", "{c}");
    let h = exemplars("ptook_seconds_bucket");
    assert_eq!(h[0]["seriesLabels"]["le"], "0.1", "{h:?}");
    assert_eq!(
        h[0]["exemplars"][0]["labels"]["span_id"],
        b.span_id_hex().as_str()
    );
    // The native histogram arrived whole beside its exemplars.
    assert_eq!(
        value(&query(&prom, "histogram_count(prtt_seconds)")[0]),
        100.0
    );
}
