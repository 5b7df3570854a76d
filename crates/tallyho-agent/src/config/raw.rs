//! The first stage of the configuration: what the file, the environment and the flags
//! say, as written (strings stay strings, `""` means "off"). Nothing here is checked
//! beyond the TOML grammar and the unit suffixes; [`Settings::from_raw`] checks it all, once.
//!
//! [`Settings::from_raw`]: super::Settings::from_raw

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::units;

/// Everything the agent can be told, before it is checked. Unknown keys in the file are
/// errors.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    /// Address of `/metrics` and `/health`.
    pub listen: String,
    /// StatsD UDP address; empty to disable.
    pub statsd: String,
    /// Seconds between collections and pushes.
    pub interval_seconds: f64,
    /// Constant `service` label (and OTLP `service.name`).
    pub service: String,
    /// Most label sets per family before new ones go to its overflow series (0: the
    /// registry's default).
    pub cardinality_limit: usize,
    /// `[labels]`: constant labels on every series the agent serves and pushes.
    pub labels: std::collections::BTreeMap<String, String>,
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
    /// Where the top-level values came from when not the file, so that errors name the
    /// variable or flag the user wrote.
    #[serde(skip)]
    pub origin: Origin,
}

/// The environment variable or flag that set a top-level value (`None`: the file or the
/// default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origin {
    /// `listen`'s source.
    pub listen: Option<&'static str>,
    /// `statsd`'s source.
    pub statsd: Option<&'static str>,
    /// `interval_seconds`' source.
    pub interval_seconds: Option<&'static str>,
    /// `history.storage_path`'s source.
    pub storage_path: Option<&'static str>,
    /// `OTEL_METRIC_EXPORT_INTERVAL` did not parse: the error, reported unless a flag
    /// sets the interval over it.
    pub interval_error: Option<String>,
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
    /// `/metrics` and API requests per second per client address, beyond which the
    /// endpoint answers 429 (0: no limit).
    pub rate_limit: f64,
    /// PEM certificate the endpoint serves https with (with `tls_key_file`), reread when
    /// it changes. Relative TLS paths are relative to the configuration file's directory.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM key of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA whose client certificates the endpoint requires (mutual TLS).
    pub tls_client_ca_file: Option<PathBuf>,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            max_connections: 1024,
            header_timeout_seconds: 10.0,
            shutdown_timeout_seconds: 5.0,
            health_requires_auth: false,
            health_rate_limit: 10.0,
            rate_limit: 0.0,
            tls_cert_file: None,
            tls_key_file: None,
            tls_client_ca_file: None,
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
    /// A series (name and tag values) no line updated for this long stops being exported
    /// and frees its memory (`"5m"`, or seconds; `"0"` keeps series for ever).
    #[serde(deserialize_with = "series_ttl")]
    pub series_ttl: Duration,
    /// Tag keys kept (label form, after sanitising); empty keeps every key.
    pub allowed_tags: Vec<String>,
    /// What a tag outside `allowed_tags` does: `"drop"` (the tag) or `"refuse"` (the line).
    pub disallowed_tags: String,
    /// Longest tag value in bytes; longer ones are cut (0: no cap).
    pub max_tag_value_length: usize,
    /// Put before every StatsD name with a `.` (`"app"`: `app_<name>`); empty for none.
    pub prefix: String,
}

impl Default for StatsdInput {
    fn default() -> Self {
        StatsdInput {
            max_families: 10_000,
            max_sets: 1_000,
            recv_buffer_bytes: 8 << 20,
            series_ttl: Duration::from_secs(300),
            allowed_tags: Vec::new(),
            disallowed_tags: "drop".into(),
            max_tag_value_length: 0,
            prefix: String::new(),
        }
    }
}

fn series_ttl<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let raw = Raw::deserialize(d)?;
    units::parse_duration(&raw.0)
        .map_err(|e| de::Error::custom(format!("statsd_input.series_ttl: {e}")))
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
    /// The agent's own cgroup v2: CPU, memory, I/O and pids.
    pub cgroups: bool,
    /// A directory whose child cgroups are reported too (`/sys/fs/cgroup/system.slice`);
    /// empty for none.
    pub cgroup_children: String,
    /// Most child cgroups reported.
    pub max_cgroups: usize,
    /// Docker's data directory, for container names; empty for none.
    pub docker_root: String,
    /// Per-collector intervals (`filesystem = "5m"`), as written.
    pub intervals: BTreeMap<String, toml::Value>,
    /// NVIDIA GPUs through NVML (when the driver is there).
    pub gpu: bool,
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
    /// JSON and CSV files hold each period's changes instead of totals.
    pub files_delta: bool,
    /// The console table goes to the log (info, target `tallyho::console`) instead of
    /// standard output; turns the console on.
    pub console_to_log: bool,
    /// OTLP/HTTP base endpoint (`http://127.0.0.1:4318`).
    pub otlp_endpoint: Option<String>,
    /// Prometheus remote-write URL.
    pub remote_write_url: Option<String>,
    /// Pushgateway base URL.
    pub pushgateway_url: Option<String>,
    /// PEM CA file the HTTP exporters trust beside the public roots (`https://` URLs).
    /// Relative TLS paths are relative to the directory of the configuration file.
    pub tls_ca_file: Option<PathBuf>,
    /// PEM client certificate the HTTP exporters present (mutual TLS).
    pub tls_client_cert_file: Option<PathBuf>,
    /// PEM key of `tls_client_cert_file`.
    pub tls_client_key_file: Option<PathBuf>,
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
            files_delta: false,
            console_to_log: false,
            otlp_endpoint: None,
            remote_write_url: None,
            pushgateway_url: None,
            tls_ca_file: None,
            tls_client_cert_file: None,
            tls_client_key_file: None,
            statsd: None,
            statsd_prefix: String::new(),
            statsd_dogstatsd_tags: false,
            statsd_max_datagram: tallyho_export::statsd::DEFAULT_MAX_DATAGRAM,
            host_identity: true,
            instance: None,
        }
    }
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            listen: "127.0.0.1:9464".into(),
            statsd: "127.0.0.1:8125".into(),
            interval_seconds: 15.0,
            service: "tallyho".into(),
            cardinality_limit: 0,
            labels: std::collections::BTreeMap::new(),
            host: Host::default(),
            auth: Auth::default(),
            export: Export::default(),
            history: History::default(),
            alerting: Alerting::default(),
            dashboard: Dashboard::default(),
            http: Http::default(),
            statsd_input: StatsdInput::default(),
            origin: Origin::default(),
        }
    }
}

impl Default for Host {
    fn default() -> Self {
        Host {
            enabled: true,
            naming: "otel".into(),
            root: PathBuf::from("/"),
            cgroups: true,
            cgroup_children: String::new(),
            max_cgroups: 100,
            docker_root: "/var/lib/docker".into(),
            intervals: BTreeMap::new(),
            gpu: true,
        }
    }
}

/// What the command line sets; `None` leaves the lower layers' value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flags {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--statsd` (`""` turns StatsD off).
    pub statsd: Option<String>,
    /// `--interval`, in seconds.
    pub interval: Option<f64>,
}

impl RawConfig {
    /// Parses a TOML file's text. Values are checked later, by
    /// [`Settings::from_raw`](super::Settings::from_raw).
    ///
    /// # Errors
    /// A message with the line, column and key at fault (TOML syntax, an unknown key, a
    /// value of the wrong type or with a bad unit).
    pub fn from_toml(text: &str) -> Result<RawConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Applies the environment, looked up through `env` (empty values count as unset):
    /// `OTEL_SERVICE_NAME`, `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds), `TALLYHO_LISTEN`,
    /// `TALLYHO_STATSD`, `TALLYHO_STORAGE_PATH` (set but empty: memory only). The OTLP
    /// endpoint variables are left to the OTLP exporter, which applies the specification's
    /// precedence (see [`Settings`](super::Settings)).
    ///
    /// A value that does not parse is kept as an error in [`Origin`], reported by
    /// [`Settings::from_raw`](super::Settings::from_raw) unless a flag overrides it.
    pub fn apply_env(&mut self, env: &super::Env) {
        let var = |k: &str| env(k).filter(|v| !v.is_empty());
        if let Some(v) = var("OTEL_SERVICE_NAME") {
            self.service = v;
        }
        if let Some(v) = var("OTEL_METRIC_EXPORT_INTERVAL") {
            match v.trim().parse::<f64>() {
                Ok(ms) => self.interval_seconds = ms / 1000.0,
                Err(_) => {
                    self.origin.interval_error = Some(format!(
                        "OTEL_METRIC_EXPORT_INTERVAL = {v:?}: must be a number of milliseconds"
                    ))
                }
            }
            self.origin.interval_seconds = Some("OTEL_METRIC_EXPORT_INTERVAL");
        }
        if let Some(v) = var("TALLYHO_LISTEN") {
            self.listen = v;
            self.origin.listen = Some("TALLYHO_LISTEN");
        }
        if let Some(v) = var("TALLYHO_STATSD") {
            self.statsd = v;
            self.origin.statsd = Some("TALLYHO_STATSD");
        }
        if let Some(v) = env("TALLYHO_STORAGE_PATH") {
            self.history.storage_path = PathBuf::from(v);
            self.origin.storage_path = Some("TALLYHO_STORAGE_PATH");
        }
    }

    /// Applies the command line, which wins over everything else.
    pub fn apply_flags(&mut self, flags: &Flags) {
        if let Some(v) = &flags.listen {
            self.listen = v.clone();
            self.origin.listen = Some("--listen");
        }
        if let Some(v) = &flags.statsd {
            self.statsd = v.clone();
            self.origin.statsd = Some("--statsd");
        }
        if let Some(v) = flags.interval {
            self.interval_seconds = v;
            self.origin.interval_seconds = Some("--interval");
            self.origin.interval_error = None;
        }
    }

    /// Makes relative `alerting.rule_files`, `export.tls_*` and `http.tls_*` files relative
    /// to `base` (the configuration file's directory), as Prometheus does with the paths in
    /// its own.
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        let (e, h) = (&mut self.export, &mut self.http);
        let tls = [
            &mut e.tls_ca_file,
            &mut e.tls_client_cert_file,
            &mut e.tls_client_key_file,
            &mut h.tls_cert_file,
            &mut h.tls_key_file,
            &mut h.tls_client_ca_file,
        ];
        let files = self
            .alerting
            .rule_files
            .iter_mut()
            .chain(tls.into_iter().flatten());
        for f in files {
            // An empty path stays empty, for the check that refuses it by name.
            if f.is_relative() && !f.as_os_str().is_empty() {
                *f = base.join(&*f);
            }
        }
    }
}
