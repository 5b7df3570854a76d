//! The agent under hostile conditions, on 127.0.0.1: a half-open request does not block
//! SIGTERM, SIGHUP does not kill it, stale `.tmp` files go at start, and every
//! configuration error exits 2 from `check-config` and from `serve` before anything binds.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn agent(dir: &TempDir, config: &str, http: u16) -> Agent {
    let file = dir.path().join("agent.toml");
    std::fs::write(&file, config).unwrap();
    Agent(
        Command::new(BIN)
            .args(["--config", file.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{http}")])
            .args(["--statsd", ""])
            .args(["--interval", "3600"])
            .env("RUST_LOG", "warn")
            .env_remove("TALLYHO_METRICS_BASIC_AUTH")
            .env_remove("TALLYHO_METRICS_BEARER_TOKEN")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn signal(agent: &Agent, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &agent.0.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// Waits up to `limit` for the agent to exit; its status, or `None` if still running.
fn exited_within(agent: &mut Agent, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = agent.0.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn sigterm_with_a_half_open_request_exits_by_the_deadline() {
    let dir = TempDir::new("halfopen");
    let http = free_port();
    let mut a = agent(
        &dir,
        "[host]\nenabled = false\n[history]\nstorage_path = \"\"\n[http]\nheader_timeout_seconds = 600\nshutdown_timeout_seconds = 1\n",
        http,
    );
    wait_up(http);
    let mut slow = TcpStream::connect(("127.0.0.1", http)).unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    signal(&a, "-TERM");
    let status = exited_within(&mut a, Duration::from_secs(15))
        .expect("a half-open request blocked SIGTERM");
    assert!(status.success(), "{status}");
}

#[test]
fn sighup_without_rules_does_not_kill_the_agent() {
    let dir = TempDir::new("hup");
    let http = free_port();
    let mut a = agent(
        &dir,
        "[host]\nenabled = false\n[history]\nenabled = false\n",
        http,
    );
    wait_up(http);
    signal(&a, "-HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert!(a.0.try_wait().unwrap().is_none(), "SIGHUP killed the agent");
    assert!(http_get(http, "/metrics").is_some());
    a.stop();
}

#[test]
fn stale_tmp_files_are_removed_at_start() {
    let dir = TempDir::new("tmpfiles");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("metrics-1.json.tmp"), b"{half").unwrap();
    std::fs::write(out.join("keep.json"), b"{}").unwrap();
    let http = free_port();
    let mut a = agent(
        &dir,
        &format!(
            "[host]\nenabled = false\n[history]\nstorage_path = \"\"\n[export]\njson_dir = {out:?}\n"
        ),
        http,
    );
    wait_up(http);
    assert!(!out.join("metrics-1.json.tmp").exists());
    assert!(out.join("keep.json").exists());
    a.stop();
}

/// `check-config` on `text` (with `env`): exit code and stderr.
fn check(dir: &TempDir, text: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let file = dir.path().join("check.toml");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(BIN)
        .args(["check-config", file.to_str().unwrap()])
        .env_remove("TALLYHO_METRICS_BASIC_AUTH")
        .env_remove("TALLYHO_METRICS_BEARER_TOKEN")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_finds_what_serve_would_hit() {
    let dir = TempDir::new("checkcfg");
    for (text, env, needle) in [
        ("interval_seconds = 1e300\n", &[][..], "interval_seconds"),
        ("interval_seconds = -1\n", &[], "interval_seconds"),
        (
            "[export]\nremote_write_url = \"not a url\"\n",
            &[],
            "export.remote_write_url",
        ),
        (
            "[export]\npushgateway_url = \"ftp://x\"\n",
            &[],
            "export.pushgateway_url",
        ),
        (
            "[export]\notlp_endpoint = \"http//x\"\n",
            &[],
            "export.otlp_endpoint",
        ),
        (
            "[auth]\nuser = \"u\"\npassword = \"p\"\nbearer_token = \"t\"\n",
            &[],
            "not both",
        ),
        ("[auth]\nuser = \"u\"\n", &[], "empty password"),
        (
            "",
            &[("TALLYHO_METRICS_BASIC_AUTH", "u:")],
            "TALLYHO_METRICS_BASIC_AUTH",
        ),
        (
            "[auth]\nbearer_token = \"t\"\n",
            &[("TALLYHO_METRICS_BASIC_AUTH", "u:p")],
            "both",
        ),
        (
            "",
            &[("OTEL_METRIC_EXPORT_INTERVAL", "1e308")],
            "OTEL_METRIC_EXPORT_INTERVAL = 1e308",
        ),
        ("[http]\nmax_connections = 0\n", &[], "http.max_connections"),
        // Found by building the exporters, as serve does, not by the file's own checks.
        (
            "[export]\nremote_write_url = \"https://127.0.0.1:1/w\"\ntls_ca_file = \"/nonexistent/ca.pem\"\n",
            &[],
            "remote write: export.tls_ca_file \"/nonexistent/ca.pem\": cannot read it",
        ),
        (
            "[statsd_input]\nrecv_buffer_bytes = \"lots\"\n",
            &[],
            "statsd_input.recv_buffer_bytes",
        ),
    ] {
        let (code, err) = check(&dir, text, env);
        assert_eq!(code, Some(2), "{text} {env:?}: {err}");
        assert!(err.contains(needle), "{text} {env:?}: {err}");
    }
    let (code, err) = check(
        &dir,
        "[http]\nmax_connections = 64\nhealth_requires_auth = true\n[statsd_input]\nmax_families = 50\nrecv_buffer_bytes = \"4MiB\"\n[export]\nremote_write_url = \"http://127.0.0.1:9090/api/v1/write\"\n",
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn environment_errors_exit_2_before_anything_binds() {
    let dir = TempDir::new("envbind");
    let (http, udp) = (free_port(), free_udp_port());
    let out = Command::new(BIN)
        .args(["--listen", &format!("127.0.0.1:{http}")])
        .args(["--statsd", &format!("127.0.0.1:{udp}")])
        .env("TALLYHO_METRICS_BASIC_AUTH", "no-colon")
        .env("TALLYHO_STORAGE_PATH", "")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TALLYHO_METRICS_BASIC_AUTH"), "{err}");
    assert!(!err.contains("listening"), "{err}");
}

#[test]
fn a_failing_exporter_shows_its_cause_in_health_without_the_password() {
    let dir = TempDir::new("export-health");
    let (http, dead) = (free_port(), free_port());
    // Nothing listens on `dead`: every push is refused by 127.0.0.1.
    let file = dir.path().join("agent.toml");
    std::fs::write(
        &file,
        format!(
            "[host]\nenabled = false\n[history]\nenabled = false\n[export]\n\
             remote_write_url = \"http://u:s3cret@127.0.0.1:{dead}/api/v1/write\"\n"
        ),
    )
    .unwrap();
    let mut a = Agent(
        Command::new(BIN)
            .args(["--config", file.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{http}")])
            .args(["--statsd", "", "--interval", "0.2"])
            .env("RUST_LOG", "warn")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_up(http);
    let started = Instant::now();
    let rw = loop {
        let body = http_get(http, "/health").unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let found = v["exporters"].as_array().and_then(|xs| {
            xs.iter()
                .find(|x| x["failures"].as_u64() > Some(0))
                .cloned()
        });
        if let Some(x) = found {
            assert!(!body.contains("s3cret"), "the password leaked: {body}");
            break x;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no failure in /health: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let msg = rw["last_error"].as_str().unwrap_or_default();
    assert!(msg.contains(&format!("127.0.0.1:{dead}")), "{rw}");
    assert!(rw["last_error_unix_ms"].as_u64().is_some(), "{rw}");
    assert!(
        rw["failures_by_reason"]
            .as_object()
            .is_some_and(|m| !m.is_empty()),
        "{rw}"
    );
    a.stop();
}
