//! The agent's `[export]` keys of issue 16 end to end on 127.0.0.1: `statsd` pushes the
//! agent's metrics as StatsD lines to a UDP socket this test binds (a gauge as its value,
//! a counter's total as the sum of its changes), `instance` and `host_identity` reach the
//! Pushgateway's group path, and bad values exit 2 naming the key, before anything binds.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

fn start_agent(dir: &TempDir, toml: &str, http: u16, statsd_in: u16) -> Agent {
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, toml).unwrap();
    let agent = Agent(
        Command::new(BIN)
            .args(["--config", config.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{http}")])
            .args(["--statsd", &format!("127.0.0.1:{statsd_in}")])
            .args(["--interval", "0.2"])
            .env("RUST_LOG", "warn")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_up(http);
    agent
}

#[test]
fn export_statsd_pushes_the_agents_metrics() {
    let dir = TempDir::new("export-statsd");
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let (http, statsd_in) = (free_port(), free_udp_port());
    let toml = format!(
        "service = \"keys-test\"\n[host]\nenabled = false\n[history]\nenabled = false\n\
         [export]\nstatsd = \"{}\"\nstatsd_prefix = \"agent\"\nstatsd_dogstatsd_tags = true\n",
        server.local_addr().unwrap()
    );
    let _agent = start_agent(&dir, &toml, http, statsd_in);

    // Into the agent: a gauge set then adjusted, a counter.
    let (gauge, adjust, count) = (7, -2, 4);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let line = format!("queue.depth:{gauge}|g\nqueue.depth:{adjust}|g\njobs.done:{count}|c");
    client
        .send_to(line.as_bytes(), ("127.0.0.1", statsd_in))
        .unwrap();

    // Out of the agent, a few periods later.
    let tags = "|#service:keys-test";
    let gauge_line = format!("agent.queue_depth:{}|g{tags}", gauge + adjust);
    let (mut lines, mut counted) = (Vec::new(), 0.0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 65536];
    while !(lines.contains(&gauge_line) && counted == f64::from(count)) {
        assert!(
            Instant::now() < deadline,
            "not seen: {gauge_line} and {count} jobs; got {lines:?}"
        );
        let Ok(n) = server.recv(&mut buf) else {
            continue;
        };
        for l in String::from_utf8_lossy(&buf[..n]).lines() {
            if let Some(v) = l
                .strip_prefix("agent.jobs_done:")
                .and_then(|r| r.strip_suffix(&format!("|c{tags}")))
            {
                counted += v.parse::<f64>().unwrap();
            }
            lines.push(l.to_owned());
        }
    }
    // A gauge is never sent as a change: no line for it carries a sign.
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("agent.queue_depth:-") || l.starts_with("agent.queue_depth:+")),
        "{lines:?}"
    );
}

/// A one-request-at-a-time HTTP server that answers 200 and keeps each request line.
fn capture_http() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let (mut first, mut len) = (String::new(), 0usize);
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            s.lock().unwrap().push(first.trim_end().to_owned());
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (port, seen)
}

#[test]
fn instance_and_host_identity_reach_the_pushgateway_group() {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    for (keys, want) in [
        (
            "instance = \"db-7\"\n",
            "/metrics/job/keys-test/instance/db-7".to_owned(),
        ),
        (
            "host_identity = false\n",
            "/metrics/job/keys-test".to_owned(),
        ),
        ("", format!("/metrics/job/keys-test/instance/{hostname}")),
    ] {
        let dir = TempDir::new("export-identity");
        let (port, seen) = capture_http();
        let toml = format!(
            "service = \"keys-test\"\n[host]\nenabled = false\n[history]\nenabled = false\n\
             [export]\npushgateway_url = \"http://127.0.0.1:{port}\"\n{keys}"
        );
        let _agent = start_agent(&dir, &toml, free_port(), free_udp_port());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let lines = seen.lock().unwrap().clone();
            if let Some(l) = lines.first() {
                assert_eq!(l, &format!("PUT {want} HTTP/1.1"), "with {keys:?}");
                break;
            }
            assert!(Instant::now() < deadline, "no push with {keys:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn bad_export_keys_exit_2_naming_the_key() {
    let dir = TempDir::new("export-bad");
    let listen = free_port();
    let own = free_udp_port();
    for (keys, key) in [
        ("statsd = \"127.0.0.1\"\n", "export.statsd"),
        ("statsd = \"127.0.0.1:99999\"\n", "export.statsd"),
        (&*format!("statsd = \"127.0.0.1:{own}\"\n"), "export.statsd"),
        (
            "statsd = \"127.0.0.1:8125\"\nstatsd_prefix = \"a|b\"\n",
            "export.statsd_prefix",
        ),
        ("statsd_max_datagram = 1\n", "export.statsd_max_datagram"),
        ("instance = \"\"\n", "export.instance"),
        (
            "host_identity = false\ninstance = \"x\"\n",
            "export.instance",
        ),
        ("host_identity = \"yes\"\n", "host_identity"),
        // TLS files are read by check-config as by serve: a missing one is named by its
        // key and its path (relative to the configuration file's directory).
        (
            "remote_write_url = \"https://127.0.0.1:9/w\"\ntls_ca_file = \"missing-ca.pem\"\n",
            "export.tls_ca_file \"",
        ),
        (
            "pushgateway_url = \"https://127.0.0.1:9\"\ntls_ca_file = \"bad.toml\"\n",
            "no PEM certificate",
        ),
        (
            "pushgateway_url = \"https://127.0.0.1:9\"\ntls_client_cert_file = \"c.pem\"\n",
            "export.tls_client_cert_file and export.tls_client_key_file go together",
        ),
        ("tls_ca_file = \"ca.pem\"\n", "no HTTP exporter is on"),
        // The endpoint's TLS files, read before binding.
        (
            "[http]\ntls_cert_file = \"bad.toml\"\ntls_key_file = \"bad.toml\"\n",
            "http.tls_cert_file = \"",
        ),
        (
            "[http]\ntls_cert_file = \"s.pem\"\n",
            "http.tls_cert_file and http.tls_key_file go together",
        ),
    ] {
        let file = dir.path().join("bad.toml");
        std::fs::write(
            &file,
            format!("statsd = \"127.0.0.1:{own}\"\n[export]\n{keys}"),
        )
        .unwrap();
        let out = Command::new(BIN)
            .args(["check-config", file.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "check-config with {keys:?}: {err}"
        );
        assert!(err.contains(key), "check-config with {keys:?}: {err}");
        let out = Command::new(BIN)
            .args(["--config", file.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{listen}")])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "serve with {keys:?}: {err}");
        assert!(
            err.contains(key) && err.contains("bad configuration"),
            "{err}"
        );
        // Nothing was bound: the addresses are still free.
        TcpListener::bind(("127.0.0.1", listen)).expect("the listen port was left bound");
        UdpSocket::bind(("127.0.0.1", own)).expect("the StatsD port was left bound");
    }
}
