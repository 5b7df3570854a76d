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

/// `[export] console_to_log`: the console table arrives as log lines, not on stdout.
#[test]
fn the_console_table_can_go_to_the_log() {
    let dir = std::env::temp_dir().join(format!("tallyho-console-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        "[host]\nenabled = false\n[history]\nenabled = false\n[export]\nconsole_to_log = true\n",
    )
    .unwrap();
    let port = common::free_port();
    let mut child = Command::new(BIN)
        .args(["--config", config.to_str().unwrap()])
        .args(["--listen", &format!("127.0.0.1:{port}"), "--statsd", ""])
        .args(["--interval", "0.2", "--log-format", "json"])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_up(port);
    std::thread::sleep(std::time::Duration::from_millis(800));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "agent did not stop");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let table: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "tallyho::console")
        .collect();
    assert!(
        table.iter().any(|v| v["fields"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("--- metrics over")),
        "{stderr}"
    );
    assert!(
        table.iter().any(|v| v["fields"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("tallyho_")),
        "self-metrics in the table: {stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("--- metrics over"),
        "nothing on stdout"
    );
}
