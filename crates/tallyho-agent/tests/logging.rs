//! The agent's logs: `--log-format json` writes one JSON object a line, `--log-level`
//! filters over `RUST_LOG`, text logs carry no colour codes when stderr is not a terminal,
//! and a filter that does not parse exits 2 naming the flag.

mod common;

use std::process::Command;

use common::BIN;

fn stderr_of(args: &[&str], rust_log: Option<&str>) -> (Option<i32>, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env_remove("TALLYHO_LOG_LEVEL");
    if let Some(v) = rust_log {
        cmd.env("RUST_LOG", v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn json_lines_levels_and_no_colour_off_a_terminal() {
    // `snapshot` logs at info that host metrics are on.
    let (code, err) = stderr_of(
        &["--log-format", "json", "snapshot", "--format", "json"],
        None,
    );
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let host = lines
        .iter()
        .find(|v| v["fields"]["message"] == "host metrics on")
        .unwrap_or_else(|| panic!("{err}"));
    assert_eq!(host["level"], "INFO");
    assert!(host["fields"]["gpu"].is_string(), "{host}");

    // The flag wins over RUST_LOG, in both directions.
    let (_, quiet) = stderr_of(&["--log-level", "warn", "snapshot"], Some("debug"));
    assert!(!quiet.contains("host metrics on"), "{quiet}");
    let (_, loud) = stderr_of(&["--log-level", "info", "snapshot"], Some("error"));
    assert!(loud.contains("host metrics on"), "{loud}");
    let (_, from_env) = stderr_of(&["snapshot"], Some("error"));
    assert!(!from_env.contains("host metrics on"), "{from_env}");
    // Text, piped: no ANSI escapes.
    let (_, text) = stderr_of(&["snapshot"], None);
    assert!(
        text.contains("INFO") && !text.contains('\u{1b}'),
        "{text:?}"
    );

    let (code, err) = stderr_of(&["--log-level", "x=y=z", "snapshot"], None);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--log-level \"x=y=z\""), "{err}");
    let (code, err) = stderr_of(&["snapshot"], Some("=="));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("RUST_LOG = \"==\""), "{err}");
}
