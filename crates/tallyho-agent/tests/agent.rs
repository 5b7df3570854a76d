//! The `tallyho` binary end to end on 127.0.0.1: StatsD in (valid and malformed lines),
//! /metrics out, configuration errors with exit code 2, and a final export on SIGTERM.

mod common;

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn statsd_in_metrics_out_and_final_export_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("tallyho-agent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "service = \"agent-test\"\n[host]\nenabled = false\n[export]\njson_dir = {:?}\n[history]\nstorage_path = {:?}\n",
            dir.join("out"),
            dir.join("data")
        ),
    )
    .unwrap();
    let (http, udp) = (free_port(), free_udp_port());
    let mut agent = Agent(
        Command::new(BIN)
            .args(["--config", config.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{http}")])
            .args(["--statsd", &format!("127.0.0.1:{udp}")])
            .args(["--interval", "3600"])
            .env("RUST_LOG", "warn")
            .current_dir(&dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_get(http, "/health").is_none() {
        assert!(Instant::now() < deadline, "agent did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let send = |d: &str| client.send_to(d.as_bytes(), ("127.0.0.1", udp)).unwrap();
    send("jobs.done:1|c\njobs.done:4|c|@0.5\nqueue.depth:7|g\nqueue.depth:-2|g");
    send("api.latency:250|ms|#route:/users\napi.latency:750|ms|#route:/users");
    send("this is not statsd\nbad:1|q\nusers.seen:alice|s\nusers.seen:bob|s");
    send("\u{ff}\u{fe}");

    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while sample(&text, "tallyho_statsd_lines_total{service=\"agent-test\"} ") != Some(11.0) {
        assert!(
            Instant::now() < deadline,
            "statsd lines not all seen:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
        text = http_get(http, "/metrics").unwrap_or_default();
    }
    let s = "service=\"agent-test\"";
    assert_eq!(
        sample(&text, &format!("jobs_done_total{{{s}}} ")),
        Some(9.0),
        "{text}"
    );
    assert_eq!(sample(&text, &format!("queue_depth{{{s}}} ")), Some(5.0));
    assert_eq!(sample(&text, &format!("users_seen{{{s}}} ")), Some(2.0));
    let lat = format!("api_latency_seconds_count{{{s},route=\"/users\"}} ");
    assert_eq!(sample(&text, &lat), Some(2.0), "{text}");
    let lat_sum = format!("api_latency_seconds_sum{{{s},route=\"/users\"}} ");
    assert_eq!(sample(&text, &lat_sum), Some(1.0));
    // Two unparseable lines and one datagram that is not UTF-8.
    assert_eq!(
        sample(
            &text,
            &format!("tallyho_statsd_malformed_lines_total{{{s}}} ")
        ),
        Some(3.0)
    );

    // SIGTERM: stop, export a final batch, exit 0.
    let status = Command::new("kill")
        .args(["-TERM", &agent.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(code) = agent.0.try_wait().unwrap() {
            break code;
        }
        assert!(
            Instant::now() < deadline,
            "agent did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "exit status {code}");
    let files: Vec<_> = std::fs::read_dir(dir.join("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one final export: {files:?}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    let jobs = json["families"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "jobs_done")
        .unwrap();
    assert_eq!(jobs["series"][0]["value"], 9.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_configuration_exits_2_naming_the_key() {
    let dir = std::env::temp_dir().join(format!("tallyho-agent-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "listen = \"127.0.0.1:1\"\n\n[host]\nnamng = \"node\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["check-config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("namng") && err.contains("line 4"), "{err}");
    // The same file given to `serve` also exits 2.
    let out = Command::new(BIN)
        .args(["--config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A bad flag value too.
    let out = Command::new(BIN)
        .args(["--listen", "nowhere", "snapshot"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen"));
    let good = dir.join("good.toml");
    std::fs::write(&good, "interval_seconds = 5\n[export]\nconsole = true\n").unwrap();
    let out = Command::new(BIN)
        .args(["check-config", good.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn snapshot_prints_each_format() {
    for format in ["prometheus", "openmetrics", "json", "csv", "table"] {
        let out = Command::new(BIN)
            .args(["snapshot", "--format", format])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = Command::new(BIN)
        .args(["snapshot", "--format", "openmetrics"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("# EOF\n"));
    let out = Command::new(BIN)
        .args(["snapshot", "--format", "xml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn host_metrics_in_both_namings() {
    let out = Command::new(BIN)
        .args(["snapshot", "--format", "prometheus"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("system_cpu_time_seconds_total{service=\"tallyho\",cpu=\"0\""),
        "{text}"
    );
    assert!(
        text.contains("process_open_file_descriptors{service=\"tallyho\"}"),
        "{text}"
    );
    let dir = std::env::temp_dir().join(format!("tallyho-agent-node-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("node.toml");
    std::fs::write(&cfg, "[host]\nnaming = \"node\"\n").unwrap();
    let out = Command::new(BIN)
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "snapshot",
            "--format",
            "prometheus",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("node_memory_MemTotal_bytes{service=\"tallyho\"}"),
        "{text}"
    );
    assert!(
        text.contains("node_cpu_seconds_total{service=\"tallyho\",cpu=\"0\",mode=\"user\"}"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn idle_statsd_series_expire_and_busy_ones_stay() {
    let dir = std::env::temp_dir().join(format!("tallyho-agent-ttl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "service = \"ttl\"\n[host]\nenabled = false\n[statsd_input]\nseries_ttl = \"1s\"\n[history]\nstorage_path = {:?}\n",
            dir.join("data")
        ),
    )
    .unwrap();
    let (http, udp) = (free_port(), free_udp_port());
    let _agent = Agent(
        Command::new(BIN)
            .args(["--config", config.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{http}")])
            .args(["--statsd", &format!("127.0.0.1:{udp}")])
            .args(["--interval", "3600"])
            .env("RUST_LOG", "warn")
            .current_dir(&dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_up(http);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let send = |d: &str| client.send_to(d.as_bytes(), ("127.0.0.1", udp)).unwrap();
    send("pool.size:3|g|#pool:idle\npool.size:4|g|#pool:busy\nbusy.count:1|c");
    let idle = "pool_size{service=\"ttl\",pool=\"idle\"} ";
    let busy = "pool_size{service=\"ttl\",pool=\"busy\"} ";
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut text = String::new();
    while sample(&text, idle).is_none()
        || sample(&text, "busy_count_total{service=\"ttl\"} ").is_none()
    {
        assert!(Instant::now() < deadline, "lines not seen:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
        text = http_get(http, "/metrics").unwrap_or_default();
    }
    // Keep one series busy (the same gauge value, and a counter), scraping as we go: each
    // scrape sweeps. The idle series must go within a few sweeps past its second.
    let mut sent = 1.0;
    let started = Instant::now();
    while sample(&text, idle).is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the idle series did not expire:\n{text}"
        );
        send("pool.size:4|g|#pool:busy\nbusy.count:1|c");
        sent += 1.0;
        std::thread::sleep(Duration::from_millis(200));
        text = http_get(http, "/metrics").unwrap_or_default();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "expired too early: {:?}",
        started.elapsed()
    );
    assert_eq!(sample(&text, busy), Some(4.0), "{text}");
    let count = sample(&text, "busy_count_total{service=\"ttl\"} ").unwrap();
    assert!(
        count >= sent - 1.0 && count <= sent,
        "{count} of {sent} sent\n{text}"
    );
    // The expired series comes back from its next line, with the new value only.
    send("pool.size:9|g|#pool:idle");
    let deadline = Instant::now() + Duration::from_secs(10);
    while sample(&text, idle) != Some(9.0) {
        assert!(
            Instant::now() < deadline,
            "the idle series did not return:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
        text = http_get(http, "/metrics").unwrap_or_default();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `[labels]` go on every series, `cardinality_limit` sends label sets past it to the
/// family's overflow series, and `[http] rate_limit` answers 429 to a client that asks
/// faster; `check-config` refuses a reserved label name with exit code 2.
#[test]
fn labels_cardinality_and_rate_limit_keys() {
    let dir = TempDir::new("keys");
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        "service = \"keys\"\ncardinality_limit = 2\n[labels]\nenv = \"prod\"\nregion = \"eu-1\"\n\
         [host]\nenabled = false\n[history]\nenabled = false\n[http]\nrate_limit = 2\n",
    )
    .unwrap();
    let (port, udp) = (free_port(), free_udp_port());
    let _agent = Agent(
        Command::new(BIN)
            .args(["--config", config.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--statsd", &format!("127.0.0.1:{udp}")])
            .args(["--interval", "3600"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_up(port);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .send_to(
            b"hits:1|c|#route:a\nhits:1|c|#route:b\nhits:1|c|#route:c\nhits:1|c|#route:d",
            ("127.0.0.1", udp),
        )
        .unwrap();
    let labels = "service=\"keys\",env=\"prod\",region=\"eu-1\"";
    let want = format!("hits_total{{{labels},otel_metric_overflow=\"true\"}} ");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut text = String::new();
    let mut limited = 0;
    while sample(&text, &want).is_none() {
        assert!(Instant::now() < deadline, "no overflow series:\n{text}");
        std::thread::sleep(Duration::from_millis(600));
        match http(port, "/metrics", "") {
            Some((200, body)) => text = body,
            Some((429, _)) => limited += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(sample(&text, &want), Some(2.0), "{text}");
    assert_eq!(
        sample(&text, &format!("hits_total{{{labels},route=\"a\"}} ")),
        Some(1.0),
        "{text}"
    );
    // Faster than 2 a second (bursts of 4): some are refused.
    let codes: Vec<u16> = (0..12)
        .filter_map(|_| http(port, "/metrics", "").map(|(c, _)| c))
        .collect();
    assert!(codes.contains(&429), "{codes:?} (and {limited} earlier)");
    assert!(codes.contains(&200), "{codes:?}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[labels]\n__name__ = \"x\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["check-config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("labels.__name__"), "{err}");
}

/// `tallyho send` delivers StatsD lines to the agent's address without `nc`: arguments,
/// or standard input.
#[test]
fn send_delivers_lines_to_the_agent() {
    let (port, udp) = (free_port(), free_udp_port());
    let statsd = format!("127.0.0.1:{udp}");
    let _agent = Agent(
        Command::new(BIN)
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--statsd",
                &statsd,
            ])
            .args(["--interval", "3600"])
            .env("TALLYHO_STORAGE_PATH", "")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_up(port);
    let out = Command::new(BIN)
        .args([
            "--statsd",
            &statsd,
            "send",
            "sent.jobs:2|c|#queue:fast",
            "sent.depth:7|g",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("sent 2 datagram(s)"));
    let mut piped = Command::new(BIN)
        .args(["--statsd", &statsd, "send"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    piped
        .stdin
        .take()
        .unwrap()
        .write_all(b"sent.jobs:3|c|#queue:fast\n")
        .unwrap();
    assert!(piped.wait().unwrap().success());
    let want = "sent_jobs_total{service=\"tallyho\",queue=\"fast\"} ";
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut text = String::new();
    while sample(&text, want) != Some(5.0) {
        assert!(Instant::now() < deadline, "not delivered:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
        text = http_get(port, "/metrics").unwrap_or_default();
    }
    assert_eq!(
        sample(&text, "sent_depth{service=\"tallyho\"} "),
        Some(7.0),
        "{text}"
    );
    // With StatsD off there is nothing to send to: a clear error.
    let off = Command::new(BIN)
        .args(["--statsd", "", "send", "x:1|c"])
        .output()
        .unwrap();
    assert!(!off.status.success());
    assert!(String::from_utf8_lossy(&off.stderr).contains("StatsD input is off"));
}
