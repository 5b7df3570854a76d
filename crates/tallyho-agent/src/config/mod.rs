//! Agent configuration, in two stages. First the raw layers, each later one winning:
//! defaults, a TOML file, the environment (`OTEL_*`, `TALLYHO_*`), the command line
//! ([`RawConfig`], nothing checked). Then one check of everything, which makes the typed
//! [`Settings`] the agent runs on. `check-config` and `serve` both go through [`load`], so
//! whatever `check-config` accepts, `serve` starts with.
//!
//! The environment is read through an [`Env`] lookup that `main` gives the process
//! environment and tests a map: no code below reads `std::env` itself.

use std::path::Path;

mod checks;
mod export;
mod labels;
mod raw;
mod settings;
mod tls;

pub use export::{ExportSettings, Identity, OtlpSettings, StatsdOut};
pub use raw::{
    Alerting, Auth, Dashboard, Export, Flags, History, Host, Http, Origin, RawConfig, StatsdInput,
    MAX_INTERVAL_SECONDS,
};
pub use settings::{AlertingSettings, HistorySettings, HostSettings, HttpSettings, Settings};
pub use tls::{HttpTls, TlsFiles};

/// Looks an environment variable up by name (`None`: unset).
pub type Env = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The process environment, as an [`Env`] (non-UTF-8 values count as unset).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The raw layers (defaults, `file`, `env`, `flags`), then the one check.
///
/// # Errors
/// The file's path and what is wrong in it, or the key, variable or flag at fault.
pub fn load(file: Option<&Path>, env: &Env, flags: &Flags) -> Result<Settings, String> {
    let mut raw = match file {
        Some(path) => read_file(path)?,
        None => RawConfig::default(),
    };
    raw.apply_env(env);
    raw.apply_flags(flags);
    Settings::from_raw(&raw, env)
}

/// A configuration file, parsed, with its relative rule files resolved against its
/// directory (as Prometheus resolves them).
///
/// # Errors
/// The path and the reason: unreadable, or the key and line at fault.
pub fn read_file(path: &Path) -> Result<RawConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut raw = RawConfig::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    raw.resolve_paths(path.parent().unwrap_or(Path::new(".")));
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    /// The file alone, checked as `serve` checks it.
    fn settings(text: &str) -> Result<Settings, String> {
        let raw = RawConfig::from_toml(text)?;
        Settings::from_raw(&raw, &|_: &str| None)
    }

    #[test]
    fn file_errors_name_line_and_key() {
        let e = settings("listen = \"127.0.0.1:1\"\n[host]\nnamingg = \"node\"\n").unwrap_err();
        assert!(e.contains("namingg") && e.contains("line 3"), "{e}");
        let e = settings("interval_seconds = \"soon\"\n").unwrap_err();
        assert!(e.contains("interval_seconds"), "{e}");
        let e = settings("[host]\nnaming = \"prom\"\n").unwrap_err();
        assert!(e.contains("host.naming"), "{e}");
        let c = settings("statsd = \"\"\n[export]\nconsole = true\n").unwrap();
        assert!(c.export.console && c.statsd.is_none());
    }

    #[test]
    fn export_statsd_and_identity_keys() {
        let c = settings("").unwrap();
        assert_eq!(c.export.identity, Identity::Host);
        assert_eq!(c.export.statsd, None);
        let c = settings(
            "[export]\nstatsd = \"[::1]:9125\"\nstatsd_prefix = \"app\"\ninstance = \"db-1\"\n",
        )
        .unwrap();
        assert_eq!(
            c.export.statsd.as_ref().map(|s| s.target.as_str()),
            Some("[::1]:9125")
        );
        assert_eq!(c.export.identity, Identity::Named("db-1".into()));
        for (text, key) in [
            ("[export]\nstatsd = \"127.0.0.1\"\n", "export.statsd"),
            ("[export]\nstatsd = \"host:0\"\n", "export.statsd"),
            ("[export]\nstatsd = \"a b:8125\"\n", "export.statsd"),
            (
                "[export]\nstatsd = \"127.0.0.1:8125\"\n",
                "own StatsD listener",
            ),
            (
                "statsd = \"0.0.0.0:9000\"\n[export]\nstatsd = \"127.0.0.1:9000\"\n",
                "own StatsD listener",
            ),
            (
                "[export]\nstatsd_prefix = \"a:b\"\n",
                "export.statsd_prefix",
            ),
            (
                "[export]\nstatsd_max_datagram = 10\n",
                "export.statsd_max_datagram",
            ),
            ("[export]\ninstance = \" \"\n", "export.instance"),
            (
                "[export]\nhost_identity = false\ninstance = \"x\"\n",
                "export.instance needs",
            ),
            ("[export]\nstatsd_tags = true\n", "statsd_tags"),
        ] {
            let e = settings(text).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn host_cgroup_and_interval_keys() {
        use tallyho_host::Group;
        let c = settings("").unwrap();
        let h = c.host.unwrap();
        assert!(h.cgroups && h.cgroup_children.is_none() && h.intervals.is_empty());
        assert_eq!(h.max_cgroups, 100);
        assert_eq!(h.docker_root, Some(PathBuf::from("/var/lib/docker")));
        let c = settings(
            "[host]\ncgroups = false\ncgroup_children = \"/sys/fs/cgroup/system.slice\"\n\
             max_cgroups = 20\ndocker_root = \"\"\n\
             intervals = { filesystem = \"5m\", cpu = 15, load = 0.5 }\n",
        )
        .unwrap();
        let h = c.host.unwrap();
        assert!(!h.cgroups);
        assert_eq!(
            h.cgroup_children,
            Some(PathBuf::from("/sys/fs/cgroup/system.slice"))
        );
        assert_eq!((h.max_cgroups, h.docker_root.clone()), (20, None));
        assert_eq!(
            h.intervals.into_iter().collect::<Vec<_>>(),
            [
                (Group::Cpu, Duration::from_secs(15)),
                (Group::Load, Duration::from_millis(500)),
                (Group::Filesystem, Duration::from_secs(300)),
            ]
        );
        // The typed settings reach the collector's configuration.
        let c =
            settings("[host]\ncgroup_children = \"system.slice\"\nintervals = { gpu = \"1m\" }\n")
                .unwrap();
        let hc = c.host.unwrap().host_config();
        assert_eq!(hc.cgroup_children, Some(PathBuf::from("system.slice")));
        assert_eq!(
            hc.intervals.get(&Group::Gpu),
            Some(&Duration::from_secs(60))
        );
        assert!(hc.cgroup && hc.cgroup_limit == 100);
        for (text, needle) in [
            ("[host]\nmax_cgroups = 0\n", "host.max_cgroups = 0: must be between 1 and 10000"),
            ("[host]\nmax_cgroups = 10001\n", "host.max_cgroups = 10001"),
            ("[host]\ncgroup_children = \"../etc\"\n", "host.cgroup_children = \"../etc\": must not contain"),
            ("[host]\ndocker_root = \"var/lib/docker\"\n", "host.docker_root = \"var/lib/docker\": must be an absolute path"),
            ("[host]\nintervals = { filesystems = \"5m\" }\n", "host.intervals.filesystems: \"filesystems\" is not a host collector: use one of cpu,"),
            ("[host]\nintervals = { cpu = \"soon\" }\n", "host.intervals.cpu: \"soon\" is not a duration"),
            ("[host]\nintervals = { cpu = -5 }\n", "host.intervals.cpu: -5 is negative"),
            ("[host]\nintervals = { cpu = 0 }\n", "host.intervals.cpu: must be longer than 0"),
            ("[host]\nintervals = { cpu = \"2d\" }\n", "host.intervals.cpu: must be longer than 0 and at most a day"),
            ("[host]\nintervals = { cpu = true }\n", "host.intervals.cpu: true is not a duration"),
            ("[host]\ncgroups = \"yes\"\n", "cgroups"),
            ("[host]\nmax_cgroups = -1\n", "max_cgroups"),
        ] {
            let e = settings(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn history_keys_accept_units_and_numbers() {
        let c = settings("").unwrap();
        let h = c.history.unwrap();
        assert_eq!(h.dir.as_deref(), Some(std::path::Path::new("data")));
        let c = settings(
            "[history]\nretention = \"1h30m\"\nmax_bytes = \"64MiB\"\nstorage_path = \"\"\n",
        )
        .unwrap();
        let h = c.history.unwrap();
        assert_eq!(h.retention, Duration::from_secs(5400));
        assert_eq!(h.max_bytes, 64 << 20);
        assert_eq!(h.dir, None);
        let c = settings("[history]\nretention = 600\nmax_bytes = 2097152\n").unwrap();
        let h = c.history.unwrap();
        assert_eq!(h.retention, Duration::from_secs(600));
        assert_eq!(h.max_bytes, 2 << 20);
        for (text, key, line) in [
            (
                "[history]\nretention = \"forever\"\n",
                "history.retention",
                "line 2",
            ),
            (
                "\n[history]\nmax_bytes = \"lots\"\n",
                "history.max_bytes",
                "line 3",
            ),
            ("[history]\nmax_bytes = true\n", "max_bytes", "line 2"),
            ("[history]\nenabled = \"yes\"\n", "enabled", "line 2"),
            ("[history]\nretension = \"1h\"\n", "retension", "line 2"),
        ] {
            let e = settings(text).unwrap_err();
            assert!(e.contains(key) && e.contains(line), "{text}: {e}");
        }
        let e = settings("[history]\nmax_bytes = 1000\n").unwrap_err();
        assert!(e.contains("history.max_bytes"), "{e}");
        let e = settings("[history]\nretention = 0\n").unwrap_err();
        assert!(e.contains("history.retention"), "{e}");
    }

    #[test]
    fn alerting_and_dashboard_keys() {
        let c = settings("").unwrap();
        assert!(c.dashboard && c.alerting.rule_files.is_empty());
        assert_eq!(c.alerting.evaluation_interval, Duration::from_secs(60));
        assert!(c.alerting.console, "no Alertmanager: alerts go to stderr");
        let text = "[alerting]\nrule_files = [\"a.yml\", \"/etc/b.yml\"]\nalertmanager_url = \"http://127.0.0.1:9093\"\nevaluation_interval = \"15s\"\n[dashboard]\nenabled = false\n";
        let c = settings(text).unwrap();
        assert!(!c.dashboard && !c.alerting.console);
        assert_eq!(c.alerting.evaluation_interval, Duration::from_secs(15));
        let mut c = RawConfig::from_toml(text).unwrap();
        c.resolve_paths(std::path::Path::new("/srv/tallyho"));
        assert_eq!(
            c.alerting.rule_files,
            [
                PathBuf::from("/srv/tallyho/a.yml"),
                PathBuf::from("/etc/b.yml")
            ]
        );
        for (text, key) in [
            (
                "[alerting]\nevaluation_interval = \"soon\"\n",
                "alerting.evaluation_interval",
            ),
            (
                "[alerting]\nevaluation_interval = 0\n",
                "alerting.evaluation_interval",
            ),
            (
                "[alerting]\nalertmanager_url = \"am:9093\"\n",
                "alerting.alertmanager_url",
            ),
            ("[alerting]\nrule_file = []\n", "rule_file"),
            ("[dashboard]\nenable = true\n", "enable"),
            (
                "[history]\nenabled = false\n[alerting]\nrule_files = [\"a.yml\"]\n",
                "alerting.rule_files needs the history",
            ),
        ] {
            let e = settings(text).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn flags_win_over_a_bad_environment_and_errors_name_the_source() {
        let env = env_of(&[("TALLYHO_LISTEN", "nowhere"), ("TALLYHO_STATSD", "x")]);
        let e = load(None, &env, &Flags::default()).unwrap_err();
        assert!(e.starts_with("TALLYHO_LISTEN = \"nowhere\""), "{e}");
        let flags = Flags {
            listen: Some("127.0.0.1:0".into()),
            statsd: Some(String::new()),
            interval: None,
        };
        let s = load(None, &env, &flags).unwrap();
        assert_eq!(s.listen, "127.0.0.1:0".parse().unwrap());
        assert_eq!(s.statsd, None, "--statsd \"\" turns StatsD off");
        let flags = Flags {
            interval: Some(1e20),
            ..flags
        };
        let e = load(None, &env, &flags).unwrap_err();
        assert!(e.starts_with("--interval = "), "{e}");
        let env = env_of(&[("OTEL_METRIC_EXPORT_INTERVAL", "1e30")]);
        let e = load(None, &env, &Flags::default()).unwrap_err();
        assert!(e.starts_with("OTEL_METRIC_EXPORT_INTERVAL = "), "{e}");
        let env = env_of(&[("OTEL_METRIC_EXPORT_INTERVAL", "soon")]);
        let e = load(None, &env, &Flags::default()).unwrap_err();
        assert!(
            e.starts_with("OTEL_METRIC_EXPORT_INTERVAL = \"soon\""),
            "{e}"
        );
        let flags = Flags {
            interval: Some(2.0),
            ..Flags::default()
        };
        assert_eq!(load(None, &env, &flags).unwrap().interval.as_secs(), 2);
        let env = env_of(&[("OTEL_METRIC_EXPORT_INTERVAL", "250")]);
        let s = load(None, &env, &Flags::default()).unwrap();
        assert_eq!(s.interval, std::time::Duration::from_millis(250));
    }

    #[test]
    fn a_bad_otel_sdk_disabled_is_named_not_taken_for_false() {
        let e = load(
            None,
            &env_of(&[("OTEL_SDK_DISABLED", "yes")]),
            &Flags::default(),
        )
        .unwrap_err();
        assert_eq!(e, "OTEL_SDK_DISABLED = \"yes\": expected true or false");
        for ok in ["true", "FALSE", " True "] {
            let env = env_of(match ok {
                "true" => &[("OTEL_SDK_DISABLED", "true")],
                "FALSE" => &[("OTEL_SDK_DISABLED", "FALSE")],
                _ => &[("OTEL_SDK_DISABLED", " True ")],
            });
            assert!(load(None, &env, &Flags::default()).is_ok(), "{ok}");
        }
    }

    #[test]
    fn statsd_tag_policy_keys_are_checked_by_name() {
        let s = settings(
            "[statsd_input]\nallowed_tags = [\"env\", \"route\"]\ndisallowed_tags = \"refuse\"\nmax_tag_value_length = 64\nprefix = \"app.web\"\n",
        )
        .unwrap();
        assert_eq!(s.statsd_input.allowed_tags, ["env", "route"]);
        assert_eq!(s.statsd_input.max_tag_value_length, 64);
        for (text, want) in [
            (
                "[statsd_input]\ndisallowed_tags = \"ignore\"\n",
                "statsd_input.disallowed_tags = \"ignore\"",
            ),
            (
                "[statsd_input]\nallowed_tags = [\"http.route\"]\n",
                "statsd_input.allowed_tags: \"http.route\"",
            ),
            (
                "[statsd_input]\nprefix = \"9app\"\n",
                "statsd_input.prefix = \"9app\"",
            ),
            (
                "[statsd_input]\nprefix = \"a b\"\n",
                "statsd_input.prefix = \"a b\"",
            ),
        ] {
            let e = settings(text).unwrap_err();
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn host_gpu_key_turns_nvml_off() {
        let on = settings("").unwrap().host.unwrap();
        assert!(on.gpu && on.host_config().gpu);
        let off = settings("[host]\ngpu = false\n").unwrap().host.unwrap();
        assert!(!off.gpu && !off.host_config().gpu);
        let c = tallyho_host::HostCollector::new(off.host_config());
        assert_eq!(
            c.gpu_status(),
            "GPU metrics off: disabled in the configuration"
        );
    }

    #[test]
    fn labels_cardinality_and_rate_limit_are_checked_by_name() {
        let s =
            settings("cardinality_limit = 50\n[labels]\nenv = \"prod\"\n[http]\nrate_limit = 5\n")
                .unwrap();
        assert_eq!(s.labels, [("env".to_owned(), "prod".to_owned())]);
        assert_eq!(s.cardinality_limit, Some(50));
        assert_eq!(s.http.rate_limit.map(|r| r.per_second), Some(5.0));
        let d = settings("").unwrap();
        assert_eq!((d.cardinality_limit, d.http.rate_limit), (None, None));
        for (text, want) in [
            (
                "[labels]\nservice = \"x\"\n",
                "labels.service: set by the top-level",
            ),
            (
                "[labels]\nenv = \"\"\n",
                "labels.env = \"\": an empty value",
            ),
            (
                "[labels]\n\"a-b\" = \"x\"\n",
                "labels.a-b: invalid label name",
            ),
            (
                "cardinality_limit = 2000000\n",
                "cardinality_limit = 2000000: must be at most",
            ),
            (
                "[http]\nrate_limit = -1\n",
                "http.rate_limit = -1: must be 0",
            ),
        ] {
            let e = settings(text).unwrap_err();
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn otel_metrics_exporter_decides_otlp_and_console_over_the_file() {
        let file = "[export]\nconsole = true\notlp_endpoint = \"http://127.0.0.1:4318\"\n";
        let raw = RawConfig::from_toml(file).unwrap();
        // otlp alone: OTLP on (the file's endpoint still used), console off.
        let s = Settings::from_raw(&raw, &env_of(&[("OTEL_METRICS_EXPORTER", "otlp")])).unwrap();
        assert!(!s.export.console);
        assert!(s.export.otlp.is_some());
        // console: OTLP off although the file has an endpoint.
        let env = env_of(&[("OTEL_METRICS_EXPORTER", "console")]);
        let s = Settings::from_raw(&raw, &env).unwrap();
        assert!(s.export.console);
        assert_eq!(s.export.otlp, None);
        // otlp without any endpoint: on, to the exporter's default.
        let env = env_of(&[("OTEL_METRICS_EXPORTER", "Console, otlp")]);
        let s = Settings::from_raw(&RawConfig::default(), &env).unwrap();
        assert!(s.export.console);
        assert_eq!(
            s.export.otlp,
            Some(OtlpSettings {
                file_endpoint: None,
                file_tls: TlsFiles::default(),
            })
        );
        // none: neither, whatever the file and the endpoint variables say.
        let env = env_of(&[
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"),
        ]);
        let s = Settings::from_raw(&raw, &env).unwrap();
        assert!(!s.export.console);
        assert_eq!(s.export.otlp, None);
        // prometheus: the agent's own /metrics; nothing pushed.
        let env = env_of(&[("OTEL_METRICS_EXPORTER", "prometheus")]);
        let s = Settings::from_raw(&RawConfig::default(), &env).unwrap();
        assert_eq!((s.export.console, s.export.otlp), (false, None));
        // A wrong name is an error naming the variable, before anything starts.
        let e = load(
            None,
            &env_of(&[("OTEL_METRICS_EXPORTER", "otlp,jaeger")]),
            &Flags::default(),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "OTEL_METRICS_EXPORTER = \"otlp,jaeger\": unknown exporter \"jaeger\" (expected otlp, prometheus, console or none)"
        );
    }

    #[test]
    fn otlp_endpoint_precedence_is_environment_over_file() {
        let file = "[export]\notlp_endpoint = \"http://127.0.0.1:4318\"\n";
        let raw = RawConfig::from_toml(file).unwrap();
        let s = Settings::from_raw(&raw, &|_: &str| None).unwrap();
        assert_eq!(
            s.export.otlp.unwrap().file_endpoint.as_deref(),
            Some("http://127.0.0.1:4318")
        );
        // Either variable turns OTLP on and hides the file's endpoint, so that the
        // exporter applies METRICS_ENDPOINT over ENDPOINT.
        for var in [
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ] {
            let env = move |k: &str| (k == var).then(|| "http://127.0.0.1:1/x".to_string());
            let s = Settings::from_raw(&RawConfig::default(), &env).unwrap();
            assert_eq!(
                s.export.otlp,
                Some(OtlpSettings {
                    file_endpoint: None,
                    file_tls: TlsFiles::default(),
                })
            );
            let s = Settings::from_raw(&raw, &env).unwrap();
            assert_eq!(
                s.export.otlp,
                Some(OtlpSettings {
                    file_endpoint: None,
                    file_tls: TlsFiles::default(),
                })
            );
        }
        let s = Settings::from_raw(&RawConfig::default(), &|_: &str| None).unwrap();
        assert_eq!(s.export.otlp, None);
    }

    #[test]
    fn endpoint_tls_paths_are_relative_to_the_file() {
        let dir = std::env::temp_dir().join(format!("tallyho-cfg-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("agent.toml");
        std::fs::write(
            &file,
            "[http]\ntls_cert_file = \"s.pem\"\ntls_key_file = \"/abs/s.key\"\n",
        )
        .unwrap();
        let s = load(Some(&file), &|_: &str| None, &Flags::default()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            s.http.tls,
            Some(HttpTls {
                cert: dir.join("s.pem"),
                key: "/abs/s.key".into(),
                client_ca: None,
            })
        );
    }

    #[test]
    fn tls_files_environment_over_file_for_otlp_and_checked() {
        let file = "[export]\notlp_endpoint = \"https://127.0.0.1:4318\"\n\
                    remote_write_url = \"https://127.0.0.1:9090/api/v1/write\"\n\
                    tls_ca_file = \"/f/ca.pem\"\ntls_client_cert_file = \"/f/c.pem\"\n\
                    tls_client_key_file = \"/f/c.key\"\n";
        let raw = RawConfig::from_toml(file).unwrap();
        let all = TlsFiles {
            ca: Some("/f/ca.pem".into()),
            cert: Some("/f/c.pem".into()),
            key: Some("/f/c.key".into()),
        };
        let s = Settings::from_raw(&raw, &|_: &str| None).unwrap();
        assert_eq!(s.export.tls, all);
        assert_eq!(s.export.otlp.unwrap().file_tls, all);
        // A variable of either form hides its file from OTLP only.
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", "/e/ca.pem"),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/e/c.key"),
        ]);
        let s = Settings::from_raw(&raw, &env).unwrap();
        assert_eq!(s.export.tls, all);
        assert_eq!(
            s.export.otlp.unwrap().file_tls,
            TlsFiles {
                ca: None,
                cert: Some("/f/c.pem".into()),
                key: None,
            }
        );
        for (text, says) in [
            (
                "[http]\ntls_client_ca_file = \"ca.pem\"\n",
                "needs http.tls_cert_file",
            ),
            ("[http]\ntls_key_file = \"k.pem\"\n", "go together"),
            ("[http]\ntls_key_file = \"\"\n", "http.tls_key_file = \"\""),
            (
                "[export]\ntls_ca_file = \"/f/ca.pem\"\n",
                "no HTTP exporter",
            ),
            (
                "[export]\npushgateway_url = \"https://h:9091\"\ntls_ca_file = \"\"\n",
                "export.tls_ca_file = \"\"",
            ),
            (
                "[export]\npushgateway_url = \"https://h:9091\"\ntls_client_key_file = \"/k\"\n",
                "set both or neither",
            ),
        ] {
            let raw = RawConfig::from_toml(text).unwrap();
            let e = Settings::from_raw(&raw, &|_: &str| None).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn credentials_from_file_or_environment_not_both() {
        let env = env_of(&[("TALLYHO_METRICS_BEARER_TOKEN", "t")]);
        let file = RawConfig::from_toml("[auth]\nuser = \"u\"\npassword = \"p\"\n").unwrap();
        assert_eq!(
            Settings::from_raw(&file, &|_: &str| None).unwrap().auth,
            tallyho_http::Auth::basic("u", "p")
        );
        let e = Settings::from_raw(&file, &env).unwrap_err();
        assert!(e.contains("both [auth] and the environment"), "{e}");
        let s = Settings::from_raw(&RawConfig::default(), &env).unwrap();
        assert_eq!(s.auth, tallyho_http::Auth::bearer("t"));
    }
}
