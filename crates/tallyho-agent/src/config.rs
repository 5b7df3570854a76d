//! Agent configuration: defaults, then a TOML file, then the environment (OTEL_* and
//! TALLYHO_*), then command-line flags; each later source wins.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

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
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
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
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, `TALLYHO_LISTEN`, `TALLYHO_STATSD`.
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
        self.validate()
    }

    /// Checks values the types cannot.
    ///
    /// # Errors
    /// A message naming the key and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.interval_seconds > 0.0 && self.interval_seconds.is_finite()) {
            return Err(format!(
                "interval_seconds = {}: must be a positive number of seconds",
                self.interval_seconds
            ));
        }
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
            return Err("auth.user and auth.password go together".into());
        }
        Ok(())
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
}
