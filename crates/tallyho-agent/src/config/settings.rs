//! The second stage: one validated, typed [`Settings`] made from a [`RawConfig`], checked
//! once. Addresses are `SocketAddr`s, durations `Duration`s, choices enums, and "off" is
//! `None`. Whatever [`Settings::from_raw`] accepts, `serve` runs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tallyho_http::{Auth, RateLimit};

use super::checks::{check_seconds, check_url};
use super::export::ExportSettings;
use super::raw::{RawConfig, StatsdInput, MAX_INTERVAL_SECONDS};
use super::tls::HttpTls;
use super::Env;

/// What the agent runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Address of `/metrics`, `/health`, `/api/v1/` and the dashboard.
    pub listen: SocketAddr,
    /// StatsD UDP address (`None`: no StatsD input).
    pub statsd: Option<SocketAddr>,
    /// Time between collections and pushes (1 ms to a day).
    pub interval: Duration,
    /// Constant `service` label (and OTLP `service.name` default, `job` when pushing).
    pub service: String,
    /// Host and process collection (`None`: off).
    pub host: Option<HostSettings>,
    /// Credentials `/metrics` asks for, from `[auth]` or the environment (never both).
    pub auth: Auth,
    /// Push targets.
    pub export: ExportSettings,
    /// The embedded history (`None`: off).
    pub history: Option<HistorySettings>,
    /// Rules over the history.
    pub alerting: AlertingSettings,
    /// Serve the dashboard at `/`.
    pub dashboard: bool,
    /// Limits of the HTTP endpoint.
    pub http: HttpSettings,
    /// Bounds and socket settings of the StatsD listener.
    pub statsd_input: StatsdInput,
    /// Constant labels (`[labels]`), checked as label names, beside `service`.
    pub labels: Vec<(String, String)>,
    /// Most label sets per family (`None`: the registry's default).
    pub cardinality_limit: Option<usize>,
}

/// `[host]`, when on.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSettings {
    /// Which names the host metrics get.
    pub naming: tallyho_host::Naming,
    /// Root of /proc and /sys.
    pub root: PathBuf,
    /// Report the agent's own cgroup v2.
    pub cgroups: bool,
    /// A directory whose child cgroups are reported too.
    pub cgroup_children: Option<PathBuf>,
    /// Most child cgroups reported (1 to 10000).
    pub max_cgroups: usize,
    /// Docker's data directory (absolute), for container names.
    pub docker_root: Option<PathBuf>,
    /// Collectors read at most once per interval.
    pub intervals: BTreeMap<tallyho_host::Group, Duration>,
    /// Read NVIDIA GPUs through NVML.
    pub gpu: bool,
}

impl HostSettings {
    /// The host collector's configuration.
    pub fn host_config(&self) -> tallyho_host::HostConfig {
        tallyho_host::HostConfig {
            cgroup: self.cgroups,
            cgroup_children: self.cgroup_children.clone(),
            cgroup_limit: self.max_cgroups,
            docker_root: self.docker_root.clone(),
            intervals: self.intervals.clone(),
            gpu: self.gpu,
            ..tallyho_host::HostConfig::default()
                .with_root(self.root.clone())
                .with_naming(self.naming)
        }
    }
}

/// `[history]`, when on.
#[derive(Debug, Clone, PartialEq)]
pub struct HistorySettings {
    /// How long samples are kept.
    pub retention: Duration,
    /// Most bytes kept in memory and on disk together (at least 1 MiB).
    pub max_bytes: u64,
    /// Directory of the WAL and blocks (`None`: memory only).
    pub dir: Option<PathBuf>,
}

/// `[alerting]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertingSettings {
    /// Rule files, relative paths resolved against the configuration file's directory.
    pub rule_files: Vec<PathBuf>,
    /// Alertmanager base URL (checked: `http://` or `https://` with a host).
    pub alertmanager_url: Option<String>,
    /// Print alerts to stderr (default: only without an Alertmanager).
    pub console: bool,
    /// Interval of groups without `interval:` (more than 0, at most a day).
    pub evaluation_interval: Duration,
    /// Answer `POST /-/reload`.
    pub reload_endpoint: bool,
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    /// Connections open at once (1 to 1,000,000).
    pub max_connections: usize,
    /// Time a client may take to send a request's headers (0.1 s to an hour).
    pub header_timeout: Duration,
    /// Time shutdown waits for requests in flight (up to 10 minutes).
    pub shutdown_timeout: Duration,
    /// Whether `/health` needs the credentials too.
    pub health_requires_auth: bool,
    /// `/health` answers per second, all clients together (`None`: no limit).
    pub health_rate_limit: Option<RateLimit>,
    /// Requests per second per client (`None`: no limit).
    pub rate_limit: Option<RateLimit>,
    /// https for the endpoint (`None`: plain http).
    pub tls: Option<HttpTls>,
}

impl Settings {
    /// Checks every value once and makes the typed settings. `env` is the environment the
    /// raw configuration was read with (credentials and the OTLP endpoints come from it).
    ///
    /// # Errors
    /// One message naming the key (or the variable or flag that set it) and what is
    /// allowed.
    pub fn from_raw(raw: &RawConfig, env: &Env) -> Result<Settings, String> {
        let key = |name: &'static str, origin: Option<&'static str>| origin.unwrap_or(name);
        // The registry reads `true` (any case) and takes anything else for `false`: a
        // typo must not leave the agent recording when it was meant to be off.
        if let Some(v) = env("OTEL_SDK_DISABLED").filter(|v| !v.trim().is_empty()) {
            let t = v.trim();
            if !t.eq_ignore_ascii_case("true") && !t.eq_ignore_ascii_case("false") {
                return Err(format!("OTEL_SDK_DISABLED = {v:?}: expected true or false"));
            }
        }
        if let Some(e) = &raw.origin.interval_error {
            return Err(e.clone());
        }
        if raw.origin.interval_seconds == Some("OTEL_METRIC_EXPORT_INTERVAL") {
            // Named in the variable's own unit.
            check_seconds("", raw.interval_seconds, 0.001, MAX_INTERVAL_SECONDS).map_err(|_| {
                format!(
                    "OTEL_METRIC_EXPORT_INTERVAL = {:?}: must be between 1 and {} milliseconds",
                    raw.interval_seconds * 1000.0,
                    MAX_INTERVAL_SECONDS * 1000.0
                )
            })?;
        }
        check_seconds(
            key("interval_seconds", raw.origin.interval_seconds),
            raw.interval_seconds,
            0.001,
            MAX_INTERVAL_SECONDS,
        )?;
        let interval = seconds(raw.interval_seconds);
        let listen = raw.listen.parse::<SocketAddr>().map_err(|_| {
            format!(
                "{} = {:?}: must be an address like \"127.0.0.1:9464\"",
                key("listen", raw.origin.listen),
                raw.listen
            )
        })?;
        let statsd = if raw.statsd.is_empty() {
            None
        } else {
            Some(raw.statsd.parse::<SocketAddr>().map_err(|_| {
                format!(
                    "{} = {:?}: must be an address like \"127.0.0.1:8125\" or empty",
                    key("statsd", raw.origin.statsd),
                    raw.statsd
                )
            })?)
        };
        let host = host(raw)?;
        let history = history(raw)?;
        let alerting = alerting(raw)?;
        if !alerting.rule_files.is_empty() && history.is_none() {
            return Err(
                "alerting.rule_files needs the history: rules are evaluated over it (set history.enabled = true)"
                    .into(),
            );
        }
        Ok(Settings {
            listen,
            statsd,
            interval,
            service: raw.service.clone(),
            host,
            auth: auth(raw, env)?,
            export: super::export::export(raw, env)?,
            history,
            alerting,
            dashboard: raw.dashboard.enabled,
            http: http(raw)?,
            statsd_input: statsd_input(raw)?,
            labels: super::labels::constant_labels(raw)?,
            cardinality_limit: super::labels::cardinality_limit(raw)?,
        })
    }
}

/// `v` seconds, already checked finite and in range.
fn seconds(v: f64) -> Duration {
    Duration::try_from_secs_f64(v).unwrap_or(Duration::ZERO)
}

fn host(raw: &RawConfig) -> Result<Option<HostSettings>, String> {
    let h = &raw.host;
    let naming = match h.naming.as_str() {
        "otel" => tallyho_host::Naming::Otel,
        "node" => tallyho_host::Naming::Node,
        other => {
            return Err(format!(
                "host.naming = {other:?}: must be \"otel\" or \"node\""
            ))
        }
    };
    if !(1..=10_000).contains(&h.max_cgroups) {
        return Err(format!(
            "host.max_cgroups = {}: must be between 1 and 10000",
            h.max_cgroups
        ));
    }
    let children = PathBuf::from(&h.cgroup_children);
    if children
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(format!(
            "host.cgroup_children = {:?}: must not contain \"..\" (an absolute path like \"/sys/fs/cgroup/system.slice\", or one inside the cgroup hierarchy like \"system.slice\")",
            h.cgroup_children
        ));
    }
    let docker_root = PathBuf::from(&h.docker_root);
    if !h.docker_root.is_empty() && !docker_root.is_absolute() {
        return Err(format!(
            "host.docker_root = {:?}: must be an absolute path like \"/var/lib/docker\", or \"\" for no container names",
            h.docker_root
        ));
    }
    let mut intervals = BTreeMap::new();
    for (name, value) in &h.intervals {
        let key = format!("host.intervals.{name}");
        let group: tallyho_host::Group = name.parse().map_err(|e| format!("{key}: {e}"))?;
        let interval = match value {
            toml::Value::String(s) => crate::units::parse_duration(s),
            toml::Value::Integer(n) => u64::try_from(*n)
                .map(Duration::from_secs)
                .map_err(|_| format!("{n} is negative")),
            toml::Value::Float(f) => {
                Duration::try_from_secs_f64(*f).map_err(|_| format!("{f} is not a duration"))
            }
            other => Err(format!(
                "{other} is not a duration like \"5m\" or a number of seconds"
            )),
        }
        .map_err(|e| format!("{key}: {e}"))?;
        if interval.is_zero() || interval.as_secs_f64() > MAX_INTERVAL_SECONDS {
            return Err(format!(
                "{key}: must be longer than 0 and at most a day, like \"5m\""
            ));
        }
        intervals.insert(group, interval);
    }
    Ok(h.enabled.then(|| HostSettings {
        naming,
        root: h.root.clone(),
        cgroups: h.cgroups,
        cgroup_children: (!h.cgroup_children.is_empty()).then_some(children),
        max_cgroups: h.max_cgroups,
        docker_root: (!h.docker_root.is_empty()).then_some(docker_root),
        intervals,
        gpu: h.gpu,
    }))
}

fn history(raw: &RawConfig) -> Result<Option<HistorySettings>, String> {
    let h = &raw.history;
    if h.retention.is_zero() {
        return Err("history.retention = 0: must be longer than 0, like \"24h\"".into());
    }
    if h.max_bytes < 1 << 20 {
        return Err(format!(
            "history.max_bytes = {}: must be at least 1MiB",
            h.max_bytes
        ));
    }
    Ok(h.enabled.then(|| HistorySettings {
        retention: h.retention,
        max_bytes: h.max_bytes,
        dir: (!h.storage_path.as_os_str().is_empty()).then(|| h.storage_path.clone()),
    }))
}

fn alerting(raw: &RawConfig) -> Result<AlertingSettings, String> {
    let a = &raw.alerting;
    if a.evaluation_interval.is_zero() || a.evaluation_interval.as_secs_f64() > MAX_INTERVAL_SECONDS
    {
        return Err(
            "alerting.evaluation_interval: must be longer than 0 and at most a day, like \"1m\""
                .into(),
        );
    }
    if let Some(url) = &a.alertmanager_url {
        check_url("alerting.alertmanager_url", url)?;
    }
    Ok(AlertingSettings {
        rule_files: a.rule_files.clone(),
        alertmanager_url: a.alertmanager_url.clone(),
        console: a.console.unwrap_or(a.alertmanager_url.is_none()),
        evaluation_interval: a.evaluation_interval,
        reload_endpoint: a.reload_endpoint,
    })
}

/// `[auth]` or the environment's credentials; both set is an error.
fn auth(raw: &RawConfig, env: &Env) -> Result<Auth, String> {
    let a = &raw.auth;
    if a.user.is_empty() != a.password.is_empty() {
        return Err(
            "auth.user and auth.password go together (an empty password is refused)".into(),
        );
    }
    if !a.user.is_empty() && !a.bearer_token.is_empty() {
        return Err("auth: set either user and password or bearer_token, not both".into());
    }
    let from_env = Auth::from_lookup(env)?;
    let from_file = if !a.bearer_token.is_empty() {
        Auth::bearer(a.bearer_token.clone())
    } else if !a.user.is_empty() {
        Auth::basic(a.user.clone(), a.password.clone())
    } else {
        return Ok(from_env);
    };
    if from_env != Auth::None {
        return Err(format!(
            "credentials in both [auth] and the environment ({} or {}): set one",
            tallyho_http::ENV_BASIC,
            tallyho_http::ENV_BEARER
        ));
    }
    Ok(from_file)
}

fn http(raw: &RawConfig) -> Result<HttpSettings, String> {
    let h = &raw.http;
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
    if !(h.rate_limit.is_finite() && h.rate_limit >= 0.0) {
        return Err(format!(
            "http.rate_limit = {}: must be 0 (no limit) or a positive rate per second",
            h.rate_limit
        ));
    }
    if !(h.health_rate_limit.is_finite() && h.health_rate_limit >= 0.0) {
        return Err(format!(
            "http.health_rate_limit = {}: must be 0 (no limit) or a positive rate per second",
            h.health_rate_limit
        ));
    }
    Ok(HttpSettings {
        max_connections: h.max_connections,
        header_timeout: seconds(h.header_timeout_seconds),
        shutdown_timeout: seconds(h.shutdown_timeout_seconds),
        health_requires_auth: h.health_requires_auth,
        health_rate_limit: (h.health_rate_limit > 0.0).then(|| RateLimit {
            per_second: h.health_rate_limit,
            burst: (h.health_rate_limit * 2.0).clamp(1.0, 1000.0) as u32,
        }),
        rate_limit: (h.rate_limit > 0.0).then(|| RateLimit {
            per_second: h.rate_limit,
            burst: (h.rate_limit * 2.0).clamp(1.0, 1000.0) as u32,
        }),
        tls: super::tls::http_files(h)?,
    })
}

fn statsd_input(raw: &RawConfig) -> Result<StatsdInput, String> {
    let s = &raw.statsd_input;
    if !matches!(s.disallowed_tags.as_str(), "drop" | "refuse") {
        return Err(format!(
            "statsd_input.disallowed_tags = {:?}: expected \"drop\" or \"refuse\"",
            s.disallowed_tags
        ));
    }
    for key in &s.allowed_tags {
        if key.is_empty()
            || key.starts_with(|c: char| c.is_ascii_digit())
            || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!(
                "statsd_input.allowed_tags: {key:?} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, as tags become after sanitising)"
            ));
        }
    }
    if !s.prefix.is_empty()
        && (s.prefix.starts_with(|c: char| c.is_ascii_digit())
            || !s
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'))
    {
        return Err(format!(
            "statsd_input.prefix = {:?}: letters, digits, '_' and '.' only, not starting with a digit",
            s.prefix
        ));
    }
    if s.max_families == 0 {
        return Err("statsd_input.max_families = 0: must be at least 1".into());
    }
    if !(4096..=1 << 30).contains(&s.recv_buffer_bytes) {
        return Err(format!(
            "statsd_input.recv_buffer_bytes = {}: must be between 4KiB and 1GiB",
            s.recv_buffer_bytes
        ));
    }
    Ok(s.clone())
}
