//! Issue 16, items 5 and 6: what the StatsD exporter's lines become in the real daemons.
//! Etsy statsd (the npm package, installed with `npm ci` in `tests/statsd_daemons/`) and
//! collectd (Debian `collectd-core`, its `statsd` plugin) each listen on 127.0.0.1 and write
//! what they computed in Graphite's plaintext format to a TCP listener of this test (Etsy's
//! `graphite` backend, collectd's `write_graphite`). Over several export periods:
//! up-down counters end at their true value (3, and -4), a counter at its total, and
//! histograms, with a unit and without, at their exact count, sum and buckets, from which
//! the bound of the largest observation is read. Expected values come from the input.
//! A missing daemon skips its test with a message, unless `TALLYHO_REQUIRE_TOOLS=1`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tallyho::{Buckets, Registry};
use tallyho_export::statsd::StatsdExporter;
use tallyho_export::Pipeline;

mod common;
use common::TempDir;

/// `Some(path)` when `what` is there; otherwise a skip message, or a failure under
/// `TALLYHO_REQUIRE_TOOLS=1`.
fn need(what: &str, found: Option<PathBuf>) -> Option<PathBuf> {
    if found.is_none() {
        assert!(
            std::env::var("TALLYHO_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{what} is required (TALLYHO_REQUIRE_TOOLS=1) but missing"
        );
        eprintln!("skipped: {what} is missing");
    }
    found
}

fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

/// A Graphite plaintext receiver on 127.0.0.1: every `name value timestamp` line, in order.
struct Graphite {
    port: u16,
    seen: Arc<Mutex<Vec<(String, f64)>>>,
    stop: Arc<AtomicBool>,
}

impl Graphite {
    fn start() -> Graphite {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(conn).lines() {
                        let Ok(line) = line else { return };
                        let mut parts = line.split_whitespace();
                        if let (Some(name), Some(Ok(v))) =
                            (parts.next(), parts.next().map(str::parse::<f64>))
                        {
                            s.lock().unwrap().push((name.to_owned(), v));
                        }
                    }
                });
            }
        });
        Graphite { port, seen, stop }
    }

    fn last(&self, name: &str) -> Option<f64> {
        let seen = self.seen.lock().unwrap();
        seen.iter().rev().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    fn total(&self, name: &str) -> Option<f64> {
        let seen = self.seen.lock().unwrap();
        let values: Vec<f64> = seen
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .collect();
        (!values.is_empty()).then(|| values.iter().sum())
    }
}

impl Drop for Graphite {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A daemon, killed on drop.
struct Daemon {
    child: Child,
    udp: SocketAddr,
    _dir: TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a daemon names what it computed in Graphite, and how it reports counters.
struct Dialect {
    gauge: fn(&str) -> String,
    counter: fn(&str) -> String,
    /// Counters arrive as one number per flush (summed here), not as a running total.
    counter_per_flush: bool,
    /// Significant digits of the values written (`None`: shortest round trip).
    digits: Option<usize>,
}

fn etsy_gauge(key: &str) -> String {
    format!("stats.gauges.{key}")
}
fn etsy_counter(key: &str) -> String {
    format!("stats.counters.{key}.count")
}
fn collectd_gauge(key: &str) -> String {
    format!("tallyho-test.statsd.gauge-{}", key.replace('.', "_"))
}
fn collectd_counter(key: &str) -> String {
    format!("tallyho-test.statsd.derive-{}", key.replace('.', "_"))
}

fn start_etsy(graphite: &Graphite) -> Option<Daemon> {
    let node = need(
        "node",
        Command::new("node")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .ok()
            .map(|_| PathBuf::from("node")),
    )?;
    let pkg =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/statsd_daemons/node_modules/statsd");
    let pkg = need(
        "Etsy statsd (`npm ci` in crates/tallyho-export/tests/statsd_daemons)",
        pkg.join("stats.js").is_file().then_some(pkg),
    )?;
    let dir = TempDir::new("etsy-statsd");
    let udp = free_udp_port();
    let mgmt = common::free_port();
    let config = dir.0.join("config.js");
    std::fs::write(
        &config,
        format!(
            "{{ port: {udp}, address: \"127.0.0.1\", mgmt_port: {mgmt}, mgmt_address: \"127.0.0.1\",
               backends: [\"./backends/graphite\"], graphiteHost: \"127.0.0.1\",
               graphitePort: {}, flushInterval: 500, graphite: {{ legacyNamespace: false }} }}",
            graphite.port
        ),
    )
    .unwrap();
    let child = Command::new(node)
        .arg("stats.js")
        .arg(&config)
        .current_dir(&pkg)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    Some(Daemon {
        child,
        udp: ([127, 0, 0, 1], udp).into(),
        _dir: dir,
    })
}

fn start_collectd(graphite: &Graphite) -> Option<Daemon> {
    let bin = ["collectd", "/usr/sbin/collectd"].into_iter().find(|b| {
        Command::new(b)
            .arg("-h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    });
    let bin = need("collectd (Debian collectd-core)", bin.map(PathBuf::from))?;
    let dir = TempDir::new("collectd");
    let udp = free_udp_port();
    let conf = dir.0.join("collectd.conf");
    std::fs::write(
        &conf,
        format!(
            r#"Hostname "tallyho-test"
FQDNLookup false
BaseDir "{dir}"
PIDFile "{dir}/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
Interval 1
AutoLoadPlugin false
LoadPlugin statsd
<LoadPlugin write_graphite>
  FlushInterval 1
</LoadPlugin>
<Plugin statsd>
  Host "127.0.0.1"
  Port "{udp}"
</Plugin>
<Plugin write_graphite>
  <Node "test">
    Host "127.0.0.1"
    Port "{graphite}"
    Protocol "tcp"
    EscapeCharacter "_"
    StoreRates false
  </Node>
</Plugin>
"#,
            dir = dir.0.display(),
            graphite = graphite.port
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg("-f")
        .arg("-C")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Some(Daemon {
        child,
        udp: ([127, 0, 0, 1], udp).into(),
        _dir: dir,
    })
}

/// Sends a probe gauge until the daemon has written it back: it reads and flushes.
fn wait_ready(daemon: &Daemon, graphite: &Graphite, dialect: &Dialect) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let name = (dialect.gauge)("tallyho_probe");
    let deadline = Instant::now() + Duration::from_secs(30);
    while graphite.last(&name).is_none() {
        assert!(
            Instant::now() < deadline,
            "the daemon never flushed a probe"
        );
        let _ = sock.send_to(b"tallyho_probe:1|g", daemon.udp);
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `v` as a daemon that writes `digits` significant digits writes it.
fn as_written(v: f64, digits: Option<usize>) -> f64 {
    match digits {
        Some(d) => format!("{v:.*e}", d - 1).parse().unwrap(),
        None => v,
    }
}

/// What a histogram's observations must arrive as, and the bound of the largest one.
fn expect_histogram(
    want: &mut BTreeMap<String, f64>,
    key: &str,
    bounds: &[f64],
    seen: &[f64],
    dialect: &Dialect,
) -> Option<f64> {
    let g = |suffix: &str| (dialect.gauge)(&format!("{key}{suffix}"));
    want.insert(g(".count"), seen.len() as f64);
    let sum = seen.iter().fold(0.0, |a, v| a + v);
    want.insert(g(".sum"), as_written(sum, dialect.digits));
    for b in bounds {
        let le = seen.iter().filter(|v| *v <= b).count() as f64;
        let name = g(&format!(".bucket.le_{}", b.to_string().replace('.', "_")));
        want.insert(name, le);
    }
    let max = seen.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    bounds.iter().copied().find(|b| max <= *b)
}

/// One export period: up-down changes (two counters), counter increments, observations
/// (two histograms).
type Period = (i64, i64, u64, &'static [f64], &'static [f64]);

/// Three export periods into the daemon at `target`, then every value as it arrived.
fn run_periods(daemon: &Daemon, graphite: &Graphite, dialect: &Dialect) {
    wait_ready(daemon, graphite, dialect);
    let r = Registry::new();
    let inflight = r.metric("inflight", "").up_down_counter().unwrap();
    let debt = r.metric("debt", "").up_down_counter().unwrap();
    let jobs = r.counter("jobs", "").unwrap();
    let lat_bounds = [0.05, 0.1, 0.25, 0.5];
    let lat = r
        .metric("lat", "")
        .unit("seconds")
        .buckets(Buckets::new(lat_bounds).unwrap())
        .histogram()
        .unwrap();
    let size_bounds = [10.0, 100.0];
    let sizes = r
        .metric("sizes", "")
        .buckets(Buckets::new(size_bounds).unwrap())
        .histogram()
        .unwrap();
    let exporter = StatsdExporter::new(daemon.udp).unwrap().prefix("t");
    let p = Pipeline::builder(r.clone())
        .interval(Duration::from_secs(3600))
        .exporter(exporter)
        .start()
        .unwrap();
    // Per period: up-down changes, counter increments, observations.
    let periods: [Period; 3] = [
        (5, -1, 3, &[0.045, 0.1, 0.1], &[3.0, 700.0]),
        (-2, -3, 2, &[0.1, 0.1], &[40.0]),
        (0, 0, 0, &[], &[]),
    ];
    let (mut lat_seen, mut size_seen) = (Vec::new(), Vec::new());
    for (up, down, n, l, s) in periods {
        inflight.add(up);
        debt.add(down);
        jobs.add(n);
        for v in l {
            lat.observe(*v);
        }
        for v in s {
            sizes.observe(*v);
        }
        lat_seen.extend_from_slice(l);
        size_seen.extend_from_slice(s);
        assert!(p.flush(Duration::from_secs(5)));
        // Let the daemon flush between periods, so values persist across its flushes.
        std::thread::sleep(Duration::from_millis(1200));
    }

    let names: Vec<String> = r.snapshot().families.into_iter().map(|f| f.name).collect();
    let key = |family: &str| {
        let name = names.iter().find(|n| n.starts_with(family)).unwrap();
        format!("t.{name}")
    };
    let mut want = BTreeMap::new();
    let sum_i = |i: usize| periods.iter().map(|p| [p.0, p.1][i]).sum::<i64>() as f64;
    want.insert((dialect.gauge)(&key("inflight")), sum_i(0));
    want.insert((dialect.gauge)(&key("debt")), sum_i(1));
    let jobs_total = periods.iter().map(|p| p.2).sum::<u64>() as f64;
    want.insert((dialect.counter)(&key("jobs")), jobs_total);
    let lat_key = key("lat");
    let lat_max = expect_histogram(&mut want, &lat_key, &lat_bounds, &lat_seen, dialect);
    let size_key = key("sizes");
    let size_max = expect_histogram(&mut want, &size_key, &size_bounds, &size_seen, dialect);

    let read = |name: &String| {
        if dialect.counter_per_flush
            && name.ends_with(".count")
            && name.starts_with("stats.counters.")
        {
            graphite.total(name)
        } else {
            graphite.last(name)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let got = loop {
        let got: BTreeMap<String, f64> = want
            .keys()
            .filter_map(|n| read(n).map(|v| (n.clone(), v)))
            .collect();
        if got == want || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(got, want, "what the daemon computed, against the input");
    assert!(p.shutdown(Duration::from_secs(5)));

    // The maximum is known to its bucket: the first whose cumulative count is the count.
    for (key, bounds, max) in [
        (&lat_key, &lat_bounds[..], lat_max),
        (&size_key, &size_bounds[..], size_max),
    ] {
        let count = got[&(dialect.gauge)(&format!("{key}.count"))];
        let read_max = bounds.iter().copied().find(|b| {
            let name = format!("{key}.bucket.le_{}", b.to_string().replace('.', "_"));
            got[&(dialect.gauge)(&name)] == count
        });
        assert_eq!(read_max, max, "{key}: the bound of the largest observation");
    }
    assert_eq!(lat_max, Some(0.1), "nothing passed 100 ms");
    assert_eq!(size_max, None, "700 is above the last bound");
}

#[test]
fn etsy_statsd_computes_the_true_values() {
    let graphite = Graphite::start();
    let Some(daemon) = start_etsy(&graphite) else {
        return;
    };
    let dialect = Dialect {
        gauge: etsy_gauge,
        counter: etsy_counter,
        counter_per_flush: true,
        digits: None,
    };
    run_periods(&daemon, &graphite, &dialect);
}

#[test]
fn collectd_computes_the_true_values() {
    let graphite = Graphite::start();
    let Some(daemon) = start_collectd(&graphite) else {
        return;
    };
    let dialect = Dialect {
        gauge: collectd_gauge,
        counter: collectd_counter,
        counter_per_flush: false,
        // write_graphite writes gauges with `%.15g`.
        digits: Some(15),
    };
    run_periods(&daemon, &graphite, &dialect);
}
