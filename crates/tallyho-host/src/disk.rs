//! `proc/diskstats`: block device I/O.

use procfs_core::{DiskStats, FromRead};

use crate::fam::{ms, Fam};
use crate::{read, CollectResult, HostCollector, Naming};

/// Bytes per sector in `/proc/diskstats`, whatever the device's own sector size.
const SECTOR: u64 = 512;

/// node_exporter's default exclusion, `^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`:
/// RAM disks, loop devices, floppies and partitions of whole disks.
pub(crate) fn excluded(name: &str) -> bool {
    fn digits(s: &str) -> Option<&str> {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        (end > 0).then(|| &s[end..])
    }
    let all_digits = |s: &str| digits(s) == Some("");
    for prefix in ["ram", "loop", "fd"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            if all_digits(rest) {
                return true;
            }
        }
    }
    for prefix in ["hd", "sd", "vd", "xvd"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            let mut chars = rest.chars();
            if chars.next().is_some_and(|c| c.is_ascii_lowercase()) && all_digits(chars.as_str()) {
                return true;
            }
        }
    }
    if let Some(rest) = name.strip_prefix("nvme") {
        // nvme\d+n\d+p\d+
        let rest = digits(rest).and_then(|r| r.strip_prefix('n'));
        let rest = rest.and_then(digits).and_then(|r| r.strip_prefix('p'));
        if rest.is_some_and(all_digits) {
            return true;
        }
    }
    false
}

pub(crate) fn collect(h: &HostCollector) -> CollectResult {
    let bytes = read(&h.config.proc_path("diskstats"))?;
    let disks = DiskStats::from_read(&bytes[..])?.0;
    let disks: Vec<_> = disks.into_iter().filter(|d| !excluded(&d.name)).collect();
    let start = h.boot_start();
    let mut out = Vec::new();
    match h.config.naming {
        Naming::Otel => {
            let mut io = Fam::counter(
                "system_disk_io_bytes",
                "Bytes read from and written to each disk.",
            )
            .unit("bytes")
            .start(start);
            let mut ops =
                Fam::counter("system_disk_operations", "Reads and writes completed.").start(start);
            let mut op_time = Fam::counter(
                "system_disk_operation_time_seconds",
                "Sum of the time each read or write took to complete.",
            )
            .unit("seconds")
            .start(start);
            let mut merged = Fam::counter(
                "system_disk_merged",
                "Adjacent reads and writes merged into one.",
            )
            .start(start);
            let mut io_time = Fam::counter(
                "system_disk_io_time_seconds",
                "Time each disk had I/O in progress.",
            )
            .unit("seconds")
            .start(start);
            for d in &disks {
                let dev = d.name.as_str();
                let read = [("device", dev), ("direction", "read")];
                let write = [("device", dev), ("direction", "write")];
                io.add(&read, d.sectors_read.saturating_mul(SECTOR));
                io.add(&write, d.sectors_written.saturating_mul(SECTOR));
                ops.add(&read, d.reads);
                ops.add(&write, d.writes);
                op_time.add(&read, ms(d.time_reading));
                op_time.add(&write, ms(d.time_writing));
                merged.add(&read, d.merged);
                merged.add(&write, d.writes_merged);
                io_time.add(&[("device", dev)], ms(d.time_in_progress));
            }
            out.extend([io, ops, op_time, merged, io_time].map(Fam::done));
        }
        Naming::Node => {
            type Get = fn(&procfs_core::DiskStat) -> f64;
            let counters: [(&str, &str, Option<&str>, Get); 10] = [
                (
                    "node_disk_reads_completed",
                    "The total number of reads completed successfully.",
                    None,
                    |d| d.reads as f64,
                ),
                (
                    "node_disk_reads_merged",
                    "The total number of reads merged.",
                    None,
                    |d| d.merged as f64,
                ),
                (
                    "node_disk_read_bytes",
                    "The total number of bytes read successfully.",
                    Some("bytes"),
                    |d| (d.sectors_read.saturating_mul(SECTOR)) as f64,
                ),
                (
                    "node_disk_read_time_seconds",
                    "The total number of seconds spent by all reads.",
                    Some("seconds"),
                    |d| ms(d.time_reading),
                ),
                (
                    "node_disk_writes_completed",
                    "The total number of writes completed successfully.",
                    None,
                    |d| d.writes as f64,
                ),
                (
                    "node_disk_writes_merged",
                    "The number of writes merged.",
                    None,
                    |d| d.writes_merged as f64,
                ),
                (
                    "node_disk_written_bytes",
                    "The total number of bytes written successfully.",
                    Some("bytes"),
                    |d| (d.sectors_written.saturating_mul(SECTOR)) as f64,
                ),
                (
                    "node_disk_write_time_seconds",
                    "This is the total number of seconds spent by all writes.",
                    Some("seconds"),
                    |d| ms(d.time_writing),
                ),
                (
                    "node_disk_io_time_seconds",
                    "Total seconds spent doing I/Os.",
                    Some("seconds"),
                    |d| ms(d.time_in_progress),
                ),
                (
                    "node_disk_io_time_weighted_seconds",
                    "The weighted # of seconds spent doing I/Os.",
                    Some("seconds"),
                    |d| ms(d.weighted_time_in_progress),
                ),
            ];
            for (name, help, unit, get) in counters {
                let mut f = Fam::counter(name, help).start(start);
                if let Some(unit) = unit {
                    f = f.unit(unit);
                }
                for d in &disks {
                    f.add(&[("device", d.name.as_str())], get(d));
                }
                out.push(f.done());
            }
            let mut now = Fam::gauge(
                "node_disk_io_now",
                "The number of I/Os currently in progress.",
            );
            for d in &disks {
                now.add(&[("device", d.name.as_str())], d.in_progress);
            }
            out.push(now.done());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::excluded;

    #[test]
    fn node_exporter_exclusions() {
        for name in [
            "loop0",
            "ram15",
            "fd0",
            "sda1",
            "vda2",
            "xvdb12",
            "hdc3",
            "nvme0n1p1",
            "nvme10n2p33",
        ] {
            assert!(excluded(name), "{name}");
        }
        for name in [
            "sda",
            "vda",
            "nvme0n1",
            "zram0",
            "dm-0",
            "md127",
            "loop",
            "sr0",
            "mmcblk0",
            "mmcblk0p1",
            "nvme0n1p",
        ] {
            assert!(!excluded(name), "{name}");
        }
    }
}
