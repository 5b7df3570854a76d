//! Issue 16, item 11: who pushed, as the real receivers see it. A real Prometheus
//! (`--web.enable-remote-write-receiver`) and a real `prometheus-pushgateway`, both started
//! here on 127.0.0.1 with free ports and temporary directories; skipped with a message when
//! a program is missing, unless `TALLYHO_REQUIRE_TOOLS=1`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tallyho::Registry;
use tallyho_export::pushgateway::PushgatewayExporter;
use tallyho_export::remote_write::RemoteWriteExporter;
use tallyho_export::Exporter;

mod common;
use common::{batch_of, free_port, TempDir};

/// Whether `program` can be run; when it cannot, the test is skipped (a message says so)
/// unless `TALLYHO_REQUIRE_TOOLS=1`, which makes it fail.
fn have(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var("TALLYHO_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "`{program}` is required (TALLYHO_REQUIRE_TOOLS=1) but cannot be run"
        );
        eprintln!("skipped: `{program}` is not installed");
    }
    found
}

fn kernel_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

/// A program listening on 127.0.0.1, killed on drop.
struct Server {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `program` with `args(port, dir)` and waits up to 60 s for `/-/ready`; a port
    /// taken before the program binds it is retried.
    fn start(program: &str, args: impl Fn(u16, &TempDir) -> Vec<String>) -> Server {
        let mut last = String::new();
        for _ in 0..3 {
            let dir = TempDir::new(program);
            let port = free_port();
            let log = std::fs::File::create(dir.0.join("log")).unwrap();
            let child = Command::new(program)
                .args(args(port, &dir))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            let mut server = Server {
                child,
                port,
                _dir: dir,
            };
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline && server.child.try_wait().unwrap().is_none() {
                if server.get("/-/ready").is_ok() {
                    return server;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            last = std::fs::read_to_string(server._dir.0.join("log")).unwrap_or_default();
        }
        panic!("{program} did not become ready:\n{last}");
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn get(&self, path: &str) -> Result<Value, String> {
        let body = ureq::get(&self.url(path))
            .timeout(Duration::from_secs(5))
            .call()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|e| e.to_string())?;
        Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
    }
}

fn prometheus() -> Server {
    Server::start("prometheus", |port, dir| {
        let config = dir.0.join("prometheus.yml");
        std::fs::write(
            &config,
            "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
        )
        .unwrap();
        vec![
            "--web.enable-remote-write-receiver".into(),
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir.0.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--log.level=warn".into(),
        ]
    })
}

/// Remote write: every series carries `instance` (the host name by default) and `job`, as
/// Prometheus' own remote write sends a scrape target's; two pushers of the same series on
/// different hosts stay two series; the agent's `service` label is kept as it was.
#[test]
fn remote_written_series_carry_instance_and_job() {
    if !have("prometheus") {
        return;
    }
    let prom = prometheus();
    let registry = Registry::builder()
        .constant_label("service", "checkout")
        .build()
        .unwrap();
    let jobs = registry.counter("identity_jobs", "Jobs.").unwrap();
    jobs.add(5);
    let builder = || {
        RemoteWriteExporter::builder()
            .url(prom.url("/api/v1/write"))
            .job("checkout")
    };
    builder()
        .build()
        .unwrap()
        .export(&batch_of(&registry))
        .unwrap();
    jobs.add(2);
    builder()
        .instance("db-2")
        .build()
        .unwrap()
        .export(&batch_of(&registry))
        .unwrap();
    builder()
        .host_identity(false)
        .build()
        .unwrap()
        .export(&batch_of(&registry))
        .unwrap();

    let q = prom.get("/api/v1/query?query=identity_jobs_total").unwrap();
    assert_eq!(q["status"], "success", "{q}");
    let mut got: Vec<(Value, String)> = q["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["metric"].clone(),
                r["value"][1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort_by_key(|(m, _)| m["instance"].as_str().unwrap_or("").to_owned());
    let series = |instance: Option<String>| {
        let mut m =
            json!({"__name__": "identity_jobs_total", "job": "checkout", "service": "checkout"});
        if let Some(i) = instance {
            m["instance"] = json!(i);
        }
        m
    };
    let mut want = vec![
        (series(None), "7".to_owned()),
        (series(Some("db-2".into())), "7".to_owned()),
        (series(Some(kernel_hostname())), "5".to_owned()),
    ];
    want.sort_by_key(|(m, _)| m["instance"].as_str().unwrap_or("").to_owned());
    assert_eq!(got, want);
}

/// Pushgateway: the grouping key includes `instance` = the host name, so two hosts pushing
/// the same job keep a group each (`/metrics/job/<job>/instance/<host>`).
#[test]
fn pushgateway_groups_by_job_and_instance() {
    if !have("prometheus-pushgateway") {
        return;
    }
    let gateway = Server::start("prometheus-pushgateway", |port, _| {
        vec![
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--persistence.file=".into(),
            "--log.level=warn".into(),
        ]
    });
    let registry = Registry::new();
    let rows = registry.counter("identity_rows", "Rows.").unwrap();
    rows.add(3);
    let mut here = PushgatewayExporter::builder()
        .url(gateway.url(""))
        .job("nightly")
        .build()
        .unwrap();
    assert!(
        here.url().ends_with(&format!(
            "/metrics/job/nightly/instance/{}",
            kernel_hostname()
        )) || kernel_hostname().contains(|c: char| !c.is_ascii_alphanumeric() && c != '-'),
        "{}",
        here.url()
    );
    here.export(&batch_of(&registry)).unwrap();
    rows.add(4);
    PushgatewayExporter::builder()
        .url(gateway.url(""))
        .job("nightly")
        .grouping_label("instance", "elsewhere")
        .build()
        .unwrap()
        .export(&batch_of(&registry))
        .unwrap();

    let groups = gateway.get("/api/v1/metrics").unwrap();
    assert_eq!(groups["status"], "success", "{groups}");
    let mut got: Vec<(Value, String)> = groups["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let value = g["identity_rows_total"]["metrics"][0]["value"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            (g["labels"].clone(), value)
        })
        .collect();
    got.sort_by_key(|(l, _)| l["instance"].as_str().unwrap().to_owned());
    let mut want = vec![
        (
            json!({"job": "nightly", "instance": kernel_hostname()}),
            "3".to_owned(),
        ),
        (
            json!({"job": "nightly", "instance": "elsewhere"}),
            "7".to_owned(),
        ),
    ];
    want.sort_by_key(|(l, _)| l["instance"].as_str().unwrap().to_owned());
    assert_eq!(got, want);
}
