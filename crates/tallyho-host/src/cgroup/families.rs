//! Families from cgroup readings: cAdvisor's names under [`Naming::Node`], the
//! OpenTelemetry container conventions (and the collector's `docker_stats` receiver
//! names where the conventions have none) under [`Naming::Otel`].

use std::collections::BTreeMap;

use tallyho::FamilySnapshot;

use super::Cgroup;
use crate::fam::Fam;
use crate::Naming;

/// Microseconds to seconds.
fn usec(v: u64) -> f64 {
    v as f64 / 1e6
}

fn get(m: &Option<BTreeMap<String, u64>>, key: &str) -> Option<u64> {
    m.as_ref().and_then(|m| m.get(key).copied())
}

/// cAdvisor's working set: usage less the inactive file cache, never below zero.
fn working_set(c: &Cgroup) -> Option<u64> {
    let usage = c.memory_current?;
    let inactive = get(&c.memory_stat, "inactive_file").unwrap_or(0);
    Some(usage.saturating_sub(inactive))
}

/// One family's name, help and kind, per naming.
struct Def {
    node: &'static str,
    otel: &'static str,
    help: &'static str,
    /// The help under OTel naming when it differs.
    otel_help: &'static str,
    counter: bool,
    /// Under OTel naming an up-down counter rather than a gauge (levels of a sum).
    updown: bool,
    unit: &'static str,
}

impl Def {
    fn fam(&self, naming: Naming) -> Fam {
        let name = match naming {
            Naming::Node => self.node,
            Naming::Otel => self.otel,
        };
        let help = match naming {
            Naming::Otel if !self.otel_help.is_empty() => self.otel_help,
            _ => self.help,
        };
        let fam = if self.counter {
            Fam::counter(name, help)
        } else if self.updown && naming == Naming::Otel {
            Fam::updown(name, help)
        } else {
            Fam::gauge(name, help)
        };
        if self.unit.is_empty() || !name.ends_with(&format!("_{}", self.unit)) {
            fam
        } else {
            fam.unit(self.unit)
        }
    }
}

const fn def(
    node: &'static str,
    otel: &'static str,
    help: &'static str,
    counter: bool,
    unit: &'static str,
) -> Def {
    Def {
        node,
        otel,
        help,
        otel_help: "",
        counter,
        updown: !counter,
        unit,
    }
}

/// A family whose OTel form folds two of cAdvisor's into one by a label.
const fn folded(node: Def, otel_help: &'static str) -> Def {
    Def { otel_help, ..node }
}

const CPU_USAGE: Def = def(
    "container_cpu_usage_seconds",
    "",
    "Cumulative CPU time consumed (cpu.stat usage_usec).",
    true,
    "seconds",
);
const CPU_USER: Def = folded(
    def(
        "container_cpu_user_seconds",
        "container_cpu_time_seconds",
        "Cumulative user CPU time consumed (cpu.stat user_usec).",
        true,
        "seconds",
    ),
    "CPU time consumed, by state (cpu.stat user_usec, system_usec).",
);
const CPU_SYSTEM: Def = def(
    "container_cpu_system_seconds",
    "",
    "Cumulative system CPU time consumed (cpu.stat system_usec).",
    true,
    "seconds",
);
const PERIODS: Def = def(
    "container_cpu_cfs_periods",
    "container_cpu_throttling_data_periods",
    "Elapsed enforcement periods of the CPU limit (cpu.stat nr_periods).",
    true,
    "",
);
const THROTTLED: Def = def(
    "container_cpu_cfs_throttled_periods",
    "container_cpu_throttling_data_throttled_periods",
    "Enforcement periods in which the cgroup was throttled (cpu.stat nr_throttled).",
    true,
    "",
);
const THROTTLED_TIME: Def = def(
    "container_cpu_cfs_throttled_seconds",
    "container_cpu_throttling_data_throttled_time_seconds",
    "Time the cgroup was throttled for (cpu.stat throttled_usec).",
    true,
    "seconds",
);
const MEM_USAGE: Def = def(
    "container_memory_usage_bytes",
    "container_memory_usage_bytes",
    "Memory in use, page cache included (memory.current).",
    false,
    "bytes",
);
const MEM_WORKING: Def = def(
    "container_memory_working_set_bytes",
    "container_memory_working_set_bytes",
    "Memory in use less the inactive file cache (memory.current - inactive_file).",
    false,
    "bytes",
);
const MEM_LIMIT: Def = def(
    "container_spec_memory_limit_bytes",
    "container_memory_usage_limit_bytes",
    "Memory limit (memory.max; no sample when unlimited).",
    false,
    "bytes",
);
const MEM_ANON: Def = def(
    "container_memory_rss",
    "container_memory_anon_bytes",
    "Anonymous memory (memory.stat anon).",
    false,
    "bytes",
);
const MEM_FILE: Def = def(
    "container_memory_cache",
    "container_memory_file_bytes",
    "Page cache memory (memory.stat file).",
    false,
    "bytes",
);
const OOM_KILL: Def = folded(
    def(
        "container_oom_events",
        "container_memory_oom_events",
        "Processes killed by the OOM killer (memory.events oom_kill).",
        true,
        "",
    ),
    "Out-of-memory events by type: oom (the limit was reached and reclaim failed), oom_kill (a process was killed) (memory.events).",
);
const OOM: Def = def(
    "container_memory_oom",
    "",
    "Times the memory limit was reached and reclaim failed (memory.events oom).",
    true,
    "",
);
const IO_BYTES_READ: Def = folded(
    def(
        "container_fs_reads_bytes",
        "container_disk_io_bytes",
        "Bytes read from a block device (io.stat rbytes).",
        true,
        "bytes",
    ),
    "Block device bytes, by direction (io.stat rbytes, wbytes).",
);
const IO_BYTES_WRITTEN: Def = def(
    "container_fs_writes_bytes",
    "",
    "Bytes written to a block device (io.stat wbytes).",
    true,
    "bytes",
);
const IO_READS: Def = folded(
    def(
        "container_fs_reads",
        "container_disk_operations",
        "Read operations on a block device (io.stat rios).",
        true,
        "",
    ),
    "Block device operations, by direction (io.stat rios, wios).",
);
const IO_WRITES: Def = def(
    "container_fs_writes",
    "",
    "Write operations on a block device (io.stat wios).",
    true,
    "",
);
const PIDS: Def = def(
    "container_threads",
    "container_pids",
    "Tasks (processes and threads) in the cgroup (pids.current).",
    false,
    "",
);
const PIDS_MAX: Def = def(
    "container_threads_max",
    "container_pids_limit",
    "Most tasks allowed (pids.max; no sample when unlimited).",
    false,
    "",
);

/// The identifying labels: cAdvisor's `id` (the cgroup path) and `name`, or OTel's
/// `container.id`, `container.name` beside the `cgroup` path; plus `container_id`.
fn ident(c: &Cgroup, naming: Naming) -> Vec<(&'static str, &str)> {
    let mut l = Vec::with_capacity(3);
    match naming {
        Naming::Node => {
            l.push(("id", c.path.as_str()));
            if let Some(n) = &c.name {
                l.push(("name", n.as_str()));
            }
            if let Some(id) = &c.container_id {
                l.push(("container_id", id.as_str()));
            }
        }
        Naming::Otel => {
            l.push(("cgroup", c.path.as_str()));
            if let Some(id) = &c.container_id {
                l.push(("container_id", id.as_str()));
            }
            if let Some(n) = &c.name {
                l.push(("container_name", n.as_str()));
            }
        }
    }
    l
}

/// Families in a fixed order, each built across every cgroup.
struct Out {
    naming: Naming,
    fams: Vec<(&'static str, Fam)>,
}

impl Out {
    /// Adds a sample to `def`'s family (made on first use), with `extra` labels.
    fn add(&mut self, def: &Def, labels: &[(&str, &str)], extra: &[(&str, &str)], v: f64) {
        let name = match self.naming {
            Naming::Node => def.node,
            Naming::Otel if def.otel.is_empty() => return,
            Naming::Otel => def.otel,
        };
        let i = match self.fams.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                self.fams.push((name, def.fam(self.naming)));
                self.fams.len() - 1
            }
        };
        let all: Vec<(&str, &str)> = labels.iter().chain(extra).copied().collect();
        self.fams[i].1.add(&all, v);
    }
}

pub(super) fn families(cgroups: &[Cgroup], naming: Naming) -> Vec<FamilySnapshot> {
    let mut out = Out {
        naming,
        fams: Vec::new(),
    };
    let node = naming == Naming::Node;
    for c in cgroups {
        let l = ident(c, naming);
        let l = l.as_slice();
        if node {
            if let Some(v) = get(&c.cpu, "usage_usec") {
                out.add(&CPU_USAGE, l, &[("cpu", "total")], usec(v));
            }
            if let Some(v) = get(&c.cpu, "user_usec") {
                out.add(&CPU_USER, l, &[], usec(v));
            }
            if let Some(v) = get(&c.cpu, "system_usec") {
                out.add(&CPU_SYSTEM, l, &[], usec(v));
            }
        } else {
            for (state, key) in [("user", "user_usec"), ("system", "system_usec")] {
                if let Some(v) = get(&c.cpu, key) {
                    out.add(&CPU_USER, l, &[("state", state)], usec(v));
                }
            }
        }
        for (def, key, scale) in [
            (&PERIODS, "nr_periods", 1.0),
            (&THROTTLED, "nr_throttled", 1.0),
            (&THROTTLED_TIME, "throttled_usec", 1e-6),
        ] {
            if let Some(v) = get(&c.cpu, key) {
                out.add(def, l, &[], v as f64 * scale);
            }
        }
        memory(&mut out, c, l);
        for (dev, io) in &c.io {
            let d = [("device", dev.as_str())];
            if node {
                out.add(&IO_BYTES_READ, l, &d, io.rbytes as f64);
                out.add(&IO_BYTES_WRITTEN, l, &d, io.wbytes as f64);
                out.add(&IO_READS, l, &d, io.rios as f64);
                out.add(&IO_WRITES, l, &d, io.wios as f64);
            } else {
                for (dir, bytes, ops) in
                    [("read", io.rbytes, io.rios), ("write", io.wbytes, io.wios)]
                {
                    let dd = [d[0], ("direction", dir)];
                    out.add(&IO_BYTES_READ, l, &dd, bytes as f64);
                    out.add(&IO_READS, l, &dd, ops as f64);
                }
            }
        }
        if let Some(v) = c.pids_current {
            out.add(&PIDS, l, &[], v as f64);
        }
        if let Some(v) = c.pids_max {
            out.add(&PIDS_MAX, l, &[], v as f64);
        }
    }
    out.fams.into_iter().map(|(_, f)| f.done()).collect()
}

fn memory(out: &mut Out, c: &Cgroup, l: &[(&str, &str)]) {
    if let Some(v) = c.memory_current {
        out.add(&MEM_USAGE, l, &[], v as f64);
    }
    if let Some(v) = working_set(c) {
        out.add(&MEM_WORKING, l, &[], v as f64);
    }
    if let Some(v) = c.memory_max {
        out.add(&MEM_LIMIT, l, &[], v as f64);
    }
    if let Some(v) = get(&c.memory_stat, "anon") {
        out.add(&MEM_ANON, l, &[], v as f64);
    }
    if let Some(v) = get(&c.memory_stat, "file") {
        out.add(&MEM_FILE, l, &[], v as f64);
    }
    match out.naming {
        Naming::Node => {
            if let Some(v) = get(&c.memory_events, "oom_kill") {
                out.add(&OOM_KILL, l, &[], v as f64);
            }
            if let Some(v) = get(&c.memory_events, "oom") {
                out.add(&OOM, l, &[], v as f64);
            }
        }
        Naming::Otel => {
            for event in ["oom", "oom_kill"] {
                if let Some(v) = get(&c.memory_events, event) {
                    out.add(&OOM_KILL, l, &[("event", event)], v as f64);
                }
            }
        }
    }
}
