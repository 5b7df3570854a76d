//! The agent's history end to end on 127.0.0.1: a StatsD counter is queryable through
//! `/api/v1/query` after a collection, the real `promtool` queries the agent (with basic
//! auth too), samples survive a restart on the same directory, `tallyho query` reads a
//! running agent and a directory, and bad `[history]` values exit 2 naming the key.

mod common;

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const BASIC: &str = "Authorization: Basic Z3JhZmFuYTpzM2NyZXQ=\r\n"; // grafana:s3cret

/// Writes a config with a 1 s interval, no host metrics, the history in `dir/data` and
/// basic auth when `auth`; returns its path.
fn config(dir: &Path, auth: bool) -> std::path::PathBuf {
    let mut text = format!(
        "service = \"hist\"\ninterval_seconds = 1\n[host]\nenabled = false\n[history]\nretention = \"2h\"\nmax_bytes = \"64MiB\"\nstorage_path = {:?}\n",
        dir.join("data")
    );
    if auth {
        text.push_str("[auth]\nuser = \"grafana\"\npassword = \"s3cret\"\n");
    }
    let path = dir.join("agent.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn start(dir: &Path, cfg: &Path) -> (Agent, u16, u16) {
    let (http, udp) = (free_port(), free_udp_port());
    let agent = Agent(
        Command::new(BIN)
            .args(["--config", cfg.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{http}")])
            .args(["--statsd", &format!("127.0.0.1:{udp}")])
            .env("RUST_LOG", "warn")
            .env_remove("TALLYHO_STORAGE_PATH")
            .current_dir(dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_up(http);
    (agent, http, udp)
}

/// `/api/v1/query` for `q` (already URL-encoded) until `ok` accepts its result.
fn query_until(port: u16, q: &str, headers: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = http(port, &format!("/api/v1/query?query={q}"), headers);
        if let Some((200, body)) = &got {
            let v: Value = serde_json::from_str(body).unwrap();
            if ok(&v["data"]["result"]) {
                return v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no matching answer to {q}: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn value_is(result: &Value, want: &str) -> bool {
    result
        .as_array()
        .is_some_and(|r| r.len() == 1 && r[0]["value"][1] == want)
}

fn tallyho(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("TALLYHO_STORAGE_PATH")
        .env_remove("TALLYHO_METRICS_BASIC_AUTH")
        .env_remove("TALLYHO_METRICS_BEARER_TOKEN")
        .current_dir(dir)
        .output()
        .unwrap()
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool not found: run scripts/test.sh, which installs Debian's prometheus");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "promtool {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn statsd_counter_is_queryable_survives_restart_and_reads_back_with_tallyho_query() {
    let tmp = TempDir::new("hist");
    let dir = tmp.path();
    let cfg = config(dir, true);
    let (mut agent, port, udp) = start(dir, &cfg);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .send_to(b"jobs.done:3|c\nqueue.depth:7|g", ("127.0.0.1", udp))
        .unwrap();

    // Without credentials the API refuses, like /metrics.
    let (status, _) = http(port, "/api/v1/query?query=up", "").unwrap();
    assert_eq!(status, 401);
    let v = query_until(port, "jobs_done_total", BASIC, |r| value_is(r, "3"));
    assert_eq!(v["data"]["result"][0]["metric"]["service"], "hist");
    let t_old = v["data"]["result"][0]["value"][0].as_f64().unwrap();
    // A rate over the history's samples works too.
    query_until(port, "sum(rate(jobs_done_total%5B1m%5D))", BASIC, |r| {
        r.as_array().is_some_and(|a| a.len() == 1)
    });

    // /health shows the history's figures.
    let (_, body) = http(port, "/health", "").unwrap();
    let health: Value = serde_json::from_str(&body).unwrap();
    let h = &health["history"];
    assert!(h["series"].as_u64().unwrap() >= 2, "{health}");
    assert!(h["bytes_memory"].as_u64().unwrap() > 0, "{health}");
    assert_eq!(h["retention_seconds"], 7200.0);
    assert!(h["newest_unix_ms"].as_i64().unwrap() >= (t_old * 1000.0) as i64 - 1);

    // The real promtool, with basic auth in the URL as Go's client sends it.
    let server = format!("http://grafana:s3cret@127.0.0.1:{port}");
    let out = promtool(&["query", "instant", &server, "jobs_done_total"]);
    assert!(
        out.contains("jobs_done_total{service=\"hist\"} => 3 @["),
        "{out}"
    );
    let out = promtool(&["query", "labels", &server, "__name__"]);
    assert!(out.lines().any(|l| l == "jobs_done_total"), "{out}");
    let out = promtool(&["query", "series", "--match=queue_depth", &server]);
    assert!(
        out.contains("queue_depth") && out.contains("service=\"hist\""),
        "{out}"
    );

    // `tallyho query` against the running agent (credentials from the same config file).
    let url = format!("http://127.0.0.1:{port}");
    let out = tallyho(
        dir,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "query",
            "jobs_done_total",
            "--url",
            &url,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("jobs_done_total"))
        .unwrap();
    assert!(
        row.contains("service=\"hist\"") && row.contains(" 3 "),
        "{text}"
    );
    // Without credentials: a clear refusal.
    let out = tallyho(dir, &["query", "up", "--url", &url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    // The directory is held by the agent: `--storage-path` reads it read-only anyway
    // (the agent's WAL holds the sample), and the agent goes on undisturbed.
    let data = dir.join("data");
    let t = format!("{t_old}");
    let out = tallyho(
        dir,
        &[
            "query",
            "jobs_done_total",
            "--time",
            &t,
            "--storage-path",
            data.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["data"]["result"][0]["value"][1], "3", "{v}");
    query_until(port, "jobs_done_total", BASIC, |r| value_is(r, "3"));

    agent.stop();

    // Restart on the same directory: the old sample is still there.
    let (mut agent, port, _) = start(dir, &cfg);
    let q = format!("jobs_done_total&time={t_old}");
    query_until(port, &q, BASIC, |r| value_is(r, "3"));
    agent.stop();

    // And `tallyho query` reads the directory once no agent holds it.
    let out = tallyho(
        dir,
        &[
            "query",
            "jobs_done_total",
            "--time",
            &t,
            "--storage-path",
            data.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["data"]["result"][0]["value"][1], "3", "{v}");
    // A range query over the directory prints one row per step.
    let (s, e) = (format!("{}", t_old - 2.0), format!("{}", t_old + 2.0));
    let out = tallyho(
        dir,
        &[
            "query",
            "jobs_done_total",
            "--start",
            &s,
            "--end",
            &e,
            "--step",
            "1s",
            "--storage-path",
            data.to_str().unwrap(),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.lines()
            .filter(|l| l.starts_with("jobs_done_total"))
            .count()
            >= 2,
        "{text}"
    );
    // Bad PromQL: the API's error, exit 1.
    let out = tallyho(
        dir,
        &["query", "sum(", "--storage-path", data.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad_data"));
    // Nothing was written in the crate's directory (the tests' working directory).
    assert!(!Path::new(env!("CARGO_MANIFEST_DIR")).join("data").exists());
}

#[test]
fn bad_history_config_exits_2_naming_the_key() {
    let tmp = TempDir::new("histcfg");
    let dir = tmp.path();
    for (text, key, line) in [
        (
            "[history]\nretention = \"forever\"\n",
            "history.retention",
            "line 2",
        ),
        (
            "\n\n[history]\nmax_bytes = \"lots\"\n",
            "history.max_bytes",
            "line 4",
        ),
        ("[history]\nenabled = 1\n", "enabled", "line 2"),
        ("[history]\nstorage = \"x\"\n", "storage", "line 2"),
    ] {
        let file = dir.join("bad.toml");
        std::fs::write(&file, text).unwrap();
        for args in [
            vec!["check-config", file.to_str().unwrap()],
            vec!["--config", file.to_str().unwrap()],
        ] {
            let out = tallyho(dir, &args);
            assert_eq!(out.status.code(), Some(2), "{text} {args:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(key) && err.contains(line), "{text}: {err}");
        }
    }
    let file = dir.join("small.toml");
    std::fs::write(&file, "[history]\nmax_bytes = 100\n").unwrap();
    let out = tallyho(dir, &["check-config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("history.max_bytes"));
}

#[test]
fn memory_only_and_disabled_history() {
    let tmp = TempDir::new("histmem");
    let dir = tmp.path();
    // storage_path = "" keeps the history in memory: queries work, no directory appears.
    let cfg = dir.join("mem.toml");
    std::fs::write(
        &cfg,
        "interval_seconds = 1\n[host]\nenabled = false\n[history]\nstorage_path = \"\"\n",
    )
    .unwrap();
    let (mut agent, port, udp) = start(dir, &cfg);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.send_to(b"hits:5|c", ("127.0.0.1", udp)).unwrap();
    query_until(port, "hits_total", "", |r| value_is(r, "5"));
    agent.stop();
    let entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("mem.toml")]);
    // enabled = false: no query API.
    std::fs::write(
        &cfg,
        "[host]\nenabled = false\n[history]\nenabled = false\n",
    )
    .unwrap();
    let (mut agent, port, _) = start(dir, &cfg);
    let (status, _) = http(port, "/api/v1/query?query=up", "").unwrap();
    assert_eq!(status, 404);
    agent.stop();
}
