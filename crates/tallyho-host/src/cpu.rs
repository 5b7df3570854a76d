//! `proc/stat`: CPU times, utilization, context switches, forks.

use std::collections::HashMap;

use procfs_core::{CpuTime, ExplicitSystemInfo, FromReadSI, KernelStats};

use crate::fam::{secs, Fam};
use crate::{lock, read, CollectResult, HostCollector, Naming};

/// The OpenTelemetry `state` values, in the order of [`otel_ticks`].
const OTEL_STATES: [&str; 7] = [
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "interrupt",
    "steal",
];

/// node_exporter's `mode` values, in the order of [`node_ticks`].
const NODE_MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

/// The previous reading per CPU, for utilization.
pub(crate) type Previous = HashMap<String, [u64; 7]>;

fn node_ticks(t: &CpuTime) -> [u64; 8] {
    [
        t.user,
        t.nice,
        t.system,
        t.idle,
        t.iowait.unwrap_or(0),
        t.irq.unwrap_or(0),
        t.softirq.unwrap_or(0),
        t.steal.unwrap_or(0),
    ]
}

fn otel_ticks(t: &CpuTime) -> [u64; 7] {
    [
        t.user,
        t.nice,
        t.system,
        t.idle,
        t.iowait.unwrap_or(0),
        t.irq.unwrap_or(0).saturating_add(t.softirq.unwrap_or(0)),
        t.steal.unwrap_or(0),
    ]
}

/// The numbers after `cpu` on the per-CPU lines, in file order: offline CPUs have no line,
/// so the position in [`KernelStats::cpu_time`] is not always the CPU number.
fn cpu_ids(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("cpu")?;
            let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
            (!id.is_empty()).then_some(id)
        })
        .collect()
}

pub(crate) fn collect(h: &HostCollector) -> CollectResult {
    let bytes = read(&h.config.proc_path("stat"))?;
    let info = ExplicitSystemInfo {
        boot_time_secs: 0,
        ticks_per_second: h.ticks_per_second,
        page_size: 4096,
        is_little_endian: cfg!(target_endian = "little"),
    };
    let stats = KernelStats::from_read(&bytes[..], &info)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut ids = cpu_ids(&text);
    if ids.len() != stats.cpu_time.len() {
        ids = (0..stats.cpu_time.len()).map(|i| i.to_string()).collect();
    }
    let tps = h.ticks_per_second;
    let start = h.boot_start();
    let mut out = Vec::new();
    match h.config.naming {
        Naming::Node => {
            let mut f = Fam::counter("node_cpu_seconds", "Seconds the CPUs spent in each mode.")
                .unit("seconds")
                .start(start);
            let mut guest = Fam::counter(
                "node_cpu_guest_seconds",
                "Seconds the CPUs spent in guests (VMs) for each mode.",
            )
            .unit("seconds")
            .start(start);
            for (id, t) in ids.iter().zip(&stats.cpu_time) {
                for (mode, ticks) in NODE_MODES.iter().zip(node_ticks(t)) {
                    f.add(&[("cpu", id), ("mode", mode)], secs(ticks, tps));
                }
                guest.add(
                    &[("cpu", id), ("mode", "user")],
                    secs(t.guest.unwrap_or(0), tps),
                );
                guest.add(
                    &[("cpu", id), ("mode", "nice")],
                    secs(t.guest_nice.unwrap_or(0), tps),
                );
            }
            out.push(f.done());
            out.push(guest.done());
            out.push(
                Fam::counter("node_context_switches", "Total number of context switches.")
                    .start(start)
                    .with(&[], stats.ctxt)
                    .done(),
            );
            out.push(
                Fam::counter("node_forks", "Total number of forks.")
                    .start(start)
                    .with(&[], stats.processes)
                    .done(),
            );
            out.push(
                Fam::gauge("node_boot_time_seconds", "Node boot time, in unixtime.")
                    .unit("seconds")
                    .with(&[], stats.btime)
                    .done(),
            );
            if let Some(n) = stats.procs_running {
                out.push(
                    Fam::gauge(
                        "node_procs_running",
                        "Number of processes in runnable state.",
                    )
                    .with(&[], u64::from(n))
                    .done(),
                );
            }
            if let Some(n) = stats.procs_blocked {
                out.push(
                    Fam::gauge(
                        "node_procs_blocked",
                        "Number of processes blocked waiting for I/O to complete.",
                    )
                    .with(&[], u64::from(n))
                    .done(),
                );
            }
        }
        Naming::Otel => {
            let mut f = Fam::counter(
                "system_cpu_time_seconds",
                "Seconds each logical CPU spent in each state.",
            )
            .unit("seconds")
            .start(start);
            for (id, t) in ids.iter().zip(&stats.cpu_time) {
                for (state, ticks) in OTEL_STATES.iter().zip(otel_ticks(t)) {
                    f.add(&[("cpu", id), ("state", state)], secs(ticks, tps));
                }
            }
            out.push(f.done());
            out.push(
                Fam::counter(
                    "system_cpu_context_switches",
                    "Context switches on all CPUs since boot.",
                )
                .start(start)
                .with(&[], stats.ctxt)
                .done(),
            );
            out.push(
                Fam::counter(
                    "system_processes_created",
                    "Processes (and threads) created since boot.",
                )
                .start(start)
                .with(&[], stats.processes)
                .done(),
            );
        }
    }
    // Utilization over the interval since the previous collection; none the first time.
    let now: Previous = ids
        .iter()
        .zip(&stats.cpu_time)
        .map(|(id, t)| (id.clone(), otel_ticks(t)))
        .collect();
    let previous = std::mem::replace(&mut *lock(&h.cpu_previous), now.clone());
    if h.config.naming == Naming::Otel && !previous.is_empty() {
        let mut f = Fam::gauge(
            "system_cpu_utilization_ratio",
            "Share of the interval since the previous collection each logical CPU spent in each state.",
        )
        .unit("ratio");
        for id in &ids {
            let (Some(cur), Some(prev)) = (now.get(id), previous.get(id)) else {
                continue;
            };
            let delta: Vec<u64> = cur
                .iter()
                .zip(prev)
                .map(|(c, p)| c.saturating_sub(*p))
                .collect();
            let total = delta.iter().fold(0u64, |a, d| a.saturating_add(*d));
            if total == 0 {
                continue;
            }
            for (state, d) in OTEL_STATES.iter().zip(&delta) {
                f.add(&[("cpu", id), ("state", state)], *d as f64 / total as f64);
            }
        }
        out.push(f.done());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_lines() {
        let text = "cpu  1 2 3 4\ncpu0 1 1 1 1\ncpu2 0 1 2 2\nintr 5\nctxt 3\n";
        assert_eq!(cpu_ids(text), ["0", "2"]);
    }
}
