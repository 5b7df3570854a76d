//! The Prometheus HTTP API over an in-memory storage: JSON shapes, every parameter error,
//! POST forms, auth, the concurrency bound and the request timeout.

mod common;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tallyho::Registry;
use tallyho_http::{Auth, Endpoint, QueryApi, Running};
use tallyho_query::{Engine, Labels, Matcher, RangeSeries, Sample, Storage, StorageError};

/// 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

/// `up` for two jobs and a counter, a sample every 15 s for 10 minutes from T0.
fn fixture() -> Vec<RangeSeries> {
    let every = |f: &dyn Fn(i64) -> f64| -> Vec<Sample> {
        (0..40)
            .map(|i| Sample {
                t: T0 + i * 15_000,
                v: f(i),
            })
            .collect()
    };
    vec![
        RangeSeries {
            labels: labels(&[("__name__", "up"), ("job", "api"), ("instance", "a:1")]),
            samples: every(&|_| 1.0),
        },
        RangeSeries {
            labels: labels(&[("__name__", "up"), ("job", "db"), ("instance", "b:2")]),
            samples: every(&|i| (i % 2) as f64),
        },
        RangeSeries {
            labels: labels(&[
                ("__name__", "requests_total"),
                ("job", "api"),
                ("path", "/x"),
            ]),
            samples: every(&|i| (i * 10) as f64),
        },
    ]
}

fn start(api: QueryApi, auth: Auth) -> Running {
    let registry = Registry::new();
    registry.counter("jobs", "Jobs processed.").unwrap().inc();
    Endpoint::new(registry)
        .auth(auth)
        .query_api(api)
        .spawn("127.0.0.1:0")
        .unwrap()
}

fn api_over(storage: impl Storage + 'static) -> QueryApi {
    QueryApi::new(Arc::new(storage), Engine::default())
}

/// GET `path`; (status, content type, parsed body).
fn get(r: &Running, path: &str) -> (u16, String, Value) {
    get_with(r, path, &[])
}

fn get_with(r: &Running, path: &str, headers: &[(&str, &str)]) -> (u16, String, Value) {
    let (status, hdrs, body) = common::get(&format!("http://{}{path}", r.local_addr()), headers);
    let ct = common::header(&hdrs, "content-type")
        .unwrap_or("")
        .to_string();
    let v = serde_json::from_slice(&body)
        .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, ct, v)
}

fn post_form(r: &Running, path: &str, form: &str) -> (u16, Value) {
    let url = format!("http://{}{path}", r.local_addr());
    let res = ureq::post(&url)
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(form);
    let res = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("POST {url}: {e}"),
    };
    let status = res.status();
    (
        status,
        serde_json::from_str(&res.into_string().unwrap()).unwrap(),
    )
}

fn assert_error(r: &Running, path: &str, status: u16, error_type: &str, contains: &str) {
    let (s, ct, v) = get(r, path);
    assert_eq!(s, status, "{path}: {v}");
    assert_eq!(ct, "application/json", "{path}");
    assert_eq!(v["status"], "error", "{path}: {v}");
    assert_eq!(v["errorType"], error_type, "{path}: {v}");
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains(contains), "{path}: {msg:?} lacks {contains:?}");
    assert!(v.get("data").is_none(), "{path}: {v}");
}

#[test]
fn series_labels_and_values_have_prometheus_shapes() {
    let r = start(api_over(fixture()), Auth::None);
    let (s, ct, v) = get(&r, "/api/v1/series?match[]=up");
    assert_eq!((s, ct.as_str()), (200, "application/json"));
    assert_eq!(
        v,
        json!({"status":"success","data":[
            {"__name__":"up","instance":"a:1","job":"api"},
            {"__name__":"up","instance":"b:2","job":"db"}]})
    );
    // Two selectors: the union, each series once.
    let (_, _, v) = get(
        &r,
        "/api/v1/series?match[]=up%7Bjob%3D%22db%22%7D&match[]=%7Bjob%3D~%22d.%22%7D&match[]=requests_total",
    );
    assert_eq!(v["data"].as_array().unwrap().len(), 2, "{v}");
    // A window before the data has nothing.
    let (_, _, v) = get(&r, "/api/v1/series?match[]=up&start=0&end=1000");
    assert_eq!(v, json!({"status":"success","data":[]}));

    let (_, _, v) = get(&r, "/api/v1/labels");
    assert_eq!(
        v,
        json!({"status":"success","data":["__name__","instance","job","path"]})
    );
    let (_, _, v) = get(&r, "/api/v1/labels?match[]=up");
    assert_eq!(v["data"], json!(["__name__", "instance", "job"]));
    let (_, _, v) = get(&r, "/api/v1/label/job/values");
    assert_eq!(v, json!({"status":"success","data":["api","db"]}));
    let (_, _, v) = get(&r, "/api/v1/label/__name__/values");
    assert_eq!(v["data"], json!(["requests_total", "up"]));
    let (_, _, v) = get(&r, "/api/v1/label/job/values?match[]=requests_total");
    assert_eq!(v["data"], json!(["api"]));
    let (_, _, v) = get(&r, "/api/v1/label/nope/values");
    assert_eq!(v, json!({"status":"success","data":[]}));
    // RFC 3339 times work as well as Unix seconds.
    let (_, _, v) = get(
        &r,
        "/api/v1/label/job/values?start=2023-11-14T22:13:20Z&end=2023-11-14T22:14:00.5Z",
    );
    assert_eq!(v["data"], json!(["api", "db"]));
}

#[test]
fn every_parameter_error_is_bad_data_with_prometheus_messages() {
    let r = start(api_over(fixture()), Auth::None);
    let cases: &[(&str, &str)] = &[
        (
            "/api/v1/query_range?query=up",
            r#"invalid parameter "start""#,
        ),
        (
            "/api/v1/query_range?query=up&start=1700000000",
            r#"invalid parameter "end""#,
        ),
        (
            "/api/v1/query_range?query=up&start=1700000600&end=1700000000&step=15",
            "end timestamp must not be before start time",
        ),
        (
            "/api/v1/query_range?query=up&start=1700000000&end=1700000600",
            r#"invalid parameter "step""#,
        ),
        (
            "/api/v1/query_range?query=up&start=1700000000&end=1700000600&step=0",
            "zero or negative query resolution step widths are not accepted",
        ),
        (
            "/api/v1/query_range?query=up&start=1700000000&end=1700000600&step=-5s",
            r#"invalid parameter "step""#,
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=1700000600&step=1",
            "exceeded maximum resolution of 11,000 points per timeseries",
        ),
        (
            "/api/v1/query_range?query=up&start=1700000000&end=1700000600&step=15&timeout=soon",
            r#"invalid parameter "timeout""#,
        ),
        (
            "/api/v1/query?query=up&time=yesterday",
            r#"invalid parameter "time": Invalid time value for 'time': cannot parse "yesterday""#,
        ),
        (
            "/api/v1/query?query=up&timeout=1x",
            r#"invalid parameter "timeout""#,
        ),
        ("/api/v1/series", "no match[] parameter provided"),
        (
            "/api/v1/series?match[]=up%7B",
            r#"invalid parameter "match[]""#,
        ),
        (
            "/api/v1/series?match[]=%7Bjob%3D~%22.*%22%7D",
            "at least one non-empty matcher",
        ),
        (
            "/api/v1/series?match[]=up&start=never",
            r#"invalid parameter "start""#,
        ),
        ("/api/v1/labels?end=x", r#"invalid parameter "end""#),
        ("/api/v1/labels?match[]=rate(up%5B5m%5D)", "series selector"),
        ("/api/v1/label/1bad/values", r#"invalid label name: "1bad""#),
        ("/api/v1/label/a-b/values", "invalid label name"),
        ("/api/v1/query?query=%zz", "error parsing form values"),
        ("/api/v1/metadata?limit=ten", "limit must be a number"),
        (
            "/api/v1/query_exemplars?query=up%7B",
            "unexpected end of input",
        ),
    ];
    for (path, contains) in cases {
        assert_error(&r, path, 400, "bad_data", contains);
    }
}

#[test]
fn post_forms_are_read_before_the_url_query() {
    let r = start(api_over(fixture()), Auth::None);
    let (s, v) = post_form(&r, "/api/v1/series", "match%5B%5D=up%7Bjob%3D%22api%22%7D");
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["data"],
        json!([{"__name__":"up","instance":"a:1","job":"api"}])
    );
    let (_, v) = post_form(&r, "/api/v1/labels?match[]=up", "match[]=requests_total");
    assert_eq!(v["data"], json!(["__name__", "instance", "job", "path"]));
    // The body's value comes first, as Go's FormValue takes it.
    let (s, v) = post_form(
        &r,
        "/api/v1/query_range?step=abc",
        "step=0&start=1&end=2&query=up",
    );
    assert_eq!(s, 400);
    assert!(
        v["error"].as_str().unwrap().contains("zero or negative"),
        "{v}"
    );
    // A body that is not a form is not read: the URL's parameters are all there is.
    let url = format!("http://{}/api/v1/series?match[]=up", r.local_addr());
    let res = ureq::post(&url)
        .set("Content-Type", "text/plain")
        .send_string("match[]=requests_total")
        .unwrap();
    let v: Value = serde_json::from_str(&res.into_string().unwrap()).unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2, "{v}");
    // Forms far larger than /metrics' 1 KiB body limit are read (Grafana POSTs long
    // queries); each repeated selector counts once.
    let long = vec!["match[]=up%7Bjob%3D%22api%22%7D"; 400].join("&");
    assert!(long.len() > 10_000);
    let (s, v) = post_form(&r, "/api/v1/series", &long);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    // Label values are GET only, as in Prometheus.
    let url = format!("http://{}/api/v1/label/job/values", r.local_addr());
    match ureq::post(&url).send_string("") {
        Err(ureq::Error::Status(405, _)) => {}
        other => panic!("POST label values: {other:?}"),
    }
}

#[test]
fn the_api_is_behind_the_endpoint_credentials() {
    let r = start(api_over(fixture()), Auth::basic("grafana", "s3cret"));
    for path in [
        "/api/v1/query?query=up",
        "/api/v1/series?match[]=up",
        "/api/v1/labels",
        "/api/v1/label/job/values",
        "/api/v1/status/buildinfo",
    ] {
        let (s, _, _) = get(&r, path);
        assert_eq!(s, 401, "{path}");
        let (s, _, _) = get_with(&r, path, &[("Authorization", "Basic Z3JhZmFuYTp3cm9uZw==")]);
        assert_eq!(s, 401, "{path} with a wrong password");
    }
    // grafana:s3cret
    let ok = [("Authorization", "Basic Z3JhZmFuYTpzM2NyZXQ=")];
    let (s, _, v) = get_with(&r, "/api/v1/label/job/values", &ok);
    assert_eq!(s, 200);
    assert_eq!(v["data"], json!(["api", "db"]));
}

#[test]
fn buildinfo_metadata_and_exemplars() {
    let r = start(api_over(fixture()), Auth::None);
    let (s, _, v) = get(&r, "/api/v1/status/buildinfo");
    assert_eq!(s, 200);
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["version"], "2.42.0");
    for key in ["revision", "branch", "buildUser", "buildDate", "goVersion"] {
        assert!(v["data"][key].is_string(), "{key}: {v}");
    }
    let (_, _, v) = get(&r, "/api/v1/metadata");
    assert_eq!(
        v["data"]["jobs_total"],
        json!([{"type":"counter","help":"Jobs processed.","unit":""}])
    );
    let (_, _, v) = get(&r, "/api/v1/metadata?metric=nope");
    assert_eq!(v, json!({"status":"success","data":{}}));
    let (_, _, v) = get(&r, "/api/v1/metadata?limit=0");
    assert_eq!(v["data"], json!({}));
    let (_, _, v) = get(
        &r,
        "/api/v1/query_exemplars?query=up&start=1700000000&end=1700000600",
    );
    assert_eq!(v, json!({"status":"success","data":[]}));
}

/// A storage whose look-ups take `delay`.
struct Slow {
    inner: Vec<RangeSeries>,
    delay: Duration,
}

impl Storage for Slow {
    fn select(&self, m: &[Matcher], s: i64, e: i64) -> Result<Vec<RangeSeries>, StorageError> {
        std::thread::sleep(self.delay);
        self.inner.select(m, s, e)
    }
    fn series(&self, m: &[Vec<Matcher>], s: i64, e: i64) -> Result<Vec<Labels>, StorageError> {
        std::thread::sleep(self.delay);
        self.inner.series(m, s, e)
    }
}

/// Fails every read, as a broken disk would.
struct Broken;

impl Storage for Broken {
    fn select(&self, _: &[Matcher], _: i64, _: i64) -> Result<Vec<RangeSeries>, StorageError> {
        Err(StorageError("chunk file 7 is truncated".into()))
    }
    fn series(&self, _: &[Vec<Matcher>], _: i64, _: i64) -> Result<Vec<Labels>, StorageError> {
        Err(StorageError("index is truncated".into()))
    }
}

#[test]
fn storage_failures_are_internal_errors() {
    let r = start(api_over(Broken), Auth::None);
    assert_error(
        &r,
        "/api/v1/series?match[]=up",
        500,
        "internal",
        "index is truncated",
    );
    assert_error(&r, "/api/v1/labels", 500, "internal", "index is truncated");
}

#[test]
fn concurrency_is_bounded_then_503() {
    let slow = Slow {
        inner: fixture(),
        delay: Duration::from_millis(1500),
    };
    let api = api_over(slow)
        .max_concurrency(1)
        .queue_timeout(Duration::from_millis(200));
    let r = start(api, Auth::None);
    let url = format!("http://{}/api/v1/series?match[]=up", r.local_addr());
    let first = std::thread::spawn(move || {
        ureq::get(&url)
            .call()
            .map(|r| r.status())
            .map_err(|e| e.to_string())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_error(
        &r,
        "/api/v1/labels",
        503,
        "unavailable",
        "too many concurrent queries",
    );
    assert_eq!(first.join().unwrap().unwrap(), 200);
    // The slot is free again.
    let (s, _, _) = get(&r, "/api/v1/labels");
    assert_eq!(s, 200);
}

#[test]
fn slow_queries_hit_the_request_timeout() {
    let slow = Slow {
        inner: fixture(),
        delay: Duration::from_millis(1500),
    };
    let r = Endpoint::new(Registry::new())
        .timeout(Duration::from_millis(300))
        .query_api(api_over(slow))
        .spawn("127.0.0.1:0")
        .unwrap();
    let (s, _, _) = get(&r, "/api/v1/labels");
    assert_eq!(s, 408);
}

/// Shapes of query results; these need the engine's evaluator.
#[test]
fn query_results_have_prometheus_shapes() {
    let r = start(api_over(fixture()), Auth::None);
    let (s, _, v) = get(
        &r,
        "/api/v1/query?query=up%7Bjob%3D%22api%22%7D&time=1700000100.5",
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"up","instance":"a:1","job":"api"},"value":[1700000100.5,"1"]}]}})
    );
    let (_, _, v) = get(&r, "/api/v1/query?query=1%2B1&time=1700000000");
    assert_eq!(
        v,
        json!({"status":"success","data":{"resultType":"scalar","result":[1700000000,"2"]}})
    );
    let (_, _, v) = get(&r, "/api/v1/query?query=%22hi%22&time=1700000000");
    assert_eq!(
        v["data"],
        json!({"resultType":"string","result":[1700000000,"hi"]})
    );
    let (_, _, v) = get(&r, "/api/v1/query?query=0%2F0&time=1700000000");
    assert_eq!(v["data"]["result"][1], "NaN");
    let (_, _, v) = get(&r, "/api/v1/query?query=-1%2F0&time=1700000000");
    assert_eq!(v["data"]["result"][1], "-Inf");
    let (_, _, v) = get(
        &r,
        "/api/v1/query?query=requests_total%5B30s%5D&time=1700000030",
    );
    assert_eq!(v["data"]["resultType"], "matrix");
    assert_eq!(
        v["data"]["result"][0]["values"],
        // Prometheus 2.x ranges include both ends.
        json!([[1700000000, "0"], [1700000015, "10"], [1700000030, "20"]])
    );
    let (s, _, v) = get(
        &r,
        "/api/v1/query_range?query=requests_total&start=1700000000&end=1700000030&step=15s",
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["data"],
        json!({"resultType":"matrix","result":[{
            "metric":{"__name__":"requests_total","job":"api","path":"/x"},
            "values":[[1700000000,"0"],[1700000015,"10"],[1700000030,"20"]]}]})
    );
    assert_error(
        &r,
        "/api/v1/query?query=up%7B",
        400,
        "bad_data",
        r#"invalid parameter "query""#,
    );
    assert_error(
        &r,
        "/api/v1/query",
        400,
        "bad_data",
        r#"invalid parameter "query""#,
    );
}

#[test]
fn health_extra_adds_keys_to_health() {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = calls.clone();
    let r = Endpoint::new(Registry::new())
        .health_extra(Arc::new(move || {
            let n = seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            json!({"history": {"series": 3, "calls": n}})
        }))
        .spawn("127.0.0.1:0")
        .unwrap();
    for n in 1..=2 {
        let (s, _, v) = get(&r, "/health");
        assert_eq!(s, 200);
        assert_eq!(v["status"], "ok", "{v}");
        assert_eq!(v["history"], json!({"series": 3, "calls": n}));
    }
    // Without a query API there is no /api/v1.
    let (s, _, _) = get(&r, "/api/v1/query?query=1");
    assert_eq!(s, 404);
}
