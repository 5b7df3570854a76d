//! The agent's rules end to end on 127.0.0.1: a StatsD gauge crosses a threshold, the
//! alert reaches a real Alertmanager (Debian's `prometheus-alertmanager`, started here)
//! with its labels and annotations, the agent lists it in `/api/v1/alerts`, and recorded
//! series and `ALERTS` are queryable through `/api/v1/query`. Reloads (SIGHUP and
//! `POST /-/reload`) keep the old rules when a file is bad; a bad file at startup is a
//! clear error naming file and line; the dashboard is served at `/`.

mod common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

const RULES: &str = r#"groups:
  - name: queue
    rules:
      - record: queue_depth:doubled
        expr: queue_depth * 2
      - alert: QueueDeep
        expr: queue_depth > 5
        for: 0s
        labels:
          severity: page
        annotations:
          summary: "queue of {{ $labels.service }} holds {{ $value }} jobs"
"#;

/// Alertmanager on a free loopback port, killed on drop.
struct Alertmanager {
    child: Child,
    url: String,
    _dir: TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real Alertmanager, or `None` (after saying why) when it is not installed and
/// `TALLYHO_REQUIRE_TOOLS` is unset.
fn alertmanager() -> Option<Alertmanager> {
    if !Path::new(ALERTMANAGER).exists() {
        assert!(
            std::env::var_os("TALLYHO_REQUIRE_TOOLS").is_none(),
            "{ALERTMANAGER} is missing: apt-get install prometheus-alertmanager (scripts/test.sh does)"
        );
        eprintln!("skipping: {ALERTMANAGER} is missing (apt-get install prometheus-alertmanager)");
        return None;
    }
    let dir = TempDir::new("am");
    let config = dir.path().join("am.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n",
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(ALERTMANAGER)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting prometheus-alertmanager");
    let am = Alertmanager {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while http(port, "/-/ready", "").map(|r| r.0) != Some(200) {
        assert!(
            Instant::now() < deadline,
            "alertmanager did not become ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(am)
}

/// Writes `agent.toml` in `dir` (1 s interval, no host metrics, history in memory, rules
/// from `rules.yml` next to it, `extra` appended); returns its path.
fn config(dir: &Path, extra: &str) -> PathBuf {
    let text = format!(
        "service = \"alerts\"\ninterval_seconds = 1\n[host]\nenabled = false\n[history]\nstorage_path = \"\"\n[alerting]\nrule_files = [\"rules.yml\"]\nevaluation_interval = \"1s\"\n{extra}"
    );
    let path = dir.join("agent.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts the agent from another working directory, so the rule file is found relative to
/// the configuration file.
fn start(cfg: &Path) -> (Agent, u16, u16) {
    let (port, udp) = (free_port(), free_udp_port());
    let agent = Agent(
        Command::new(BIN)
            .args(["--config", cfg.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--statsd", &format!("127.0.0.1:{udp}")])
            .env("RUST_LOG", "warn")
            .env_remove("TALLYHO_STORAGE_PATH")
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_up(port);
    (agent, port, udp)
}

/// Polls `f` every 200 ms for up to 30 s; the last value it returned when it never
/// became `Some`, in the panic.
fn until<T>(what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match f() {
            Ok(v) => return v,
            Err(last) => assert!(Instant::now() < deadline, "{what}: {last}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn get_json(port: u16, path: &str) -> Result<Value, String> {
    match http(port, path, "") {
        Some((200, body)) => serde_json::from_str(&body).map_err(|e| format!("{e}: {body}")),
        other => Err(format!("{path}: {other:?}")),
    }
}

/// POST `path` with an empty body; (status, body).
fn post(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head[9..12].parse().unwrap(), body.to_string())
}

fn one_result(v: &Value) -> Result<&Value, String> {
    match v["data"]["result"].as_array() {
        Some(r) if r.len() == 1 => Ok(&r[0]),
        _ => Err(v.to_string()),
    }
}

#[test]
fn alert_reaches_alertmanager_and_rule_results_are_queryable() {
    let Some(am) = alertmanager() else { return };
    let tmp = TempDir::new("alerting");
    std::fs::write(tmp.path().join("rules.yml"), RULES).unwrap();
    let cfg = config(tmp.path(), &format!("alertmanager_url = \"{}\"\n", am.url));
    let (mut agent, port, udp) = start(&cfg);
    let am_port: u16 = am.url.rsplit(':').next().unwrap().parse().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .send_to(b"queue.depth:7|g", ("127.0.0.1", udp))
        .unwrap();

    // Alertmanager's own API shows it active, with the rule's labels and annotations.
    let alert = until("the alert in Alertmanager", || {
        let v = get_json(am_port, "/api/v2/alerts")?;
        v.as_array()
            .and_then(|a| a.iter().find(|x| x["labels"]["alertname"] == "QueueDeep"))
            .cloned()
            .ok_or_else(|| v.to_string())
    });
    assert_eq!(alert["status"]["state"], "active", "{alert}");
    assert_eq!(alert["labels"]["severity"], "page");
    assert_eq!(alert["labels"]["service"], "alerts");
    assert_eq!(
        alert["annotations"]["summary"], "queue of alerts holds 7 jobs",
        "{alert}"
    );
    let link = alert["generatorURL"].as_str().unwrap();
    assert!(
        link.starts_with(&format!(
            "http://127.0.0.1:{port}/graph?g0.expr=queue_depth+%3E+5"
        )),
        "{link}"
    );

    // The agent lists it firing, and the rule in its group.
    let v = get_json(port, "/api/v1/alerts").unwrap();
    let a = &v["data"]["alerts"][0];
    assert_eq!(a["state"], "firing", "{v}");
    assert_eq!(a["labels"]["alertname"], "QueueDeep");
    assert_eq!(a["value"], "7e+00");
    let v = get_json(port, "/api/v1/rules?type=record").unwrap();
    let g = &v["data"]["groups"][0];
    assert_eq!(g["name"], "queue");
    assert!(g["file"].as_str().unwrap().ends_with("rules.yml"), "{g}");
    assert_eq!(g["rules"].as_array().unwrap().len(), 1, "{g}");
    assert_eq!(g["rules"][0]["name"], "queue_depth:doubled");
    assert_eq!(g["rules"][0]["health"], "ok", "{g}");

    // What the rules wrote is in the history.
    until("the recorded series", || {
        let v = get_json(port, "/api/v1/query?query=queue_depth:doubled")?;
        let r = one_result(&v)?;
        (r["value"][1] == "14" && r["metric"]["service"] == "alerts")
            .then_some(())
            .ok_or_else(|| v.to_string())
    });
    let v = until("ALERTS", || {
        get_json(
            port,
            "/api/v1/query?query=ALERTS%7Balertname%3D%22QueueDeep%22%7D",
        )
        .and_then(|v| one_result(&v).cloned())
    });
    assert_eq!(v["metric"]["alertstate"], "firing", "{v}");
    assert_eq!(v["metric"]["severity"], "page");

    // Self-metrics: evaluations counted, the delivery too.
    let metrics = http_get(port, "/metrics").unwrap();
    let evals = metrics
        .lines()
        .find(|l| l.starts_with("tallyho_rules_group_evaluations_total{"))
        .unwrap_or_else(|| panic!("no evaluation count in\n{metrics}"));
    assert!(evals.contains("rule_group=\"queue\""), "{evals}");
    let sent = until("a delivery counted", || {
        let m = http_get(port, "/metrics").ok_or("no /metrics")?;
        m.lines()
            .find(|l| l.starts_with("tallyho_rules_notifications_sent_total{"))
            .filter(|l| !l.ends_with(" 0"))
            .map(str::to_string)
            .ok_or(m)
    });
    assert!(sent.contains("alertmanager"), "{sent}");

    // The condition clears: the agent resolves the alert and Alertmanager drops it.
    client
        .send_to(b"queue.depth:1|g", ("127.0.0.1", udp))
        .unwrap();
    until("the alert resolved in Alertmanager", || {
        let v = get_json(am_port, "/api/v2/alerts")?;
        let active = v
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["labels"]["alertname"] == "QueueDeep"));
        (!active).then_some(()).ok_or_else(|| v.to_string())
    });
    let v = get_json(port, "/api/v1/alerts").unwrap();
    assert_eq!(v["data"]["alerts"], serde_json::json!([]), "{v}");
    agent.stop();
}

#[test]
fn bad_rule_files_are_refused_and_the_old_rules_keep_running() {
    let tmp = TempDir::new("reload");
    let rules = tmp.path().join("rules.yml");
    // At startup: a clear error naming the file, line and column (as promtool), exit 2
    // (a configuration error, found before anything binds).
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: rate(x[5m]\n",
    )
    .unwrap();
    let cfg = config(tmp.path(), "");
    let out = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap(), "--statsd", ""])
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .env_remove("TALLYHO_STORAGE_PATH")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{}: 5:15: ", rules.display()))
            && err.contains("unclosed left parenthesis"),
        "{err}"
    );
    // `check-config` says the same, exit 2.
    let out = Command::new(BIN)
        .args(["check-config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("rules.yml: 5:15: "), "{err}");

    std::fs::write(&rules, RULES).unwrap();
    let (mut agent, port, _udp) = start(&cfg);
    let groups = |port| -> Vec<String> {
        get_json(port, "/api/v1/rules").unwrap()["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(groups(port), ["queue"]);

    // A bad file on reload: refused with the file and line; the old group stays.
    std::fs::write(
        &rules,
        "groups:\n  - name: other\n    rules:\n      - record: bad name\n        expr: up\n",
    )
    .unwrap();
    let (status, body) = post(port, "/-/reload");
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("rules.yml: 4:"), "{body}");
    assert_eq!(groups(port), ["queue"]);
    let kill = |sig: &str| {
        let ok = Command::new("kill")
            .args([sig, &agent.0.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    kill("-HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(groups(port), ["queue"], "SIGHUP with a bad file");
    let failures = until("the refusals counted", || {
        let m = http_get(port, "/metrics").ok_or("no /metrics")?;
        sample(
            &m,
            "tallyho_rules_reload_failures_total{service=\"alerts\"} ",
        )
        .filter(|n| *n >= 2.0)
        .ok_or(m)
    });
    assert_eq!(failures, 2.0);

    // A good file, and a second one added to the configuration: SIGHUP picks both up.
    std::fs::write(&rules, RULES.replace("name: queue", "name: renamed")).unwrap();
    std::fs::write(
        tmp.path().join("more.yml"),
        "groups:\n  - name: more\n    rules:\n      - record: one\n        expr: vector(1)\n",
    )
    .unwrap();
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "rule_files = [\"rules.yml\"]",
        "rule_files = [\"rules.yml\", \"more.yml\"]",
    );
    std::fs::write(&cfg, text).unwrap();
    kill("-HUP");
    until("the reloaded groups", || {
        let g = groups(port);
        (g == ["renamed", "more"])
            .then_some(())
            .ok_or(format!("{g:?}"))
    });
    let (status, body) = post(port, "/-/reload");
    assert_eq!(status, 200, "{body}");

    // The dashboard is on by default, and the endpoint still serves /metrics.
    let (status, page) = http(port, "/", "").unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("<html"), "{page}");
    agent.stop();
}

#[test]
fn without_configuration_there_are_no_rules_and_the_dashboard_is_on() {
    let tmp = TempDir::new("bare");
    let port = free_port();
    let _agent = Agent(
        Command::new(BIN)
            .args(["serve", "--statsd", ""])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("TALLYHO_STORAGE_PATH", "")
            .env("RUST_LOG", "warn")
            .current_dir(tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_up(port);
    let v = get_json(port, "/api/v1/rules").unwrap();
    assert_eq!(v["data"]["groups"], serde_json::json!([]), "{v}");
    let v = get_json(port, "/api/v1/alerts").unwrap();
    assert_eq!(v["data"]["alerts"], serde_json::json!([]), "{v}");
    assert_eq!(http(port, "/", "").unwrap().0, 200);
    // With `[dashboard] enabled = false`, `/` is not served.
    let cfg = tmp.path().join("off.toml");
    std::fs::write(
        &cfg,
        "[dashboard]\nenabled = false\n[history]\nstorage_path = \"\"\n",
    )
    .unwrap();
    let port2 = free_port();
    let _off = Agent(
        Command::new(BIN)
            .args(["--config", cfg.to_str().unwrap(), "--statsd", ""])
            .args(["--listen", &format!("127.0.0.1:{port2}")])
            .env_remove("TALLYHO_STORAGE_PATH")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_up(port2);
    assert_eq!(http(port2, "/", "").unwrap().0, 404);
}
