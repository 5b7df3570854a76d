//! Container metrics from cgroup v2: captured files (tests/fixtures/cgroup, a systemd host
//! with the agent in `tallyho.service`, a docker container named `web` and `ssh.service`
//! with only the cpu controller's file), exact values, both namings; then this machine's
//! own cgroup, whatever it has.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tallyho::{Collector, MetricKind, Registry, Snapshot};
use tallyho_host::{HostCollector, HostConfig, Naming};

const ID: &str = "3f4e8c1b2a7d9e6f5c4b3a2918d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9";
const SVC: &str = "/system.slice/tallyho.service";
const SSH: &str = "/system.slice/ssh.service";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn docker_path() -> String {
    format!("/system.slice/docker-{ID}.scope")
}

/// Only the cgroup collector, over `root`.
fn config(root: &Path, naming: Naming) -> HostConfig {
    HostConfig {
        cgroup: true,
        ..HostConfig::none().with_root(root).with_naming(naming)
    }
}

fn snapshot(config: HostConfig) -> Snapshot {
    let registry = Registry::new();
    registry.register_collector(HostCollector::new(config));
    registry.snapshot()
}

/// Every series of a family, keyed by its labels as `k=v,k=v` in their order.
fn series(s: &Snapshot, family: &str) -> BTreeMap<String, f64> {
    s.family(family)
        .unwrap_or_else(|| panic!("no family {family}"))
        .series
        .iter()
        .map(|x| {
            let labels: Vec<String> = x.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (labels.join(","), x.value.as_f64().unwrap())
        })
        .collect()
}

#[track_caller]
fn exactly(s: &Snapshot, family: &str, want: &[(&str, f64)]) {
    let want: BTreeMap<String, f64> = want.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    assert_eq!(series(s, family), want, "{family}");
}

#[track_caller]
fn kind(s: &Snapshot, family: &str, kind: MetricKind, unit: &str) {
    let f = s.family(family).unwrap();
    assert_eq!((f.kind, f.unit.as_str()), (kind, unit), "{family}");
}

#[test]
fn own_cgroup_under_cadvisor_names() {
    let root = fixture("cgroup");
    let s = snapshot(config(&root, Naming::Node));
    let id = &format!("id={SVC}");
    exactly(
        &s,
        "container_cpu_usage_seconds",
        &[(&format!("{id},cpu=total"), 8.472193)],
    );
    kind(
        &s,
        "container_cpu_usage_seconds",
        MetricKind::Counter,
        "seconds",
    );
    exactly(&s, "container_cpu_user_seconds", &[(id, 5.203817)]);
    exactly(&s, "container_cpu_system_seconds", &[(id, 3.268376)]);
    exactly(&s, "container_cpu_cfs_periods", &[(id, 1520.0)]);
    exactly(&s, "container_cpu_cfs_throttled_periods", &[(id, 37.0)]);
    exactly(&s, "container_cpu_cfs_throttled_seconds", &[(id, 0.912345)]);
    exactly(&s, "container_memory_usage_bytes", &[(id, 48250880.0)]);
    kind(
        &s,
        "container_memory_usage_bytes",
        MetricKind::Gauge,
        "bytes",
    );
    // 48250880 - inactive_file 11534336.
    exactly(
        &s,
        "container_memory_working_set_bytes",
        &[(id, 36716544.0)],
    );
    exactly(
        &s,
        "container_spec_memory_limit_bytes",
        &[(id, 536870912.0)],
    );
    exactly(&s, "container_memory_rss", &[(id, 30932992.0)]);
    exactly(&s, "container_memory_cache", &[(id, 15728640.0)]);
    exactly(&s, "container_oom_events", &[(id, 1.0)]);
    exactly(&s, "container_memory_oom", &[(id, 3.0)]);
    // 8:0 is named by sys/dev/block/8:0/uevent; 253:0 has no uevent and keeps its number.
    exactly(
        &s,
        "container_fs_reads_bytes",
        &[
            (&format!("{id},device=sda"), 1459200.0),
            (&format!("{id},device=253:0"), 4096.0),
        ],
    );
    exactly(
        &s,
        "container_fs_writes_bytes",
        &[
            (&format!("{id},device=sda"), 314773504.0),
            (&format!("{id},device=253:0"), 0.0),
        ],
    );
    exactly(
        &s,
        "container_fs_reads",
        &[
            (&format!("{id},device=sda"), 192.0),
            (&format!("{id},device=253:0"), 1.0),
        ],
    );
    exactly(
        &s,
        "container_fs_writes",
        &[
            (&format!("{id},device=sda"), 353.0),
            (&format!("{id},device=253:0"), 0.0),
        ],
    );
    exactly(&s, "container_threads", &[(id, 7.0)]);
    // pids.max is "max": unlimited, so no sample and (the only cgroup) no family.
    assert!(s.family("container_threads_max").is_none());
    assert!(s.families.iter().all(|f| f.name.starts_with("container_")));
}

fn children(naming: Naming) -> Snapshot {
    let root = fixture("cgroup");
    snapshot(config(&root, naming).with_cgroup_children("/sys/fs/cgroup/system.slice"))
}

#[test]
fn child_cgroups_with_container_id_and_name() {
    let s = children(Naming::Node);
    let docker = &format!("id={},name=web,container_id={ID}", docker_path());
    let svc = &format!("id={SVC}");
    let ssh = &format!("id={SSH}");
    // Every child once (the agent's own is one of them), sorted by name.
    exactly(
        &s,
        "container_cpu_user_seconds",
        &[(docker, 100.0), (ssh, 0.021234), (svc, 5.203817)],
    );
    exactly(
        &s,
        "container_cpu_usage_seconds",
        &[
            (&format!("{docker},cpu=total"), 120.0),
            (&format!("{ssh},cpu=total"), 0.051234),
            (&format!("{svc},cpu=total"), 8.472193),
        ],
    );
    // ssh.service has no memory controller files: no memory series, no error. docker's
    // memory.max is "max": no limit sample.
    exactly(
        &s,
        "container_memory_usage_bytes",
        &[(docker, 104857600.0), (svc, 48250880.0)],
    );
    exactly(
        &s,
        "container_spec_memory_limit_bytes",
        &[(svc, 536870912.0)],
    );
    // inactive_file above usage: the working set is 0, not a wrapped number.
    exactly(
        &s,
        "container_memory_working_set_bytes",
        &[(docker, 0.0), (svc, 36716544.0)],
    );
    exactly(&s, "container_threads", &[(docker, 12.0), (svc, 7.0)]);
    exactly(&s, "container_threads_max", &[(docker, 4915.0)]);
    // docker's io.stat is empty.
    assert_eq!(series(&s, "container_fs_reads_bytes").len(), 2);
    let c = HostCollector::new(config(&fixture("cgroup"), Naming::Node));
    c.collect();
    assert!(c.last_errors().is_empty(), "{:?}", c.last_errors());
}

#[test]
fn child_cgroups_under_otel_names() {
    let s = children(Naming::Otel);
    let docker = &format!(
        "cgroup={},container_id={ID},container_name=web",
        docker_path()
    );
    let svc = &format!("cgroup={SVC}");
    kind(
        &s,
        "container_cpu_time_seconds",
        MetricKind::Counter,
        "seconds",
    );
    exactly(
        &s,
        "container_cpu_time_seconds",
        &[
            (&format!("{docker},state=user"), 100.0),
            (&format!("{docker},state=system"), 20.0),
            (&format!("cgroup={SSH},state=user"), 0.021234),
            (&format!("cgroup={SSH},state=system"), 0.03),
            (&format!("{svc},state=user"), 5.203817),
            (&format!("{svc},state=system"), 3.268376),
        ],
    );
    exactly(
        &s,
        "container_cpu_throttling_data_throttled_time_seconds",
        &[(docker, 0.0), (svc, 0.912345)],
    );
    exactly(
        &s,
        "container_cpu_throttling_data_throttled_periods",
        &[(docker, 0.0), (svc, 37.0)],
    );
    exactly(
        &s,
        "container_cpu_throttling_data_periods",
        &[(docker, 0.0), (svc, 1520.0)],
    );
    kind(
        &s,
        "container_memory_usage_bytes",
        MetricKind::UpDownCounter,
        "bytes",
    );
    exactly(
        &s,
        "container_memory_usage_bytes",
        &[(docker, 104857600.0), (svc, 48250880.0)],
    );
    exactly(
        &s,
        "container_memory_working_set_bytes",
        &[(docker, 0.0), (svc, 36716544.0)],
    );
    exactly(
        &s,
        "container_memory_usage_limit_bytes",
        &[(svc, 536870912.0)],
    );
    exactly(
        &s,
        "container_memory_anon_bytes",
        &[(docker, 73400320.0), (svc, 30932992.0)],
    );
    exactly(
        &s,
        "container_memory_file_bytes",
        &[(docker, 31457280.0), (svc, 15728640.0)],
    );
    exactly(
        &s,
        "container_memory_oom_events",
        &[
            (&format!("{docker},event=oom"), 0.0),
            (&format!("{docker},event=oom_kill"), 0.0),
            (&format!("{svc},event=oom"), 3.0),
            (&format!("{svc},event=oom_kill"), 1.0),
        ],
    );
    kind(&s, "container_disk_io_bytes", MetricKind::Counter, "bytes");
    exactly(
        &s,
        "container_disk_io_bytes",
        &[
            (&format!("{svc},device=sda,direction=read"), 1459200.0),
            (&format!("{svc},device=sda,direction=write"), 314773504.0),
            (&format!("{svc},device=253:0,direction=read"), 4096.0),
            (&format!("{svc},device=253:0,direction=write"), 0.0),
        ],
    );
    exactly(
        &s,
        "container_disk_operations",
        &[
            (&format!("{svc},device=sda,direction=read"), 192.0),
            (&format!("{svc},device=sda,direction=write"), 353.0),
            (&format!("{svc},device=253:0,direction=read"), 1.0),
            (&format!("{svc},device=253:0,direction=write"), 0.0),
        ],
    );
    exactly(&s, "container_pids", &[(docker, 12.0), (svc, 7.0)]);
    exactly(&s, "container_pids_limit", &[(docker, 4915.0)]);
    assert!(s.family("container_cpu_usage_seconds").is_none());
}

#[test]
fn children_by_relative_path_bounded_and_without_names() {
    let root = fixture("cgroup");
    // A relative directory is inside the hierarchy; at most 2 children, the first by
    // name; the agent's own cgroup still reported.
    let s = snapshot(HostConfig {
        cgroup_limit: 2,
        docker_root: None,
        ..config(&root, Naming::Node).with_cgroup_children("system.slice")
    });
    let docker = &format!("id={},container_id={ID}", docker_path());
    exactly(
        &s,
        "container_cpu_user_seconds",
        &[
            (docker, 100.0),
            (&format!("id={SSH}"), 0.021234),
            (&format!("id={SVC}"), 5.203817),
        ],
    );
    // Only the children, bounded at 1.
    let s = snapshot(HostConfig {
        cgroup: false,
        cgroup_limit: 1,
        ..config(&root, Naming::Node).with_cgroup_children("/sys/fs/cgroup/system.slice")
    });
    assert_eq!(
        series(&s, "container_cpu_user_seconds")
            .into_keys()
            .collect::<Vec<_>>(),
        [format!("id={},name=web,container_id={ID}", docker_path())]
    );
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tallyho-cgroup-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&fixture("cgroup"), &dir);
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn no_cgroup_v2_is_no_families_and_no_error() {
    // A cgroup v1 host: mountinfo lists no cgroup2 mount.
    let root = scratch("v1");
    std::fs::write(
        root.join("proc/self/mountinfo"),
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n",
    )
    .unwrap();
    let c = HostCollector::new(config(&root, Naming::Node).with_cgroup_children("system.slice"));
    assert!(c.collect().is_empty());
    assert!(c.last_errors().is_empty(), "{:?}", c.last_errors());
    // No mountinfo: sys/fs/cgroup is the hierarchy when it has cgroup.controllers.
    std::fs::remove_file(root.join("proc/self/mountinfo")).unwrap();
    let c = HostCollector::new(config(&root, Naming::Node));
    assert!(c.collect().is_empty());
    std::fs::write(
        root.join("sys/fs/cgroup/cgroup.controllers"),
        "cpu io memory pids\n",
    )
    .unwrap();
    let families = c.collect();
    assert!(families.iter().any(|f| f.name == "container_threads"));
    // No proc/self/cgroup, or no 0:: line in it: nothing, no error.
    std::fs::write(root.join("proc/self/cgroup"), "4:memory:/x\n").unwrap();
    assert!(c.collect().is_empty());
    std::fs::remove_file(root.join("proc/self/cgroup")).unwrap();
    assert!(c.collect().is_empty());
    assert!(c.last_errors().is_empty(), "{:?}", c.last_errors());
    // A children directory that does not exist (no containers yet): nothing either.
    let c = HostCollector::new(
        config(&root, Naming::Node).with_cgroup_children("/sys/fs/cgroup/machine.slice"),
    );
    assert!(c.collect().is_empty());
    assert!(c.last_errors().is_empty());
    // One outside the hierarchy is a configuration error, named.
    let c = HostCollector::new(config(&root, Naming::Node).with_cgroup_children("/sys/fs"));
    assert!(c.collect().is_empty());
    assert_eq!(
        c.last_errors(),
        [(
            "cgroup",
            format!(
                "cgroup_children /sys/fs: not inside the cgroup v2 hierarchy at {}",
                root.join("sys/fs/cgroup").display()
            )
        )]
    );
    // Nothing at all under the root.
    let c = HostCollector::new(config(&fixture("does-not-exist"), Naming::Otel));
    assert!(c.collect().is_empty());
    assert!(c.last_errors().is_empty());
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_malformed_file_is_an_error_naming_it() {
    let root = scratch("malformed");
    let stat = root.join("sys/fs/cgroup/system.slice/tallyho.service/memory.events");
    std::fs::write(&stat, "low 0\nhigh lots\n").unwrap();
    let c = HostCollector::new(config(&root, Naming::Otel));
    assert!(c.collect().is_empty());
    let errors = c.last_errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "cgroup");
    assert_eq!(
        errors[0].1,
        format!("{}: line 2: \"lots\" is not a whole number", stat.display())
    );
    std::fs::write(&stat, "oom 1\n").unwrap();
    let pids = root.join("sys/fs/cgroup/system.slice/tallyho.service/pids.max");
    std::fs::write(&pids, "unlimited\n").unwrap();
    assert!(c.collect().is_empty());
    assert!(c.last_errors()[0]
        .1
        .contains("pids.max: line 1: \"unlimited\""));
    std::fs::write(&pids, "max\n").unwrap();
    assert!(!c.collect().is_empty());
    assert!(c.last_errors().is_empty());
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn prometheus_text_matches_cadvisor() {
    let mut text = Vec::new();
    tallyho_encode::Format::Prometheus
        .encode(&mut text, &children(Naming::Node))
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    for line in [
        "# TYPE container_cpu_usage_seconds_total counter\n".to_owned(),
        format!("container_cpu_usage_seconds_total{{id=\"{SVC}\",cpu=\"total\"}} 8.472193\n"),
        format!(
            "container_memory_working_set_bytes{{id=\"{}\",name=\"web\",container_id=\"{ID}\"}} 0\n",
            docker_path()
        ),
        format!("container_fs_writes_bytes_total{{id=\"{SVC}\",device=\"sda\"}} 314773504\n"),
        format!("container_spec_memory_limit_bytes{{id=\"{SVC}\"}} 536870912\n"),
    ] {
        assert!(text.contains(&line), "missing {line:?} in\n{text}");
    }
}

/// The cgroup v2 directory of this test process, if it has one, and its path.
fn own_cgroup() -> Option<(PathBuf, String)> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mount = mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        (right.split_whitespace().next()? == "cgroup2").then(|| left.split_whitespace().nth(4))?
    })?;
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))?
        .to_owned();
    Some((Path::new(mount).join(path.trim_start_matches('/')), path))
}

fn usage_usec(dir: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("cpu.stat")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .map(|v| v.trim().parse::<f64>().unwrap() / 1e6)
}

/// This machine's real /sys/fs/cgroup for the test process: whatever files it has
/// give their families, with the values the files hold; whatever it lacks (cgroup v1,
/// the root cgroup's missing memory.current, controllers not enabled) gives none, and
/// never an error.
#[test]
fn live_own_cgroup() {
    let c = HostCollector::new(config(Path::new("/"), Naming::Node));
    let own = own_cgroup();
    eprintln!("own cgroup v2: {own:?}");
    let before = own.as_ref().and_then(|(dir, _)| usage_usec(dir));
    let families = c.collect();
    assert!(c.last_errors().is_empty(), "{:?}", c.last_errors());
    let after = own.as_ref().and_then(|(dir, _)| usage_usec(dir));
    let Some((dir, path)) = own else {
        assert!(families.is_empty(), "no cgroup v2, yet {families:?}");
        return;
    };
    let find = |name: &str| families.iter().find(|f| f.name == name);
    for (family, file) in [
        ("container_cpu_usage_seconds", "cpu.stat"),
        ("container_memory_usage_bytes", "memory.current"),
        ("container_threads", "pids.current"),
    ] {
        let has = dir.join(file).exists();
        let f = find(family);
        assert_eq!(f.is_some(), has, "{family} vs {}", dir.join(file).display());
        if let Some(f) = f {
            assert_eq!(f.series.len(), 1);
            assert_eq!(f.series[0].label("id"), Some(path.as_str()));
        }
    }
    if let (Some(f), Some(lo), Some(hi)) = (find("container_cpu_usage_seconds"), before, after) {
        let v = f.series[0].value.as_f64().unwrap();
        assert!(lo <= v && v <= hi, "{lo} <= {v} <= {hi}");
    }
    match std::fs::read_to_string(dir.join("memory.max")).map(|t| t.trim().to_owned()) {
        Ok(max) if max != "max" => {
            let f = find("container_spec_memory_limit_bytes").unwrap();
            assert_eq!(f.series[0].value.as_f64(), max.parse().ok());
        }
        _ => assert!(find("container_spec_memory_limit_bytes").is_none()),
    }
}

/// `promtool check metrics` accepts both namings' expositions (the Prometheus text
/// format, which is what a scrape reads). promtool missing fails the test.
#[test]
fn promtool_accepts_the_expositions() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    for naming in [Naming::Node, Naming::Otel] {
        let mut text = Vec::new();
        tallyho_encode::Format::Prometheus
            .encode(&mut text, &children(naming))
            .unwrap();
        let mut child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("promtool not found: run scripts/test.sh, which installs Debian's prometheus package");
        child.stdin.take().unwrap().write_all(&text).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{naming:?}: promtool check metrics failed ({}):\n{}{}\n--- input ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&text)
        );
    }
}
