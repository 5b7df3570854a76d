//! The `[host]` keys for containers and intervals, through the binary: `check-config`
//! names the key at fault, and `snapshot` reports the cgroups a good file asks for.

mod common;

use std::path::Path;
use std::process::Command;

use common::{TempDir, BIN};

const ID: &str = "3f4e8c1b2a7d9e6f5c4b3a2918d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9";

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("OTEL_SDK_DISABLED")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_names_the_host_key_at_fault() {
    let dir = TempDir::new("host-keys");
    for (text, needle) in [
        (
            "[host]\nintervals = { filesystems = \"5m\" }\n",
            "host.intervals.filesystems",
        ),
        ("[host]\nmax_cgroups = 0\n", "host.max_cgroups"),
        ("[host]\ndocker_root = \"docker\"\n", "host.docker_root"),
        ("[host]\ncgroup_childs = \"x\"\n", "cgroup_childs"),
    ] {
        let file = dir.0.join("bad.toml");
        std::fs::write(&file, text).unwrap();
        let (code, _, err) = run(&["check-config", file.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{text}: {err}");
        assert!(err.contains(needle), "{text}: {err}");
    }
    let file = dir.0.join("good.toml");
    std::fs::write(
        &file,
        "[host]\ncgroups = true\ncgroup_children = \"/sys/fs/cgroup/system.slice\"\n\
         max_cgroups = 50\ndocker_root = \"/var/lib/docker\"\n\
         intervals = { filesystem = \"5m\", cpu = \"15s\" }\n",
    )
    .unwrap();
    let (code, _, err) = run(&["check-config", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn snapshot_reports_the_configured_cgroups() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tallyho-host/tests/fixtures/cgroup");
    let dir = TempDir::new("host-cgroups");
    let file = dir.0.join("tallyho.toml");
    std::fs::write(
        &file,
        format!(
            "[host]\nnaming = \"node\"\nroot = {:?}\ncgroup_children = \"system.slice\"\n\
             [history]\nenabled = false\n",
            root.to_str().unwrap()
        ),
    )
    .unwrap();
    let (code, out, err) = run(&[
        "--config",
        file.to_str().unwrap(),
        "snapshot",
        "--format",
        "prometheus",
    ]);
    assert_eq!(code, Some(0), "{err}");
    for line in [
        format!(
            "container_cpu_usage_seconds_total{{service=\"tallyho\",id=\"/system.slice/docker-{ID}.scope\",name=\"web\",container_id=\"{ID}\",cpu=\"total\"}} 120\n"
        ),
        "container_spec_memory_limit_bytes{service=\"tallyho\",id=\"/system.slice/tallyho.service\"} 536870912\n".to_owned(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in\n{out}");
    }
    // max_cgroups bounds the children; docker_root = "" drops the name.
    std::fs::write(
        &file,
        format!(
            "[host]\nnaming = \"node\"\nroot = {:?}\ncgroups = false\ncgroup_children = \"system.slice\"\n\
             max_cgroups = 1\ndocker_root = \"\"\n[history]\nenabled = false\n",
            root.to_str().unwrap()
        ),
    )
    .unwrap();
    let (code, out, err) = run(&[
        "--config",
        file.to_str().unwrap(),
        "snapshot",
        "--format",
        "prometheus",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let usage: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("container_cpu_usage_seconds_total{"))
        .collect();
    assert_eq!(
        usage,
        [format!("container_cpu_usage_seconds_total{{service=\"tallyho\",id=\"/system.slice/docker-{ID}.scope\",container_id=\"{ID}\",cpu=\"total\"}} 120").as_str()]
    );
}
