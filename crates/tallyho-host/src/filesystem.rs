//! `proc/mounts` and `statvfs(2)`: filesystem sizes and inodes.

use std::collections::HashSet;
use std::io;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use procfs_core::{FromRead, MountEntry};

use crate::fam::Fam;
use crate::{lock, read, CollectResult, FsStats, HostCollector, Naming, StatvfsFn};

/// Paths whose `statvfs` call has not returned yet (a dead network mount): not asked again
/// until it does.
pub(crate) type Busy = Arc<Mutex<HashSet<PathBuf>>>;

/// node_exporter's default `--collector.filesystem.fs-types-exclude`.
const EXCLUDED_TYPES: [&str; 24] = [
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "fusectl",
    "hugetlbfs",
    "iso9660",
    "mqueue",
    "nsfs",
    "overlay",
    "proc",
    "procfs",
    "pstore",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "sysfs",
    "tracefs",
];

/// node_exporter's default `--collector.filesystem.mount-points-exclude`,
/// `^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)`.
pub(crate) fn excluded_mountpoint(mp: &str) -> bool {
    let Some(rest) = mp.strip_prefix('/') else {
        return false;
    };
    let under = |dir: &str| {
        rest.strip_prefix(dir)
            .is_some_and(|r| r.is_empty() || r.starts_with('/'))
    };
    let strictly_under = |dir: &str| {
        rest.strip_prefix(dir)
            .and_then(|r| r.strip_prefix('/'))
            .is_some_and(|r| !r.is_empty())
    };
    under("dev")
        || under("proc")
        || under("sys")
        || strictly_under("run/credentials")
        || strictly_under("var/lib/docker")
        || strictly_under("var/lib/containers/storage")
}

/// `/proc/mounts` escapes space, tab, newline and backslash as octal; the parser undoes all
/// but the space.
fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
}

struct Mount {
    device: String,
    mountpoint: String,
    fstype: String,
    read_only: bool,
}

fn mounts(bytes: &[u8]) -> Result<Vec<Mount>, procfs_core::ProcError> {
    let entries = Vec::<MountEntry>::from_read(bytes)?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for e in entries {
        let m = Mount {
            device: unescape(&e.fs_spec),
            mountpoint: unescape(&e.fs_file),
            fstype: e.fs_vfstype.clone(),
            read_only: e.fs_mntops.contains_key("ro"),
        };
        if EXCLUDED_TYPES.contains(&m.fstype.as_str()) || excluded_mountpoint(&m.mountpoint) {
            continue;
        }
        if seen.insert((m.device.clone(), m.mountpoint.clone(), m.fstype.clone())) {
            out.push(m);
        }
    }
    Ok(out)
}

/// Runs `statvfs` on every path on a helper thread and waits up to the configured timeout;
/// a path still busy from an earlier collection is not asked. `None`: no answer in time.
fn stat_all(h: &HostCollector, paths: Vec<PathBuf>) -> Vec<Option<io::Result<FsStats>>> {
    let mut results: Vec<Option<io::Result<FsStats>>> = paths.iter().map(|_| None).collect();
    let busy = h.statvfs_busy.clone();
    let todo: Vec<(usize, PathBuf)> = {
        let busy = lock(&busy);
        paths
            .into_iter()
            .enumerate()
            .filter(|(_, p)| !busy.contains(p))
            .collect()
    };
    if todo.is_empty() {
        return results;
    }
    let stat: StatvfsFn = h
        .config
        .statvfs
        .clone()
        .unwrap_or_else(|| Arc::new(FsStats::of));
    let expected = todo.len();
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("tallyho-host-statvfs".into())
        .spawn(move || {
            for (i, path) in todo {
                lock(&busy).insert(path.clone());
                let r = stat(&path);
                lock(&busy).remove(&path);
                if tx.send((i, r)).is_err() {
                    break;
                }
            }
        });
    if let Err(e) = spawned {
        for r in &mut results {
            *r = Some(Err(io::Error::new(e.kind(), e.to_string())));
        }
        return results;
    }
    let deadline = Instant::now() + h.config.filesystem_timeout;
    for _ in 0..expected {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, r)) => results[i] = Some(r),
            Err(_) => break,
        }
    }
    results
}

pub(crate) fn collect(h: &HostCollector) -> CollectResult {
    let bytes = read(&h.config.proc_path("mounts"))?;
    let mounts = mounts(&bytes)?;
    let paths = mounts
        .iter()
        .map(|m| h.config.root.join(m.mountpoint.trim_start_matches('/')))
        .collect();
    let stats = stat_all(h, paths);
    let mut out = Vec::new();
    match h.config.naming {
        Naming::Otel => {
            let mut usage = Fam::updown(
                "system_filesystem_usage_bytes",
                "Filesystem space, by state (reserved: free only to the superuser).",
            )
            .unit("bytes")
            .start(h.boot_start());
            let mut inodes = Fam::updown(
                "system_filesystem_inodes_usage",
                "Filesystem inodes, by state.",
            )
            .start(h.boot_start());
            for (m, s) in mounts.iter().zip(&stats) {
                let Some(Ok(s)) = s else { continue };
                let mode = if m.read_only { "ro" } else { "rw" };
                let labels = |state| {
                    [
                        ("device", m.device.as_str()),
                        ("mountpoint", m.mountpoint.as_str()),
                        ("type", m.fstype.as_str()),
                        ("mode", mode),
                        ("state", state),
                    ]
                };
                let bs = s.block_size;
                let used = s.blocks.saturating_sub(s.blocks_free).saturating_mul(bs);
                let reserved = s
                    .blocks_free
                    .saturating_sub(s.blocks_available)
                    .saturating_mul(bs);
                usage.add(&labels("used"), used);
                usage.add(&labels("free"), s.blocks_available.saturating_mul(bs));
                usage.add(&labels("reserved"), reserved);
                inodes.add(&labels("used"), s.files.saturating_sub(s.files_free));
                inodes.add(&labels("free"), s.files_free);
            }
            out.push(usage.done());
            out.push(inodes.done());
        }
        Naming::Node => {
            let mut size =
                Fam::gauge("node_filesystem_size_bytes", "Filesystem size in bytes.").unit("bytes");
            let mut free = Fam::gauge(
                "node_filesystem_free_bytes",
                "Filesystem free space in bytes.",
            )
            .unit("bytes");
            let mut avail = Fam::gauge(
                "node_filesystem_avail_bytes",
                "Filesystem space available to non-root users in bytes.",
            )
            .unit("bytes");
            let mut files = Fam::gauge("node_filesystem_files", "Filesystem total file nodes.");
            let mut files_free = Fam::gauge(
                "node_filesystem_files_free",
                "Filesystem total free file nodes.",
            );
            let mut readonly =
                Fam::gauge("node_filesystem_readonly", "Filesystem read-only status.");
            let mut error = Fam::gauge(
                "node_filesystem_device_error",
                "Whether an error occurred while getting statistics for the given device.",
            );
            for (m, s) in mounts.iter().zip(&stats) {
                let labels = [
                    ("device", m.device.as_str()),
                    ("fstype", m.fstype.as_str()),
                    ("mountpoint", m.mountpoint.as_str()),
                ];
                let Some(Ok(s)) = s else {
                    error.add(&labels, 1u64);
                    continue;
                };
                error.add(&labels, 0u64);
                let bs = s.block_size;
                size.add(&labels, s.blocks.saturating_mul(bs));
                free.add(&labels, s.blocks_free.saturating_mul(bs));
                avail.add(&labels, s.blocks_available.saturating_mul(bs));
                files.add(&labels, s.files);
                files_free.add(&labels, s.files_free);
                readonly.add(&labels, u64::from(m.read_only));
            }
            out.extend([size, free, avail, files, files_free, readonly, error].map(Fam::done));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::excluded_mountpoint;

    #[test]
    fn mountpoints() {
        for mp in [
            "/dev",
            "/dev/shm",
            "/proc",
            "/sys/fs/cgroup",
            "/run/credentials/x",
            "/var/lib/docker/overlay2/a",
        ] {
            assert!(excluded_mountpoint(mp), "{mp}");
        }
        for mp in [
            "/",
            "/devices",
            "/run",
            "/run/credentials",
            "/var/lib/docker",
            "/home",
            "/system",
        ] {
            assert!(!excluded_mountpoint(mp), "{mp}");
        }
    }
}
