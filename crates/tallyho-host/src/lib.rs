//! Host metrics for tallyho: CPU, memory, disk, filesystem, network, load average, one
//! process and NVIDIA GPUs, read from Linux `/proc`, `statvfs` and NVML at collection time.
//!
//! [`HostCollector`] is a [`tallyho::Collector`]: register it and every collection reads
//! the files afresh.
//!
//! ```
//! use tallyho::Registry;
//! use tallyho_host::{HostCollector, HostConfig, Naming};
//!
//! let registry = Registry::new();
//! registry.register_collector(HostCollector::new(HostConfig::default()));
//! // Or node_exporter's names, reading a host's /proc mounted at /host/proc:
//! let node = HostConfig::default().with_naming(Naming::Node).with_root("/host");
//! # let _ = node;
//! let snapshot = registry.snapshot();
//! # let _ = snapshot;
//! ```
//!
//! # Where the numbers come from
//!
//! Every file is read under [`HostConfig::root`] (default `/`), so a container can point
//! the collector at a host's `/proc` mounted elsewhere and tests can point it at captured
//! files. Parsing is done by [`procfs_core`], which reads from any path.
//!
//! | collector    | files (under the root)                                  |
//! |--------------|---------------------------------------------------------|
//! | `cpu`        | `proc/stat`                                             |
//! | `load`       | `proc/loadavg`                                          |
//! | `memory`     | `proc/meminfo`                                          |
//! | `disk`       | `proc/diskstats`                                        |
//! | `filesystem` | `proc/mounts`, then `statvfs(2)` of `<root>/<mountpoint>` |
//! | `network`    | `proc/net/dev`                                          |
//! | `process`    | `proc/<pid>/{stat,status,fd/,limits}`, `proc/stat` (boot time) |
//! | `cgroup`     | `proc/self/mountinfo`, `proc/<pid>/cgroup`, the cgroup v2 files (see [containers](crate#containers)) |
//! | `gpu`        | NVML (`libnvidia-ml.so.1`, loaded at run time; feature `gpu`) |
//!
//! CPU times in `/proc` are in clock ticks; they are divided by the ticks per second of
//! the running system (`sysconf(_SC_CLK_TCK)`, read through `rustix`; `USER_HZ`, which is
//! 100 on every mainstream Linux architecture).
//!
//! A file that is missing or does not parse drops that collector's families from this
//! collection only (see [`HostCollector::last_errors`]); a collection never fails and never
//! panics.
//!
//! # Names
//!
//! [`Naming::Otel`] (the default) uses the OpenTelemetry semantic conventions for system and
//! process metrics as of v1.21 (the version the conventions tell existing instrumentations
//! to keep while the system conventions are experimental), rendered the Prometheus way:
//! dots become `_`, the unit is appended (`s` → `_seconds`, `By` → `_bytes`, `1` →
//! `_ratio`) and the encoders add `_total` to counters. Attributes use short label names.
//!
//! | family (counters without `_total`)     | kind          | labels                              |
//! |----------------------------------------|---------------|-------------------------------------|
//! | `system_cpu_time_seconds`              | counter       | `cpu`, `state` = user, nice, system, idle, iowait, interrupt (irq + softirq), steal |
//! | `system_cpu_utilization_ratio`         | gauge         | `cpu`, `state`; from the second collection on, over the interval since the previous one |
//! | `system_cpu_context_switches`          | counter       |                                     |
//! | `system_processes_created`             | counter       |                                     |
//! | `system_cpu_load_average_1m`, `_5m`, `_15m` | gauge    |                                     |
//! | `system_memory_usage_bytes`            | up-down       | `state` = used, free, buffers, cached (they add up to the total; used = total − free − buffers − cached) |
//! | `system_memory_utilization_ratio`      | gauge         | `state`, as above, over the total   |
//! | `system_memory_limit_bytes`            | up-down       | (`MemTotal`)                        |
//! | `system_linux_memory_available_bytes`  | up-down       | (`MemAvailable`)                    |
//! | `system_paging_usage_bytes`            | up-down       | `state` = used, free (swap)         |
//! | `system_paging_utilization_ratio`      | gauge         | `state` (only with swap)            |
//! | `system_disk_io_bytes`                 | counter       | `device`, `direction` = read, write |
//! | `system_disk_operations`               | counter       | `device`, `direction`               |
//! | `system_disk_operation_time_seconds`   | counter       | `device`, `direction`               |
//! | `system_disk_merged`                   | counter       | `device`, `direction`               |
//! | `system_disk_io_time_seconds`          | counter       | `device`                            |
//! | `system_filesystem_usage_bytes`        | up-down       | `device`, `mountpoint`, `type`, `mode` = rw, ro, `state` = used, free, reserved |
//! | `system_filesystem_inodes_usage`       | up-down       | as above with `state` = used, free  |
//! | `system_network_io_bytes`              | counter       | `device`, `direction` = receive, transmit |
//! | `system_network_packets`, `_errors`, `_dropped` | counter | `device`, `direction`            |
//! | `process_cpu_time_seconds`             | counter       | `state` = user, system              |
//! | `process_cpu_utilization_ratio`        | gauge         | `state`; from the second collection on, the share of the available CPUs used since the previous one |
//! | `process_memory_usage_bytes`           | up-down       | (resident set size)                 |
//! | `process_memory_virtual_bytes`         | up-down       |                                     |
//! | `process_threads`                      | up-down       |                                     |
//! | `process_open_file_descriptors`        | up-down       |                                     |
//! | `process_start_time_seconds`           | gauge         | (Unix time)                         |
//!
//! [`Naming::Node`] uses the Prometheus node_exporter's names, labels and units for CPU
//! (`node_cpu_seconds_total{cpu,mode}`, `node_cpu_guest_seconds_total`,
//! `node_context_switches_total`, `node_forks_total`, `node_boot_time_seconds`,
//! `node_procs_running`, `node_procs_blocked`), load (`node_load1`, `node_load5`,
//! `node_load15`), memory (one gauge per `/proc/meminfo` line: `node_memory_<Field>_bytes`,
//! or `node_memory_<Field>` for lines without a unit, with `Active(anon)` spelled
//! `Active_anon`), disks (`node_disk_read_bytes_total`, `node_disk_written_bytes_total`,
//! `node_disk_reads_completed_total`, `node_disk_writes_completed_total`,
//! `node_disk_reads_merged_total`, `node_disk_writes_merged_total`,
//! `node_disk_read_time_seconds_total`, `node_disk_write_time_seconds_total`,
//! `node_disk_io_time_seconds_total`, `node_disk_io_time_weighted_seconds_total`,
//! `node_disk_io_now`), filesystems (`node_filesystem_size_bytes`, `_free_bytes`,
//! `_avail_bytes`, `_files`, `_files_free`, `_readonly`, `_device_error`, labelled
//! `device`, `fstype`, `mountpoint`) and network (`node_network_receive_bytes_total`, and
//! `receive`/`transmit` × `bytes`, `packets`, `errs`, `drop`, `fifo`, `frame`/`colls`,
//! `compressed`, `multicast`/`carrier`, labelled `device`). The process collector uses the
//! Prometheus client libraries' names (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_open_fds`,
//! `process_max_fds`, `process_virtual_memory_max_bytes` when limited,
//! `process_threads`, `process_start_time_seconds`, and `process_cpu_utilization_ratio`
//! without labels); [`register_process_metrics`] registers just these. There is no
//! system CPU utilization under this naming, as node_exporter has none.
//!
//! GPU families are the same under both namings: see [`gpu`](crate#gpus).
//!
//! # Containers
//!
//! The `cgroup` collector reads cgroup v2: the process's own cgroup
//! ([`HostConfig::cgroup`], on by default) and, with [`HostConfig::cgroup_children`],
//! every child cgroup of a directory such as `/sys/fs/cgroup/system.slice` (at most
//! [`HostConfig::cgroup_limit`], the first by name). The hierarchy is the first `cgroup2`
//! mount in `proc/self/mountinfo`. A host with cgroup v1 only, a controller that is not
//! enabled, a cgroup that vanished: no families for it, and no error; a file that is there
//! and does not parse is an error naming the file and the line. `max` (no limit) gives no
//! sample rather than a huge number.
//!
//! The container id is the 64-hex id in the cgroup path (docker `/docker/<id>` and
//! `docker-<id>.scope`, containerd `cri-containerd-<id>.scope` and Kubernetes'
//! `/kubepods/.../<id>`, CRI-O `crio-<id>.scope`, podman `libpod-<id>.scope`; conmon's
//! scopes are not containers); the name comes from docker's
//! `<docker_root>/containers/<id>/config.v2.json` when readable ([`HostConfig::docker_root`]).
//!
//! | file (key)                  | [`Naming::Node`] (cAdvisor)                 | [`Naming::Otel`]                        |
//! |-----------------------------|---------------------------------------------|-----------------------------------------|
//! | `cpu.stat` usage_usec       | `container_cpu_usage_seconds_total{cpu="total"}` |                                    |
//! | `cpu.stat` user/system_usec | `container_cpu_user_seconds_total`, `container_cpu_system_seconds_total` | `container_cpu_time_seconds{state}` |
//! | `cpu.stat` nr_periods       | `container_cpu_cfs_periods_total`           | `container_cpu_throttling_data_periods` |
//! | `cpu.stat` nr_throttled     | `container_cpu_cfs_throttled_periods_total` | `container_cpu_throttling_data_throttled_periods` |
//! | `cpu.stat` throttled_usec   | `container_cpu_cfs_throttled_seconds_total` | `container_cpu_throttling_data_throttled_time_seconds` |
//! | `memory.current`            | `container_memory_usage_bytes`              | `container_memory_usage_bytes`          |
//! | current − `inactive_file`   | `container_memory_working_set_bytes`        | `container_memory_working_set_bytes`    |
//! | `memory.max`                | `container_spec_memory_limit_bytes`         | `container_memory_usage_limit_bytes`    |
//! | `memory.stat` anon, file    | `container_memory_rss`, `container_memory_cache` | `container_memory_anon_bytes`, `container_memory_file_bytes` |
//! | `memory.events` oom_kill, oom | `container_oom_events_total`, `container_memory_oom_total` | `container_memory_oom_events{event}` |
//! | `io.stat` rbytes, wbytes    | `container_fs_reads_bytes_total`, `container_fs_writes_bytes_total` | `container_disk_io_bytes{direction}` |
//! | `io.stat` rios, wios        | `container_fs_reads_total`, `container_fs_writes_total` | `container_disk_operations{direction}` |
//! | `pids.current`, `pids.max`  | `container_threads`, `container_threads_max` | `container_pids`, `container_pids_limit` |
//!
//! Labels: under `Node`, cAdvisor's `id` (the cgroup path) and `name` (when known), plus
//! `container_id`; under `Otel`, `cgroup`, `container_id` and `container_name` (the
//! `container.id` and `container.name` attributes). I/O series add `device`, the kernel
//! name from `sys/dev/block/MAJ:MIN/uevent` (`sda`), else `MAJ:MIN`. The OTel names
//! are the semantic conventions' (`container.cpu.time`, `container.memory.usage`,
//! `container.memory.working_set`, `container.disk.io`) and, where they have none, the
//! OpenTelemetry collector's `docker_stats` receiver's (`container.pids.count` loses its
//! `.count`: a `_count` suffix is a histogram's or summary's in Prometheus). Levels are gauges under `Node`
//! and up-down counters under `Otel`.
//!
//! # Which disks and filesystems
//!
//! Both namings follow node_exporter's default rules, so their numbers can be compared:
//!
//! - disks: every `/proc/diskstats` line except devices matching
//!   `^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$` (RAM disks, loop devices, floppies
//!   and partitions of whole disks that are already counted);
//! - filesystems: every `/proc/mounts` entry except the file system types `autofs`,
//!   `binfmt_misc`, `bpf`, `cgroup`, `cgroup2`, `configfs`, `debugfs`, `devpts`, `devtmpfs`,
//!   `fusectl`, `hugetlbfs`, `iso9660`, `mqueue`, `nsfs`, `overlay`, `proc`, `procfs`,
//!   `pstore`, `rpc_pipefs`, `securityfs`, `selinuxfs`, `squashfs`, `sysfs`, `tracefs`, and
//!   except mount points under `/dev`, `/proc`, `/sys`, `/run/credentials/`,
//!   `/var/lib/docker/` and `/var/lib/containers/storage/`. `tmpfs` is kept (it uses
//!   memory that users run out of). An entry repeated with the same device, mount point
//!   and type is reported once. `statvfs` runs on a helper thread; a mount that does not
//!   answer within [`HostConfig::filesystem_timeout`] is skipped (and not asked again
//!   until the stuck call returns), so a dead network mount cannot hang a scrape.
//!
//! # GPUs
//!
//! With the `gpu` feature (on by default), NVIDIA GPUs are read through NVML, which
//! `nvml-wrapper` loads at run time: building needs no NVIDIA software, and a machine
//! without the driver or without a GPU simply has no GPU families
//! ([`HostCollector::gpu_state`] says why, [`HostCollector::gpu_status`] in words). Per GPU, labelled `gpu` (the NVML index) and
//! `uuid`:
//!
//! | family                        | kind    | meaning                                     |
//! |-------------------------------|---------|---------------------------------------------|
//! | `hw_gpu_utilization_ratio`    | gauge   | share of the last sample period a kernel ran |
//! | `hw_gpu_memory_usage_bytes`   | up-down | device memory in use                        |
//! | `hw_gpu_memory_limit_bytes`   | up-down | device memory installed                     |
//! | `hw_gpu_temperature_celsius`  | gauge   | die temperature                             |
//! | `hw_gpu_power_watts`          | gauge   | power draw                                  |
//! | `hw_gpu_energy_joules`        | counter | energy since the driver loaded              |
//! | `hw_gpu_clock_hertz`          | gauge   | current clock, label `type` = graphics, sm, memory |
//!
//! A reading the GPU does not support is left out.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cgroup;
mod config;
mod cpu;
mod disk;
mod fam;
mod filesystem;
mod gpu;
#[cfg_attr(not(feature = "gpu"), allow(dead_code))]
mod gpu_map;
mod load;
mod memory;
mod network;
mod process;
mod register;
mod schedule;

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tallyho::{FamilySnapshot, MetricKind};

pub use gpu::{GpuOffReason, GpuState};
pub use register::{process_collector, register_process_metrics};
pub use schedule::{Group, UnknownGroup};

pub use config::{FsStats, HostConfig, Naming, StatvfsFn};

/// Collects host metrics at every collection; see the [crate documentation](crate).
pub struct HostCollector {
    config: HostConfig,
    ticks_per_second: u64,
    cpu_previous: Mutex<cpu::Previous>,
    process_previous: Mutex<process::Previous>,
    statvfs_busy: filesystem::Busy,
    boot_time: Mutex<Option<u64>>,
    gpu: gpu::Gpu,
    errors: Mutex<Vec<(&'static str, String)>>,
    cache: schedule::Cache,
}

impl fmt::Debug for HostCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostCollector")
            .field("config", &self.config)
            .field("gpu_status", &self.gpu.status())
            .finish_non_exhaustive()
    }
}

type CollectResult = Result<Vec<FamilySnapshot>, Box<dyn std::error::Error + Send + Sync>>;

impl HostCollector {
    /// A collector with these settings. With `gpu` on, tries to load NVML now (once).
    pub fn new(config: HostConfig) -> Self {
        let ticks = rustix::param::clock_ticks_per_second();
        let gpu = gpu::Gpu::new(config.gpu);
        HostCollector {
            ticks_per_second: if ticks == 0 { 100 } else { ticks },
            cpu_previous: Mutex::new(cpu::Previous::default()),
            process_previous: Mutex::new(None),
            statvfs_busy: filesystem::Busy::default(),
            boot_time: Mutex::new(None),
            gpu,
            errors: Mutex::new(Vec::new()),
            cache: schedule::Cache::default(),
            config,
        }
    }

    /// The settings.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Whether GPU metrics are being read, or why not (disabled, built without the `gpu`
    /// feature, NVML not found, no GPU), as a message for a log: the
    /// [`Display`](std::fmt::Display) form of [`gpu_state`](Self::gpu_state).
    pub fn gpu_status(&self) -> &str {
        self.gpu.status()
    }

    /// Whether GPU metrics are being read, or why not, as a value to branch on.
    pub fn gpu_state(&self) -> &GpuState {
        self.gpu.state()
    }

    /// The collectors whose families the last collection left out, with the reason
    /// (a missing or malformed file, for example).
    pub fn last_errors(&self) -> Vec<(&'static str, String)> {
        lock(&self.errors).clone()
    }

    /// Boot time in Unix seconds, from `proc/stat`, read once.
    pub(crate) fn boot_time(&self) -> Option<u64> {
        let mut cached = lock(&self.boot_time);
        if cached.is_none() {
            let text = std::fs::read_to_string(self.config.proc_path("stat")).ok()?;
            *cached = text
                .lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse().ok());
        }
        *cached
    }

    pub(crate) fn boot_start(&self) -> SystemTime {
        self.boot_time()
            .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }

    fn run(
        &self,
        group: Group,
        enabled: bool,
        out: &mut Vec<FamilySnapshot>,
        errors: &mut Vec<(&'static str, String)>,
        f: impl FnOnce(&Self) -> CollectResult,
    ) {
        if !enabled {
            return;
        }
        let interval = self.config.intervals.get(&group).copied();
        let cached = interval.and_then(|i| self.cache.fresh(group, i));
        let outcome = cached.unwrap_or_else(|| {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
            let outcome = match result {
                Ok(Ok(families)) => Ok(families
                    .into_iter()
                    .filter(|f| !f.series.is_empty())
                    .collect()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("panicked while parsing".to_owned()),
            };
            if interval.is_some() {
                self.cache.store(group, outcome.clone());
            }
            outcome
        });
        match outcome {
            Ok(families) => out.extend(families),
            Err(e) => errors.push((group.name(), e)),
        }
    }
}

impl tallyho::Collector for HostCollector {
    fn collect(&self) -> Vec<FamilySnapshot> {
        let c = &self.config;
        let mut out = Vec::new();
        let mut errors = Vec::new();
        self.run(Group::Cpu, c.cpu, &mut out, &mut errors, cpu::collect);
        self.run(Group::Load, c.load, &mut out, &mut errors, load::collect);
        self.run(
            Group::Memory,
            c.memory,
            &mut out,
            &mut errors,
            memory::collect,
        );
        self.run(Group::Disk, c.disk, &mut out, &mut errors, disk::collect);
        self.run(
            Group::Filesystem,
            c.filesystem,
            &mut out,
            &mut errors,
            filesystem::collect,
        );
        self.run(
            Group::Network,
            c.network,
            &mut out,
            &mut errors,
            network::collect,
        );
        self.run(
            Group::Process,
            c.process,
            &mut out,
            &mut errors,
            process::collect,
        );
        let cgroups = c.cgroup || c.cgroup_children.is_some();
        self.run(
            Group::Cgroup,
            cgroups,
            &mut out,
            &mut errors,
            cgroup::collect,
        );
        self.run(Group::Gpu, c.gpu, &mut out, &mut errors, |h| {
            Ok(h.gpu.collect())
        });
        *lock(&self.errors) = errors;
        // Every sum says when it started (OTLP sends it as `start_time_unix_nano`): one
        // without a start of its own (the GPU's, counted since the driver loaded) starts
        // no earlier than boot.
        let boot = self.boot_start();
        for family in &mut out {
            if matches!(family.kind, MetricKind::Counter | MetricKind::UpDownCounter) {
                for s in &mut family.series {
                    if s.start == SystemTime::UNIX_EPOCH {
                        s.start = boot;
                    }
                }
            }
        }
        out
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads a whole file under the root.
pub(crate) fn read(path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use tallyho::{Collector, MetricKind};

    use super::{FsStats, HostCollector, HostConfig, Naming};

    /// Every counter and up-down sum of a captured host starts at boot (`btime` of the
    /// capture's `proc/stat`) or at its process's start, never at the Unix epoch.
    #[test]
    fn every_sum_says_when_it_started() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/basic");
        let stat = std::fs::read_to_string(root.join("proc/stat")).unwrap();
        let btime: u64 = stat
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let boot = SystemTime::UNIX_EPOCH + Duration::from_secs(btime);
        for naming in [Naming::Otel, Naming::Node] {
            let config = HostConfig {
                gpu: false,
                ..HostConfig::default()
                    .with_root(&root)
                    .with_naming(naming)
                    .with_statvfs(|_| {
                        Ok(FsStats {
                            block_size: 4096,
                            blocks: 10,
                            blocks_free: 5,
                            blocks_available: 4,
                            files: 10,
                            files_free: 5,
                        })
                    })
            };
            let families = HostCollector::new(config).collect();
            let mut sums = 0;
            for f in families
                .iter()
                .filter(|f| matches!(f.kind, MetricKind::Counter | MetricKind::UpDownCounter))
            {
                for s in &f.series {
                    sums += 1;
                    let from_process = f.name.starts_with("process_");
                    assert!(
                        if from_process {
                            s.start >= boot
                        } else {
                            s.start == boot
                        },
                        "{} {:?} starts at {:?}",
                        f.name,
                        s.labels,
                        s.start
                    );
                }
            }
            let up_down = families
                .iter()
                .filter(|f| f.kind == MetricKind::UpDownCounter)
                .count();
            assert!(sums > 0 && (naming == Naming::Node || up_down > 0));
        }
    }
}
