//! `proc/<pid>/`: one process's CPU time and utilization, memory, threads, descriptors
//! and start time.

use std::time::{Duration, Instant, SystemTime};

use procfs_core::process::{LimitValue, Limits, Stat, Status};
use procfs_core::FromRead;

use crate::fam::{secs, Fam};
use crate::{lock, read, CollectResult, HostCollector, Naming};

/// The previous reading, for utilization: when, and user and system seconds.
pub(crate) type Previous = Option<(Instant, f64, f64)>;

/// Share of the CPUs available to this process each of `user`, `system` took since the
/// previous reading (`None` on the first, or when no time passed). The CPUs are those
/// this process may run on (affinity and cgroup quota, as
/// [`std::thread::available_parallelism`] sees them).
fn utilization(h: &HostCollector, user: f64, system: f64) -> Option<(f64, f64)> {
    let now = Instant::now();
    let previous = lock(&h.process_previous).replace((now, user, system));
    let (then, u0, s0) = previous?;
    let elapsed = now.duration_since(then).as_secs_f64();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    (elapsed > 0.0).then(|| {
        let share = |d: f64| (d.max(0.0) / elapsed / cpus).min(1.0);
        (share(user - u0), share(system - s0))
    })
}

pub(crate) fn collect(h: &HostCollector) -> CollectResult {
    let dir = match h.config.pid {
        Some(pid) => pid.to_string(),
        None => "self".to_owned(),
    };
    let path = |file: &str| h.config.proc_path(&format!("{dir}/{file}"));
    let stat = Stat::from_read(&read(&path("stat"))?[..])?;
    let status = Status::from_read(&read(&path("status"))?[..])?;
    // Unreadable for another user's process: leave the count out, keep the rest.
    let fds = std::fs::read_dir(path("fd")).ok().map(|d| d.count() as u64);
    let tps = h.ticks_per_second;
    let start_secs = h
        .boot_time()
        .map(|boot| secs(boot.saturating_mul(tps).saturating_add(stat.starttime), tps));
    let start = start_secs
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .map(|d| SystemTime::UNIX_EPOCH + d)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let rss = status
        .vmrss
        .map(|kib| kib.saturating_mul(1024))
        .unwrap_or_else(|| stat.rss.saturating_mul(rustix::param::page_size() as u64));
    let virt = status
        .vmsize
        .map(|kib| kib.saturating_mul(1024))
        .unwrap_or(stat.vsize);
    let (user, system) = (secs(stat.utime, tps), secs(stat.stime, tps));
    let used = utilization(h, user, system);
    let utilization_help =
        "Share of the available CPUs the process used since the previous collection.";
    let mut out = Vec::new();
    match h.config.naming {
        Naming::Otel => {
            out.push(
                Fam::counter(
                    "process_cpu_time_seconds",
                    "CPU seconds of the process, by state.",
                )
                .unit("seconds")
                .start(start)
                .with(&[("state", "user")], user)
                .with(&[("state", "system")], system)
                .done(),
            );
            if let Some((u, s)) = used {
                out.push(
                    Fam::gauge("process_cpu_utilization_ratio", utilization_help)
                        .unit("ratio")
                        .with(&[("state", "user")], u)
                        .with(&[("state", "system")], s)
                        .done(),
                );
            }
            out.push(
                Fam::updown(
                    "process_memory_usage_bytes",
                    "Physical memory in use (resident set size).",
                )
                .unit("bytes")
                .start(start)
                .with(&[], rss)
                .done(),
            );
            out.push(
                Fam::updown("process_memory_virtual_bytes", "Virtual memory committed.")
                    .unit("bytes")
                    .start(start)
                    .with(&[], virt)
                    .done(),
            );
            out.push(
                Fam::updown("process_threads", "Threads of the process.")
                    .start(start)
                    .with(&[], status.threads)
                    .done(),
            );
            if let Some(fds) = fds {
                out.push(
                    Fam::updown(
                        "process_open_file_descriptors",
                        "File descriptors the process has open.",
                    )
                    .start(start)
                    .with(&[], fds)
                    .done(),
                );
            }
        }
        Naming::Node => {
            out.push(
                Fam::counter(
                    "process_cpu_seconds",
                    "Total user and system CPU time spent in seconds.",
                )
                .unit("seconds")
                .start(start)
                .with(&[], secs(stat.utime.saturating_add(stat.stime), tps))
                .done(),
            );
            if let Some((u, s)) = used {
                out.push(
                    Fam::gauge("process_cpu_utilization_ratio", utilization_help)
                        .unit("ratio")
                        .with(&[], (u + s).min(1.0))
                        .done(),
                );
            }
            out.push(
                Fam::gauge(
                    "process_resident_memory_bytes",
                    "Resident memory size in bytes.",
                )
                .unit("bytes")
                .with(&[], rss)
                .done(),
            );
            out.push(
                Fam::gauge(
                    "process_virtual_memory_bytes",
                    "Virtual memory size in bytes.",
                )
                .unit("bytes")
                .with(&[], virt)
                .done(),
            );
            if let Some(fds) = fds {
                out.push(
                    Fam::gauge("process_open_fds", "Number of open file descriptors.")
                        .with(&[], fds)
                        .done(),
                );
            }
            let limits = read(&path("limits"))
                .ok()
                .and_then(|b| Limits::from_read(&b[..]).ok());
            if let Some(LimitValue::Value(max)) =
                limits.as_ref().map(|l| l.max_open_files.soft_limit)
            {
                out.push(
                    Fam::gauge(
                        "process_max_fds",
                        "Maximum number of open file descriptors.",
                    )
                    .with(&[], max)
                    .done(),
                );
            }
            // Unlimited (the usual case) has no sample rather than a huge number.
            if let Some(LimitValue::Value(max)) =
                limits.as_ref().map(|l| l.max_address_space.soft_limit)
            {
                out.push(
                    Fam::gauge(
                        "process_virtual_memory_max_bytes",
                        "Maximum amount of virtual memory available in bytes.",
                    )
                    .unit("bytes")
                    .with(&[], max)
                    .done(),
                );
            }
            out.push(
                Fam::gauge("process_threads", "Number of OS threads in the process.")
                    .with(&[], status.threads)
                    .done(),
            );
        }
    }
    if let Some(s) = start_secs {
        out.push(
            Fam::gauge(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
            )
            .unit("seconds")
            .with(&[], s)
            .done(),
        );
    }
    Ok(out)
}
