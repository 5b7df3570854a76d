//! The Prometheus Pushgateway: each batch pushed as Prometheus text to one *group*, for
//! batch jobs that end before any scrape and for programs behind a firewall.
//!
//! # The request
//!
//! A group is a job name and optional *grouping labels*; its URL is
//!
//! ```text
//! <base>/metrics/job/<job>{/<label name>/<label value>}
//! ```
//!
//! Names and values are percent-encoded (every byte outside `A-Z a-z 0-9 - . _ ~`). A value
//! that holds a `/`, or is empty, cannot travel that way (the Pushgateway splits the decoded
//! path on `/`; `.` and `..` would be taken as path steps), so it is sent in the
//! Pushgateway's base64 form instead: `@base64` after the
//! name and the value base64url-encoded (RFC 4648 URL-safe alphabet, no padding; `=` for an
//! empty value). A job with a `/` likewise goes as `/metrics/job@base64/<encoded>`:
//!
//! ```text
//! job "nightly", instance "db-1", path "/var/tmp"
//!   → /metrics/job/nightly/instance/db-1/path@base64/L3Zhci90bXA
//! ```
//!
//! Unless a grouping label `instance` is given or
//! [`host_identity(false)`](PushgatewayBuilder::host_identity) is set, the group also has
//! `instance` = the host name (the kernel's), right after the job:
//! `/metrics/job/<job>/instance/<host>`. Two hosts pushing the same job then keep groups of
//! their own instead of replacing each other's metrics. (Before this the group was the job
//! alone, `instance=""`; a program upgraded to this version pushes to a new group, and the
//! old one stays on the Pushgateway until deleted.)
//!
//! The body is the batch's snapshot in Prometheus text format 0.0.4
//! ([`tallyho_encode::prometheus`]), sent with its content type. The Pushgateway adds the
//! grouping labels (and `job`) to every pushed series.
//!
//! [`PushMethod::Put`] (the default) replaces every metric of the group with the pushed ones,
//! so metrics that stopped being reported disappear; [`PushMethod::Post`] replaces only the
//! metric families present in the push and keeps the group's others.
//! [`PushgatewayExporter::delete`] removes the group.
//!
//! The exporter is always cumulative: the Pushgateway keeps the last push and serves it to
//! Prometheus like a scrape.
//!
//! # Errors
//!
//! The Pushgateway has no retry specification of its own; it follows the remote write
//! specification's rule: connection failures, timeouts, HTTP 5xx and 429 are
//! [retryable](ExportError::Retryable); other statuses outside 2xx (400 for metrics inconsistent with those in other groups, 401
//! for wrong credentials, ...) are [permanent](ExportError::Permanent), with the status and
//! the start of the response body. `https://` URLs go over TLS (rustls; a private CA and a
//! client certificate with [`PushgatewayBuilder::tls`]); credentials in the URL are sent
//! as basic auth and never shown.
//!
//! ```no_run
//! use std::time::Duration;
//! use tallyho::Registry;
//! use tallyho_export::pushgateway::{PushMethod, PushgatewayExporter};
//! use tallyho_export::Pipeline;
//!
//! let registry = Registry::new();
//! let rows = registry.counter("rows_loaded", "Rows loaded.")?;
//! let exporter = PushgatewayExporter::builder()
//!     .url("http://127.0.0.1:9091")
//!     .job("nightly_import")
//!     .grouping_label("instance", "db-1")
//!     .method(PushMethod::Put)
//!     .build()?;
//! let pipeline = Pipeline::builder(registry).exporter(exporter).start()?;
//! rows.add(1200);
//! pipeline.shutdown(Duration::from_secs(10)); // pushes the final totals
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::Duration;

use base64::Engine as _;

use crate::exporter::{Batch, ExportError, Exporter, FailureReason, Temporality};
use crate::http::{self, Protocol, RetryRule, Transport};

pub use crate::BuildError;

/// The exporter's name, in logs, errors and the pipeline's self-metrics.
const NAME: &str = "pushgateway";

/// What the Pushgateway asks of the transport.
const PROTOCOL: Protocol = Protocol {
    name: NAME,
    retry: RetryRule::PUSHGATEWAY,
    detail: http::text_detail,
};

/// The timeout used when none is set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How a push treats the metrics already in the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PushMethod {
    /// `PUT`: the push replaces every metric of the group.
    #[default]
    Put,
    /// `POST`: the push replaces only the metric families it carries.
    Post,
}

impl PushMethod {
    /// The HTTP method.
    pub fn as_str(self) -> &'static str {
        match self {
            PushMethod::Put => "PUT",
            PushMethod::Post => "POST",
        }
    }
}

/// Settings for a [`PushgatewayExporter`].
#[derive(Clone)]
pub struct PushgatewayBuilder {
    url: Option<String>,
    job: Option<String>,
    grouping: Vec<(String, String)>,
    method: PushMethod,
    headers: Vec<(String, String)>,
    timeout: Duration,
    tls: crate::TlsConfig,
    host_identity: bool,
}

impl std::fmt::Debug for PushgatewayBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushgatewayBuilder")
            .field("url", &self.url.as_deref().map(http::redact))
            .field("job", &self.job)
            .field("grouping", &self.grouping)
            .field("method", &self.method)
            .field("headers", &http::header_names(&self.headers))
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .field("host_identity", &self.host_identity)
            .finish()
    }
}

/// Pushes each batch to a Pushgateway group. See the [module docs](self).
pub struct PushgatewayExporter {
    transport: Transport,
    method: PushMethod,
    body: Vec<u8>,
}

impl std::fmt::Debug for PushgatewayExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushgatewayExporter")
            .field("url", &self.transport.shown_url())
            .field("method", &self.method)
            .field("headers", &self.transport.header_names())
            .finish_non_exhaustive()
    }
}

impl PushgatewayExporter {
    /// Settings for an exporter; [`url`](PushgatewayBuilder::url) and
    /// [`job`](PushgatewayBuilder::job) are required.
    pub fn builder() -> PushgatewayBuilder {
        PushgatewayBuilder {
            url: None,
            job: None,
            grouping: Vec::new(),
            method: PushMethod::Put,
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            tls: crate::TlsConfig::new(),
            host_identity: true,
        }
    }

    /// The group's URL, where pushes go.
    pub fn url(&self) -> &str {
        self.transport.url()
    }

    /// Deletes the group and all its metrics from the Pushgateway.
    ///
    /// # Errors
    /// As [`export`](Exporter::export).
    pub fn delete(&self) -> Result<(), ExportError> {
        self.transport.send("DELETE", &[], None).map(drop)
    }
}

impl PushgatewayBuilder {
    /// The Pushgateway's base URL, such as `http://127.0.0.1:9091` (required). A path is
    /// kept (for a Pushgateway behind a prefix); a trailing `/` is not.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// The job name, the first part of the group (required).
    pub fn job(mut self, job: impl Into<String>) -> Self {
        self.job = Some(job.into());
        self
    }

    /// Adds a grouping label (`instance`, ...); call once per label. Order is kept in the
    /// URL; the Pushgateway does not care about it.
    pub fn grouping_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.grouping.push((name.into(), value.into()));
        self
    }

    /// Whether the group has `instance` = the host name when no `instance` grouping label
    /// is given (default `true`).
    pub fn host_identity(mut self, on: bool) -> Self {
        self.host_identity = on;
        self
    }

    /// `PUT` (the default) or `POST`.
    pub fn method(mut self, method: PushMethod) -> Self {
        self.method = method;
        self
    }

    http::builder_methods!();

    /// Checks the settings and makes the exporter.
    ///
    /// # Errors
    /// No URL or job, a URL that does not parse or is not `http`/`https`, a TLS file that
    /// cannot be read or used, a bad header or grouping
    /// label name, a zero timeout.
    pub fn build(self) -> Result<PushgatewayExporter, BuildError> {
        let base = self.url.ok_or(BuildError::MissingUrl)?;
        let job = self
            .job
            .filter(|j| !j.is_empty())
            .ok_or(BuildError::MissingJob)?;
        check_grouping(&self.grouping)?;
        // The base URL is checked as given, so the error shows what the user wrote.
        http::check_url(&base)?;
        let has_instance = self.grouping.iter().any(|(n, _)| n == "instance");
        let host = (self.host_identity && !has_instance)
            .then(crate::env::hostname)
            .flatten();
        let pairs: Vec<(&str, &str)> = host
            .iter()
            .map(|h| ("instance", h.as_str()))
            .chain(self.grouping.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .collect();
        let url = format!("{}{}", base.trim_end_matches('/'), group_path(&job, &pairs));
        Ok(PushgatewayExporter {
            transport: Transport::new(PROTOCOL, url, &self.headers, self.timeout, &self.tls)?,
            method: self.method,
            body: Vec::new(),
        })
    }
}

impl Exporter for PushgatewayExporter {
    fn name(&self) -> &str {
        NAME
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }

    fn export(&mut self, batch: &Batch) -> Result<(), ExportError> {
        self.body.clear();
        tallyho_encode::prometheus::encode(&mut self.body, &batch.snapshot).map_err(|e| {
            ExportError::permanent(NAME, format!("encoding failed: {e}"))
                .with_reason(FailureReason::Encoding)
        })?;
        let content_type = [("Content-Type", tallyho_encode::prometheus::CONTENT_TYPE)];
        self.transport
            .send(self.method.as_str(), &content_type, Some(&self.body))
            .map(drop)
    }
}

/// The path of a group, from `/metrics/job/` on: `job` and each `(name, value)` encoded as
/// described in the [module docs](self).
///
/// ```
/// use tallyho_export::pushgateway::group_path;
///
/// assert_eq!(
///     group_path("nightly", &[("instance", "db 1"), ("path", "/var/tmp"), ("empty", "")]),
///     "/metrics/job/nightly/instance/db%201/path@base64/L3Zhci90bXA/empty@base64/=",
/// );
/// assert_eq!(group_path("a/b", &[]), "/metrics/job@base64/YS9i");
/// ```
pub fn group_path(job: &str, labels: &[(&str, &str)]) -> String {
    let mut path = String::from("/metrics");
    push_pair(&mut path, "job", job);
    for (name, value) in labels {
        push_pair(&mut path, name, value);
    }
    path
}

fn push_pair(path: &mut String, name: &str, value: &str) {
    path.push('/');
    percent_encode(path, name);
    if value.is_empty() {
        path.push_str("@base64/=");
    } else if value.contains('/') || value == "." || value == ".." {
        path.push_str("@base64/");
        path.push_str(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value));
    } else {
        path.push('/');
        percent_encode(path, value);
    }
}

fn percent_encode(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        }
    }
}

/// Checks the grouping label names: each a label name by the shared rule
/// ([`tallyho_names::label_name`]: `[a-zA-Z_][a-zA-Z0-9_]*`, not `__`-prefixed, not `le`,
/// `quantile` or `otel_metric_overflow`, which the Pushgateway would add to every pushed
/// series), not `job` (the group's first part), and none twice.
fn check_grouping(grouping: &[(String, String)]) -> Result<(), BuildError> {
    for (i, (name, _)) in grouping.iter().enumerate() {
        let repeated = grouping[..i].iter().any(|(n, _)| n == name);
        if tallyho_names::label_name(name).is_err() || name == "job" || repeated {
            return Err(BuildError::InvalidLabel(name.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grouping(names: &[&str]) -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| ((*n).to_owned(), "v".to_owned()))
            .collect()
    }

    #[test]
    fn grouping_label_names() {
        assert_eq!(check_grouping(&grouping(&[])), Ok(()));
        assert_eq!(
            check_grouping(&grouping(&["instance", "run_1", "_x"])),
            Ok(())
        );
        for bad in [
            "job",
            "__x",
            "1a",
            "a-b",
            "",
            "le",
            "quantile",
            "otel_metric_overflow",
        ] {
            assert_eq!(
                check_grouping(&grouping(&["ok", bad])),
                Err(BuildError::InvalidLabel(bad.to_owned())),
                "{bad}"
            );
        }
        assert_eq!(
            check_grouping(&grouping(&["a", "b", "a"])),
            Err(BuildError::InvalidLabel("a".to_owned()))
        );
    }
}
