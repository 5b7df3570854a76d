//! The Pushgateway exporter against a real Pushgateway (started here, on 127.0.0.1), read
//! back through its JSON API and its `/metrics` page, and against a fake std-only server for
//! the request's shape and status codes.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tallyho::{Buckets, Registry};
use tallyho_export::pushgateway::{group_path, BuildError, PushMethod, PushgatewayExporter};
use tallyho_export::{Exporter, Pipeline, Temporality};

mod common;
use common::*;

// ---------------------------------------------------------------------------------------
// Helpers: temp dirs, free ports, a child-process guard, a fake HTTP server.

const USER: &str = "pusher";
const PASSWORD: &str = "s3cret";
const BCRYPT: &str = "$2b$05$abcdefghijklmnopqrstuuLK7U1u6pVRmL7L1BBM2aS35PSZnDXlK";

/// A Pushgateway on 127.0.0.1 (in-memory, no persistence), killed on drop.
struct Pushgateway {
    child: Child,
    port: u16,
    /// `Authorization` value for reading back, when basic auth is on.
    auth: Option<String>,
    // Dropped after the child is killed (fields drop after `Drop::drop`).
    dir: TempDir,
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pushgateway {
    fn start() -> Pushgateway {
        Self::start_with(false)
    }

    /// Starts the Pushgateway, with basic auth (`USER`/`PASSWORD`) from a web config file
    /// when `auth`, and waits (up to 60 s) for `/-/ready`.
    fn start_with(auth: bool) -> Pushgateway {
        let mut last_log = String::new();
        // A port picked free may be taken before the Pushgateway binds it: try a few.
        for _ in 0..3 {
            let dir = TempDir::new("pushgateway");
            let port = free_port();
            let log = std::fs::File::create(dir.0.join("log")).unwrap();
            let mut command = Command::new("prometheus-pushgateway");
            command
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--persistence.file=")
                .arg("--log.level=warn");
            let header = auth.then(|| basic(USER, PASSWORD));
            if auth {
                let config = dir.0.join("web.yml");
                std::fs::write(
                    &config,
                    format!("basic_auth_users:\n  {USER}: '{BCRYPT}'\n"),
                )
                .unwrap();
                command.arg(format!("--web.config.file={}", config.display()));
            }
            let child = command
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("cannot start `prometheus-pushgateway`: is it installed?");
            let mut server = Pushgateway {
                child,
                port,
                auth: header,
                dir,
            };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(e) => {
                    last_log = std::fs::read_to_string(server.dir.0.join("log")).unwrap_or(e);
                }
            }
        }
        panic!("the pushgateway did not become ready:\n{last_log}");
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("exited with {status}"));
            }
            if let Ok(r) = self.get("/-/ready") {
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

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn get(&self, path: &str) -> Result<ureq::Response, String> {
        let mut request =
            ureq::get(&format!("{}{path}", self.url())).timeout(Duration::from_secs(5));
        if let Some(auth) = &self.auth {
            request = request.set("Authorization", auth);
        }
        request.call().map_err(|e| e.to_string())
    }

    /// Every group, from `GET /api/v1/metrics`.
    fn groups(&self) -> Vec<Value> {
        let body = self.get("/api/v1/metrics").unwrap().into_string().unwrap();
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["status"], "success", "{body}");
        json["data"].as_array().unwrap().clone()
    }

    /// The group whose `job` label is `job`.
    fn group(&self, job: &str) -> Option<Value> {
        self.groups()
            .into_iter()
            .find(|g| g["labels"]["job"] == job)
    }

    /// The `/metrics` page.
    fn text(&self) -> String {
        self.get("/metrics").unwrap().into_string().unwrap()
    }
}

/// Metric names in a group, without the Pushgateway's own `push_*` ones.
fn metric_names(group: &Value) -> Vec<String> {
    let mut names: Vec<String> = group
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| {
            !matches!(
                k.as_str(),
                "labels"
                    | "last_push_successful"
                    | "push_time_seconds"
                    | "push_failure_time_seconds"
            )
        })
        .cloned()
        .collect();
    names.sort();
    names
}

/// The single value of a counter or gauge in a group.
fn value(group: &Value, name: &str) -> String {
    let metrics = group[name]["metrics"].as_array().unwrap_or_else(|| {
        panic!("no {name} in {group:#}");
    });
    assert_eq!(metrics.len(), 1, "{name}: {metrics:?}");
    metrics[0]["value"].as_str().unwrap().to_owned()
}

/// This machine's name, as the kernel has it.
fn kernel_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

const ODD: &str = "say \"hi\" \\ 온도 ✓";

#[test]
fn pushed_values_and_grouping_labels_read_back_exactly() {
    let gateway = Pushgateway::start();
    let registry = Registry::new();
    let rows = registry.counter("pg_rows", "Rows loaded.").unwrap();
    let temperature = registry.gauge("pg_temperature", "Temperature.").unwrap();
    let energy = registry
        .metric("pg_energy", "Energy used.")
        .unit("joules")
        .counter_f64()
        .unwrap();
    let requests = registry
        .metric("pg_requests", "Requests, by path.")
        .counter_family(&["path_seen"])
        .unwrap();
    let latency = registry
        .metric("pg_latency", "Latency.")
        .unit("seconds")
        .buckets(Buckets::new([0.25, 0.5, 1e6]).unwrap())
        .histogram()
        .unwrap();
    rows.add(1200);
    temperature.set(-2.5);
    energy.add(0.125);
    requests.with(&[ODD]).add(2);
    for v in [0.0625, 0.375, 3.0] {
        latency.observe(v);
    }

    let mut exporter = PushgatewayExporter::builder()
        .url(format!("{}/", gateway.url()))
        .job("nightly import")
        .grouping_label("instance", "db-1")
        .grouping_label("path", "/var/tmp")
        .grouping_label("note", "a b+ü%")
        .grouping_label("empty", "")
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    assert_eq!(exporter.name(), "pushgateway");
    assert_eq!(exporter.temporality(), Temporality::Cumulative);
    assert_eq!(
        exporter.url(),
        format!(
            "{}/metrics/job/nightly%20import/instance/db-1/path@base64/L3Zhci90bXA\
             /note/a%20b%2B%C3%BC%25/empty@base64/=",
            gateway.url()
        )
    );
    exporter.export(&batch_of(&registry)).unwrap();

    let group = gateway.group("nightly import").expect("group pushed");
    let grouping = json!({
        "job": "nightly import",
        "instance": "db-1",
        "path": "/var/tmp",
        "note": "a b+ü%",
        "empty": "",
    });
    assert_eq!(group["labels"], grouping);
    assert_eq!(group["last_push_successful"], true);
    assert_eq!(
        metric_names(&group),
        [
            "pg_energy_joules_total",
            "pg_latency_seconds",
            "pg_requests_total",
            "pg_rows_total",
            "pg_temperature"
        ]
    );
    assert_eq!(value(&group, "pg_rows_total"), "1200");
    assert_eq!(group["pg_rows_total"]["type"], "COUNTER");
    assert_eq!(group["pg_rows_total"]["help"], "Rows loaded.");
    assert_eq!(group["pg_rows_total"]["metrics"][0]["labels"], grouping);
    assert_eq!(value(&group, "pg_temperature"), "-2.5");
    assert_eq!(group["pg_temperature"]["type"], "GAUGE");
    assert_eq!(value(&group, "pg_energy_joules_total"), "0.125");
    assert_eq!(value(&group, "pg_requests_total"), "2");
    assert_eq!(
        group["pg_requests_total"]["metrics"][0]["labels"]["path_seen"],
        ODD
    );
    let histogram = &group["pg_latency_seconds"];
    assert_eq!(histogram["type"], "HISTOGRAM");
    assert_eq!(
        histogram["metrics"][0]["buckets"],
        json!({"0.25": "1", "0.5": "2", "1e+06": "3", "+Inf": "3"})
    );
    assert_eq!(histogram["metrics"][0]["sum"], "3.4375");
    assert_eq!(histogram["metrics"][0]["count"], "3");

    // The same numbers on the page Prometheus scrapes.
    let text = gateway.text();
    let labels = r#"empty="",instance="db-1",job="nightly import",note="a b+ü%",path="/var/tmp""#;
    for line in [
        format!("pg_rows_total{{{labels}}} 1200"),
        format!("pg_temperature{{{labels}}} -2.5"),
        format!("pg_energy_joules_total{{{labels}}} 0.125"),
        format!("pg_requests_total{{{labels},path_seen=\"say \\\"hi\\\" \\\\ 온도 ✓\"}} 2"),
        format!("pg_latency_seconds_bucket{{{labels},le=\"0.5\"}} 2"),
        format!("pg_latency_seconds_bucket{{{labels},le=\"1e+06\"}} 3"),
        format!("pg_latency_seconds_sum{{{labels}}} 3.4375"),
        format!("pg_latency_seconds_count{{{labels}}} 3"),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }

    // A job with a `/` goes in base64 form; without host identity the group is the job.
    let mut slashed = PushgatewayExporter::builder()
        .url(gateway.url())
        .job("etl/daily")
        .host_identity(false)
        .build()
        .unwrap();
    slashed.export(&batch_of(&registry)).unwrap();
    let group = gateway.group("etl/daily").expect("group pushed");
    assert_eq!(group["labels"], json!({"job": "etl/daily"}));
    assert_eq!(value(&group, "pg_rows_total"), "1200");
}

#[test]
fn put_replaces_the_group_post_merges_into_it_delete_removes_it() {
    let gateway = Pushgateway::start();
    let put = |registry: &Registry| {
        let mut e = PushgatewayExporter::builder()
            .url(gateway.url())
            .job("merge")
            .grouping_label("instance", "a")
            .method(PushMethod::Put)
            .build()
            .unwrap();
        e.export(&batch_of(registry)).unwrap();
    };
    let post = |registry: &Registry| {
        let mut e = PushgatewayExporter::builder()
            .url(gateway.url())
            .job("merge")
            .grouping_label("instance", "a")
            .method(PushMethod::Post)
            .build()
            .unwrap();
        e.export(&batch_of(registry)).unwrap();
    };
    let registry_with = |metrics: &[(&str, f64)]| {
        let r = Registry::new();
        for (name, v) in metrics {
            r.gauge(name, "A value.").unwrap().set(*v);
        }
        r
    };
    let state = || {
        let group = gateway.group("merge").expect("group present");
        assert_eq!(group["labels"], json!({"job": "merge", "instance": "a"}));
        metric_names(&group)
            .into_iter()
            .map(|n| {
                let v = value(&group, &n);
                (n, v)
            })
            .collect::<BTreeMap<_, _>>()
    };
    let expect = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>()
    };

    put(&registry_with(&[("one", 1.0), ("two", 2.0)]));
    assert_eq!(state(), expect(&[("one", "1"), ("two", "2")]));
    // PUT: `two` was not pushed again, so it is gone.
    put(&registry_with(&[("one", 11.0)]));
    assert_eq!(state(), expect(&[("one", "11")]));
    // POST: `three` joins, `one` stays.
    post(&registry_with(&[("three", 3.0)]));
    assert_eq!(state(), expect(&[("one", "11"), ("three", "3")]));
    // POST of a family already there replaces just that family.
    post(&registry_with(&[("one", 99.0)]));
    assert_eq!(state(), expect(&[("one", "99"), ("three", "3")]));

    // A push the Pushgateway refuses (a type that clashes with another group's): 400,
    // permanent, with its explanation.
    let other = Registry::new();
    other.counter("clash", "Clash.").unwrap().inc();
    let mut first = PushgatewayExporter::builder()
        .url(gateway.url())
        .job("clash_a")
        .build()
        .unwrap();
    first.export(&batch_of(&other)).unwrap();
    let clashing = Registry::new();
    clashing.gauge("clash_total", "Clash.").unwrap().set(1.0);
    let mut second = PushgatewayExporter::builder()
        .url(gateway.url())
        .job("clash_b")
        .build()
        .unwrap();
    let err = second.export(&batch_of(&clashing)).unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("400"), "{err}");

    let e = PushgatewayExporter::builder()
        .url(gateway.url())
        .job("merge")
        .grouping_label("instance", "a")
        .build()
        .unwrap();
    e.delete().unwrap();
    // The Pushgateway answers a DELETE with 202 Accepted and applies it on its own
    // queue: the group is gone soon after, not necessarily at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while gateway.group("merge").is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the group is still there 5 s after the DELETE"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_pipeline_pushes_its_final_totals_on_shutdown() {
    let gateway = Pushgateway::start();
    let registry = Registry::new();
    let rows = registry.counter("batch_rows", "Rows.").unwrap();
    let pipeline = Pipeline::builder(registry)
        .interval(Duration::from_secs(3600))
        .exporter(
            PushgatewayExporter::builder()
                .url(gateway.url())
                .job("batch")
                .grouping_label("run", "42")
                .build()
                .unwrap(),
        )
        .start()
        .unwrap();
    rows.add(5);
    assert!(pipeline.flush(Duration::from_secs(10)));
    assert_eq!(
        value(&gateway.group("batch").unwrap(), "batch_rows_total"),
        "5"
    );
    rows.add(995);
    assert!(pipeline.shutdown(Duration::from_secs(10)));
    let group = gateway.group("batch").unwrap();
    // The host's name joins the grouping key by default (issue 16, item 11).
    assert_eq!(
        group["labels"],
        json!({"job": "batch", "instance": kernel_hostname(), "run": "42"})
    );
    assert_eq!(value(&group, "batch_rows_total"), "1000");
    // The pipeline's own counters went along (taken before that export counted itself).
    assert_eq!(
        group["tallyho_exports_total"]["metrics"][0]["labels"]["exporter"],
        "pushgateway"
    );
}

#[test]
fn basic_auth_against_a_pushgateway_web_config() {
    let gateway = Pushgateway::start_with(true);
    let registry = Registry::new();
    registry.counter("secured", "Secured.").unwrap().add(3);
    let batch = batch_of(&registry);
    let exporter = |auth: Option<(&str, &str)>| {
        let mut b = PushgatewayExporter::builder()
            .url(gateway.url())
            .job("secure");
        if let Some((u, p)) = auth {
            b = b.basic_auth(u, p);
        }
        b.build().unwrap()
    };

    for auth in [None, Some((USER, "wrong"))] {
        let err = exporter(auth).export(&batch).unwrap_err();
        assert!(!err.is_retryable(), "{err}");
        assert!(err.to_string().contains("401"), "{err}");
    }
    assert!(gateway.group("secure").is_none());

    exporter(Some((USER, PASSWORD))).export(&batch).unwrap();
    assert_eq!(
        value(&gateway.group("secure").unwrap(), "secured_total"),
        "3"
    );
    // Without credentials the API refuses to read too: the config really is in force.
    let anonymous = ureq::get(&format!("{}/api/v1/metrics", gateway.url())).call();
    assert!(matches!(anonymous, Err(ureq::Error::Status(401, _))));
}

// ---------------------------------------------------------------------------------------
// Against a fake server.

#[test]
fn request_shape_and_status_codes() {
    let server = FakeServer::start(Some((200, "")));
    let registry = Registry::new();
    registry.counter("c", "C.").unwrap().add(2);
    let batch = batch_of(&registry);
    let mut exporter = PushgatewayExporter::builder()
        .url(server.url("/prefix"))
        .job("j")
        .grouping_label("instance", "x")
        .method(PushMethod::Post)
        .basic_auth("u", "p")
        .build()
        .unwrap();
    exporter.export(&batch).unwrap();
    let seen = server.seen();
    let req = &seen[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/prefix/metrics/job/j/instance/x");
    assert_eq!(
        req.header("Content-Type"),
        Some(tallyho_encode::prometheus::CONTENT_TYPE)
    );
    assert_eq!(req.header("Authorization"), Some("Basic dTpw"));
    assert_eq!(
        req.header("User-Agent"),
        Some(concat!("tallyho/", env!("CARGO_PKG_VERSION")))
    );
    let mut expected = Vec::new();
    tallyho_encode::prometheus::encode(&mut expected, &batch.snapshot).unwrap();
    assert_eq!(req.body, expected);
    assert_eq!(
        String::from_utf8(req.body.clone()).unwrap(),
        "# HELP c_total C.\n# TYPE c_total counter\nc_total 2\n"
    );

    exporter.delete().unwrap();
    let seen = server.seen();
    assert_eq!(seen[1].method, "DELETE");
    assert_eq!(seen[1].path, "/prefix/metrics/job/j/instance/x");
    assert_eq!(seen[1].header("Authorization"), Some("Basic dTpw"));

    for (status, retryable) in [
        (400, false),
        (401, false),
        (404, false),
        (429, true),
        (500, true),
        (503, true),
    ] {
        server.set_reply(status, "told you so");
        let err = exporter.export(&batch).unwrap_err();
        assert_eq!(err.is_retryable(), retryable, "{status}: {err}");
        let message = err.to_string();
        assert!(message.starts_with("pushgateway: "), "{message}");
        assert!(message.contains(&status.to_string()), "{message}");
        assert!(message.contains("told you so"), "{message}");
    }

    let mut refused = PushgatewayExporter::builder()
        .url(format!("http://127.0.0.1:{}", free_port()))
        .job("j")
        .build()
        .unwrap();
    assert!(refused.export(&batch).unwrap_err().is_retryable());
}

#[test]
fn group_paths_and_builder_checks() {
    assert_eq!(group_path("j", &[]), "/metrics/job/j");
    assert_eq!(
        group_path(
            "a b",
            &[("instance", "h:1"), ("dir", "/x"), ("e", ""), ("dot", "..")]
        ),
        "/metrics/job/a%20b/instance/h%3A1/dir@base64/L3g/e@base64/=/dot@base64/Li4"
    );
    assert_eq!(group_path("x/y", &[]), "/metrics/job@base64/eC95");
    assert_eq!(PushMethod::default(), PushMethod::Put);

    let base = || PushgatewayExporter::builder().url("http://127.0.0.1:9091");
    assert_eq!(
        PushgatewayExporter::builder().job("j").build().unwrap_err(),
        BuildError::MissingUrl
    );
    assert_eq!(base().build().unwrap_err(), BuildError::MissingJob);
    assert_eq!(base().job("").build().unwrap_err(), BuildError::MissingJob);
    for bad in ["job", "__x", "1a", "a-b", ""] {
        assert_eq!(
            base()
                .job("j")
                .grouping_label(bad, "v")
                .build()
                .unwrap_err(),
            BuildError::InvalidLabel(bad.to_owned()),
            "{bad}"
        );
    }
    assert_eq!(
        base()
            .job("j")
            .grouping_label("a", "1")
            .grouping_label("a", "2")
            .build()
            .unwrap_err(),
        BuildError::InvalidLabel("a".to_owned())
    );
    assert!(matches!(
        PushgatewayExporter::builder().url("nope").job("j").build(),
        Err(BuildError::InvalidUrl { .. })
    ));
    let e = base().job("j").basic_auth("u", "hunter2").build().unwrap();
    assert!(!format!("{e:?}").contains("aHVudGVyMg")); // no credentials in Debug
}

// ---------------------------------------------------------------------------------------
// Faults: the receiver goes away mid-run and comes back.

impl Pushgateway {
    /// Kills the process and starts a new one on the same port (state is not persisted).
    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let log = std::fs::File::create(self.dir.0.join("log2")).unwrap();
        self.child = Command::new("prometheus-pushgateway")
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--persistence.file=")
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.wait_ready().expect("restarted pushgateway ready");
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn totals_are_exact_after_the_receiver_was_down_and_recording_never_blocked() {
    let mut pg = Pushgateway::start();
    let r = Registry::new();
    let work = r.counter("work_done", "Work done.").unwrap();
    let exporter = PushgatewayExporter::builder()
        .url(pg.url())
        .job("faults")
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let p = Pipeline::builder(r.clone())
        .interval(Duration::from_millis(20))
        .queue_capacity(2)
        .retry(tallyho_export::RetryPolicy {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
        })
        .exporter(exporter)
        .start()
        .unwrap();

    // A thread records all along and notes the slowest 10,000 increments.
    let stop = Arc::new(AtomicBool::new(false));
    let recorder = {
        let (work, stop) = (work.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut total = 0u64;
            let mut slowest = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                for _ in 0..10_000 {
                    work.inc();
                }
                total += 10_000;
                slowest = slowest.max(t.elapsed());
                std::thread::sleep(Duration::from_millis(1));
            }
            (total, slowest)
        })
    };
    let pushed = |pg: &Pushgateway| -> Option<f64> {
        let groups = pg.groups();
        let group = groups.first()?;
        value(group, "work_done_total").parse().ok()
    };
    let wait = |what: &str, ok: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ok() {
            assert!(Instant::now() < deadline, "timed out: {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait("first push", &|| pushed(&pg).is_some_and(|v| v > 0.0));

    // The receiver goes down: exports fail, retries give up, the queue drops old snapshots.
    pg.stop();
    wait("failures and drops while down", &|| {
        let s = r.snapshot();
        let dropped = s.value("tallyho_export_dropped", &[("exporter", "pushgateway")]);
        dropped.is_some_and(|d| d >= 3.0)
    });
    pg.restart();

    stop.store(true, Ordering::Relaxed);
    let (total, slowest) = recorder.join().unwrap();
    assert!(p.flush(Duration::from_secs(10)));
    // Cumulative state: the first export after the outage carries the exact total.
    assert_eq!(pushed(&pg), Some(total as f64));
    assert_eq!(work.get(), total);
    assert!(
        slowest < Duration::from_millis(500),
        "10,000 increments took {slowest:?} while the receiver was down"
    );
    let s = r.snapshot();
    assert!(
        s.value("tallyho_export_failures", &[("exporter", "pushgateway")])
            .unwrap()
            >= 3.0
    );
    drop(p);
}
