//! Agent configuration: defaults, then a TOML file, then the environment (OTEL_* and
//! TALLYHO_*), then command-line flags; each later source wins.

use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::units;

mod checks;
use checks::{check_host_port, check_seconds, check_url, feeds_itself};

/// Everything the agent can be told. Unknown keys in the file are errors.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address of `/metrics` and `/health`.
    pub listen: String,
    /// StatsD UDP address; empty to disable.
    pub statsd: String,
    /// Seconds between collections and pushes.
    pub interval_seconds: f64,
    /// Constant `service` label (and OTLP `service.name`).
    pub service: String,
    /// Host and process collection.
    pub host: Host,
    /// Credentials for `/metrics`.
    pub auth: Auth,
    /// Push targets.
    pub export: Export,
    /// The embedded history and its query API.
    pub history: History,
    /// Alerting and recording rules evaluated over the history.
    pub alerting: Alerting,
    /// The dashboard at `/`.
    pub dashboard: Dashboard,
    /// Limits of the HTTP endpoint.
    pub http: Http,
    /// Bounds and socket settings of the StatsD listener.
    pub statsd_input: StatsdInput,
}

/// `[http]`: what slow or many clients may cost the endpoint.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// Connections open at once; at the limit the oldest idle or half-open one is closed.
    pub max_connections: usize,
    /// Seconds a client may take to send a request's headers.
    pub header_timeout_seconds: f64,
    /// Seconds shutdown waits for requests in flight.
    pub shutdown_timeout_seconds: f64,
    /// Whether `/health` needs the `[auth]` credentials too.
    pub health_requires_auth: bool,
    /// `/health` answers per second, all clients together (0: no limit).
    pub health_rate_limit: f64,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            max_connections: 1024,
            header_timeout_seconds: 10.0,
            shutdown_timeout_seconds: 5.0,
            health_requires_auth: false,
            health_rate_limit: 10.0,
        }
    }
}

/// `[statsd_input]`: every map fed from the network is bounded here.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StatsdInput {
    /// Most distinct StatsD metrics (name, type and tag keys); new names beyond are refused
    /// and counted.
    pub max_families: usize,
    /// Most distinct sets (name and tag values); new ones beyond are refused and counted.
    pub max_sets: usize,
    /// The socket receive buffer requested (`"8MiB"`, or bytes; the kernel may cap it at
    /// `net.core.rmem_max`).
    #[serde(deserialize_with = "recv_buffer")]
    pub recv_buffer_bytes: u64,
}

impl Default for StatsdInput {
    fn default() -> Self {
        StatsdInput {
            max_families: 10_000,
            max_sets: 1_000,
            recv_buffer_bytes: 8 << 20,
        }
    }
}

fn recv_buffer<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let raw = Raw::deserialize(d)?;
    units::parse_bytes(&raw.0)
        .map_err(|e| de::Error::custom(format!("statsd_input.recv_buffer_bytes: {e}")))
}

/// Longest interval accepted anywhere (a day): beyond, a value is a typo, and a huge one
/// would overflow a `Duration`.
pub const MAX_INTERVAL_SECONDS: f64 = 86_400.0;

/// `[alerting]`: Prometheus rule files evaluated over the history.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Alerting {
    /// Rule files (Prometheus' format). Relative paths are relative to the directory of
    /// the configuration file, as in Prometheus (to the working directory without one).
    pub rule_files: Vec<PathBuf>,
    /// Alertmanager base URL (`http://127.0.0.1:9093`); alerts go to its v2 API.
    pub alertmanager_url: Option<String>,
    /// Print alerts to stderr. Default: only when no Alertmanager is configured.
    pub console: Option<bool>,
    /// Interval of groups without `interval:` (`"1m"`, or seconds; Prometheus' default 1m).
    #[serde(deserialize_with = "evaluation_interval")]
    pub evaluation_interval: Duration,
    /// Answer `POST /-/reload` (behind `[auth]` like `/metrics`; default true).
    pub reload_endpoint: bool,
}

impl Default for Alerting {
    fn default() -> Self {
        Alerting {
            rule_files: Vec::new(),
            alertmanager_url: None,
            console: None,
            evaluation_interval: Duration::from_secs(60),
            reload_endpoint: true,
        }
    }
}

impl Alerting {
    /// Whether alerts are printed to stderr.
    pub fn console(&self) -> bool {
        self.console.unwrap_or(self.alertmanager_url.is_none())
    }
}

/// `[dashboard]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Dashboard {
    /// Serve the dashboard at `/` (behind `[auth]` like `/metrics`; default true).
    pub enabled: bool,
}

impl Default for Dashboard {
    fn default() -> Self {
        Dashboard { enabled: true }
    }
}

fn evaluation_interval<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let raw = Raw::deserialize(d)?;
    units::parse_duration(&raw.0)
        .map_err(|e| de::Error::custom(format!("alerting.evaluation_interval: {e}")))
}

/// `[history]`: samples of every collection kept for PromQL queries.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct History {
    /// Keep a history at all (default true).
    pub enabled: bool,
    /// How long samples are kept (`"24h"`, or seconds).
    #[serde(deserialize_with = "retention")]
    pub retention: Duration,
    /// Most bytes kept in memory and on disk together (`"256MiB"`, or bytes).
    #[serde(deserialize_with = "max_bytes")]
    pub max_bytes: u64,
    /// Directory of the WAL and blocks (default `data`, as Prometheus' `data/`); empty
    /// keeps the history in memory only.
    pub storage_path: PathBuf,
}

impl Default for History {
    fn default() -> Self {
        History {
            enabled: true,
            retention: Duration::from_secs(24 * 3600),
            max_bytes: 256 << 20,
            storage_path: PathBuf::from("data"),
        }
    }
}

impl History {
    /// The directory, or `None` for memory only.
    pub fn dir(&self) -> Option<&std::path::Path> {
        (!self.storage_path.as_os_str().is_empty()).then_some(self.storage_path.as_path())
    }
}

/// A string or a number, as written in the file.
struct Raw(String);

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Raw;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string such as \"24h\" or \"256MiB\", or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
                Ok(Raw(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
                Ok(Raw(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
                Ok(Raw(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
                Ok(Raw(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

fn retention<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let raw = Raw::deserialize(d)?;
    units::parse_duration(&raw.0).map_err(|e| de::Error::custom(format!("history.retention: {e}")))
}

fn max_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let raw = Raw::deserialize(d)?;
    units::parse_bytes(&raw.0).map_err(|e| de::Error::custom(format!("history.max_bytes: {e}")))
}

/// `[host]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Host {
    /// Collect host metrics at all.
    pub enabled: bool,
    /// `otel` or `node` names.
    pub naming: String,
    /// Root of /proc and /sys (for containers and tests).
    pub root: PathBuf,
}

/// `[auth]`
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// Basic auth user (with `password`).
    pub user: String,
    /// Basic auth password.
    pub password: String,
    /// Bearer token (instead of basic).
    pub bearer_token: String,
}

/// `[export]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Export {
    /// Print a table every interval.
    pub console: bool,
    /// Directory for JSON files.
    pub json_dir: Option<PathBuf>,
    /// Directory for CSV files.
    pub csv_dir: Option<PathBuf>,
    /// Files kept per directory.
    pub keep_files: usize,
    /// OTLP/HTTP base endpoint (`http://127.0.0.1:4318`).
    pub otlp_endpoint: Option<String>,
    /// Prometheus remote-write URL.
    pub remote_write_url: Option<String>,
    /// Pushgateway base URL.
    pub pushgateway_url: Option<String>,
    /// StatsD server to push to (`host:port`, UDP).
    pub statsd: Option<String>,
    /// Put `prefix.` before every name sent to StatsD.
    pub statsd_prefix: String,
    /// Send labels to StatsD as DogStatsD tags (`|#k:v`) instead of folding them into names.
    pub statsd_dogstatsd_tags: bool,
    /// Largest StatsD datagram in bytes.
    pub statsd_max_datagram: usize,
    /// Say which host pushed (default true): `instance` on remote write and in the
    /// Pushgateway's group, `host.name` and `service.instance.id` in the OTLP resource.
    pub host_identity: bool,
    /// The instance name to push instead of the host name.
    pub instance: Option<String>,
}

impl Default for Export {
    fn default() -> Self {
        Export {
            console: false,
            json_dir: None,
            csv_dir: None,
            keep_files: 0,
            otlp_endpoint: None,
            remote_write_url: None,
            pushgateway_url: None,
            statsd: None,
            statsd_prefix: String::new(),
            statsd_dogstatsd_tags: false,
            statsd_max_datagram: tallyho_export::statsd::DEFAULT_MAX_DATAGRAM,
            host_identity: true,
            instance: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:9464".into(),
            statsd: "127.0.0.1:8125".into(),
            interval_seconds: 15.0,
            service: "tallyho".into(),
            host: Host::default(),
            auth: Auth::default(),
            export: Export::default(),
            history: History::default(),
            alerting: Alerting::default(),
            dashboard: Dashboard::default(),
            http: Http::default(),
            statsd_input: StatsdInput::default(),
        }
    }
}

impl Default for Host {
    fn default() -> Self {
        Host {
            enabled: true,
            naming: "otel".into(),
            root: PathBuf::from("/"),
        }
    }
}

impl Config {
    /// Parses a TOML file's text.
    ///
    /// # Errors
    /// A message with the line, column and key at fault.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    /// Applies the environment: `OTEL_SERVICE_NAME`, `OTEL_METRIC_EXPORT_INTERVAL` (ms),
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, `TALLYHO_LISTEN`, `TALLYHO_STATSD`,
    /// `TALLYHO_STORAGE_PATH` (set but empty: memory only).
    ///
    /// # Errors
    /// A variable with a value that does not parse, named.
    pub fn apply_env(&mut self) -> Result<(), String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(v) = var("OTEL_SERVICE_NAME") {
            self.service = v;
        }
        if let Some(v) = var("OTEL_METRIC_EXPORT_INTERVAL") {
            let ms: f64 = v.trim().parse().map_err(|_| {
                format!("OTEL_METRIC_EXPORT_INTERVAL={v:?} is not a number of milliseconds")
            })?;
            self.interval_seconds = ms / 1000.0;
        }
        if let Some(v) = var("OTEL_EXPORTER_OTLP_ENDPOINT") {
            self.export.otlp_endpoint = Some(v);
        }
        if let Some(v) = var("TALLYHO_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = var("TALLYHO_STATSD") {
            self.statsd = v;
        }
        if let Ok(v) = std::env::var("TALLYHO_STORAGE_PATH") {
            self.history.storage_path = PathBuf::from(v);
        }
        self.validate()
    }

    /// Checks values the types cannot.
    ///
    /// # Errors
    /// A message naming the key and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        check_seconds(
            "interval_seconds",
            self.interval_seconds,
            0.001,
            MAX_INTERVAL_SECONDS,
        )?;
        self.validate_limits()?;
        self.validate_urls()?;
        self.validate_export()?;
        if !matches!(self.host.naming.as_str(), "otel" | "node") {
            return Err(format!(
                "host.naming = {:?}: must be \"otel\" or \"node\"",
                self.host.naming
            ));
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!(
                "listen = {:?}: must be an address like \"127.0.0.1:9464\"",
                self.listen
            ));
        }
        if !self.statsd.is_empty() && self.statsd.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!(
                "statsd = {:?}: must be an address like \"127.0.0.1:8125\" or empty",
                self.statsd
            ));
        }
        if self.auth.user.is_empty() != self.auth.password.is_empty() {
            return Err(
                "auth.user and auth.password go together (an empty password is refused)".into(),
            );
        }
        if !self.auth.user.is_empty() && !self.auth.bearer_token.is_empty() {
            return Err("auth: set either user and password or bearer_token, not both".into());
        }
        if self.history.retention.is_zero() {
            return Err("history.retention = 0: must be longer than 0, like \"24h\"".into());
        }
        if self.history.max_bytes < 1 << 20 {
            return Err(format!(
                "history.max_bytes = {}: must be at least 1MiB",
                self.history.max_bytes
            ));
        }
        if self.alerting.evaluation_interval.is_zero()
            || self.alerting.evaluation_interval.as_secs_f64() > MAX_INTERVAL_SECONDS
        {
            return Err(
                "alerting.evaluation_interval: must be longer than 0 and at most a day, like \"1m\""
                    .into(),
            );
        }
        if !self.alerting.rule_files.is_empty() && !self.history.enabled {
            return Err(
                "alerting.rule_files needs the history: rules are evaluated over it (set history.enabled = true)"
                    .into(),
            );
        }
        Ok(())
    }

    fn validate_urls(&self) -> Result<(), String> {
        let e = &self.export;
        for (key, url) in [
            ("alerting.alertmanager_url", &self.alerting.alertmanager_url),
            ("export.otlp_endpoint", &e.otlp_endpoint),
            ("export.remote_write_url", &e.remote_write_url),
            ("export.pushgateway_url", &e.pushgateway_url),
        ] {
            if let Some(url) = url {
                check_url(key, url)?;
            }
        }
        Ok(())
    }

    fn validate_export(&self) -> Result<(), String> {
        let e = &self.export;
        if let Some(target) = &e.statsd {
            check_host_port("export.statsd", target)?;
            if feeds_itself(&self.statsd, target) {
                return Err(format!(
                    "export.statsd = {target:?}: is this agent's own StatsD listener (statsd = {:?}); it would ingest its own output",
                    self.statsd
                ));
            }
        }
        if let Some(c) = e.statsd_prefix.chars().find(|c| {
            matches!(c, ':' | '|' | '@' | '#' | ',') || c.is_whitespace() || c.is_control()
        }) {
            return Err(format!(
                "export.statsd_prefix = {:?}: {c:?} would break the StatsD line format",
                e.statsd_prefix
            ));
        }
        if !(64..=65_507).contains(&e.statsd_max_datagram) {
            return Err(format!(
                "export.statsd_max_datagram = {}: must be between 64 and 65507 bytes",
                e.statsd_max_datagram
            ));
        }
        match &e.instance {
            Some(i) if i.trim().is_empty() => Err(format!(
                "export.instance = {i:?}: must not be empty (leave it out for the host name)"
            )),
            Some(_) if !e.host_identity => Err(
                "export.instance needs export.host_identity = true (false sends no instance)"
                    .into(),
            ),
            _ => Ok(()),
        }
    }

    fn validate_limits(&self) -> Result<(), String> {
        let h = &self.http;
        check_seconds(
            "http.header_timeout_seconds",
            h.header_timeout_seconds,
            0.1,
            3600.0,
        )?;
        check_seconds(
            "http.shutdown_timeout_seconds",
            h.shutdown_timeout_seconds,
            0.0,
            600.0,
        )?;
        if !(1..=1_000_000).contains(&h.max_connections) {
            return Err(format!(
                "http.max_connections = {}: must be between 1 and 1000000",
                h.max_connections
            ));
        }
        if !(h.health_rate_limit.is_finite() && h.health_rate_limit >= 0.0) {
            return Err(format!(
                "http.health_rate_limit = {}: must be 0 (no limit) or a positive rate per second",
                h.health_rate_limit
            ));
        }
        let s = &self.statsd_input;
        if s.max_families == 0 {
            return Err("statsd_input.max_families = 0: must be at least 1".into());
        }
        if !(4096..=1 << 30).contains(&s.recv_buffer_bytes) {
            return Err(format!(
                "statsd_input.recv_buffer_bytes = {}: must be between 4KiB and 1GiB",
                s.recv_buffer_bytes
            ));
        }
        Ok(())
    }

    /// Makes relative `alerting.rule_files` relative to `base` (the configuration file's
    /// directory).
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        for f in &mut self.alerting.rule_files {
            if f.is_relative() {
                *f = base.join(&*f);
            }
        }
    }

    /// The interval as a duration.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(self.interval_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_errors_name_line_and_key() {
        let e = Config::from_toml("listen = \"127.0.0.1:1\"\n[host]\nnamingg = \"node\"\n")
            .unwrap_err();
        assert!(e.contains("namingg") && e.contains("line 3"), "{e}");
        let e = Config::from_toml("interval_seconds = \"soon\"\n").unwrap_err();
        assert!(e.contains("interval_seconds"), "{e}");
        let e = Config::from_toml("[host]\nnaming = \"prom\"\n").unwrap_err();
        assert!(e.contains("host.naming"), "{e}");
        let c = Config::from_toml("statsd = \"\"\n[export]\nconsole = true\n").unwrap();
        assert!(c.export.console && c.statsd.is_empty());
    }

    #[test]
    fn export_statsd_and_identity_keys() {
        let c = Config::default();
        assert!(c.export.host_identity && c.export.instance.is_none());
        assert_eq!(c.export.statsd, None);
        let c = Config::from_toml(
            "[export]\nstatsd = \"[::1]:9125\"\nstatsd_prefix = \"app\"\ninstance = \"db-1\"\n",
        )
        .unwrap();
        assert_eq!(c.export.statsd.as_deref(), Some("[::1]:9125"));
        assert_eq!(c.export.instance.as_deref(), Some("db-1"));
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
            let e = Config::from_toml(text).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn history_keys_accept_units_and_numbers() {
        let c = Config::default();
        assert!(c.history.enabled);
        assert_eq!(c.history.dir(), Some(std::path::Path::new("data")));
        let c = Config::from_toml(
            "[history]\nretention = \"1h30m\"\nmax_bytes = \"64MiB\"\nstorage_path = \"\"\n",
        )
        .unwrap();
        assert_eq!(c.history.retention, Duration::from_secs(5400));
        assert_eq!(c.history.max_bytes, 64 << 20);
        assert_eq!(c.history.dir(), None);
        let c = Config::from_toml("[history]\nretention = 600\nmax_bytes = 2097152\n").unwrap();
        assert_eq!(c.history.retention, Duration::from_secs(600));
        assert_eq!(c.history.max_bytes, 2 << 20);
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
            let e = Config::from_toml(text).unwrap_err();
            assert!(e.contains(key) && e.contains(line), "{text}: {e}");
        }
        let e = Config::from_toml("[history]\nmax_bytes = 1000\n").unwrap_err();
        assert!(e.contains("history.max_bytes"), "{e}");
        let e = Config::from_toml("[history]\nretention = 0\n").unwrap_err();
        assert!(e.contains("history.retention"), "{e}");
    }

    #[test]
    fn alerting_and_dashboard_keys() {
        let c = Config::default();
        assert!(c.dashboard.enabled && c.alerting.rule_files.is_empty());
        assert_eq!(c.alerting.evaluation_interval, Duration::from_secs(60));
        assert!(c.alerting.console(), "no Alertmanager: alerts go to stderr");
        let mut c = Config::from_toml(
            "[alerting]\nrule_files = [\"a.yml\", \"/etc/b.yml\"]\nalertmanager_url = \"http://127.0.0.1:9093\"\nevaluation_interval = \"15s\"\n[dashboard]\nenabled = false\n",
        )
        .unwrap();
        assert!(!c.dashboard.enabled && !c.alerting.console());
        assert_eq!(c.alerting.evaluation_interval, Duration::from_secs(15));
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
            let e = Config::from_toml(text).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
