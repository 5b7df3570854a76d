//! The agent binary's exit status: 0 when its stdout's reader has gone away (`tallyho
//! snapshot | true`), 2 for a bad configuration, and never a panic.

use std::process::{Command, Stdio};

fn tallyho() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tallyho"));
    // No host collection of the machine's GPU or files is needed for these checks, but the
    // defaults are what a user runs.
    c.env_remove("TALLYHO_LISTEN").env("RUST_LOG", "warn");
    c
}

#[test]
fn a_closed_stdout_exits_zero_quietly() {
    for format in ["table", "prometheus", "openmetrics", "json", "csv"] {
        // A pipe whose reader is closed before the agent starts: every write fails with
        // EPIPE (Rust ignores SIGPIPE), deterministically.
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let out = tallyho()
            .args(["snapshot", "--format", format])
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("the agent runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{format}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{format}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{format}: {stderr}");
    }
}

#[test]
fn bad_configuration_exits_two_and_names_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "interval_seconds = 1e20\n").expect("writes the file");
    for args in [
        vec!["check-config".to_string(), file.display().to_string()],
        vec![
            "--config".to_string(),
            file.display().to_string(),
            "snapshot".to_string(),
        ],
    ] {
        let out = tallyho()
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("the agent runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("interval_seconds"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// The configuration block in README.md is a file `check-config` accepts (with its rule
/// file present), so the documented keys stay real keys.
#[test]
fn the_readme_configuration_is_valid() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let block = readme
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```toml block in README.md");
    assert!(
        block.contains("[statsd_input]") && block.contains("[http]"),
        "{block}"
    );
    let dir = std::env::temp_dir().join(format!("tallyho-readme-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/host.yml"), "groups: []\n").unwrap();
    let file = dir.join("tallyho.toml");
    // The documented file directories, moved under the test's own directory (a CI user
    // may not write /var/lib).
    let block = block.replace("/var/lib/tallyho", dir.to_str().unwrap());
    std::fs::write(&file, block).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tallyho"))
        .args(["check-config", file.to_str().unwrap()])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "README's configuration is refused: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
