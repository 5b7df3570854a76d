//! Which container a cgroup is: its id from the cgroup path, and its name from the
//! runtime's metadata when that is readable.

use std::path::Path;

/// Prefixes the runtimes give a container's scope (systemd cgroup driver), and the
/// monitor processes' prefixes, which are not the container.
const PREFIXES: [&str; 5] = [
    "docker-",
    "cri-containerd-",
    "crio-",
    "libpod-",
    "containerd-",
];
const MONITORS: [&str; 2] = ["crio-conmon-", "libpod-conmon-"];

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The 64-hex container id in a cgroup path, from the last component that holds one:
/// docker's `/docker/<id>` (cgroupfs driver) and `docker-<id>.scope` (systemd),
/// containerd's `cri-containerd-<id>.scope` and Kubernetes' `/kubepods/.../<id>`,
/// CRI-O's `crio-<id>.scope`, podman's `libpod-<id>.scope` (also with its `/container`
/// leaf). Conmon's scopes (`crio-conmon-`, `libpod-conmon-`) are not containers.
pub(crate) fn container_id(cgroup_path: &str) -> Option<&str> {
    cgroup_path.rsplit('/').find_map(|part| {
        if MONITORS.iter().any(|m| part.starts_with(m)) {
            return None;
        }
        let part = part.strip_suffix(".scope").unwrap_or(part);
        let id = PREFIXES
            .iter()
            .find_map(|p| part.strip_prefix(p))
            .unwrap_or(part);
        is_id(id).then_some(id)
    })
}

/// The container's name from docker's `<docker_root>/containers/<id>/config.v2.json`
/// (`"Name": "/web"` gives `web`). `None` when the file is missing, unreadable or not
/// docker's JSON: the name is a nicety, its absence is not an error.
pub(crate) fn docker_name(docker_root: &Path, id: &str) -> Option<String> {
    let path = docker_root
        .join("containers")
        .join(id)
        .join("config.v2.json");
    let bytes = std::fs::read(path).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let name = value.get("Name")?.as_str()?;
    let name = name.strip_prefix('/').unwrap_or(name);
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::container_id;

    const ID: &str = "3f4e8c1b2a7d9e6f5c4b3a2918d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9";

    #[test]
    fn ids_in_every_runtimes_paths() {
        for path in [
            format!("/docker/{ID}"),
            format!("/system.slice/docker-{ID}.scope"),
            format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b.slice/cri-containerd-{ID}.scope"),
            format!("/kubepods/burstable/pod0a1b2c3d-1111-2222-3333-444455556666/{ID}"),
            format!("/kubepods.slice/kubepods-pod1.slice/crio-{ID}.scope"),
            format!("/machine.slice/libpod-{ID}.scope/container"),
            format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"),
        ] {
            assert_eq!(container_id(&path), Some(ID), "{path}");
        }
    }

    #[test]
    fn not_containers() {
        for path in [
            "/",
            "/system.slice/ssh.service",
            "/user.slice/user-1000.slice/session-2.scope",
            &format!("/machine.slice/libpod-conmon-{ID}.scope"),
            &format!("/kubepods.slice/crio-conmon-{ID}.scope"),
            // Upper case or one digit short is not an id.
            &format!("/docker/{}", ID.to_uppercase()),
            &format!("/docker/{}", &ID[1..]),
        ] {
            assert_eq!(container_id(path), None, "{path}");
        }
    }
}
