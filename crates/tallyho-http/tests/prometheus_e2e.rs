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
    let running = Endpoint::new(registry())
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
