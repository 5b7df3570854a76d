//! Process metrics in a plain registry with one call, the Prometheus client libraries'
//! names: captured files for exact values, then this process.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tallyho::{Collector, Registry, Snapshot};
use tallyho_host::{register_process_metrics, HostCollector, HostConfig, Naming};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/basic")
}

fn process_only(root: &Path, naming: Naming) -> HostCollector {
    HostCollector::new(HostConfig {
        process: true,
        ..HostConfig::none().with_root(root).with_naming(naming)
    })
}

fn snap(c: HostCollector) -> (Registry, Snapshot) {
    let r = Registry::new();
    r.register_collector(c);
    let s = r.snapshot();
    (r, s)
}

#[test]
fn captured_process_under_prometheus_names() {
    let (r, s) = snap(process_only(&fixture(), Naming::Node));
    assert_eq!(s.value("process_threads", &[]), Some(7.0));
    assert_eq!(s.value("process_max_fds", &[]), Some(1024.0));
    // `Max address space` is unlimited in the capture: no sample.
    assert!(s.family("process_virtual_memory_max_bytes").is_none());
    // Utilization needs a previous reading; the files did not move, so then it is 0.
    assert!(s.family("process_cpu_utilization_ratio").is_none());
    let s = r.snapshot();
    assert_eq!(s.value("process_cpu_utilization_ratio", &[]), Some(0.0));
    let (r, s) = snap(process_only(&fixture(), Naming::Otel));
    assert!(s.family("process_cpu_utilization_ratio").is_none());
    let s = r.snapshot();
    let f = s.family("process_cpu_utilization_ratio").unwrap();
    assert_eq!(
        (f.kind, f.unit.as_str()),
        (tallyho::MetricKind::Gauge, "ratio")
    );
    assert_eq!(
        s.value("process_cpu_utilization_ratio", &[("state", "user")]),
        Some(0.0)
    );
    assert_eq!(
        s.value("process_cpu_utilization_ratio", &[("state", "system")]),
        Some(0.0)
    );
}

#[test]
fn a_limited_address_space_is_reported() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tallyho-process-limit-{}", std::process::id()));
    let proc_self = root.join("proc/self");
    std::fs::create_dir_all(&proc_self).unwrap();
    for f in ["stat", "status"] {
        std::fs::copy(fixture().join("proc/self").join(f), proc_self.join(f)).unwrap();
    }
    std::fs::copy(fixture().join("proc/stat"), root.join("proc/stat")).unwrap();
    let limits = std::fs::read_to_string(fixture().join("proc/self/limits")).unwrap();
    let limits = limits.replace(
        "Max address space         unlimited            unlimited",
        "Max address space         8589934592           unlimited",
    );
    std::fs::write(proc_self.join("limits"), limits).unwrap();
    let (_, s) = snap(process_only(&root, Naming::Node));
    assert_eq!(
        s.value("process_virtual_memory_max_bytes", &[]),
        Some(8589934592.0)
    );
    std::fs::remove_dir_all(root).unwrap();
}

fn limit_of(name: &str) -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = text.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// One call on a plain registry gives this process's metrics, utilization included from
/// the first scrape, consistent with the CPU seconds it reports.
#[test]
fn one_call_gives_this_process_metrics() {
    let registry = Registry::new();
    register_process_metrics(&registry);
    let outer = Instant::now();
    let first = registry.snapshot();
    let inner = Instant::now();
    for name in [
        "process_cpu_seconds",
        "process_cpu_utilization_ratio",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_threads",
        "process_start_time_seconds",
    ] {
        assert!(first.family(name).is_some(), "no {name}");
    }
    assert!(first.value("process_resident_memory_bytes", &[]).unwrap() > 0.0);
    assert!(first.value("process_open_fds", &[]).unwrap() >= 3.0);
    assert!(first.value("process_threads", &[]).unwrap() >= 1.0);
    assert_eq!(
        first.value("process_max_fds", &[]),
        limit_of("Max open files")
    );
    assert_eq!(
        first.value("process_virtual_memory_max_bytes", &[]),
        limit_of("Max address space")
    );
    let start = first.value("process_start_time_seconds", &[]).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(start <= now && start > now - 3600.0, "{start} vs {now}");

    // Burn CPU, then the utilization is the CPU seconds over the wall time between the
    // two readings, shared over the CPUs: bounded by the times measured around them.
    let until = Instant::now() + Duration::from_millis(300);
    let mut x = 1u64;
    while Instant::now() < until {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    assert_ne!(x, 0);
    let inner = inner.elapsed().as_secs_f64();
    let second = registry.snapshot();
    let outer = outer.elapsed().as_secs_f64();
    let cpu = |s: &Snapshot| s.value("process_cpu_seconds", &[]).unwrap();
    let used = cpu(&second) - cpu(&first);
    assert!(used > 0.0);
    let cpus = std::thread::available_parallelism().unwrap().get() as f64;
    let u = second.value("process_cpu_utilization_ratio", &[]).unwrap();
    let (lo, hi) = (used / outer / cpus, (used / inner / cpus).min(1.0));
    assert!(lo - 1e-9 <= u && u <= hi + 1e-9, "{lo} <= {u} <= {hi}");
    assert!(u > 0.0 && u <= 1.0);
}

#[test]
fn process_collector_is_only_process_metrics() {
    let c = tallyho_host::process_collector();
    let families = c.collect();
    assert!(!families.is_empty());
    assert!(
        families.iter().all(|f| f.name.starts_with("process_")),
        "{:?}",
        families.iter().map(|f| &f.name).collect::<Vec<_>>()
    );
}

/// `promtool check metrics` accepts what one call registers. promtool missing fails the
/// test.
#[test]
fn promtool_accepts_the_process_exposition() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let registry = Registry::new();
    register_process_metrics(&registry);
    let mut text = Vec::new();
    tallyho_encode::Format::Prometheus
        .encode(&mut text, &registry.snapshot())
        .unwrap();
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "promtool not found: run scripts/test.sh, which installs Debian's prometheus package",
        );
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&text);
    assert!(
        out.status.success(),
        "promtool check metrics failed ({}):\n{}{}\n--- input ---\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        text.contains("# TYPE process_cpu_seconds_total counter\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE process_cpu_utilization_ratio gauge\n"),
        "{text}"
    );
}
