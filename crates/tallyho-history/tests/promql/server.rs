//! A real Prometheus (`/usr/bin/prometheus`) started on 127.0.0.1 at a free port with the
//! remote write receiver on and no scrape jobs, fed through remote write and queried through
//! its HTTP API. Killed on drop, also when a test fails.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value as Json;
use tallyho_export::remote_write::encode;
use tallyho_export::remote_write::proto::{Label, Sample, TimeSeries, WriteRequest};
use tallyho_query::{InstantSample, Labels, RangeSeries, Sample as QSample, Value};

use super::{Failure, Outcome};

/// The program under comparison; the test fails loudly without it.
pub const PROMETHEUS: &str = "/usr/bin/prometheus";

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory under the system's temp dir.
    pub fn new(what: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("tallyho-{what}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A Prometheus server; killed (and its data removed) on drop.
pub struct Prometheus {
    child: Child,
    port: u16,
    agent: ureq::Agent,
    // Dropped after the child is killed.
    dir: TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

impl Prometheus {
    /// Starts Prometheus and waits (up to 60 s) for `/-/ready`.
    pub fn start() -> Prometheus {
        assert!(
            std::path::Path::new(PROMETHEUS).exists(),
            "{PROMETHEUS} is missing: install Debian's `prometheus` package (2.42)"
        );
        let mut last_log = String::new();
        // A port found free may be taken before Prometheus binds it: try a few.
        for _ in 0..3 {
            let dir = TempDir::new("differential-prometheus");
            let config = dir.0.join("prometheus.yml");
            std::fs::write(
                &config,
                "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
            )
            .expect("write prometheus.yml");
            let log = std::fs::File::create(dir.0.join("log")).expect("create the log");
            let port = free_port();
            let child = Command::new(PROMETHEUS)
                .arg("--web.enable-remote-write-receiver")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.0.join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--log.level=warn")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone the log"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {PROMETHEUS}: {e}"));
            let agent = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .build();
            let mut server = Prometheus {
                child,
                port,
                agent,
                dir,
            };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(e) => {
                    last_log =
                        std::fs::read_to_string(server.dir.0.join("log")).unwrap_or_default();
                    last_log.push_str(&e);
                }
            }
        }
        panic!("prometheus did not become ready:\n{last_log}");
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("http://127.0.0.1:{}/-/ready", self.port);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}"));
            }
            if self.agent.get(&url).call().is_ok_and(|r| r.status() == 200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("not ready after 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Posts one remote write request.
    pub fn write(&self, request: &WriteRequest) {
        let url = format!("http://127.0.0.1:{}/api/v1/write", self.port);
        let res = self
            .agent
            .post(&url)
            .set("Content-Encoding", "snappy")
            .set("Content-Type", "application/x-protobuf")
            .set("X-Prometheus-Remote-Write-Version", "0.1.0")
            .send_bytes(&encode(request));
        match res {
            Ok(r) => assert!(
                r.status() / 100 == 2,
                "remote write answered {}",
                r.status()
            ),
            Err(ureq::Error::Status(code, r)) => {
                panic!(
                    "remote write answered {code}: {}",
                    r.into_string().unwrap_or_default()
                )
            }
            Err(e) => panic!("remote write failed: {e}"),
        }
    }

    /// Sends `series` in chronological slices of `per_request` scrape intervals, every series'
    /// samples of one slice in one request (the head refuses samples older than its newest
    /// minus one hour, so one series' whole history must never go first).
    pub fn feed(&self, series: &[RangeSeries], start: i64, end: i64, slice_ms: i64) {
        let mut lo = start;
        while lo <= end {
            let hi = lo + slice_ms;
            let mut req = WriteRequest::default();
            for s in series {
                let samples: Vec<Sample> = s
                    .samples
                    .iter()
                    .filter(|p| p.t >= lo && p.t < hi)
                    .map(|p| Sample {
                        value: p.v,
                        timestamp: p.t,
                    })
                    .collect();
                if !samples.is_empty() {
                    req.timeseries.push(TimeSeries {
                        labels: wire_labels(&s.labels),
                        samples,
                        histograms: Vec::new(),
                        exemplars: Vec::new(),
                    });
                }
            }
            if !req.timeseries.is_empty() {
                self.write(&req);
            }
            lo = hi;
        }
    }

    /// An instant query at `at` (ms).
    pub fn instant(&self, query: &str, at: i64) -> Outcome {
        self.call("query", &[("query", query), ("time", &secs(at))])
    }

    /// A range query from `start` to `end` every `step` (ms).
    pub fn range(&self, query: &str, start: i64, end: i64, step: i64) -> Outcome {
        let step = format!("{}", step as f64 / 1000.0);
        self.call(
            "query_range",
            &[
                ("query", query),
                ("start", &secs(start)),
                ("end", &secs(end)),
                ("step", &step),
            ],
        )
    }

    fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> Outcome {
        let url = format!("http://127.0.0.1:{}/api/v1/{endpoint}", self.port);
        let body = match self.agent.post(&url).send_form(form) {
            Ok(r) => r.into_string(),
            Err(ureq::Error::Status(_, r)) => r.into_string(),
            Err(e) => panic!("prometheus {endpoint} {form:?}: {e}"),
        };
        let body = body.unwrap_or_else(|e| panic!("prometheus {endpoint}: unreadable body: {e}"));
        let json: Json = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("prometheus answered non-JSON ({e}): {body}"));
        if json["status"] == "success" {
            parse_data(&json["data"])
                .map_err(|e| panic!("unexpected JSON from prometheus ({e}): {body}"))
        } else {
            Err(Failure {
                error_type: json["errorType"].as_str().unwrap_or("").to_string(),
                message: json["error"].as_str().unwrap_or("").to_string(),
                unsupported: false,
            })
        }
    }
}

/// The labels as remote write sends them: sorted by name, `__name__` included.
pub fn wire_labels(labels: &Labels) -> Vec<Label> {
    labels
        .iter()
        .map(|(k, v)| Label {
            name: k.to_string(),
            value: v.to_string(),
        })
        .collect()
}

/// Milliseconds as the seconds Prometheus' API takes.
pub fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// `data` of a successful query as a [`Value`].
pub fn parse_data(data: &Json) -> Result<Value, String> {
    let result = &data["result"];
    match data["resultType"].as_str() {
        Some("scalar") => {
            let (t, v) = point(result)?;
            Ok(Value::Scalar { t, v })
        }
        Some("string") => {
            let t = time(&result[0])?;
            let s = result[1]
                .as_str()
                .ok_or("string result without a string")?
                .to_string();
            Ok(Value::String { t, s })
        }
        Some("vector") => {
            let mut out = Vec::new();
            for el in result.as_array().ok_or("vector result is not an array")? {
                let (t, v) = point(&el["value"])?;
                out.push(InstantSample {
                    labels: metric(&el["metric"])?,
                    t,
                    v,
                });
            }
            Ok(Value::Vector(out))
        }
        Some("matrix") => {
            let mut out = Vec::new();
            for el in result.as_array().ok_or("matrix result is not an array")? {
                let mut samples = Vec::new();
                for p in el["values"].as_array().ok_or("series without values")? {
                    let (t, v) = point(p)?;
                    samples.push(QSample { t, v });
                }
                out.push(RangeSeries {
                    labels: metric(&el["metric"])?,
                    samples,
                });
            }
            Ok(Value::Matrix(out))
        }
        other => Err(format!("unknown resultType {other:?}")),
    }
}

fn metric(m: &Json) -> Result<Labels, String> {
    let obj = m.as_object().ok_or("metric is not an object")?;
    let mut pairs = Vec::new();
    for (k, v) in obj {
        pairs.push((
            k.clone(),
            v.as_str().ok_or("label value is not a string")?.to_string(),
        ));
    }
    Ok(Labels::new(pairs))
}

fn time(t: &Json) -> Result<i64, String> {
    let s = t.as_f64().ok_or("timestamp is not a number")?;
    Ok((s * 1000.0).round() as i64)
}

fn point(p: &Json) -> Result<(i64, f64), String> {
    let t = time(&p[0])?;
    let v = p[1].as_str().ok_or("value is not a string")?;
    Ok((t, parse_float(v)?))
}

/// A value as Prometheus writes it: Go's shortest form, `NaN`, `+Inf`, `-Inf`.
pub fn parse_float(v: &str) -> Result<f64, String> {
    match v {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => v.parse().map_err(|e| format!("bad value {v:?}: {e}")),
    }
}
