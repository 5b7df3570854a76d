//! `[export]` checked into typed settings: where the agent pushes, and as whom.

use std::path::PathBuf;

use super::checks::{check_host_port, check_url, feeds_itself};
use super::raw::RawConfig;
use super::tls::TlsFiles;
use super::Env;

/// `[export]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSettings {
    /// Print a table every interval.
    pub console: bool,
    /// Directory for JSON files.
    pub json_dir: Option<PathBuf>,
    /// Directory for CSV files.
    pub csv_dir: Option<PathBuf>,
    /// Files kept per directory (the file's 0 means the default, 100).
    pub keep_files: usize,
    /// Files hold each period's changes.
    pub files_delta: bool,
    /// The console table goes to the log.
    pub console_to_log: bool,
    /// OTLP/HTTP, on when the file or the environment names an endpoint.
    pub otlp: Option<OtlpSettings>,
    /// Prometheus remote-write URL.
    pub remote_write_url: Option<String>,
    /// Pushgateway base URL.
    pub pushgateway_url: Option<String>,
    /// The TLS files of remote write and the Pushgateway.
    pub tls: TlsFiles,
    /// StatsD out.
    pub statsd: Option<StatsdOut>,
    /// Who the pushes say they come from.
    pub identity: Identity,
}

/// OTLP/HTTP out.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpSettings {
    /// The file's `export.otlp_endpoint`, used only when neither
    /// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` nor `OTEL_EXPORTER_OTLP_ENDPOINT` is set:
    /// the environment is above the file, and the metrics-specific variable above the
    /// general one (the exporter applies that order).
    pub file_endpoint: Option<String>,
    /// The file's TLS files, less those whose `OTEL_EXPORTER_OTLP_[METRICS_]*` variable
    /// is set (the environment is above the file here too).
    pub file_tls: TlsFiles,
}

/// StatsD out.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsdOut {
    /// `host:port` (resolved when the exporter is built).
    pub target: String,
    /// Put before every name, with a dot.
    pub prefix: String,
    /// Labels as DogStatsD tags instead of folded into names.
    pub dogstatsd_tags: bool,
    /// Largest datagram (64 to 65,507 bytes).
    pub max_datagram: usize,
}

/// Who the pushes say they come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Identity {
    /// No instance or host name.
    Off,
    /// The host's name.
    Host,
    /// This name instead of the host's.
    Named(String),
}

pub(super) fn export(raw: &RawConfig, env: &Env) -> Result<ExportSettings, String> {
    let e = &raw.export;
    for (key, url) in [
        ("export.otlp_endpoint", &e.otlp_endpoint),
        ("export.remote_write_url", &e.remote_write_url),
        ("export.pushgateway_url", &e.pushgateway_url),
    ] {
        if let Some(url) = url {
            check_url(key, url)?;
        }
    }
    // Checked even without a target: a bad value is a mistake wherever it is.
    if let Some(c) = e
        .statsd_prefix
        .chars()
        .find(|c| matches!(c, ':' | '|' | '@' | '#' | ',') || c.is_whitespace() || c.is_control())
    {
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
    let statsd = match &e.statsd {
        None => None,
        Some(target) => {
            check_host_port("export.statsd", target)?;
            if feeds_itself(&raw.statsd, target) {
                return Err(format!(
                    "export.statsd = {target:?}: is this agent's own StatsD listener (statsd = {:?}); it would ingest its own output",
                    raw.statsd
                ));
            }
            Some(StatsdOut {
                target: target.clone(),
                prefix: e.statsd_prefix.clone(),
                dogstatsd_tags: e.statsd_dogstatsd_tags,
                max_datagram: e.statsd_max_datagram,
            })
        }
    };
    let identity = match (&e.instance, e.host_identity) {
        (Some(i), _) if i.trim().is_empty() => {
            return Err(format!(
                "export.instance = {i:?}: must not be empty (leave it out for the host name)"
            ))
        }
        (Some(_), false) => {
            return Err(
                "export.instance needs export.host_identity = true (false sends no instance)"
                    .into(),
            )
        }
        (Some(i), true) => Identity::Named(i.clone()),
        (None, true) => Identity::Host,
        (None, false) => Identity::Off,
    };
    let env_endpoint = [
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .any(|k| env(k).is_some_and(|v| !v.is_empty()));
    // OTEL_METRICS_EXPORTER, when set, decides the OpenTelemetry exporters over the file:
    // `otlp` sends even without an endpoint (to the specification's default), `console`
    // prints, `none` turns both off; `prometheus` is the agent's own /metrics, always on.
    // Unset, the agent sends OTLP only where an endpoint is configured.
    let chosen = tallyho_export::MetricsExporters::from_env_with(|k| env(k))?;
    let otlp_on = chosen.map_or(e.otlp_endpoint.is_some() || env_endpoint, |c| c.otlp);
    let console = chosen.map_or(e.console, |c| c.console);
    let tls = super::tls::export_files(e)?;
    // For OTLP a file is used only where its variable (either form) is unset.
    let env_sets = |what: &str| {
        [
            format!("OTEL_EXPORTER_OTLP_METRICS_{what}"),
            format!("OTEL_EXPORTER_OTLP_{what}"),
        ]
        .iter()
        .any(|k| env(k).is_some_and(|v| !v.trim().is_empty()))
    };
    let otlp = otlp_on.then(|| OtlpSettings {
        file_endpoint: if env_endpoint {
            None
        } else {
            e.otlp_endpoint.clone()
        },
        file_tls: TlsFiles {
            ca: tls.ca.clone().filter(|_| !env_sets("CERTIFICATE")),
            cert: tls.cert.clone().filter(|_| !env_sets("CLIENT_CERTIFICATE")),
            key: tls.key.clone().filter(|_| !env_sets("CLIENT_KEY")),
        },
    });
    if tls != TlsFiles::default()
        && otlp.is_none()
        && e.remote_write_url.is_none()
        && e.pushgateway_url.is_none()
    {
        return Err("export.tls_* files are set but no HTTP exporter is on \
                    (export.otlp_endpoint, export.remote_write_url, export.pushgateway_url)"
            .into());
    }
    Ok(ExportSettings {
        console,
        json_dir: e.json_dir.clone(),
        csv_dir: e.csv_dir.clone(),
        keep_files: if e.keep_files == 0 { 100 } else { e.keep_files },
        files_delta: e.files_delta,
        console_to_log: e.console_to_log,
        otlp,
        remote_write_url: e.remote_write_url.clone(),
        pushgateway_url: e.pushgateway_url.clone(),
        tls,
        statsd,
        identity,
    })
}
