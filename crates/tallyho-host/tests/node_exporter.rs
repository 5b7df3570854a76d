//! Side by side with the real Prometheus node_exporter (Debian package
//! `prometheus-node-exporter`, which scripts/test.sh installs): the same numbers under
//! `Naming::Node`, read at (nearly) the same moment.
//!
//! Set `TALLYHO_HOST_SKIP_NODE_EXPORTER=1` to skip where it cannot be installed; without it a
//! missing node_exporter fails the test, so the comparison cannot silently stop running.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tallyho::{Registry, Snapshot};
use tallyho_host::{HostCollector, HostConfig, Naming};

/// Kills the node_exporter this test started when the test ends, even by a panic.
struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One sample: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn binary() -> Option<&'static str> {
    ["prometheus-node-exporter", "node_exporter"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A plain HTTP/1.1 GET; decodes a chunked body.
fn get(port: u16, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/plain\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let raw = String::from_utf8(raw).map_err(std::io::Error::other)?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().replace(' ', "") == "transfer-encoding:chunked");
    if !chunked {
        return Ok(body.to_owned());
    }
    let mut out = String::new();
    let mut rest = body;
    loop {
        let (size, after) = rest.split_once("\r\n").expect("chunk size line");
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    Ok(out)
}

/// Parses the exposition lines `name{a="b",...} value`.
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap(),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let rest = rest.strip_suffix('}').unwrap();
                let mut labels = BTreeMap::new();
                let mut chars = rest.chars().peekable();
                while chars.peek().is_some() {
                    let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
                    assert_eq!(chars.next(), Some('"'));
                    let mut value = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => match chars.next() {
                                Some('n') => value.push('\n'),
                                Some(c) => value.push(c),
                                None => {}
                            },
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    if chars.peek() == Some(&',') {
                        chars.next();
                    }
                    labels.insert(key, value);
                }
                (name.to_owned(), labels)
            }
        };
        out.push((name, labels, value));
    }
    out
}

/// Our snapshot as samples named the way the text format names them (counters + `_total`).
fn samples(s: &Snapshot) -> Vec<Sample> {
    let mut out = Vec::new();
    for f in &s.families {
        let name = match f.kind {
            tallyho::MetricKind::Counter => format!("{}_total", f.name),
            _ => f.name.clone(),
        };
        for series in &f.series {
            out.push((
                name.clone(),
                series.labels.iter().cloned().collect(),
                series.value.as_f64().unwrap(),
            ));
        }
    }
    out
}

fn find(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.2)
}

fn label_sets(samples: &[Sample], name: &str, key: &str) -> BTreeSet<String> {
    samples
        .iter()
        .filter(|s| s.0 == name)
        .filter_map(|s| s.1.get(key).cloned())
        .collect()
}

/// node_exporter's upstream default (Debian's package also leaves out /run, /mnt and /media);
/// the rule tallyho-host follows.
const MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";

#[test]
fn same_numbers_as_node_exporter() {
    let Some(bin) = binary() else {
        if std::env::var_os("TALLYHO_HOST_SKIP_NODE_EXPORTER").is_some() {
            eprintln!("node_exporter not installed; skipped (TALLYHO_HOST_SKIP_NODE_EXPORTER)");
            return;
        }
        panic!(
            "node_exporter not found: `apt-get install prometheus-node-exporter` \
             (scripts/test.sh does), or set TALLYHO_HOST_SKIP_NODE_EXPORTER=1"
        );
    };
    let port = free_port();
    // Only the collectors compared (the others need more permissions or are slow); lo is
    // excluded by Debian's default device-exclude, so exclude nothing.
    let child = Command::new(bin)
        .args([
            &format!("--web.listen-address=127.0.0.1:{port}"),
            "--collector.disable-defaults",
            "--collector.cpu",
            "--collector.stat",
            "--collector.meminfo",
            "--collector.loadavg",
            "--collector.diskstats",
            "--collector.filesystem",
            "--collector.netdev",
            "--collector.netdev.device-exclude=^$",
            &format!("--collector.filesystem.mount-points-exclude={MOUNT_POINTS_EXCLUDE}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _exporter = Exporter(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "node_exporter did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }

    let registry = Registry::new();
    registry.register_collector(HostCollector::new(HostConfig {
        gpu: false,
        process: false,
        ..HostConfig::default().with_naming(Naming::Node)
    }));
    let otel = Registry::new();
    otel.register_collector(HostCollector::new(HostConfig {
        memory: true,
        ..HostConfig::none()
    }));

    // Ours, theirs, ours: theirs was read between our two readings.
    let before = samples(&registry.snapshot());
    let theirs = parse(&get(port, "/metrics").unwrap());
    let after = samples(&registry.snapshot());
    let otel = otel.snapshot();

    // Memory: every /proc/meminfo line, same names; the total exactly, in both namings.
    let names = |s: &[Sample]| -> BTreeSet<String> {
        s.iter()
            .map(|x| x.0.clone())
            .filter(|n| n.starts_with("node_memory_"))
            .collect()
    };
    assert_eq!(names(&before), names(&theirs));
    assert!(names(&theirs).len() > 20, "{:?}", names(&theirs));
    let total = find(&theirs, "node_memory_MemTotal_bytes", &[]).unwrap();
    assert_eq!(
        find(&before, "node_memory_MemTotal_bytes", &[]),
        Some(total)
    );
    assert_eq!(otel.value("system_memory_limit_bytes", &[]), Some(total));
    for fixed in [
        "node_memory_SwapTotal_bytes",
        "node_memory_Hugepagesize_bytes",
        "node_memory_VmallocTotal_bytes",
    ] {
        assert_eq!(
            find(&before, fixed, &[]),
            find(&theirs, fixed, &[]),
            "{fixed}"
        );
    }

    // CPU seconds per cpu and mode. The readings are a few milliseconds apart, so theirs must
    // lie between our two readings; the tolerance of 0.5 s covers iowait and idle, which the
    // kernel may move backwards a little, and the 0.01 s ticks.
    const CPU_TOLERANCE_S: f64 = 0.5;
    let cpu = "node_cpu_seconds_total";
    let keys = |s: &[Sample]| -> BTreeSet<(String, String)> {
        s.iter()
            .filter(|x| x.0 == cpu)
            .map(|x| (x.1["cpu"].clone(), x.1["mode"].clone()))
            .collect()
    };
    assert_eq!(keys(&before), keys(&theirs));
    assert!(!keys(&theirs).is_empty());
    for (c, mode) in keys(&theirs) {
        let l = [("cpu", c.as_str()), ("mode", mode.as_str())];
        let (lo, hi) = (
            find(&before, cpu, &l).unwrap(),
            find(&after, cpu, &l).unwrap(),
        );
        let t = find(&theirs, cpu, &l).unwrap();
        assert!(
            lo - CPU_TOLERANCE_S <= t && t <= hi + CPU_TOLERANCE_S,
            "{cpu}{l:?}: ours {lo} and {hi}, node_exporter {t}"
        );
    }

    // Network bytes on every interface, lo included: counters only grow, and the scrape's
    // own traffic on lo is counted after node_exporter read them, so theirs lies between our
    // readings with a tolerance of 0 bytes.
    for (name, device_set) in [
        ("node_network_receive_bytes_total", "device"),
        ("node_network_transmit_bytes_total", "device"),
    ] {
        let devices = label_sets(&theirs, name, device_set);
        assert_eq!(label_sets(&before, name, device_set), devices, "{name}");
        assert!(devices.contains("lo"), "{devices:?}");
        for d in devices {
            let l = [("device", d.as_str())];
            let (lo, hi) = (
                find(&before, name, &l).unwrap(),
                find(&after, name, &l).unwrap(),
            );
            let t = find(&theirs, name, &l).unwrap();
            assert!(
                lo <= t && t <= hi,
                "{name}{l:?}: ours {lo} and {hi}, theirs {t}"
            );
        }
    }

    // Disks: the same devices (the same exclusion rule), and read bytes between our readings.
    let disk = "node_disk_read_bytes_total";
    let devices = label_sets(&theirs, disk, "device");
    assert_eq!(label_sets(&before, disk, "device"), devices);
    for d in devices {
        let l = [("device", d.as_str())];
        let (lo, hi) = (
            find(&before, disk, &l).unwrap(),
            find(&after, disk, &l).unwrap(),
        );
        let t = find(&theirs, disk, &l).unwrap();
        assert!(
            lo <= t && t <= hi,
            "{disk}{l:?}: ours {lo} and {hi}, theirs {t}"
        );
    }

    // Filesystems: the same mount points (node_exporter reads /proc/1/mounts, tallyho-host
    // /proc/self/mounts: compared when they agree); sizes and inode totals exactly.
    let size = "node_filesystem_size_bytes";
    let same_namespace =
        std::fs::read("/proc/1/mounts").ok() == std::fs::read("/proc/self/mounts").ok();
    if same_namespace {
        assert_eq!(
            label_sets(&before, size, "mountpoint"),
            label_sets(&theirs, size, "mountpoint")
        );
    }
    let root = [("mountpoint", "/")];
    assert_eq!(find(&before, size, &root), find(&theirs, size, &root));
    for mp in label_sets(&theirs, size, "mountpoint") {
        let l = [("mountpoint", mp.as_str())];
        for name in [size, "node_filesystem_files"] {
            if let Some(ours) = find(&before, name, &l) {
                assert_eq!(Some(ours), find(&theirs, name, &l), "{name}{l:?}");
            }
        }
    }

    // Load: computed every 5 s, so theirs is one of our two readings.
    for name in ["node_load1", "node_load5", "node_load15"] {
        let t = find(&theirs, name, &[]).unwrap();
        let (lo, hi) = (
            find(&before, name, &[]).unwrap(),
            find(&after, name, &[]).unwrap(),
        );
        assert!(t == lo || t == hi, "{name}: ours {lo} and {hi}, theirs {t}");
    }

    // The stat collector's counters.
    assert_eq!(
        find(&before, "node_boot_time_seconds", &[]),
        find(&theirs, "node_boot_time_seconds", &[])
    );
    let ctxt = "node_context_switches_total";
    let t = find(&theirs, ctxt, &[]).unwrap();
    assert!(find(&before, ctxt, &[]).unwrap() <= t && t <= find(&after, ctxt, &[]).unwrap());
}
