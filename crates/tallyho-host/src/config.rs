//! What a [`HostCollector`](crate::HostCollector) reads, where, and how it names it.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::Group;

/// Which names the families get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Naming {
    /// OpenTelemetry semantic conventions, Prometheus-style (`system_cpu_time_seconds_total`).
    #[default]
    Otel,
    /// The Prometheus node_exporter's names (`node_cpu_seconds_total`).
    Node,
}

/// What `statvfs(2)` says of a filesystem: the numbers the filesystem collector uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsStats {
    /// Bytes per block (`f_frsize`).
    pub block_size: u64,
    /// Blocks in the filesystem (`f_blocks`).
    pub blocks: u64,
    /// Free blocks (`f_bfree`), including those reserved for the superuser.
    pub blocks_free: u64,
    /// Blocks free to unprivileged users (`f_bavail`).
    pub blocks_available: u64,
    /// Inodes (`f_files`).
    pub files: u64,
    /// Free inodes (`f_ffree`).
    pub files_free: u64,
}

impl FsStats {
    /// `statvfs(2)` of `path`, through `rustix`.
    ///
    /// # Errors
    /// The system call's error.
    pub fn of(path: &Path) -> io::Result<FsStats> {
        let s = rustix::fs::statvfs(path)?;
        let block_size = if s.f_frsize == 0 {
            s.f_bsize
        } else {
            s.f_frsize
        };
        Ok(FsStats {
            block_size,
            blocks: s.f_blocks,
            blocks_free: s.f_bfree,
            blocks_available: s.f_bavail,
            files: s.f_files,
            files_free: s.f_ffree,
        })
    }
}

/// A replacement for `statvfs(2)`, given the path `<root>/<mountpoint>`: for tests, or for
/// reading sizes some other way.
pub type StatvfsFn = Arc<dyn Fn(&Path) -> io::Result<FsStats> + Send + Sync>;

/// What a [`HostCollector`] reads, where, and how it names it. Every collector is on by
/// default.
#[derive(Clone)]
pub struct HostConfig {
    /// The directory holding `proc/` (and under which mount points are `statvfs`ed);
    /// default `/`.
    pub root: PathBuf,
    /// The names of the families; default [`Naming::Otel`].
    pub naming: Naming,
    /// CPU times, utilization, context switches and forks (`proc/stat`).
    pub cpu: bool,
    /// Memory and swap (`proc/meminfo`).
    pub memory: bool,
    /// Block device I/O (`proc/diskstats`).
    pub disk: bool,
    /// Filesystem sizes and inodes (`proc/mounts` and `statvfs`).
    pub filesystem: bool,
    /// Network interface counters (`proc/net/dev`).
    pub network: bool,
    /// Load averages (`proc/loadavg`).
    pub load: bool,
    /// One process's CPU, memory, threads, descriptors and start time.
    pub process: bool,
    /// NVIDIA GPUs through NVML (needs the `gpu` feature).
    pub gpu: bool,
    /// The cgroup v2 of the process ([`pid`](Self::pid), else this one): CPU, memory,
    /// I/O and pids (see [containers](crate#containers)).
    pub cgroup: bool,
    /// Also every child cgroup of this directory (`/sys/fs/cgroup/system.slice`, a
    /// container runtime's): absolute paths are read under the root, relative ones
    /// inside the cgroup v2 hierarchy; `None` (the default) for none.
    pub cgroup_children: Option<PathBuf>,
    /// The most child cgroups reported (the first by name); default 100.
    pub cgroup_limit: usize,
    /// Docker's data directory (read under the root), whose
    /// `containers/<id>/config.v2.json` names containers; default `/var/lib/docker`,
    /// `None` for no names.
    pub docker_root: Option<PathBuf>,
    /// The process to report; `None` (the default) is `proc/self`, this process when the
    /// root is `/`.
    pub pid: Option<u32>,
    /// How long one collection waits for all `statvfs` calls; default 5 seconds.
    pub filesystem_timeout: Duration,
    /// Replaces `statvfs(2)` ([`FsStats::of`]) when set.
    pub statvfs: Option<StatvfsFn>,
    /// Groups read at most once per interval (`Filesystem` every 5 minutes, say);
    /// collections in between repeat the group's last families (or error). Groups not
    /// here are read at every collection (the default for all).
    pub intervals: BTreeMap<Group, Duration>,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            root: PathBuf::from("/"),
            naming: Naming::Otel,
            cpu: true,
            memory: true,
            disk: true,
            filesystem: true,
            network: true,
            load: true,
            process: true,
            gpu: true,
            cgroup: true,
            cgroup_children: None,
            cgroup_limit: 100,
            docker_root: Some(PathBuf::from("/var/lib/docker")),
            pid: None,
            filesystem_timeout: Duration::from_secs(5),
            statvfs: None,
            intervals: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for HostConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostConfig")
            .field("root", &self.root)
            .field("naming", &self.naming)
            .field("cpu", &self.cpu)
            .field("memory", &self.memory)
            .field("disk", &self.disk)
            .field("filesystem", &self.filesystem)
            .field("network", &self.network)
            .field("load", &self.load)
            .field("process", &self.process)
            .field("gpu", &self.gpu)
            .field("cgroup", &self.cgroup)
            .field("cgroup_children", &self.cgroup_children)
            .field("cgroup_limit", &self.cgroup_limit)
            .field("docker_root", &self.docker_root)
            .field("pid", &self.pid)
            .field("filesystem_timeout", &self.filesystem_timeout)
            .field("statvfs", &self.statvfs.as_ref().map(|_| "custom"))
            .field("intervals", &self.intervals)
            .finish()
    }
}

impl HostConfig {
    /// Every collector on, reading `/`, OpenTelemetry names (the same as `default()`).
    pub fn new() -> Self {
        HostConfig::default()
    }

    /// Every collector off, to switch on one by one.
    pub fn none() -> Self {
        HostConfig {
            cpu: false,
            memory: false,
            disk: false,
            filesystem: false,
            network: false,
            load: false,
            process: false,
            gpu: false,
            cgroup: false,
            ..HostConfig::default()
        }
    }

    /// Reads `<root>/proc/...` instead of `/proc/...`.
    #[must_use]
    pub fn with_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self
    }

    /// Sets the naming.
    #[must_use]
    pub fn with_naming(mut self, naming: Naming) -> Self {
        self.naming = naming;
        self
    }

    /// Reports process `pid` instead of `self`.
    #[must_use]
    pub fn with_pid(mut self, pid: u32) -> Self {
        self.pid = Some(pid);
        self
    }

    /// Also reports every child cgroup of `dir` (see [`cgroup_children`](Self::cgroup_children)).
    #[must_use]
    pub fn with_cgroup_children(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cgroup_children = Some(dir.into());
        self
    }

    /// Reads `group` at most once per `interval`.
    #[must_use]
    pub fn with_interval(mut self, group: Group, interval: Duration) -> Self {
        self.intervals.insert(group, interval);
        self
    }

    /// Replaces `statvfs(2)`.
    #[must_use]
    pub fn with_statvfs(
        mut self,
        f: impl Fn(&Path) -> io::Result<FsStats> + Send + Sync + 'static,
    ) -> Self {
        self.statvfs = Some(Arc::new(f));
        self
    }

    pub(crate) fn proc_path(&self, rel: &str) -> PathBuf {
        self.root.join("proc").join(rel)
    }
}
