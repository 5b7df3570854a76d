//! cgroup v2: CPU, memory, I/O and pids of the process's own cgroup and, optionally, of
//! every child cgroup of a directory (a slice of services, a container runtime's), with
//! the container id and name where there is one.
//!
//! The hierarchy is the first `cgroup2` mount in `proc/self/mountinfo` (under the root),
//! or `sys/fs/cgroup` when there is no mountinfo; a host with cgroup v1 only has none,
//! and then there are no families and no error. A controller that is not enabled has no
//! interface files: its families are left out for that cgroup, silently. A file that is
//! there and does not parse is an error naming it.

mod container;
mod families;
mod files;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{CollectResult, HostCollector};

use files::{read_optional, IoLine, ParseError};

/// What one cgroup's files say; `None` where a file is missing (or says `max`).
#[derive(Debug, Default)]
pub(crate) struct Cgroup {
    /// The path inside the hierarchy (`/system.slice/docker-<id>.scope`).
    path: String,
    container_id: Option<String>,
    name: Option<String>,
    cpu: Option<BTreeMap<String, u64>>,
    memory_current: Option<u64>,
    memory_max: Option<u64>,
    memory_stat: Option<BTreeMap<String, u64>>,
    memory_events: Option<BTreeMap<String, u64>>,
    /// Per device: its name (or `MAJ:MIN`) and counts.
    io: Vec<(String, IoLine)>,
    pids_current: Option<u64>,
    pids_max: Option<u64>,
}

pub(crate) fn collect(h: &HostCollector) -> CollectResult {
    let c = &h.config;
    let Some(mount) = mount(&c.root) else {
        return Ok(Vec::new());
    };
    let mut dirs: Vec<(String, PathBuf)> = Vec::new();
    if c.cgroup {
        let pid_dir = c.pid.map_or_else(|| "self".to_owned(), |p| p.to_string());
        let own = read_optional(&c.proc_path(&format!("{pid_dir}/cgroup")))?
            .and_then(|t| files::own_path(&t));
        if let Some(path) = own {
            dirs.push((path.clone(), under(&mount, &path)));
        }
    }
    if let Some(children) = &c.cgroup_children {
        let dir = if children.is_absolute() {
            under(&c.root, &children.to_string_lossy())
        } else {
            mount.join(children)
        };
        // Outside the v2 hierarchy (a v1 controller's directory on a hybrid host, say)
        // the files mean other things: a configuration error, not something to read.
        let rel = dir.strip_prefix(&mount).map_err(|_| {
            format!(
                "cgroup_children {}: not inside the cgroup v2 hierarchy at {}",
                children.display(),
                mount.display()
            )
        })?;
        let prefix = format!("/{}", rel.to_string_lossy());
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names.into_iter().take(c.cgroup_limit) {
            let path = format!("{}/{name}", prefix.trim_end_matches('/'));
            if dirs.iter().all(|(p, _)| *p != path) {
                dirs.push((path, dir.join(&name)));
            }
        }
    }
    let docker_root = c
        .docker_root
        .as_ref()
        .map(|d| under(&c.root, &d.to_string_lossy()));
    let mut devices = BTreeMap::new();
    let mut cgroups = Vec::with_capacity(dirs.len());
    for (path, dir) in dirs {
        let mut cg = read(&dir, path)?;
        cg.container_id = container::container_id(&cg.path).map(str::to_owned);
        if let (Some(id), Some(root)) = (&cg.container_id, &docker_root) {
            cg.name = container::docker_name(root, id);
        }
        for (name, line) in &mut cg.io {
            *name = devices
                .entry(line.device.clone())
                .or_insert_with(|| device_name(&c.root, &line.device))
                .clone();
        }
        cgroups.push(cg);
    }
    Ok(families::families(&cgroups, c.naming))
}

/// `path` (absolute or not) inside `base`.
fn under(base: &Path, path: &str) -> PathBuf {
    base.join(path.trim_start_matches('/'))
}

/// The cgroup v2 hierarchy under `root`, if there is one.
fn mount(root: &Path) -> Option<PathBuf> {
    match std::fs::read_to_string(root.join("proc/self/mountinfo")) {
        Ok(text) => files::cgroup2_mount(&text).map(|m| under(root, &m)),
        Err(_) => {
            let dir = root.join("sys/fs/cgroup");
            dir.join("cgroup.controllers").exists().then_some(dir)
        }
    }
}

/// A block device's kernel name (`sda`) from `sys/dev/block/MAJ:MIN/uevent`, else
/// `MAJ:MIN` itself.
fn device_name(root: &Path, device: &str) -> String {
    std::fs::read_to_string(root.join("sys/dev/block").join(device).join("uevent"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("DEVNAME="))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| device.to_owned())
}

/// Reads one cgroup directory's files.
fn read(dir: &Path, path: String) -> Result<Cgroup, ParseError> {
    let file = |name: &str| -> Result<Option<(PathBuf, String)>, ParseError> {
        let p = dir.join(name);
        Ok(read_optional(&p)?.map(|t| (p, t)))
    };
    let mut cg = Cgroup {
        path,
        ..Cgroup::default()
    };
    if let Some((p, t)) = file("cpu.stat")? {
        cg.cpu = Some(files::keyed(&p, &t)?);
    }
    if let Some((p, t)) = file("memory.current")? {
        cg.memory_current = Some(files::single(&p, &t)?);
    }
    if let Some((p, t)) = file("memory.max")? {
        cg.memory_max = files::limit(&p, &t)?;
    }
    if let Some((p, t)) = file("memory.stat")? {
        cg.memory_stat = Some(files::keyed(&p, &t)?);
    }
    if let Some((p, t)) = file("memory.events")? {
        cg.memory_events = Some(files::keyed(&p, &t)?);
    }
    if let Some((p, t)) = file("io.stat")? {
        cg.io = files::io_stat(&p, &t)?
            .into_iter()
            .map(|l| (String::new(), l))
            .collect();
    }
    if let Some((p, t)) = file("pids.current")? {
        cg.pids_current = Some(files::single(&p, &t)?);
    }
    if let Some((p, t)) = file("pids.max")? {
        cg.pids_max = files::limit(&p, &t)?;
    }
    Ok(cg)
}
