//! One call for the process metrics every Prometheus client library exports by default.

use tallyho::{Collector, Registry};

use crate::{HostCollector, HostConfig, Naming};

/// The Prometheus client libraries' process metrics of this process, as client_golang's
/// and prom-client's default registries have them: `process_cpu_seconds_total`,
/// `process_cpu_utilization_ratio` (from the second collection on: the share of the
/// available CPUs used since the previous one; this call takes the first reading),
/// `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
/// `process_virtual_memory_max_bytes` (when limited), `process_open_fds`,
/// `process_max_fds`, `process_threads` and `process_start_time_seconds`.
///
/// ```
/// use tallyho::Registry;
///
/// let registry = Registry::new();
/// tallyho_host::register_process_metrics(&registry);
/// let snapshot = registry.snapshot();
/// # #[cfg(target_os = "linux")]
/// assert!(snapshot.value("process_resident_memory_bytes", &[]).unwrap() > 0.0);
/// # #[cfg(target_os = "linux")]
/// assert!(snapshot.value("process_cpu_utilization_ratio", &[]).is_some());
/// ```
///
/// Where `/proc` cannot be read (not Linux, a sandbox) the families are absent; this
/// never fails.
pub fn register_process_metrics(registry: &Registry) {
    registry.register_collector(process_collector());
}

/// The collector [`register_process_metrics`] registers, its first reading taken (so
/// utilization is there from the first scrape), for a registry of your own making.
pub fn process_collector() -> HostCollector {
    let collector = HostCollector::new(HostConfig {
        process: true,
        naming: Naming::Node,
        ..HostConfig::none()
    });
    let _ = collector.collect();
    collector
}
