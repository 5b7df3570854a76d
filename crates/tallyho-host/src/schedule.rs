//! Collection intervals per group: a group with an interval is read at most once per
//! interval, and collections in between repeat its last outcome (families or error).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tallyho::FamilySnapshot;

use crate::lock;

/// One of the collectors of a [`HostCollector`](crate::HostCollector), as
/// [`HostConfig::intervals`](crate::HostConfig::intervals) names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    /// CPU times and utilization (`proc/stat`).
    Cpu,
    /// Load averages.
    Load,
    /// Memory and swap.
    Memory,
    /// Block device I/O.
    Disk,
    /// Filesystem sizes (`statvfs`).
    Filesystem,
    /// Network interfaces.
    Network,
    /// The process.
    Process,
    /// cgroup v2 (containers).
    Cgroup,
    /// NVIDIA GPUs.
    Gpu,
}

impl Group {
    /// Every group, in collection order.
    pub const ALL: [Group; 9] = [
        Group::Cpu,
        Group::Load,
        Group::Memory,
        Group::Disk,
        Group::Filesystem,
        Group::Network,
        Group::Process,
        Group::Cgroup,
        Group::Gpu,
    ];

    /// The lower-case name (`filesystem`), as in [`last_errors`](crate::HostCollector::last_errors).
    pub fn name(self) -> &'static str {
        match self {
            Group::Cpu => "cpu",
            Group::Load => "load",
            Group::Memory => "memory",
            Group::Disk => "disk",
            Group::Filesystem => "filesystem",
            Group::Network => "network",
            Group::Process => "process",
            Group::Cgroup => "cgroup",
            Group::Gpu => "gpu",
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a group; its message lists the valid ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownGroup(pub String);

impl fmt::Display for UnknownGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Group::ALL.iter().map(|g| g.name()).collect();
        write!(
            f,
            "{:?} is not a host collector: use one of {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownGroup {}

impl FromStr for Group {
    type Err = UnknownGroup;

    fn from_str(s: &str) -> Result<Group, UnknownGroup> {
        Group::ALL
            .into_iter()
            .find(|g| g.name() == s)
            .ok_or_else(|| UnknownGroup(s.to_owned()))
    }
}

/// What a group's last read gave.
pub(crate) type Outcome = Result<Vec<FamilySnapshot>, String>;

/// The last outcome of each group that has an interval, and when it was read.
#[derive(Default)]
pub(crate) struct Cache(Mutex<HashMap<Group, (Instant, Outcome)>>);

impl Cache {
    /// The last outcome, while younger than `interval`.
    pub(crate) fn fresh(&self, group: Group, interval: Duration) -> Option<Outcome> {
        let cache = lock(&self.0);
        let (at, outcome) = cache.get(&group)?;
        (at.elapsed() < interval).then(|| outcome.clone())
    }

    pub(crate) fn store(&self, group: Group, outcome: Outcome) {
        lock(&self.0).insert(group, (Instant::now(), outcome));
    }
}
