//! StatsD in from real client libraries: the Python `statsd` and `datadog` packages and
//! node's `hot-shots`, each run as a subprocess against the agent binary's UDP port on
//! 127.0.0.1, then `/metrics` scraped. Every expected value is derived from what the client
//! was told to send. A missing client skips its test with a message, unless
//! `TALLYHO_REQUIRE_TOOLS=1`, when it fails.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tallyho");

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    (head.get(9..12) == Some("200")).then(|| body.to_owned())
}

/// The value of the first sample line starting with `prefix` (name and labels, then a space).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix)?.trim().parse().ok())
}

/// Whether `check` (a command that exits 0 when the tool works) succeeds; otherwise skip
/// with a message, or panic under `TALLYHO_REQUIRE_TOOLS=1`.
fn tool(what: &str, check: &mut Command) -> bool {
    let ok = check
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("TALLYHO_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{what} is required (TALLYHO_REQUIRE_TOOLS=1) but missing"
        );
        eprintln!("skipping: {what} is not installed");
    }
    ok
}

/// A running agent with StatsD on a UDP port, killed when dropped.
struct Agent {
    child: Child,
    http: u16,
    udp: u16,
    dir: std::path::PathBuf,
}

impl Agent {
    fn start(tag: &str) -> Agent {
        let (http, udp) = (free_port(), free_udp_port());
        let dir = std::env::temp_dir().join(format!(
            "tallyho-statsd-{tag}-{}-{http}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "service = \"clients\"\n[host]\nenabled = false\n[history]\nstorage_path = {:?}\n",
                dir.join("data")
            ),
        )
        .unwrap();
        let child = Command::new(BIN)
            .args(["--config", config.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{http}")])
            .args(["--statsd", &format!("127.0.0.1:{udp}")])
            .args(["--interval", "3600"])
            .env("RUST_LOG", "warn")
            .current_dir(&dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let agent = Agent {
            child,
            http,
            udp,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http_get(http, "/health").is_none() {
            assert!(Instant::now() < deadline, "agent did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        agent
    }

    /// Scrapes until the agent has seen `lines` StatsD lines.
    fn scrape_after(&self, lines: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let prefix = "tallyho_statsd_lines_total{service=\"clients\"} ";
        loop {
            let text = http_get(self.http, "/metrics").unwrap_or_default();
            if sample(&text, prefix) == Some(lines as f64) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "not all {lines} lines seen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `name{service="clients",labels} `: the prefix of a sample line.
fn series(name: &str, labels: &str) -> String {
    let sep = if labels.is_empty() { "" } else { "," };
    format!("{name}{{service=\"clients\"{sep}{labels}}} ")
}

#[test]
fn python_statsd_incr_decr_timing_gauge_set() {
    if !tool(
        "python3 with the `statsd` package",
        Command::new("python3").args(["-c", "import statsd"]),
    ) {
        return;
    }
    let agent = Agent::start("py");
    let (ups, downs, down_by, rate, ms) = (3, 1, 2, 0.25, 40.0);
    let (gauge, delta) = (5.0, -2.0);
    let members = ["alice", "bob", "alice"];
    // Sampling is made deterministic (every sampled call is sent); the lines are the client's.
    let script = format!(
        "import random\nrandom.random = lambda: 0.0\nimport statsd\n\
         c = statsd.StatsClient('127.0.0.1', {port})\n\
         for _ in range({ups}): c.incr('py.up')\n\
         for _ in range({downs}): c.decr('py.up')\n\
         c.decr('py.down', {down_by})\n\
         c.incr('my-app.req')\n\
         c.timing('my-app.lat', {ms}, rate={rate})\n\
         c.gauge('py.g', {gauge})\nc.gauge('py.g', {delta}, delta=True)\n\
         for m in {members:?}: c.set('py.users', m)\n",
        port = agent.udp
    );
    run(Command::new("python3").args(["-c", &script]));
    let text = agent.scrape_after(ups + downs + 1 + 1 + 1 + 2 + members.len());
    let v = |name: &str| sample(&text, &series(name, ""));
    assert_eq!(v("py_up_total"), Some(ups as f64), "{text}");
    assert_eq!(v("py_up_decrements_total"), Some(downs as f64), "{text}");
    assert_eq!(v("py_down_decrements_total"), Some(down_by as f64));
    assert_eq!(v("my_app_req_total"), Some(1.0), "sanitised, not dropped");
    let n = (1.0 / rate) as u64;
    assert_eq!(v("my_app_lat_seconds_count"), Some(n as f64), "{text}");
    let sum = v("my_app_lat_seconds_sum").unwrap();
    assert!((sum - n as f64 * ms / 1000.0).abs() < 1e-9, "{sum}");
    assert_eq!(v("py_g"), Some(gauge + delta));
    let distinct = members
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert_eq!(v("py_users"), Some(distinct as f64));
    let sanitized = series("tallyho_statsd_sanitized_lines_total", "part=\"name\"");
    assert_eq!(
        sample(&text, &sanitized),
        Some(2.0),
        "my-app.req and my-app.lat"
    );
    assert_eq!(
        v("tallyho_statsd_decrement_lines_total"),
        Some((downs + 1) as f64)
    );
}

#[test]
fn python_datadog_tags_distributions_and_extensions() {
    let check = "from datadog.dogstatsd import DogStatsd";
    if !tool(
        "python3 with the `datadog` package",
        Command::new("python3").args(["-c", check]),
    ) {
        return;
    }
    let agent = Agent::start("dd");
    let (hits, misses) = (2, 1);
    let sizes = [3.0, 5.0];
    let (rate, ms, stamp, g) = (0.25, 40.0, 1_700_000_000u64, 7.0);
    let script = format!(
        "import random\nrandom.random = lambda: 0.0\nfrom datadog.dogstatsd import DogStatsd\n\
         d = DogStatsd(host='127.0.0.1', port={port}, disable_telemetry=True, container_id='c0ffee', cardinality='low')\n\
         t = ['env:prod', 'flag', 'weird-key:v']\n\
         for _ in range({hits}): d.increment('dd.hits', tags=t)\n\
         for _ in range({misses}): d.decrement('dd.hits', tags=t)\n\
         for s in {sizes:?}: d.distribution('dd.size', s, tags=['a:b'])\n\
         d.timing('dd.t', {ms}, sample_rate={rate})\n\
         d.gauge_with_timestamp('dd.g', {g}, timestamp={stamp})\n\
         d.flush()\n",
        port = agent.udp
    );
    run(Command::new("python3")
        .args(["-c", &script])
        .env("DD_EXTERNAL_ENV", "it-false,cn-app"));
    let text = agent.scrape_after(hits + misses + sizes.len() + 2);
    let tags = "env=\"prod\",flag=\"true\",weird_key=\"v\"";
    assert_eq!(
        sample(&text, &series("dd_hits_total", tags)),
        Some(hits as f64),
        "{text}"
    );
    assert_eq!(
        sample(&text, &series("dd_hits_decrements_total", tags)),
        Some(misses as f64)
    );
    let size = |s: &str| sample(&text, &series(&format!("dd_size_{s}"), "a=\"b\""));
    assert_eq!(size("count"), Some(sizes.len() as f64));
    assert_eq!(size("sum"), Some(sizes.iter().sum()));
    let n = (1.0 / rate) as u64;
    assert_eq!(
        sample(&text, &series("dd_t_seconds_count", "")),
        Some(n as f64)
    );
    assert_eq!(sample(&text, &series("dd_g", "")), Some(g), "|T accepted");
    let refused = series(
        "tallyho_statsd_refused_lines_total",
        "reason=\"unknown_field\"",
    );
    assert_eq!(
        sample(&text, &refused),
        None,
        "|c:, |e:, |card: are DogStatsD fields"
    );
    let malformed = series("tallyho_statsd_malformed_lines_total", "");
    assert_eq!(sample(&text, &malformed), Some(0.0));
}

#[test]
fn node_hot_shots_increment_decrement_and_sampled_timing() {
    // The locked package in tests/statsd_clients (scripts/test.sh runs `npm ci` there).
    let node_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/statsd_clients/node_modules"
    );
    let mut check = Command::new("node");
    check
        .args(["-e", "require('hot-shots')"])
        .env("NODE_PATH", node_path);
    if !tool(
        "node with `hot-shots` (npm ci in tests/statsd_clients)",
        &mut check,
    ) {
        return;
    }
    let agent = Agent::start("hs");
    let (ups, downs, rate, ms) = (4, 3, 0.5, 40.0);
    let script = format!(
        "Math.random = () => 0;\nconst StatsD = require('hot-shots');\n\
         const c = new StatsD({{host: '127.0.0.1', port: {port}, errorHandler: e => {{ console.error(e); process.exit(1); }}}});\n\
         for (let i = 0; i < {ups}; i++) c.increment('hs-app.req', 1, ['route:/a']);\n\
         for (let i = 0; i < {downs}; i++) c.decrement('hs-app.req', 1, ['route:/a']);\n\
         c.timing('hs.t', {ms}, {rate});\n\
         c.close(() => process.exit(0));\n",
        port = agent.udp
    );
    run(Command::new("node")
        .args(["-e", &script])
        .env("NODE_PATH", node_path));
    let text = agent.scrape_after(ups + downs + 1);
    let route = "route=\"/a\"";
    assert_eq!(
        sample(&text, &series("hs_app_req_total", route)),
        Some(ups as f64),
        "{text}"
    );
    assert_eq!(
        sample(&text, &series("hs_app_req_decrements_total", route)),
        Some(downs as f64)
    );
    let n = (1.0 / rate) as u64;
    assert_eq!(
        sample(&text, &series("hs_t_seconds_count", "")),
        Some(n as f64)
    );
}
