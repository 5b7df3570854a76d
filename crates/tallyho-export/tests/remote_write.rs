//! Prometheus remote write against a real Prometheus (started here, on 127.0.0.1, with
//! `--web.enable-remote-write-receiver`) read back with PromQL, and against a fake
//! std-only server for headers, status codes and timeouts.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use prost::Message as _;
use serde_json::Value;
use tallyho::{Buckets, Registry};
use tallyho_encode::number::unix_millis;
use tallyho_export::remote_write::proto::{Label, MetricType, WriteRequest};
use tallyho_export::remote_write::{self, BuildError, RemoteWriteExporter};
use tallyho_export::{Batch, Exporter, Pipeline, Temporality};

mod common;
use common::*;

// ---------------------------------------------------------------------------------------
// Helpers: temp dirs, free ports, a child-process guard, a fake HTTP server.

/// A Prometheus server on 127.0.0.1, killed (and its data removed) on drop.
struct Prometheus {
    child: Child,
    port: u16,
    // Dropped after the child is killed (fields drop after `Drop::drop`).
    dir: TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus with no scrape jobs and the remote write receiver on, and waits
    /// (up to 60 s) for `/-/ready`.
    fn start() -> Prometheus {
        let mut last_log = String::new();
        // A port picked free may be taken before Prometheus binds it: try a few.
        for _ in 0..3 {
            let dir = TempDir::new("prometheus");
            let config = dir.0.join("prometheus.yml");
            std::fs::write(
                &config,
                "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
            )
            .unwrap();
            let log = std::fs::File::create(dir.0.join("log")).unwrap();
            let port = free_port();
            let child = Command::new("prometheus")
                .arg("--web.enable-remote-write-receiver")
                .arg("--enable-feature=native-histograms")
                .arg("--enable-feature=exemplar-storage")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.0.join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--log.level=warn")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("cannot start `prometheus`: is it installed?");
            let mut server = Prometheus { child, port, dir };
            match wait_ready(&mut server.child, port) {
                Ok(()) => return server,
                Err(e) => {
                    last_log = std::fs::read_to_string(server.dir.0.join("log")).unwrap_or(e);
                }
            }
        }
        panic!("prometheus did not become ready:\n{last_log}");
    }

    fn write_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v1/write", self.port)
    }

    /// Runs an instant query at `time` (seconds) and returns the `result` array.
    fn query(&self, promql: &str, time: Option<f64>) -> Vec<Value> {
        let mut url = format!(
            "http://127.0.0.1:{}/api/v1/query?query={}",
            self.port,
            percent(promql)
        );
        if let Some(t) = time {
            url.push_str(&format!("&time={t:.3}"));
        }
        let body = ureq::get(&url)
            .call()
            .unwrap_or_else(|e| panic!("query {promql}: {e}"))
            .into_string()
            .unwrap();
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["status"], "success", "{body}");
        json["data"]["result"].as_array().unwrap().clone()
    }

    /// The single value of an instant query.
    fn value(&self, promql: &str, time: Option<f64>) -> String {
        let result = self.query(promql, time);
        assert_eq!(result.len(), 1, "{promql} → {result:?}");
        result[0]["value"][1].as_str().unwrap().to_owned()
    }
}

/// Polls `/-/ready` until 200, the child exits, or 60 s pass.
fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(2))
        .build();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Err(format!("exited with {status}"));
        }
        if let Ok(r) = agent
            .get(&format!("http://127.0.0.1:{port}/-/ready"))
            .call()
        {
            if r.status() == 200 {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err("not ready after 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn seconds(t: SystemTime) -> f64 {
    unix_millis(t) as f64 / 1000.0
}

/// The body of a request as the `WriteRequest` it carries.
fn write_request(seen: &Seen) -> WriteRequest {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&seen.body)
        .expect("body is block snappy");
    WriteRequest::decode(raw.as_slice()).expect("body is a WriteRequest")
}

fn exporter(url: &str) -> RemoteWriteExporter {
    RemoteWriteExporter::builder()
        .url(url)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Against Prometheus.

const ODD: &str = "say \"hi\" \\ 온도 ✓";

#[test]
fn prometheus_stores_what_is_pushed_and_promql_reads_it_back() {
    let prometheus = Prometheus::start();

    let registry = Registry::builder()
        .constant_label("service", "billing")
        .build()
        .unwrap();
    let jobs = registry.counter("rw_jobs", "Jobs run.").unwrap();
    let temperature = registry.gauge("rw_temperature", "Temperature.").unwrap();
    let energy = registry
        .metric("rw_energy", "Energy used.")
        .unit("joules")
        .counter_f64()
        .unwrap();
    let queue = registry
        .metric("rw_queue_depth", "Items waiting.")
        .up_down_counter()
        .unwrap();
    let requests = registry
        .metric("rw_requests", "Requests, by path.")
        .counter_family(&["path"])
        .unwrap();
    let latency = registry
        .metric("rw_latency", "Latency.")
        .unit("seconds")
        .buckets(Buckets::new([0.25, 0.5, 1.0, 1e6]).unwrap())
        .histogram()
        .unwrap();
    jobs.add(7);
    temperature.set(-3.5);
    energy.add(1.25);
    queue.add(-4);
    requests.with(&[ODD]).add(2);
    requests.with(&["/plain"]).add(5);
    for v in [0.0625, 0.375, 0.375, 0.75, 2.0] {
        latency.observe(v);
    }

    // Through the pipeline: flush waits until the exporter is done.
    let pipeline = Pipeline::builder(registry.clone())
        .interval(Duration::from_secs(3600))
        .exporter(exporter(&prometheus.write_url()))
        .start()
        .unwrap();
    assert!(pipeline.flush(Duration::from_secs(15)));
    let pushed = SystemTime::now();
    let now = Some(seconds(pushed));

    let result = prometheus.query("rw_jobs_total", now);
    assert_eq!(result.len(), 1, "{result:?}");
    assert_eq!(
        result[0]["metric"],
        // `instance` is the host's name by default (issue 16, item 11; before: absent).
        serde_json::json!({
            "__name__": "rw_jobs_total",
            "instance": std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim(),
            "service": "billing"
        })
    );
    assert_eq!(result[0]["value"][1], "7");
    assert_eq!(prometheus.value("rw_temperature", now), "-3.5");
    assert_eq!(prometheus.value("rw_energy_joules_total", now), "1.25");
    assert_eq!(prometheus.value("rw_queue_depth", now), "-4");
    // The pipeline's own counters travel too.
    assert_eq!(
        prometheus.value(
            r#"tallyho_export_dropped_total{exporter="remote_write"}"#,
            now
        ),
        "0"
    );

    // Label values arrive byte for byte, quotes, backslash and non-ASCII included.
    let mut paths: BTreeMap<String, String> = BTreeMap::new();
    for r in prometheus.query("rw_requests_total", now) {
        paths.insert(
            r["metric"]["path"].as_str().unwrap().to_owned(),
            r["value"][1].as_str().unwrap().to_owned(),
        );
    }
    let expected: BTreeMap<String, String> = [(ODD, "2"), ("/plain", "5")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(paths, expected);
    assert_eq!(
        prometheus.value(r#"rw_requests_total{path="say \"hi\" \\ 온도 ✓"}"#, now),
        "2"
    );

    // Histogram: cumulative buckets with `le` as Prometheus spells it, sum, count.
    let mut buckets: BTreeMap<String, String> = BTreeMap::new();
    for r in prometheus.query("rw_latency_seconds_bucket", now) {
        buckets.insert(
            r["metric"]["le"].as_str().unwrap().to_owned(),
            r["value"][1].as_str().unwrap().to_owned(),
        );
    }
    let expected: BTreeMap<String, String> = [
        ("0.25", "1"),
        ("0.5", "3"),
        ("1", "4"),
        ("1e+06", "5"),
        ("+Inf", "5"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(buckets, expected);
    assert_eq!(prometheus.value("rw_latency_seconds_sum", now), "3.5625");
    assert_eq!(prometheus.value("rw_latency_seconds_count", now), "5");
    // Rank 2.5 falls in (0.25, 0.5] holding observations 2..3: 0.25 + 0.25 × 1.5/2.
    assert_eq!(
        prometheus.value(
            "histogram_quantile(0.5, sum by (le) (rw_latency_seconds_bucket))",
            now
        ),
        "0.4375"
    );
    // Rank 4.5 falls in (1, 1e6] holding observation 5: 1 + (1e6 - 1) × 0.5.
    assert_eq!(
        prometheus.value("histogram_quantile(0.9, rw_latency_seconds_bucket)", now),
        "500000.5"
    );
    drop(pipeline);

    // Directly: the sample carries the batch's end, to the millisecond.
    jobs.add(3);
    // The pipeline's final export on drop carries its own timestamp; a new sample in the
    // same millisecond would be a "duplicate sample for timestamp" to Prometheus.
    std::thread::sleep(Duration::from_millis(5));
    let batch = batch_of(&registry);
    let mut direct = exporter(&prometheus.write_url());
    direct.export(&batch).unwrap();
    let end = Some(seconds(batch.end));
    assert_eq!(prometheus.value("rw_jobs_total", end), "10");
    assert_eq!(
        prometheus.value("timestamp(rw_jobs_total)", end),
        format!("{:.3}", seconds(batch.end))
            .trim_end_matches('0')
            .trim_end_matches('.')
    );
    // Just before the new sample, the old one is still the latest.
    assert_eq!(
        prometheus.value("rw_jobs_total", Some(seconds(batch.end) - 0.001)),
        "7"
    );

    // A sample older than the stored one is refused with 400: a permanent error.
    let mut stale = batch.clone();
    stale.end = batch.end - Duration::from_secs(30);
    let err = direct.export(&stale).unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    let message = err.to_string();
    assert!(message.contains("400"), "{message}");
    assert!(message.contains("out of order"), "{message}");
}

// ---------------------------------------------------------------------------------------
// Against a fake server.

#[test]
fn request_has_the_protocol_headers_and_a_sorted_snappy_protobuf_body() {
    let server = FakeServer::start(Some((204, "")));
    let registry = Registry::builder()
        .constant_label("zone", "eu")
        .constant_label("app", "x")
        .build()
        .unwrap();
    let c = registry
        .metric("hits", "Hits.")
        .counter_family(&["b", "a"])
        .unwrap();
    c.with(&["2", "1"]).add(3);
    c.with(&["", "empty b"]).inc();
    let h = registry
        .histogram("took", "Took.", Buckets::new([1e-5, 0.005]).unwrap())
        .unwrap();
    h.observe(0.001);
    // The body is exactly the pure mapping when the pusher's identity is off
    // (`instance`/`job` are tested against Prometheus in push_identity.rs).
    let mut exporter = RemoteWriteExporter::builder()
        .url(server.url("/api/v1/push"))
        .bearer_token("tok")
        .header("X-Scope-OrgID", "tenant-7")
        .host_identity(false)
        .build()
        .unwrap();
    assert_eq!(exporter.name(), "remote_write");
    assert_eq!(exporter.temporality(), Temporality::Cumulative);
    let batch = batch_of(&registry);
    exporter.export(&batch).unwrap();

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/api/v1/push");
    assert_eq!(req.header("Content-Encoding"), Some("snappy"));
    assert_eq!(req.header("Content-Type"), Some("application/x-protobuf"));
    assert_eq!(
        req.header("X-Prometheus-Remote-Write-Version"),
        Some("0.1.0")
    );
    assert_eq!(
        req.header("User-Agent"),
        Some(concat!("tallyho/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(req.header("Authorization"), Some("Bearer tok"));
    assert_eq!(req.header("X-Scope-OrgID"), Some("tenant-7"));

    let write = write_request(req);
    assert_eq!(
        write,
        remote_write::write_request(&batch.snapshot, unix_millis(batch.end), true)
    );
    let ts = unix_millis(batch.end);
    let series: Vec<(Vec<(String, String)>, f64)> = write
        .timeseries
        .iter()
        .map(|t| {
            assert_eq!(t.samples.len(), 1);
            assert_eq!(t.samples[0].timestamp, ts);
            let labels = t
                .labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            (labels, t.samples[0].value)
        })
        .collect();
    let l = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        series,
        vec![
            (
                l(&[
                    ("__name__", "hits_total"),
                    ("a", "1"),
                    ("app", "x"),
                    ("b", "2"),
                    ("zone", "eu")
                ]),
                3.0
            ),
            // The empty label value is left out.
            (
                l(&[
                    ("__name__", "hits_total"),
                    ("a", "empty b"),
                    ("app", "x"),
                    ("zone", "eu")
                ]),
                1.0
            ),
            (
                l(&[
                    ("__name__", "took_bucket"),
                    ("app", "x"),
                    ("le", "1e-05"),
                    ("zone", "eu")
                ]),
                0.0
            ),
            (
                l(&[
                    ("__name__", "took_bucket"),
                    ("app", "x"),
                    ("le", "0.005"),
                    ("zone", "eu")
                ]),
                1.0
            ),
            (
                l(&[
                    ("__name__", "took_bucket"),
                    ("app", "x"),
                    ("le", "+Inf"),
                    ("zone", "eu")
                ]),
                1.0
            ),
            (
                l(&[("__name__", "took_sum"), ("app", "x"), ("zone", "eu")]),
                0.001
            ),
            (
                l(&[("__name__", "took_count"), ("app", "x"), ("zone", "eu")]),
                1.0
            ),
        ]
    );
    for t in &write.timeseries {
        let names: Vec<&str> = t.labels.iter().map(|l| l.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }
    let metadata: Vec<(i32, &str, &str)> = write
        .metadata
        .iter()
        .map(|m| (m.r#type, m.metric_family_name.as_str(), m.help.as_str()))
        .collect();
    assert_eq!(
        metadata,
        vec![
            (MetricType::Counter as i32, "hits_total", "Hits."),
            (MetricType::Histogram as i32, "took", "Took."),
        ]
    );
    // The encoded body is exactly what `encode` makes.
    assert_eq!(remote_write::encode(&write), req.body);
}

#[test]
fn basic_auth_header_and_user_headers() {
    let server = FakeServer::start(Some((200, "ok")));
    let registry = Registry::new();
    registry.gauge("g", "G.").unwrap().set(1.0);
    let mut exporter = RemoteWriteExporter::builder()
        .url(server.url("/write"))
        .bearer_token("replaced")
        .basic_auth("user", "pa:ss")
        .header("User-Agent", "custom/1")
        .metadata(false)
        .host_identity(false)
        .build()
        .unwrap();
    exporter.export(&batch_of(&registry)).unwrap();
    let req = &server.seen()[0];
    // base64("user:pa:ss")
    assert_eq!(req.header("Authorization"), Some("Basic dXNlcjpwYTpzcw=="));
    assert_eq!(req.header("User-Agent"), Some("custom/1"));
    assert_eq!(
        req.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .count(),
        1
    );
    let write = write_request(req);
    assert!(write.metadata.is_empty());
    assert_eq!(
        write.timeseries[0].labels,
        vec![Label {
            name: "__name__".into(),
            value: "g".into()
        }]
    );
}

#[test]
fn large_batches_are_split() {
    let server = FakeServer::start(Some((204, "")));
    let registry = Registry::new();
    let family = registry
        .metric("many", "Many.")
        .gauge_family(&["i"])
        .unwrap();
    for i in 0..25 {
        family.with(&[&i.to_string()]).set(f64::from(i));
    }
    let mut exporter = RemoteWriteExporter::builder()
        .url(server.url("/write"))
        .max_samples_per_request(10)
        .build()
        .unwrap();
    exporter.export(&batch_of(&registry)).unwrap();
    let parts: Vec<WriteRequest> = server.seen().iter().map(write_request).collect();
    let sizes: Vec<usize> = parts.iter().map(|p| p.timeseries.len()).collect();
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(parts[0].metadata.len(), 1);
    assert!(parts[1].metadata.is_empty() && parts[2].metadata.is_empty());
    let values: Vec<f64> = parts
        .iter()
        .flat_map(|p| p.timeseries.iter().map(|t| t.samples[0].value))
        .collect();
    assert_eq!(values, (0..25).map(f64::from).collect::<Vec<_>>());
}

#[test]
fn client_errors_are_permanent_server_errors_retryable() {
    let server = FakeServer::start(Some((400, "out of bounds: sample too old")));
    let registry = Registry::new();
    registry.counter("c", "C.").unwrap().inc();
    let batch = batch_of(&registry);
    let mut exporter = exporter(&server.url("/write"));

    let err = exporter.export(&batch).unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    let message = err.to_string();
    assert!(message.starts_with("remote_write: "), "{message}");
    assert!(message.contains("400"), "{message}");
    assert!(
        message.contains("out of bounds: sample too old"),
        "{message}"
    );

    for (status, retryable) in [
        (401, false),
        (404, false),
        (413, false),
        (429, true),
        (500, true),
        (503, true),
    ] {
        server.set_reply(status, "nope");
        let err = exporter.export(&batch).unwrap_err();
        assert_eq!(err.is_retryable(), retryable, "{status}: {err}");
        assert!(err.to_string().contains(&status.to_string()), "{err}");
    }

    // A redirect is not followed.
    server.set_reply(307, "");
    assert!(!exporter.export(&batch).unwrap_err().is_retryable());
}

#[test]
fn connection_refused_and_timeouts_are_retryable() {
    let registry = Registry::new();
    registry.counter("c", "C.").unwrap().inc();
    let batch = batch_of(&registry);

    // Nothing listens on a port just freed.
    let mut refused = exporter(&format!("http://127.0.0.1:{}/write", free_port()));
    let err = refused.export(&batch).unwrap_err();
    assert!(err.is_retryable(), "{err}");

    let silent = FakeServer::start(None);
    let mut slow = RemoteWriteExporter::builder()
        .url(silent.url("/write"))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = slow.export(&batch).unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn the_pipeline_retries_a_503_until_it_succeeds() {
    // Two 503s, then success.
    let server = FakeServer::answering(|n, _| {
        Some(if n < 2 {
            Reply::text(503, "busy")
        } else {
            Reply::status(204)
        })
    });
    let registry = Registry::new();
    registry.counter("c", "C.").unwrap().add(4);
    let pipeline = Pipeline::builder(registry)
        .interval(Duration::from_secs(3600))
        .retry(tallyho_export::RetryPolicy {
            max_attempts: 20,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(50),
        })
        .exporter(exporter(&server.url("/write")))
        .start()
        .unwrap();
    assert!(pipeline.flush(Duration::from_secs(10)));
    let seen = server.seen();
    assert!(seen.len() >= 3, "{}", seen.len());
    // Every attempt carried the same batch.
    let first = write_request(&seen[0]);
    assert!(seen.iter().all(|s| write_request(s) == first));
    assert!(first
        .timeseries
        .iter()
        .any(|t| t.labels[0].value == "c_total" && t.samples[0].value == 4.0));
}

#[test]
fn builder_checks_its_settings() {
    assert_eq!(
        RemoteWriteExporter::builder().build().unwrap_err(),
        BuildError::MissingUrl
    );
    assert!(matches!(
        RemoteWriteExporter::builder().url("not a url").build(),
        Err(BuildError::InvalidUrl { .. })
    ));
    assert!(matches!(
        RemoteWriteExporter::builder()
            .url("ftp://127.0.0.1/x")
            .build(),
        Err(BuildError::InvalidUrl { .. })
    ));
    assert!(matches!(
        RemoteWriteExporter::builder()
            .url("http://127.0.0.1:9/x")
            .header("Bad Name", "v")
            .build(),
        Err(BuildError::InvalidHeader { .. })
    ));
    assert!(matches!(
        RemoteWriteExporter::builder()
            .url("http://127.0.0.1:9/x")
            .header("X-Ok", "line\r\nbreak")
            .build(),
        Err(BuildError::InvalidHeader { .. })
    ));
    let e = RemoteWriteExporter::builder()
        .url("http://127.0.0.1:9/x")
        .basic_auth("u", "secret-password")
        .build()
        .unwrap();
    assert_eq!(e.url(), "http://127.0.0.1:9/x");
    assert!(!format!("{e:?}").contains("c2VjcmV0")); // no credentials in Debug
}

#[test]
fn exponential_histograms_arrive_as_native_histograms_when_asked() {
    let prometheus = Prometheus::start();
    let registry = Registry::new();
    let h = registry
        .metric("rw_rtt", "Round trips.")
        .unit("seconds")
        .exponential_histogram()
        .unwrap();
    for i in 0..200 {
        h.observe(0.010 + f64::from(i) * 0.0001);
    }
    let mut exporter = RemoteWriteExporter::builder()
        .url(prometheus.write_url())
        .timeout(Duration::from_secs(5))
        .native_histograms(true)
        .build()
        .unwrap();
    let snapshot = registry.snapshot();
    let end = SystemTime::now();
    exporter
        .export(&Batch {
            start: end - Duration::from_secs(10),
            end,
            snapshot,
            temporality: Temporality::Cumulative,
        })
        .unwrap();
    let t = Some(seconds(end));
    assert_eq!(
        prometheus.value("histogram_count(rw_rtt_seconds)", t),
        "200"
    );
    let sum: f64 = prometheus
        .value("histogram_sum(rw_rtt_seconds)", t)
        .parse()
        .unwrap();
    assert!(
        (sum - (0.010 * 200.0 + 0.0001 * 19900.0)).abs() < 1e-9,
        "{sum}"
    );
    assert!(
        prometheus.query("rw_rtt_seconds_bucket", t).is_empty(),
        "no classic series"
    );
    let median: f64 = prometheus
        .value("histogram_quantile(0.5, rw_rtt_seconds)", t)
        .parse()
        .unwrap();
    assert!((median - 0.01995).abs() / 0.01995 < 0.01, "{median}");
}

/// Exemplars on a counter and a histogram bucket reach Prometheus (run with
/// `--enable-feature=exemplar-storage`), which returns them from `query_exemplars` with
/// their trace and span ids, value and millisecond time.
#[test]
fn exemplars_arrive_with_their_trace_ids() {
    use tallyho::TraceContext;
    let prometheus = Prometheus::start();
    let registry = Registry::new();
    let jobs = registry.counter("rw_jobs", "Jobs.").unwrap();
    let took = registry
        .histogram(
            "rw_took_seconds",
            "Took.",
            Buckets::new([0.1, 1.0]).unwrap(),
        )
        .unwrap();
    let a = TraceContext::from_hex("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7").unwrap();
    let b = TraceContext::from_hex("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331").unwrap();
    jobs.add_with_exemplar(6, Some(a));
    took.observe_with_exemplar(0.5, Some(b));
    let mut exporter = exporter(&prometheus.write_url());
    let end = SystemTime::now();
    exporter
        .export(&Batch {
            start: end - Duration::from_secs(10),
            end,
            snapshot: registry.snapshot(),
            temporality: Temporality::Cumulative,
        })
        .unwrap();
    let exemplars = |q: &str| -> Vec<Value> {
        let t = seconds(end);
        let url = format!(
            "http://127.0.0.1:{}/api/v1/query_exemplars?query={}&start={:.3}&end={:.3}",
            prometheus.port,
            percent(q),
            t - 600.0,
            t + 600.0
        );
        let body = ureq::get(&url).call().unwrap().into_string().unwrap();
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["status"], "success", "{body}");
        json["data"].as_array().unwrap().clone()
    };
    let check = |e: &Value, t: &TraceContext, v: &str, kept: tallyho::Exemplar| {
        assert_eq!(e["labels"]["trace_id"], t.trace_id_hex().as_str(), "{e}");
        assert_eq!(e["labels"]["span_id"], t.span_id_hex().as_str(), "{e}");
        assert_eq!(e["value"], v, "{e}");
        let ms = kept
            .time
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as f64;
        let got = e["timestamp"].as_f64().unwrap() * 1000.0;
        assert!((got - ms).abs() <= 1.0, "{e}: {got} vs {ms}");
    };
    let counter = exemplars("rw_jobs_total");
    assert_eq!(counter.len(), 1, "{counter:?}");
    check(
        &counter[0]["exemplars"][0],
        &a,
        "6",
        jobs.exemplar().unwrap(),
    );
    let buckets = exemplars("rw_took_seconds_bucket");
    assert_eq!(
        buckets.len(),
        1,
        "only the bucket with an exemplar: {buckets:?}"
    );
    assert_eq!(buckets[0]["seriesLabels"]["le"], "1", "{buckets:?}");
    check(
        &buckets[0]["exemplars"][0],
        &b,
        "0.5",
        took.exemplars()[1].unwrap(),
    );
}
