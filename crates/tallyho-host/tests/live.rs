//! Sanity checks against this machine's own /proc.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tallyho::{Collector, Registry, Snapshot};
use tallyho_host::{GpuOffReason, GpuState, HostCollector, HostConfig, Naming};

fn snapshot_of(collector: &Registry) -> Snapshot {
    collector.snapshot()
}

fn registry(config: HostConfig) -> Registry {
    let registry = Registry::new();
    registry.register_collector(HostCollector::new(config));
    registry
}

fn meminfo_total_bytes() -> f64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024.0
}

#[test]
fn memory_total_is_meminfo_mem_total() {
    let want = meminfo_total_bytes();
    let otel = registry(HostConfig::default()).snapshot();
    assert_eq!(otel.value("system_memory_limit_bytes", &[]), Some(want));
    let node = registry(HostConfig::default().with_naming(Naming::Node)).snapshot();
    assert_eq!(node.value("node_memory_MemTotal_bytes", &[]), Some(want));
    // The states add up to the total.
    let states: f64 = otel
        .family("system_memory_usage_bytes")
        .unwrap()
        .series
        .iter()
        .map(|s| s.value.as_f64().unwrap())
        .sum();
    assert_eq!(states, want);
}

#[test]
fn cpu_seconds_never_decrease_and_utilization_adds_up() {
    for naming in [Naming::Otel, Naming::Node] {
        let (family, label) = match naming {
            Naming::Otel => ("system_cpu_time_seconds", "state"),
            Naming::Node => ("node_cpu_seconds", "mode"),
        };
        let r = registry(HostConfig::default().with_naming(naming));
        let first = snapshot_of(&r);
        // Some work so the counters move.
        let mut x = 0u64;
        let until = std::time::Instant::now() + Duration::from_millis(150);
        while std::time::Instant::now() < until {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        assert_ne!(x, 1);
        let second = snapshot_of(&r);
        let a = first.family(family).unwrap();
        let b = second.family(family).unwrap();
        assert_eq!(a.series.len(), b.series.len());
        assert!(!a.series.is_empty());
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!(
            a.series.len() >= 7,
            "{cpus} CPUs, {} series",
            a.series.len()
        );
        for (x, y) in a.series.iter().zip(&b.series) {
            assert_eq!(x.labels, y.labels);
            // iowait is documented to go backwards at times (proc(5)).
            if x.label(label) == Some("iowait") {
                continue;
            }
            let (x1, y1) = (x.value.as_f64().unwrap(), y.value.as_f64().unwrap());
            assert!(y1 >= x1, "{family}{:?}: {x1} then {y1}", x.labels);
        }
        if naming == Naming::Otel {
            let u = second.family("system_cpu_utilization_ratio").unwrap();
            let cpus: std::collections::BTreeSet<&str> =
                u.series.iter().map(|s| s.label("cpu").unwrap()).collect();
            assert!(!cpus.is_empty());
            for cpu in cpus {
                let sum: f64 = u
                    .series
                    .iter()
                    .filter(|s| s.label("cpu") == Some(cpu))
                    .map(|s| s.value.as_f64().unwrap())
                    .sum();
                assert!((sum - 1.0).abs() < 1e-9, "cpu {cpu}: {sum}");
            }
        } else {
            assert!(second.family("system_cpu_utilization_ratio").is_none());
        }
    }
}

#[test]
fn this_process() {
    let s = registry(HostConfig::default()).snapshot();
    let fds = s.value("process_open_file_descriptors", &[]).unwrap();
    assert!(fds > 0.0, "{fds}");
    assert!(s.value("process_threads", &[]).unwrap() >= 1.0);
    assert!(s.value("process_memory_usage_bytes", &[]).unwrap() > 0.0);
    let virt = s.value("process_memory_virtual_bytes", &[]).unwrap();
    assert!(virt >= s.value("process_memory_usage_bytes", &[]).unwrap());
    let start = s.value("process_start_time_seconds", &[]).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    // Started within the last hour, not in the future (1 tick of rounding).
    assert!(
        start <= now + 0.01 && start > now - 3600.0,
        "{start} vs {now}"
    );

    let node = registry(HostConfig::default().with_naming(Naming::Node)).snapshot();
    assert!(node.value("process_open_fds", &[]).unwrap() > 0.0);
    assert!(node.value("process_max_fds", &[]).unwrap() > 0.0);
}

#[test]
fn root_filesystem_and_loopback() {
    let s = registry(HostConfig::default()).snapshot();
    let root: Vec<f64> = s
        .family("system_filesystem_usage_bytes")
        .map(|f| f.series.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|x| x.label("mountpoint") == Some("/"))
        .map(|x| x.value.as_f64().unwrap())
        .collect();
    if root.is_empty() {
        // "/" is an overlay (a container), which the filesystem rule leaves out.
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
        assert!(mounts.lines().any(|l| l.split(' ').nth(1) == Some("/")
            && l.split(' ').nth(2) == Some("overlay")), "{mounts}");
    } else {
        let st = tallyho_host::FsStats::of(std::path::Path::new("/")).unwrap();
        // used + free + reserved = size, which does not change.
        assert_eq!(root.iter().sum::<f64>(), (st.blocks * st.block_size) as f64);
    }
    assert!(s
        .value(
            "system_network_io_bytes",
            &[("device", "lo"), ("direction", "receive")]
        )
        .is_some());
    assert!(s.value("system_cpu_load_average_1m", &[]).unwrap() >= 0.0);
}

#[test]
fn gpu_absent_or_reported() {
    let c = HostCollector::new(HostConfig::default());
    let status = c.gpu_status().to_owned();
    assert!(!status.is_empty());
    let families = c.collect();
    let gpu: Vec<&str> = families
        .iter()
        .filter(|f| f.name.starts_with("hw_gpu_"))
        .map(|f| f.name.as_str())
        .collect();
    let state = c.gpu_state().clone();
    // The log message is the state's own wording.
    assert_eq!(status, state.to_string());
    match &state {
        GpuState::Off { reason } => {
            // No driver here (or built without the feature): nothing, and no error recorded.
            eprintln!("GPU checks skipped: {status}");
            assert!(gpu.is_empty(), "{gpu:?}");
            // The default configuration asks for GPUs, so only the build or the machine
            // can turn them off.
            #[cfg(feature = "gpu")]
            assert!(
                matches!(reason, GpuOffReason::NvmlUnavailable { .. }),
                "{reason:?}"
            );
            #[cfg(not(feature = "gpu"))]
            assert_eq!(reason, &GpuOffReason::NotBuilt);
        }
        GpuState::NoDevices => {
            eprintln!("GPU checks skipped: {status}");
            assert!(gpu.is_empty(), "{gpu:?}")
        }
        GpuState::Devices(n) => {
            // A real GPU: one memory series per device, used within installed, and a
            // utilisation that is a share.
            assert!(*n > 0);
            let s = tallyho::Snapshot {
                time: SystemTime::now(),
                families: families.clone(),
            };
            let limits = s
                .family("hw_gpu_memory_limit_bytes")
                .expect("memory limits");
            assert_eq!(limits.series.len(), *n as usize, "{status}");
            let used = s.family("hw_gpu_memory_usage_bytes").expect("memory usage");
            for (u, l) in used.series.iter().zip(&limits.series) {
                let (u, l) = (u.value.as_f64().unwrap(), l.value.as_f64().unwrap());
                assert!(u >= 0.0 && u <= l && l > 0.0, "used {u} of {l}");
            }
            if let Some(util) = s.family("hw_gpu_utilization_ratio") {
                for x in &util.series {
                    let r = x.value.as_f64().unwrap();
                    assert!((0.0..=1.0).contains(&r), "utilisation {r}");
                }
            }
        }
        // NVML could not count its GPUs: each collection retries, so either outcome.
        GpuState::CountFailed { .. } => {}
        other => panic!("a GPU state this test does not know: {other:?}"),
    }
    assert!(
        c.last_errors().iter().all(|(name, _)| *name != "gpu"),
        "{:?}",
        c.last_errors()
    );
    // A second collection does the same, quietly.
    let again = c.collect();
    assert_eq!(
        again
            .iter()
            .filter(|f| f.name.starts_with("hw_gpu_"))
            .count(),
        gpu.len()
    );
}
