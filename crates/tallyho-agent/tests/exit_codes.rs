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
