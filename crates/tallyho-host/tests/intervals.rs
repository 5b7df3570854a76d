//! Per-group collection intervals: a group is read at most once per interval, and the
//! collections in between repeat its last outcome.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tallyho::{Collector, Registry};
use tallyho_host::{Group, HostCollector, HostConfig};

fn scratch(name: &str) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/basic/proc");
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tallyho-intervals-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("proc")).unwrap();
    for f in ["loadavg", "stat"] {
        std::fs::copy(from.join(f), root.join("proc").join(f)).unwrap();
    }
    root
}

fn load1(c: &HostCollector) -> Option<f64> {
    c.collect()
        .into_iter()
        .find(|f| f.name == "system_cpu_load_average_1m")
        .and_then(|f| f.series[0].value.as_f64())
}

fn cpu_user0(c: &HostCollector) -> Option<f64> {
    c.collect()
        .into_iter()
        .find(|f| f.name == "system_cpu_time_seconds")
        .and_then(|f| {
            f.series
                .iter()
                .find(|s| s.label("cpu") == Some("0") && s.label("state") == Some("user"))
                .and_then(|s| s.value.as_f64())
        })
}

fn config(root: &Path) -> HostConfig {
    HostConfig {
        load: true,
        cpu: true,
        ..HostConfig::none().with_root(root)
    }
}

#[test]
fn a_group_with_an_interval_repeats_its_last_reading() {
    let root = scratch("repeat");
    let loadavg = root.join("proc/loadavg");
    let stat = root.join("proc/stat");
    let hourly =
        HostCollector::new(config(&root).with_interval(Group::Load, Duration::from_secs(3600)));
    let every = HostCollector::new(config(&root));
    assert_eq!(load1(&hourly), Some(0.44));
    assert_eq!(load1(&every), Some(0.44));
    std::fs::write(&loadavg, "2.50 1.00 0.50 1/100 4242\n").unwrap();
    let text = std::fs::read_to_string(&stat).unwrap();
    std::fs::write(&stat, text.replacen("cpu0 226267", "cpu0 226367", 1)).unwrap();
    // Load is held for the hour; CPU, without an interval, is read afresh.
    assert_eq!(load1(&hourly), Some(0.44));
    assert_eq!(cpu_user0(&hourly), Some(2263.67));
    assert_eq!(load1(&every), Some(2.5));
    // Its error is held too: a file gone within the interval is not noticed...
    std::fs::remove_file(&loadavg).unwrap();
    assert_eq!(load1(&hourly), Some(0.44));
    assert!(hourly.last_errors().is_empty());
    assert_eq!(load1(&every), None);
    assert_eq!(every.last_errors()[0].0, "load");
    // ...and a short interval reads again once it has passed.
    let short =
        HostCollector::new(config(&root).with_interval(Group::Load, Duration::from_millis(100)));
    assert_eq!(load1(&short), None);
    assert_eq!(short.last_errors()[0].0, "load");
    std::fs::write(&loadavg, "3.00 1.00 0.50 1/100 4242\n").unwrap();
    assert_eq!(load1(&short), None, "the error is held for the interval");
    assert_eq!(short.last_errors()[0].0, "load");
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(load1(&short), Some(3.0));
    assert!(short.last_errors().is_empty());
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn held_families_still_reach_a_registry() {
    let root = scratch("registry");
    let registry = Registry::new();
    registry.register_collector(HostCollector::new(
        config(&root).with_interval(Group::Load, Duration::from_secs(3600)),
    ));
    let a = registry.snapshot();
    std::fs::write(root.join("proc/loadavg"), "9.00 1.00 0.50 1/100 4242\n").unwrap();
    let b = registry.snapshot();
    assert_eq!(a.value("system_cpu_load_average_1m", &[]), Some(0.44));
    assert_eq!(b.value("system_cpu_load_average_1m", &[]), Some(0.44));
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn group_names() {
    for g in Group::ALL {
        assert_eq!(g.name().parse::<Group>(), Ok(g));
        assert_eq!(g.to_string(), g.name());
    }
    let e = "filesystems".parse::<Group>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "\"filesystems\" is not a host collector: use one of cpu, load, memory, disk, filesystem, network, process, cgroup, gpu"
    );
}
