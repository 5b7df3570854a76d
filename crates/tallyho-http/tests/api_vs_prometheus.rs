//! Differential: the same samples are pushed to a real Prometheus 2.42 (remote write) and
//! held in an in-memory storage behind our API; the same requests must give the same JSON
//! (keys, types, value strings, ordering of series aside), the same status codes and the
//! same `errorType` (error texts may differ).

mod common;

use std::sync::Arc;
use std::time::SystemTime;

use common::prometheus::{self, Prometheus};
use serde_json::Value;
use tallyho::Registry;
use tallyho_export::remote_write::{encode, proto};
use tallyho_http::{Endpoint, QueryApi, Running};
use tallyho_query::{Engine, Labels, RangeSeries, Sample};

/// Samples every 15 s for 15 minutes from `base`.
const POINTS: i64 = 60;

/// Every series with its samples: gauges, a counter with a reset, awkward values and labels.
fn data(base: i64) -> Vec<RangeSeries> {
    let series = |pairs: &[(&str, &str)], f: &dyn Fn(i64) -> f64| RangeSeries {
        labels: Labels::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))),
        samples: (0..POINTS)
            .map(|i| Sample {
                t: base + i * 15_000,
                v: f(i),
            })
            .collect(),
    };
    vec![
        series(
            &[("__name__", "up"), ("job", "api"), ("instance", "a:1")],
            &|_| 1.0,
        ),
        series(
            &[("__name__", "up"), ("job", "db"), ("instance", "b:2")],
            &|i| (i % 2) as f64,
        ),
        series(
            &[
                ("__name__", "requests_total"),
                ("job", "api"),
                ("path", "/x"),
            ],
            &|i| {
                if i < 30 {
                    (i * 10) as f64
                } else {
                    ((i - 30) * 7) as f64
                }
            },
        ),
        series(
            &[
                ("__name__", "requests_total"),
                ("job", "db"),
                ("path", "/y"),
            ],
            &|i| (i * i) as f64 * 0.5,
        ),
        series(&[("__name__", "odd_values"), ("kind", "tiny")], &|_| 1.5e-7),
        series(&[("__name__", "odd_values"), ("kind", "huge")], &|_| 1e21),
        series(&[("__name__", "odd_values"), ("kind", "nan")], &|_| {
            f64::NAN
        }),
        series(&[("__name__", "odd_values"), ("kind", "inf")], &|_| {
            f64::INFINITY
        }),
        series(&[("__name__", "odd_values"), ("kind", "neg")], &|i| {
            -0.25 * i as f64
        }),
        series(
            &[
                ("__name__", "odd_values"),
                ("kind", "quote\"d <b>&\n ünï 🦀"),
            ],
            &|_| 0.1,
        ),
        // A histogram: cumulative buckets growing at different rates.
        series(&[("__name__", "lat_bucket"), ("le", "0.1")], &|i| {
            (i * 2) as f64
        }),
        series(&[("__name__", "lat_bucket"), ("le", "0.5")], &|i| {
            (i * 5) as f64
        }),
        series(&[("__name__", "lat_bucket"), ("le", "1")], &|i| {
            (i * 9) as f64
        }),
        series(&[("__name__", "lat_bucket"), ("le", "+Inf")], &|i| {
            (i * 10) as f64
        }),
    ]
}

fn push(prom: &Prometheus, data: &[RangeSeries]) {
    let request = proto::WriteRequest {
        timeseries: data
            .iter()
            .map(|s| proto::TimeSeries {
                labels: s
                    .labels
                    .iter()
                    .map(|(name, value)| proto::Label {
                        name: name.into(),
                        value: value.into(),
                    })
                    .collect(),
                samples: s
                    .samples
                    .iter()
                    .map(|p| proto::Sample {
                        value: p.v,
                        timestamp: p.t,
                    })
                    .collect(),
                histograms: vec![],
                exemplars: vec![],
            })
            .collect(),
        metadata: vec![],
    };
    let url = format!("http://127.0.0.1:{}/api/v1/write", prom.port);
    let res = ureq::post(&url)
        .set("Content-Encoding", "snappy")
        .set("Content-Type", "application/x-protobuf")
        .set("X-Prometheus-Remote-Write-Version", "0.1.0")
        .send_bytes(&encode(&request));
    match res {
        Ok(r) => assert!(r.status() / 100 == 2, "remote write: {}", r.status()),
        Err(e) => panic!("remote write to Prometheus: {e}"),
    }
}

struct Pair {
    prom: Prometheus,
    ours: Running,
    /// Base time of the samples, ms.
    base: i64,
}

fn setup() -> Pair {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Whole minutes, ending a minute ago: inside Prometheus' head block.
    let base = (now / 60_000) * 60_000 - 16 * 60_000;
    let prom = prometheus::start("global: {}\n", &["--web.enable-remote-write-receiver"]);
    prom.wait_ready();
    let data = data(base);
    push(&prom, &data);
    let ours = Endpoint::new(Registry::new())
        .query_api(QueryApi::new(Arc::new(data), Engine::default()))
        .spawn("127.0.0.1:0")
        .unwrap();
    Pair { prom, ours, base }
}

fn fetch(port: u16, path: &str) -> (u16, Value) {
    let url = format!("http://127.0.0.1:{port}{path}");
    let res = match ureq::get(&url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {url}: {e}"),
    };
    let status = res.status();
    let body = res.into_string().unwrap();
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"));
    (status, v)
}

/// Sorts the series of vector and matrix results by their labels: Prometheus' order for
/// aggregations is not defined.
fn normalize(mut v: Value) -> Value {
    v.as_object_mut().map(|o| o.remove("error"));
    let kind = v["data"]["resultType"].as_str().unwrap_or("").to_string();
    if kind == "vector" || kind == "matrix" {
        if let Some(result) = v["data"]["result"].as_array_mut() {
            result.sort_by_key(|s| s["metric"].to_string());
        }
    }
    v
}

fn encode_query(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'=' | b'&' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Asks both; the difference, with both answers, if any.
fn differs(pair: &Pair, path: &str) -> Option<String> {
    let encoded = encode_query(path).replace("%2F", "/").replace("%3F", "?");
    let (ps, pv) = fetch(pair.prom.port, &encoded);
    let (os, ov) = fetch(pair.ours.local_addr().port(), &encoded);
    let both = format!("{path}\n  prometheus {ps}: {pv}\n  tallyho    {os}: {ov}");
    let same = os == ps
        && (pv["status"] != "error" || ov["error"].is_string())
        && normalize(ov) == normalize(pv);
    (!same).then_some(both)
}

/// Asks both for every path; panics listing every difference.
fn all_same(pair: &Pair, paths: &[String]) {
    let diffs: Vec<String> = paths.iter().filter_map(|p| differs(pair, p)).collect();
    assert!(
        diffs.is_empty(),
        "{} of {} requests differ:\n{}",
        diffs.len(),
        paths.len(),
        diffs.join("\n")
    );
}

/// Seconds (with milliseconds) `offset_ms` after the first sample.
fn at(pair: &Pair, offset_ms: i64) -> String {
    let t = pair.base + offset_ms;
    format!("{}.{:03}", t / 1000, t % 1000)
}

#[test]
fn series_labels_and_parameter_errors_match_prometheus() {
    let pair = setup();
    let (s, e) = (at(&pair, 0), at(&pair, 900_000));
    let paths = [
        "/api/v1/series?match[]=up".to_string(),
        "/api/v1/series?match[]=odd_values".to_string(),
        "/api/v1/series?match[]=up{job=\"db\"}&match[]={__name__=~\"req.*\",path=\"/x\"}".into(),
        format!("/api/v1/series?match[]=up&start={s}&end={e}"),
        "/api/v1/series?match[]=nothing_here".into(),
        "/api/v1/labels".into(),
        "/api/v1/labels?match[]=requests_total".into(),
        "/api/v1/label/job/values".into(),
        "/api/v1/label/__name__/values".into(),
        "/api/v1/label/kind/values".into(),
        "/api/v1/label/kind/values?match[]=odd_values{kind!=\"nan\"}".into(),
        "/api/v1/label/absent/values".into(),
        // Errors.
        "/api/v1/query_range?query=up".into(),
        format!("/api/v1/query_range?query=up&start={s}"),
        format!("/api/v1/query_range?query=up&start={e}&end={s}&step=15"),
        format!("/api/v1/query_range?query=up&start={s}&end={e}"),
        format!("/api/v1/query_range?query=up&start={s}&end={e}&step=0"),
        format!("/api/v1/query_range?query=up&start={s}&end={e}&step=-1m"),
        format!("/api/v1/query_range?query=up&start=0&end={e}&step=1"),
        format!("/api/v1/query_range?query=up&start={s}&end={e}&step=15&timeout=x"),
        "/api/v1/query?query=up&time=yesterday".into(),
        "/api/v1/query?query=up&timeout=1x".into(),
        "/api/v1/series".into(),
        "/api/v1/series?match[]=up{".into(),
        "/api/v1/series?match[]=up&start=never".into(),
        "/api/v1/labels?end=x".into(),
        "/api/v1/label/1bad/values".into(),
        "/api/v1/metadata?limit=ten".into(),
    ];
    all_same(&pair, &paths);
}

#[test]
fn query_results_match_prometheus() {
    let pair = setup();
    let t = at(&pair, 600_123);
    let late = at(&pair, 900_000 + 301_000);
    let (s, e) = (at(&pair, 60_000), at(&pair, 840_000));
    let instant = [
        "up",
        "up{job=\"db\"}",
        "odd_values",
        "sum by (job) (up)",
        "count(up)",
        "rate(requests_total[5m])",
        "increase(requests_total[5m])",
        "requests_total[1m]",
        "1+1",
        "\"text\"",
        "time()",
        "up == 0",
        "abs(odd_values)",
        "topk(1, requests_total)",
        "vector(1)",
        "scalar(up{job=\"api\"})",
        "absent(nothing_here)",
        "label_replace(up, \"dst\", \"$1\", \"instance\", \"(.*):.*\")",
        "up + on(job) group_left requests_total",
        "up{",
        "sum(up",
        "nope(up)",
        "up + on() up",
        "histogram_quantile(0.9, rate(lat_bucket[5m]))",
        "histogram_quantile(0.5, sum by (le) (rate(lat_bucket[5m])))",
        "requests_total offset 5m",
        "count_over_time(up[5m])",
        "max_over_time(up[5m:1m])",
        "sort_desc(requests_total)",
        "up > bool 0",
        "-up",
        "avg_over_time(odd_values[2m])",
        "quantile(0.5, requests_total)",
        "count_values(\"v\", up)",
        "up unless up{job=\"db\"}",
        "rate(up[5m] @ end())",
    ];
    let mut paths: Vec<String> = instant
        .iter()
        .map(|q| format!("/api/v1/query?query={q}&time={t}"))
        .collect();
    paths.push(format!("/api/v1/query?query=up&time={late}"));
    for (q, step) in [
        ("up", "60"),
        ("rate(requests_total[2m])", "30s"),
        ("sum(up)", "1m30s"),
        ("odd_values", "2m"),
        ("up{", "60"),
        ("up + on() up", "60"),
    ] {
        paths.push(format!(
            "/api/v1/query_range?query={q}&start={s}&end={e}&step={step}"
        ));
    }
    all_same(&pair, &paths);
    // POST, as Grafana sends it.
    let form = format!("query=sum%28up%29&start={s}&end={e}&step=60");
    let post = |port: u16| -> Value {
        let url = format!("http://127.0.0.1:{port}/api/v1/query_range");
        let r = ureq::post(&url)
            .set("Content-Type", "application/x-www-form-urlencoded")
            .send_string(&form)
            .unwrap();
        serde_json::from_str(&r.into_string().unwrap()).unwrap()
    };
    assert_eq!(post(pair.ours.local_addr().port()), post(pair.prom.port));
}
