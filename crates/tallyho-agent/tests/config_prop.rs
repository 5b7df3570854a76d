//! For random configurations drawn over the three layers (file, environment, flags):
//! `check-config` exits 0 exactly when `serve` binds and starts, and exits 2 with a message
//! naming a key (or variable, or flag) that is wrong exactly when `serve` exits 2 before
//! binding. Which one it must be is predicted from the precedence flags > env > file, so a
//! loader that ignored a layer, or checked a value that a higher layer overrides, fails.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, free_udp_port, http, Agent, TempDir, BIN};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};

/// One value of one setting, in one layer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Layer {
    File,
    Env,
    Flag,
}

/// A drawn value: whether it is valid, and how to write it in each layer.
#[derive(Debug, Clone)]
struct Choice {
    layer: Layer,
    valid: bool,
    /// What an error about it must name.
    needle: &'static str,
    /// The value's text (`{port}`/`{udp}`/`{dir}` filled in when the case runs).
    value: &'static str,
}

/// Values of a setting that three layers can set (`listen`, `statsd`, the interval).
fn layered(
    file_key: &'static str,
    env_key: &'static str,
    flag: &'static str,
    valid: &'static [&'static str],
    invalid: &'static [&'static str],
) -> impl Strategy<Value = Vec<Choice>> {
    let one = move |layer: Layer, needle: &'static str| {
        prop_oneof![
            3 => prop::sample::select(valid).prop_map(move |value| Some(Choice {
                layer,
                valid: true,
                needle,
                value
            })),
            1 => prop::sample::select(invalid).prop_map(move |value| Some(Choice {
                layer,
                valid: false,
                needle,
                value
            })),
            3 => Just(None),
        ]
    };
    (
        one(Layer::File, file_key),
        one(Layer::Env, env_key),
        one(Layer::Flag, flag),
    )
        .prop_map(|(f, e, l)| [f, e, l].into_iter().flatten().collect())
}

/// A file-only key: `(section, key)` with its valid and invalid values.
fn file_only(
    needle: &'static str,
    valid: &'static [&'static str],
    invalid: &'static [&'static str],
) -> impl Strategy<Value = Option<Choice>> {
    let pick = move |set: &'static [&'static str], ok: bool| {
        prop::sample::select(set).prop_map(move |value| {
            Some(Choice {
                layer: Layer::File,
                valid: ok,
                needle,
                value,
            })
        })
    };
    prop_oneof![3 => Just(None), 3 => pick(valid, true), 1 => pick(invalid, false)]
}

/// A whole case.
#[derive(Debug, Clone)]
struct Case {
    listen: Vec<Choice>,
    statsd: Vec<Choice>,
    interval: Vec<Choice>,
    singles: Vec<Choice>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        layered(
            "listen",
            "TALLYHO_LISTEN",
            "--listen",
            &["127.0.0.1:{port}"],
            &["nowhere", "127.0.0.1", "[::1]"],
        ),
        layered(
            "statsd",
            "TALLYHO_STATSD",
            "--statsd",
            &["", "127.0.0.1:{udp}"],
            &["x:y", "8125"],
        ),
        layered(
            "interval_seconds",
            "OTEL_METRIC_EXPORT_INTERVAL",
            "--interval",
            // The environment's unit is milliseconds; both readings are in range.
            &["2", "30"],
            &["0", "-1", "1e20", "soon"],
        ),
        prop::collection::vec(
            prop_oneof![
                file_only(
                    "history.retention",
                    &["[history]\nretention = \"1h\""],
                    &[
                        "[history]\nretention = 0",
                        "[history]\nretention = \"forever\""
                    ]
                ),
                file_only(
                    "history.max_bytes",
                    &["[history]\nmax_bytes = \"64MiB\""],
                    &["[history]\nmax_bytes = 1000"]
                ),
                file_only(
                    "http.max_connections",
                    &["[http]\nmax_connections = 16"],
                    &["[http]\nmax_connections = 0"]
                ),
                file_only(
                    "host.naming",
                    &["[host]\nnaming = \"node\""],
                    &["[host]\nnaming = \"prom\""]
                ),
                file_only(
                    "remote",
                    &["[export]\nremote_write_url = \"http://127.0.0.1:9/api/v1/write\""],
                    // The second and third are found by building the exporter (a port
                    // out of range, a CA file that is not there), as serve builds it.
                    &[
                        "[export]\nremote_write_url = \"ftp://127.0.0.1/w\"",
                        "[export]\nremote_write_url = \"https://127.0.0.1:99999/w\"",
                        "[export]\nremote_write_url = \"https://127.0.0.1:9/w\"\ntls_ca_file = \"{dir}/missing-ca.pem\""
                    ]
                ),
                file_only(
                    "alerting.rule_files",
                    &["[alerting]\nrule_files = [\"{dir}/good.yml\"]"],
                    &["[alerting]\nrule_files = [\"{dir}/bad.yml\"]"]
                ),
                file_only(
                    "export.statsd",
                    &["[export]\nstatsd = \"127.0.0.1:9\""],
                    &["[export]\nstatsd = \"nohost\""]
                ),
            ],
            0..4,
        ),
    )
        .prop_map(|(listen, statsd, interval, singles)| {
            // One value per key: a file cannot say the same key twice.
            let mut seen = Vec::new();
            let singles = singles
                .into_iter()
                .flatten()
                .filter(|c| {
                    let new = !seen.contains(&c.needle);
                    seen.push(c.needle);
                    new
                })
                .collect();
            Case {
                listen,
                statsd,
                interval,
                singles,
            }
        })
}

/// The choice that wins for a layered setting: the highest layer that sets it (an empty
/// environment variable counts as unset).
fn winner(choices: &[Choice]) -> Option<&Choice> {
    choices
        .iter()
        .filter(|c| !(c.layer == Layer::Env && c.value.is_empty()))
        .max_by_key(|c| c.layer as u8)
}

/// What the case writes: the file's text, the environment and the flags.
fn render(
    case: &Case,
    port: u16,
    udp: u16,
    dir: &str,
) -> (String, Vec<(String, String)>, Vec<String>) {
    let fill = |v: &str| {
        v.replace("{port}", &port.to_string())
            .replace("{udp}", &udp.to_string())
            .replace("{dir}", dir)
    };
    // Section ("" for the top level) to its lines. Without a `listen` or `statsd`
    // anywhere the defaults would collide between cases: the file always names fresh
    // ones, replaced by what is drawn for the file.
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut set = |section: &str, key: &str, value: String| {
        sections
            .entry(section.to_string())
            .or_default()
            .insert(key.to_string(), value);
    };
    set("", "listen", format!("\"127.0.0.1:{port}\""));
    set("", "statsd", format!("\"127.0.0.1:{udp}\""));
    set("host", "enabled", "false".into());
    set("history", "storage_path", format!("\"{dir}/data\""));
    let (mut env, mut flags) = (Vec::new(), Vec::new());
    for (key, choices) in [
        ("listen", &case.listen),
        ("statsd", &case.statsd),
        ("interval_seconds", &case.interval),
    ] {
        for c in choices.iter() {
            let v = fill(c.value);
            match c.layer {
                Layer::File if key == "interval_seconds" => set("", key, v),
                Layer::File => set("", key, format!("\"{v}\"")),
                Layer::Env => env.push((c.needle.to_string(), v)),
                // `--key=value`: a value such as `-1` stays a value.
                Layer::Flag => flags.push(format!("{}={v}", c.needle)),
            }
        }
    }
    for c in &case.singles {
        let text = fill(c.value);
        let (section, line) = text
            .strip_prefix('[')
            .and_then(|t| t.split_once("]\n"))
            .expect("section and line");
        let (key, value) = line.split_once(" = ").expect("key = value");
        set(section, key, value.to_string());
    }
    let mut file = String::new();
    for (section, lines) in &sections {
        if !section.is_empty() {
            file.push_str(&format!("[{section}]\n"));
        }
        for (k, v) in lines {
            file.push_str(&format!("{k} = {v}\n"));
        }
    }
    (file, env, flags)
}

fn run_case(case: &Case) -> Result<(), TestCaseError> {
    let dir = TempDir::new("cfgprop");
    let d = dir.path().display().to_string();
    std::fs::write(
        dir.path().join("good.yml"),
        "groups:\n- name: g\n  rules:\n  - record: up:sum\n    expr: sum(up)\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.yml"),
        "groups:\n- name: g\n  rules:\n  - record: x\n    expr: sum(\n",
    )
    .unwrap();
    let (port, udp) = (free_port(), free_udp_port());
    let (text, env, flags) = render(case, port, udp, &d);
    let file = dir.path().join("agent.toml");
    std::fs::write(&file, &text).unwrap();

    // Predicted: every winning value valid and every file-only value valid.
    let mut wrong: Vec<&Choice> = Vec::new();
    for set in [&case.listen, &case.statsd, &case.interval] {
        if let Some(w) = winner(set).filter(|w| !w.valid) {
            wrong.push(w);
        }
    }
    // A file value of the wrong type is a TOML error whatever overrides it.
    wrong.extend(
        case.interval
            .iter()
            .filter(|c| c.layer == Layer::File && c.value.parse::<f64>().is_err()),
    );
    wrong.extend(case.singles.iter().filter(|c| !c.valid));
    // The serving port is where the winning listen points (the file's fresh one unless
    // a valid value elsewhere moved it, which is always the same fresh port).
    let command = |sub: &[&str]| {
        let mut c = Command::new(BIN);
        c.args(["--config", file.to_str().unwrap()])
            .args(&flags)
            .args(sub)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    };
    let check = command(&["check-config", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&check.stderr).into_owned();
    let what = format!("file:\n{text}env: {env:?}\nflags: {flags:?}\nstderr: {stderr}");
    prop_assert!(!stderr.contains("panicked"), "{}", what);
    if wrong.is_empty() {
        prop_assert_eq!(check.status.code(), Some(0), "{}", what);
        let child = command(&["serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut agent = Agent(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while http(port, "/health", "").is_none() {
            if let Some(status) = agent.0.try_wait().unwrap() {
                let mut err = String::new();
                use std::io::Read as _;
                let _ = agent.0.stderr.take().unwrap().read_to_string(&mut err);
                prop_assert!(
                    false,
                    "check-config said ok, serve exited {status}: {err}\n{what}"
                );
            }
            prop_assert!(Instant::now() < deadline, "serve did not start\n{}", what);
            std::thread::sleep(Duration::from_millis(30));
        }
        agent.stop();
    } else {
        prop_assert_eq!(check.status.code(), Some(2), "{}", what);
        prop_assert!(
            wrong.iter().any(|c| stderr.contains(c.needle)),
            "the message names none of {:?}\n{}",
            wrong.iter().map(|c| c.needle).collect::<Vec<_>>(),
            what
        );
        // serve refuses the same configuration, before binding.
        let serve = command(&["serve"]).output().unwrap();
        let serve_err = String::from_utf8_lossy(&serve.stderr);
        prop_assert_eq!(
            serve.status.code(),
            Some(2),
            "serve: {}\n{}",
            serve_err,
            what
        );
        prop_assert!(!serve_err.contains("panicked"), "{}", serve_err);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..ProptestConfig::default()
    })]

    #[test]
    fn check_config_ok_exactly_when_serve_starts(c in case()) {
        run_case(&c)?;
    }
}
