//! Every collector against captured files (tests/fixtures/<name>/proc/...), exact values, both
//! namings. Filesystem sizes come from a stand-in for statvfs, as the mount points of a capture
//! do not exist here.

use std::io;
use std::path::{Path, PathBuf};

use tallyho::{Collector, MetricKind, Registry, Snapshot};
use tallyho_host::{FsStats, HostCollector, HostConfig, Naming};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// What statvfs would say of the fixture's mount points; `/mnt/nfs` does not answer.
fn stub(root: PathBuf) -> impl Fn(&Path) -> io::Result<FsStats> + Send + Sync + 'static {
    move |path: &Path| {
        let rel = path.strip_prefix(&root).map_err(io::Error::other)?;
        let s = |block_size, blocks, blocks_free, blocks_available, files, files_free| FsStats {
            block_size,
            blocks,
            blocks_free,
            blocks_available,
            files,
            files_free,
        };
        match rel.to_str() {
            Some("") => Ok(s(4096, 1_000_000, 400_000, 350_000, 65_536, 60_000)),
            Some("run") => Ok(s(4096, 1_000, 990, 990, 5_000, 4_900)),
            Some("data disk") => Ok(s(1024, 2_000, 500, 500, 100, 10)),
            _ => Err(io::Error::new(io::ErrorKind::TimedOut, "stale NFS handle")),
        }
    }
}

fn config(root: &Path, naming: Naming) -> HostConfig {
    HostConfig {
        gpu: false,
        ..HostConfig::default()
            .with_root(root)
            .with_naming(naming)
            .with_statvfs(stub(root.to_path_buf()))
    }
}

/// Collects through a registry, which also drops any family with an invalid name.
fn snapshot(collector: HostCollector) -> Snapshot {
    let registry = Registry::new();
    registry.register_collector(collector);
    registry.snapshot()
}

#[track_caller]
fn eq(s: &Snapshot, family: &str, labels: &[(&str, &str)], want: f64) {
    let got = s.value(family, labels);
    assert_eq!(got, Some(want), "{family}{labels:?}");
}

#[track_caller]
fn series(s: &Snapshot, family: &str) -> usize {
    s.family(family)
        .unwrap_or_else(|| panic!("no family {family}"))
        .series
        .len()
}

#[track_caller]
fn kind_unit(s: &Snapshot, family: &str, kind: MetricKind, unit: &str) {
    let f = s
        .family(family)
        .unwrap_or_else(|| panic!("no family {family}"));
    assert_eq!((f.kind, f.unit.as_str()), (kind, unit), "{family}");
}

const KIB: f64 = 1024.0;

#[test]
fn otel_names_and_values() {
    let root = fixture("basic");
    let s = snapshot(HostCollector::new(config(&root, Naming::Otel)));

    // CPU: ticks / 100; interrupt = irq + softirq; the CPU label comes from the line (cpu2 is
    // offline, so the third line is cpu3).
    kind_unit(
        &s,
        "system_cpu_time_seconds",
        MetricKind::Counter,
        "seconds",
    );
    assert_eq!(series(&s, "system_cpu_time_seconds"), 3 * 7);
    let cpu0 = |state| [("cpu", "0"), ("state", state)];
    eq(&s, "system_cpu_time_seconds", &cpu0("user"), 2262.67);
    eq(&s, "system_cpu_time_seconds", &cpu0("nice"), 5.0);
    eq(&s, "system_cpu_time_seconds", &cpu0("system"), 168.93);
    eq(&s, "system_cpu_time_seconds", &cpu0("idle"), 3064.38);
    eq(&s, "system_cpu_time_seconds", &cpu0("iowait"), 3.97);
    eq(&s, "system_cpu_time_seconds", &cpu0("interrupt"), 3.26);
    eq(&s, "system_cpu_time_seconds", &cpu0("steal"), 1.91);
    eq(
        &s,
        "system_cpu_time_seconds",
        &[("cpu", "3"), ("state", "user")],
        962.06,
    );
    assert_eq!(
        s.value("system_cpu_time_seconds", &[("cpu", "2")]),
        None,
        "cpu2 is offline"
    );
    // Utilization needs a previous reading.
    assert!(s.family("system_cpu_utilization_ratio").is_none());
    eq(&s, "system_cpu_context_switches", &[], 2555643.0);
    eq(&s, "system_processes_created", &[], 114682.0);

    // Load.
    eq(&s, "system_cpu_load_average_1m", &[], 0.44);
    eq(&s, "system_cpu_load_average_5m", &[], 1.07);
    eq(&s, "system_cpu_load_average_15m", &[], 12.35);
    kind_unit(&s, "system_cpu_load_average_1m", MetricKind::Gauge, "");

    // Memory: kB * 1024; used = total - free - buffers - cached.
    let total = 24684092.0 * KIB;
    let used = (24684092.0 - 9494964.0 - 101828.0 - 14101916.0) * KIB;
    kind_unit(
        &s,
        "system_memory_usage_bytes",
        MetricKind::UpDownCounter,
        "bytes",
    );
    eq(&s, "system_memory_usage_bytes", &[("state", "used")], used);
    eq(
        &s,
        "system_memory_usage_bytes",
        &[("state", "free")],
        9494964.0 * KIB,
    );
    eq(
        &s,
        "system_memory_usage_bytes",
        &[("state", "buffers")],
        101828.0 * KIB,
    );
    eq(
        &s,
        "system_memory_usage_bytes",
        &[("state", "cached")],
        14101916.0 * KIB,
    );
    eq(
        &s,
        "system_memory_utilization_ratio",
        &[("state", "used")],
        used / total,
    );
    eq(&s, "system_memory_limit_bytes", &[], total);
    eq(
        &s,
        "system_linux_memory_available_bytes",
        &[],
        23885364.0 * KIB,
    );
    let swap_used = (2097148.0 - 1572860.0) * KIB;
    eq(
        &s,
        "system_paging_usage_bytes",
        &[("state", "used")],
        swap_used,
    );
    eq(
        &s,
        "system_paging_usage_bytes",
        &[("state", "free")],
        1572860.0 * KIB,
    );
    eq(
        &s,
        "system_paging_utilization_ratio",
        &[("state", "used")],
        swap_used / (2097148.0 * KIB),
    );

    // Disks: loop0, ram0 and the partitions vda1 and nvme0n1p1 are left out.
    let devices: Vec<&str> = s
        .family("system_disk_io_time_seconds")
        .unwrap()
        .series
        .iter()
        .map(|x| x.label("device").unwrap())
        .collect();
    assert_eq!(devices, ["vda", "nvme0n1", "zram0"]);
    let vda = |direction| [("device", "vda"), ("direction", direction)];
    eq(&s, "system_disk_io_bytes", &vda("read"), 2236242.0 * 512.0);
    eq(
        &s,
        "system_disk_io_bytes",
        &vda("write"),
        29003720.0 * 512.0,
    );
    eq(&s, "system_disk_operations", &vda("read"), 29074.0);
    eq(&s, "system_disk_operations", &vda("write"), 40324.0);
    eq(
        &s,
        "system_disk_operation_time_seconds",
        &vda("read"),
        9.806,
    );
    eq(
        &s,
        "system_disk_operation_time_seconds",
        &vda("write"),
        140.57,
    );
    eq(&s, "system_disk_merged", &vda("read"), 5307.0);
    eq(&s, "system_disk_merged", &vda("write"), 83497.0);
    eq(
        &s,
        "system_disk_io_time_seconds",
        &[("device", "vda")],
        15.896,
    );
    eq(
        &s,
        "system_disk_io_time_seconds",
        &[("device", "nvme0n1")],
        1.8,
    );

    // Filesystems: pseudo and /dev, /sys, docker mounts left out, "/" once, the escaped
    // space undone, the mount that fails statvfs left out.
    let fs = s.family("system_filesystem_usage_bytes").unwrap();
    let mut mounts: Vec<&str> = fs
        .series
        .iter()
        .map(|x| x.label("mountpoint").unwrap())
        .collect();
    mounts.dedup();
    assert_eq!(mounts, ["/", "/run", "/data disk"]);
    let root_fs = |state| {
        [
            ("device", "/dev/vda1"),
            ("mountpoint", "/"),
            ("type", "ext4"),
            ("mode", "rw"),
            ("state", state),
        ]
    };
    eq(
        &s,
        "system_filesystem_usage_bytes",
        &root_fs("used"),
        600_000.0 * 4096.0,
    );
    eq(
        &s,
        "system_filesystem_usage_bytes",
        &root_fs("free"),
        350_000.0 * 4096.0,
    );
    eq(
        &s,
        "system_filesystem_usage_bytes",
        &root_fs("reserved"),
        50_000.0 * 4096.0,
    );
    eq(
        &s,
        "system_filesystem_inodes_usage",
        &root_fs("used"),
        5536.0,
    );
    eq(
        &s,
        "system_filesystem_inodes_usage",
        &root_fs("free"),
        60000.0,
    );
    eq(
        &s,
        "system_filesystem_usage_bytes",
        &[
            ("device", "/dev/vdb"),
            ("mountpoint", "/data disk"),
            ("type", "xfs"),
            ("mode", "ro"),
            ("state", "used"),
        ],
        1500.0 * 1024.0,
    );

    // Network.
    let eth0 = |direction| [("device", "eth0"), ("direction", direction)];
    eq(&s, "system_network_io_bytes", &eth0("receive"), 200078098.0);
    eq(&s, "system_network_io_bytes", &eth0("transmit"), 1015414.0);
    eq(&s, "system_network_packets", &eth0("receive"), 12756.0);
    eq(&s, "system_network_packets", &eth0("transmit"), 12526.0);
    eq(&s, "system_network_errors", &eth0("receive"), 3.0);
    eq(&s, "system_network_errors", &eth0("transmit"), 9.0);
    eq(&s, "system_network_dropped", &eth0("receive"), 4.0);
    eq(&s, "system_network_dropped", &eth0("transmit"), 10.0);
    eq(
        &s,
        "system_network_io_bytes",
        &[("device", "lo"), ("direction", "receive")],
        6739125605.0,
    );

    // Process (proc/self): the name "my app" has a space in it.
    eq(&s, "process_cpu_time_seconds", &[("state", "user")], 12.34);
    eq(&s, "process_cpu_time_seconds", &[("state", "system")], 5.67);
    eq(&s, "process_memory_usage_bytes", &[], 20480.0 * KIB);
    eq(&s, "process_memory_virtual_bytes", &[], 1048576.0 * KIB);
    eq(&s, "process_threads", &[], 7.0);
    eq(&s, "process_open_file_descriptors", &[], 4.0);
    // btime + starttime / 100.
    eq(&s, "process_start_time_seconds", &[], 1700005519.74);

    // Nothing of the other naming.
    assert!(s.families.iter().all(|f| !f.name.starts_with("node_")));
}

#[test]
fn node_names_and_values() {
    let root = fixture("basic");
    let s = snapshot(HostCollector::new(config(&root, Naming::Node)));

    kind_unit(&s, "node_cpu_seconds", MetricKind::Counter, "seconds");
    assert_eq!(series(&s, "node_cpu_seconds"), 3 * 8);
    let cpu0 = |mode| [("cpu", "0"), ("mode", mode)];
    eq(&s, "node_cpu_seconds", &cpu0("user"), 2262.67);
    eq(&s, "node_cpu_seconds", &cpu0("nice"), 5.0);
    eq(&s, "node_cpu_seconds", &cpu0("system"), 168.93);
    eq(&s, "node_cpu_seconds", &cpu0("idle"), 3064.38);
    eq(&s, "node_cpu_seconds", &cpu0("iowait"), 3.97);
    eq(&s, "node_cpu_seconds", &cpu0("irq"), 1.0);
    eq(&s, "node_cpu_seconds", &cpu0("softirq"), 2.26);
    eq(&s, "node_cpu_seconds", &cpu0("steal"), 1.91);
    eq(
        &s,
        "node_cpu_seconds",
        &[("cpu", "3"), ("mode", "idle")],
        3382.26,
    );
    eq(&s, "node_cpu_guest_seconds", &cpu0("user"), 0.5);
    eq(&s, "node_cpu_guest_seconds", &cpu0("nice"), 0.1);
    eq(&s, "node_context_switches", &[], 2555643.0);
    eq(&s, "node_forks", &[], 114682.0);
    eq(&s, "node_boot_time_seconds", &[], 1700000000.0);
    eq(&s, "node_procs_running", &[], 3.0);
    eq(&s, "node_procs_blocked", &[], 1.0);
    assert!(s.family("system_cpu_utilization_ratio").is_none());

    eq(&s, "node_load1", &[], 0.44);
    eq(&s, "node_load5", &[], 1.07);
    eq(&s, "node_load15", &[], 12.35);

    // One gauge per meminfo line.
    let memory: Vec<&str> = s
        .families
        .iter()
        .filter(|f| f.name.starts_with("node_memory_"))
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(memory.len(), 40, "{memory:?}");
    eq(&s, "node_memory_MemTotal_bytes", &[], 24684092.0 * KIB);
    eq(&s, "node_memory_MemAvailable_bytes", &[], 23885364.0 * KIB);
    eq(&s, "node_memory_MemFree_bytes", &[], 9494964.0 * KIB);
    eq(&s, "node_memory_Active_anon_bytes", &[], 1532.0 * KIB);
    eq(&s, "node_memory_Inactive_file_bytes", &[], 9330548.0 * KIB);
    eq(&s, "node_memory_Committed_AS_bytes", &[], 170236.0 * KIB);
    eq(
        &s,
        "node_memory_VmallocTotal_bytes",
        &[],
        34359738367.0 * KIB,
    );
    eq(&s, "node_memory_HugePages_Total", &[], 4.0);
    eq(&s, "node_memory_HugePages_Free", &[], 3.0);
    eq(&s, "node_memory_Hugepagesize_bytes", &[], 2048.0 * KIB);
    kind_unit(&s, "node_memory_MemTotal_bytes", MetricKind::Gauge, "bytes");
    kind_unit(&s, "node_memory_HugePages_Total", MetricKind::Gauge, "");

    let vda = [("device", "vda")];
    eq(&s, "node_disk_read_bytes", &vda, 2236242.0 * 512.0);
    eq(&s, "node_disk_written_bytes", &vda, 29003720.0 * 512.0);
    eq(&s, "node_disk_reads_completed", &vda, 29074.0);
    eq(&s, "node_disk_writes_completed", &vda, 40324.0);
    eq(&s, "node_disk_reads_merged", &vda, 5307.0);
    eq(&s, "node_disk_writes_merged", &vda, 83497.0);
    eq(&s, "node_disk_read_time_seconds", &vda, 9.806);
    eq(&s, "node_disk_write_time_seconds", &vda, 140.57);
    eq(&s, "node_disk_io_time_seconds", &vda, 15.896);
    eq(&s, "node_disk_io_time_weighted_seconds", &vda, 154.461);
    eq(&s, "node_disk_io_now", &vda, 2.0);
    eq(
        &s,
        "node_disk_read_bytes",
        &[("device", "nvme0n1")],
        80000.0 * 512.0,
    );
    assert_eq!(series(&s, "node_disk_read_bytes"), 3);
    kind_unit(&s, "node_disk_read_bytes", MetricKind::Counter, "bytes");

    let root_fs = [
        ("device", "/dev/vda1"),
        ("fstype", "ext4"),
        ("mountpoint", "/"),
    ];
    eq(
        &s,
        "node_filesystem_size_bytes",
        &root_fs,
        1_000_000.0 * 4096.0,
    );
    eq(
        &s,
        "node_filesystem_free_bytes",
        &root_fs,
        400_000.0 * 4096.0,
    );
    eq(
        &s,
        "node_filesystem_avail_bytes",
        &root_fs,
        350_000.0 * 4096.0,
    );
    eq(&s, "node_filesystem_files", &root_fs, 65536.0);
    eq(&s, "node_filesystem_files_free", &root_fs, 60000.0);
    eq(&s, "node_filesystem_readonly", &root_fs, 0.0);
    eq(&s, "node_filesystem_device_error", &root_fs, 0.0);
    eq(
        &s,
        "node_filesystem_readonly",
        &[("mountpoint", "/data disk")],
        1.0,
    );
    eq(
        &s,
        "node_filesystem_size_bytes",
        &[
            ("device", "tmpfs"),
            ("fstype", "tmpfs"),
            ("mountpoint", "/run"),
        ],
        1000.0 * 4096.0,
    );
    // statvfs failed: only the error gauge.
    let nfs = [
        ("device", "server:/export"),
        ("fstype", "nfs4"),
        ("mountpoint", "/mnt/nfs"),
    ];
    eq(&s, "node_filesystem_device_error", &nfs, 1.0);
    assert_eq!(s.value("node_filesystem_size_bytes", &nfs), None);
    assert_eq!(series(&s, "node_filesystem_device_error"), 4);
    assert_eq!(series(&s, "node_filesystem_size_bytes"), 3);

    let eth0 = [("device", "eth0")];
    for (family, want) in [
        ("node_network_receive_bytes", 200078098.0),
        ("node_network_receive_packets", 12756.0),
        ("node_network_receive_errs", 3.0),
        ("node_network_receive_drop", 4.0),
        ("node_network_receive_fifo", 5.0),
        ("node_network_receive_frame", 6.0),
        ("node_network_receive_compressed", 7.0),
        ("node_network_receive_multicast", 8.0),
        ("node_network_transmit_bytes", 1015414.0),
        ("node_network_transmit_packets", 12526.0),
        ("node_network_transmit_errs", 9.0),
        ("node_network_transmit_drop", 10.0),
        ("node_network_transmit_fifo", 11.0),
        ("node_network_transmit_colls", 12.0),
        ("node_network_transmit_carrier", 13.0),
        ("node_network_transmit_compressed", 14.0),
    ] {
        eq(&s, family, &eth0, want);
        kind_unit(
            &s,
            family,
            MetricKind::Counter,
            if family.ends_with("_bytes") {
                "bytes"
            } else {
                ""
            },
        );
    }
    eq(
        &s,
        "node_network_receive_bytes",
        &[("device", "lo")],
        6739125605.0,
    );

    eq(&s, "process_cpu_seconds", &[], 18.01);
    eq(&s, "process_resident_memory_bytes", &[], 20480.0 * KIB);
    eq(&s, "process_virtual_memory_bytes", &[], 1048576.0 * KIB);
    eq(&s, "process_open_fds", &[], 4.0);
    eq(&s, "process_max_fds", &[], 1024.0);
    eq(&s, "process_start_time_seconds", &[], 1700005519.74);

    assert!(s.families.iter().all(|f| !f.name.starts_with("system_")));
}

#[test]
fn prometheus_text_has_the_expected_names() {
    let root = fixture("basic");
    let mut text = Vec::new();
    for naming in [Naming::Otel, Naming::Node] {
        let s = snapshot(HostCollector::new(config(&root, naming)));
        tallyho_encode::Format::Prometheus
            .encode(&mut text, &s)
            .unwrap();
    }
    let text = String::from_utf8(text).unwrap();
    for line in [
        "system_cpu_time_seconds_total{cpu=\"0\",state=\"user\"} 2262.67\n",
        "system_network_io_bytes_total{device=\"eth0\",direction=\"receive\"} 200078098\n",
        "system_memory_limit_bytes 25276510208\n",
        "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 2262.67\n",
        "node_memory_MemTotal_bytes 25276510208\n",
        "node_memory_Active_anon_bytes 1568768\n",
        "node_disk_read_bytes_total{device=\"vda\"} 1144955904\n",
        "node_network_receive_bytes_total{device=\"eth0\"} 200078098\n",
        "node_load1 0.44\n",
        "node_filesystem_size_bytes{device=\"/dev/vda1\",fstype=\"ext4\",mountpoint=\"/\"} 4096000000\n",
        "process_cpu_seconds_total 18.01\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
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

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tallyho-host-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&fixture("basic"), &dir);
    dir
}

#[test]
fn utilization_is_over_the_interval_between_collections() {
    let root = scratch("utilization");
    let collector = HostCollector::new(HostConfig {
        filesystem: false,
        ..config(&root, Naming::Otel)
    });
    assert!(collector
        .collect()
        .iter()
        .all(|f| f.name != "system_cpu_utilization_ratio"));
    // cpu0: +60 user, +20 system, +20 idle ticks; cpu1 and cpu3 unchanged (no interval).
    let stat = std::fs::read_to_string(root.join("proc/stat")).unwrap();
    let stat = stat.replace(
        "cpu0 226267 500 16893 306438 ",
        "cpu0 226327 500 16913 306458 ",
    );
    std::fs::write(root.join("proc/stat"), stat).unwrap();
    let s = snapshot(collector);
    let f = s.family("system_cpu_utilization_ratio").unwrap();
    assert_eq!((f.kind, f.unit.as_str()), (MetricKind::Gauge, "ratio"));
    assert_eq!(f.series.len(), 7, "only cpu0 moved");
    let cpu0 = |state| [("cpu", "0"), ("state", state)];
    eq(&s, "system_cpu_utilization_ratio", &cpu0("user"), 0.6);
    eq(&s, "system_cpu_utilization_ratio", &cpu0("system"), 0.2);
    eq(&s, "system_cpu_utilization_ratio", &cpu0("idle"), 0.2);
    eq(&s, "system_cpu_utilization_ratio", &cpu0("iowait"), 0.0);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn pid_picks_proc_pid() {
    let root = scratch("pid");
    copy_dir(&root.join("proc/self"), &root.join("proc/4242"));
    std::fs::write(root.join("proc/4242/status"), "garbage").unwrap();
    std::fs::remove_dir_all(root.join("proc/self")).unwrap();
    let only_process = |c: HostConfig| HostConfig {
        process: true,
        root: c.root,
        naming: c.naming,
        pid: c.pid,
        ..HostConfig::none()
    };
    // proc/self is gone: nothing.
    let c = HostCollector::new(only_process(config(&root, Naming::Otel)));
    assert!(c.collect().is_empty());
    assert_eq!(c.last_errors()[0].0, "process");
    // proc/4242/status is malformed: nothing either.
    let c = HostCollector::new(only_process(config(&root, Naming::Otel).with_pid(4242)));
    assert!(c.collect().is_empty());
    std::fs::copy(
        fixture("basic").join("proc/self/status"),
        root.join("proc/4242/status"),
    )
    .unwrap();
    let s = snapshot(c);
    eq(&s, "process_threads", &[], 7.0);
    eq(&s, "process_open_file_descriptors", &[], 4.0);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn bad_or_missing_files_drop_only_their_collector() {
    // broken/: stat and loadavg malformed, meminfo missing, diskstats truncated, process stat
    // garbage and status missing; net/dev and mounts fine.
    let root = fixture("broken");
    for naming in [Naming::Otel, Naming::Node] {
        let collector = HostCollector::new(config(&root, naming));
        let families = collector.collect();
        let mut names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        names.retain(|n| !n.contains("_network_") && !n.contains("_filesystem_"));
        assert!(names.is_empty(), "{naming:?}: {names:?}");
        assert!(families.iter().any(|f| f.name.contains("_network_")));
        assert!(families.iter().any(|f| f.name.contains("_filesystem_")));
        let failed: Vec<&str> = collector.last_errors().iter().map(|e| e.0).collect();
        assert_eq!(failed, ["cpu", "load", "memory", "disk", "process"]);
    }
    // A root with nothing at all: no families, no panic.
    let empty = HostCollector::new(HostConfig {
        gpu: false,
        ..HostConfig::default().with_root(fixture("does-not-exist"))
    });
    assert!(empty.collect().is_empty());
    assert_eq!(empty.last_errors().len(), 7);
}

#[test]
fn switches_turn_collectors_off() {
    let root = fixture("basic");
    let c = HostCollector::new(HostConfig {
        load: true,
        network: true,
        ..HostConfig::none().with_root(&root)
    });
    let names: Vec<String> = c.collect().into_iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        [
            "system_cpu_load_average_1m",
            "system_cpu_load_average_5m",
            "system_cpu_load_average_15m",
            "system_network_io_bytes",
            "system_network_packets",
            "system_network_errors",
            "system_network_dropped",
        ]
    );
    assert!(c.gpu_status().contains("disabled"), "{}", c.gpu_status());
}

#[test]
fn a_hung_statvfs_does_not_hang_collection() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    let root = fixture("basic");
    let calls = Arc::new(AtomicUsize::new(0));
    let inner = stub(root.clone());
    let counted = calls.clone();
    let stuck_root = root.clone();
    let config = HostConfig {
        filesystem: true,
        naming: Naming::Node,
        filesystem_timeout: Duration::from_millis(100),
        ..HostConfig::none()
            .with_root(&root)
            .with_statvfs(move |p: &Path| {
                // The first call for /run hangs for a while; later ones answer.
                if p == stuck_root.join("run") && counted.fetch_add(1, Ordering::SeqCst) == 0 {
                    std::thread::sleep(Duration::from_millis(500));
                }
                inner(p)
            })
    };
    let c = HostCollector::new(config);
    let run = [
        ("device", "tmpfs"),
        ("fstype", "tmpfs"),
        ("mountpoint", "/run"),
    ];
    let collect = |c: &HostCollector| {
        let t = Instant::now();
        let s = Snapshot {
            time: std::time::SystemTime::now(),
            families: c.collect(),
        };
        assert!(
            t.elapsed() < Duration::from_millis(400),
            "{:?}",
            t.elapsed()
        );
        s
    };
    // /run does not answer in time: an error for it; the mounts before it are reported, those
    // after it are not reached by the one helper thread in time.
    let s = collect(&c);
    eq(&s, "node_filesystem_device_error", &run, 1.0);
    eq(
        &s,
        "node_filesystem_size_bytes",
        &[("mountpoint", "/")],
        4096e6,
    );
    // Still stuck: not asked again, and the others are answered.
    let s = collect(&c);
    eq(&s, "node_filesystem_device_error", &run, 1.0);
    eq(
        &s,
        "node_filesystem_size_bytes",
        &[("mountpoint", "/data disk")],
        2000.0 * 1024.0,
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Once it returns, it is asked again.
    std::thread::sleep(Duration::from_millis(800));
    let s = collect(&c);
    eq(&s, "node_filesystem_device_error", &run, 0.0);
    eq(&s, "node_filesystem_size_bytes", &run, 1000.0 * 4096.0);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
