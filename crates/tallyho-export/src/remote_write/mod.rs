//! Prometheus remote write 1.0: snapshots pushed as snappy-compressed protobuf
//! `WriteRequest`s to Prometheus (`--web.enable-remote-write-receiver`), Mimir, Cortex,
//! Thanos receive, VictoriaMetrics, Grafana Cloud and the like.
//!
//! # The request
//!
//! One HTTP `POST` per batch (more when it holds over
//! [`max_samples_per_request`](RemoteWriteBuilder::max_samples_per_request) samples) to the
//! configured URL, with
//!
//! ```text
//! Content-Encoding: snappy
//! Content-Type: application/x-protobuf
//! X-Prometheus-Remote-Write-Version: 0.1.0
//! User-Agent: tallyho/<version>
//! ```
//!
//! and a body that is the *block* (raw, unframed) snappy compression of a protobuf
//! [`WriteRequest`](proto::WriteRequest), the messages of `prometheus/prompb/remote.proto` and
//! `types.proto` (the ones used are in [`proto`]).
//!
//! # From a snapshot to time series
//!
//! Remote write knows only float samples on label sets, so each series of the snapshot
//! becomes one or more time series, each with one sample stamped with the batch's end
//! (milliseconds since the epoch), the way Prometheus itself would store a scrape of the
//! same numbers:
//!
//! | kind                     | time series                                                      |
//! |--------------------------|------------------------------------------------------------------|
//! | counter                  | `<name>_total`                                                   |
//! | gauge, up-down counter   | `<name>`                                                         |
//! | histogram                | `<name>_bucket{le="…"}` (cumulative, `+Inf` last), `<name>_sum`, `<name>_count` |
//!
//! - The metric name travels as the `__name__` label. Labels are sorted by name (byte
//!   order), as the protocol requires; `__name__` sorts first for any label name that starts
//!   with a lowercase letter or `_`.
//! - `le` is spelled as the Go client spells it in the text format
//!   ([`write_prometheus_le`]): `0.005`, `1`, `1e+06`, `+Inf`, so buckets pushed here and
//!   buckets scraped from the same program land on the same series.
//! - Labels with an empty value are left out: to Prometheus an empty label is no label.
//!   When a series repeats a label name, the first one wins (the generated `__name__` and
//!   `le` come before the series' own labels).
//! - Values are `f64`; integer counters above 2^53 round.
//! - Every series also carries the pusher's identity, as Prometheus' own remote write
//!   sends the `job` and `instance` of the target it scraped: `instance` = the host name
//!   (the kernel's; replace it with [`instance`](RemoteWriteBuilder::instance)) and, when
//!   set with [`job`](RemoteWriteBuilder::job), `job` (the agent sets its service name).
//!   A series that has its own `instance` or `job` label keeps it (as a scrape with
//!   `honor_labels: true` would), and an empty value sends no label.
//!   [`host_identity(false)`](RemoteWriteBuilder::host_identity) leaves `instance` out.
//!   Before this, series carried neither: turning it on starts new series in the receiver
//!   (the old ones end), and two pushers with the same labels no longer overwrite each
//!   other.
//! - Unless turned off with [`metadata`](RemoteWriteBuilder::metadata), the first request of a
//!   batch also carries one `MetricMetadata` per family (type, help, unit), named as the text
//!   format's `# TYPE` line names it (`<name>_total` for counters).
//!
//! The exporter is always cumulative: remote write receivers expect totals.
//!
//! # Errors
//!
//! As the remote write specification says ("Retries & Backoff"): connection failures,
//! timeouts, HTTP 5xx and 429 are [retryable](ExportError::Retryable); any other status
//! outside 2xx (400 for a sample the receiver refuses, 401, 404, ...) is
//! [permanent](ExportError::Permanent), with the status and the start of the response body.
//! Redirects are not followed. `https://` URLs go over TLS (rustls; a private CA and a
//! client certificate with [`RemoteWriteBuilder::tls`]); credentials in the URL are sent as
//! basic auth and never shown in a message.
//!
//! ```no_run
//! use std::time::Duration;
//! use tallyho::Registry;
//! use tallyho_export::remote_write::RemoteWriteExporter;
//! use tallyho_export::Pipeline;
//!
//! let registry = Registry::new();
//! let exporter = RemoteWriteExporter::builder()
//!     .url("http://127.0.0.1:9090/api/v1/write")
//!     .bearer_token("secret")
//!     .header("X-Scope-OrgID", "tenant-1")
//!     .timeout(Duration::from_secs(5))
//!     .build()?;
//! let pipeline = Pipeline::builder(registry.clone())
//!     .interval(Duration::from_secs(15))
//!     .exporter(exporter)
//!     .start()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`write_prometheus_le`]: tallyho_encode::number::write_prometheus_le

use std::time::Duration;

use tallyho_encode::number::unix_millis;

use crate::exporter::{Batch, ExportError, Exporter, Temporality};
use crate::http::{self, Protocol, RetryRule, Transport};

pub use crate::BuildError;

mod mapping;
pub mod proto;

pub use self::mapping::{encode, write_request, write_request_with};

/// The exporter's name, in logs, errors and the pipeline's self-metrics.
const NAME: &str = "remote_write";

/// What remote write asks of the transport.
const PROTOCOL: Protocol = Protocol {
    name: NAME,
    retry: RetryRule::REMOTE_WRITE,
    detail: http::text_detail,
};

/// The timeout used when none is set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most samples per request when none is set (Prometheus' own `max_samples_per_send`).
pub const DEFAULT_MAX_SAMPLES_PER_REQUEST: usize = 2000;

/// Settings for a [`RemoteWriteExporter`].
#[derive(Clone)]
pub struct RemoteWriteBuilder {
    url: Option<String>,
    headers: Vec<(String, String)>,
    timeout: Duration,
    tls: crate::TlsConfig,
    metadata: bool,
    native_histograms: bool,
    max_samples: usize,
    job: Option<String>,
    instance: Option<String>,
    host_identity: bool,
}

impl std::fmt::Debug for RemoteWriteBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers may hold credentials and the URL a password: neither is shown.
        f.debug_struct("RemoteWriteBuilder")
            .field("url", &self.url.as_deref().map(http::redact))
            .field("headers", &http::header_names(&self.headers))
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .field("metadata", &self.metadata)
            .field("native_histograms", &self.native_histograms)
            .field("max_samples", &self.max_samples)
            .field("job", &self.job)
            .field("instance", &self.instance)
            .field("host_identity", &self.host_identity)
            .finish()
    }
}

/// Pushes each batch to a Prometheus remote write endpoint. See the [module docs](self).
pub struct RemoteWriteExporter {
    transport: Transport,
    metadata: bool,
    native_histograms: bool,
    max_samples: usize,
    encoder: snap::raw::Encoder,
    /// `job` and `instance`, sorted by name, added to every series that lacks them.
    target: Vec<proto::Label>,
}

impl std::fmt::Debug for RemoteWriteExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteWriteExporter")
            .field("url", &self.transport.shown_url())
            .field("headers", &self.transport.header_names())
            .field("metadata", &self.metadata)
            .field("max_samples", &self.max_samples)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl RemoteWriteExporter {
    /// Settings for an exporter; [`url`](RemoteWriteBuilder::url) is required.
    pub fn builder() -> RemoteWriteBuilder {
        RemoteWriteBuilder {
            url: None,
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            tls: crate::TlsConfig::new(),
            metadata: true,
            native_histograms: false,
            max_samples: DEFAULT_MAX_SAMPLES_PER_REQUEST,
            job: None,
            instance: None,
            host_identity: true,
        }
    }

    /// The endpoint batches go to.
    pub fn url(&self) -> &str {
        self.transport.url()
    }
}

impl RemoteWriteBuilder {
    /// The endpoint, such as `http://127.0.0.1:9090/api/v1/write` (required).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    http::builder_methods!();

    /// Sends `Authorization: Bearer <token>` (replacing any basic auth).
    pub fn bearer_token(self, token: impl AsRef<str>) -> Self {
        let value = format!("Bearer {}", token.as_ref());
        self.header("Authorization", value)
    }

    /// Whether to send `MetricMetadata` (type, help, unit) with each batch (default `true`).
    pub fn metadata(mut self, send: bool) -> Self {
        self.metadata = send;
        self
    }

    /// Whether to send exponential histograms as native histograms (default `false`, as
    /// Prometheus' own `send_native_histograms`): the receiver must take them (Prometheus
    /// with `--enable-feature=native-histograms`, Mimir); otherwise they go as classic
    /// `_bucket`/`_sum`/`_count` series, which every receiver takes.
    pub fn native_histograms(mut self, send: bool) -> Self {
        self.native_histograms = send;
        self
    }

    /// The most samples in one request (default 2000, at least 1); larger batches are split
    /// into several requests. Receivers often limit the size of a request.
    pub fn max_samples_per_request(mut self, n: usize) -> Self {
        self.max_samples = n.max(1);
        self
    }

    /// The `job` label of every series (none by default); the agent sets its service name.
    pub fn job(mut self, job: impl Into<String>) -> Self {
        self.job = Some(job.into());
        self
    }

    /// The `instance` label of every series, instead of the host name.
    pub fn instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// Whether every series carries `instance` (default `true`): the
    /// [`instance`](Self::instance) given, else the host name.
    pub fn host_identity(mut self, on: bool) -> Self {
        self.host_identity = on;
        self
    }

    /// Checks the settings and makes the exporter.
    ///
    /// # Errors
    /// No URL, a URL that does not parse or is not `http`/`https`, a bad header, a zero
    /// timeout, a TLS file that cannot be read or used.
    pub fn build(self) -> Result<RemoteWriteExporter, BuildError> {
        let url = self.url.ok_or(BuildError::MissingUrl)?;
        let mut headers = vec![
            ("Content-Encoding".to_owned(), "snappy".to_owned()),
            (
                "Content-Type".to_owned(),
                "application/x-protobuf".to_owned(),
            ),
            (
                "X-Prometheus-Remote-Write-Version".to_owned(),
                "0.1.0".to_owned(),
            ),
        ];
        for (name, value) in self.headers {
            http::upsert(&mut headers, name, value, true);
        }
        let instance = if self.host_identity {
            self.instance.or_else(crate::env::hostname)
        } else {
            None
        };
        let target = [("instance", instance), ("job", self.job)]
            .into_iter()
            .filter_map(|(name, value)| {
                Some(proto::Label {
                    name: name.to_owned(),
                    value: value.filter(|v| !v.is_empty())?,
                })
            })
            .collect();
        Ok(RemoteWriteExporter {
            transport: Transport::new(PROTOCOL, url, &headers, self.timeout, &self.tls)?,
            metadata: self.metadata,
            native_histograms: self.native_histograms,
            max_samples: self.max_samples,
            encoder: snap::raw::Encoder::new(),
            target,
        })
    }
}

impl Exporter for RemoteWriteExporter {
    fn name(&self) -> &str {
        NAME
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }

    fn export(&mut self, batch: &Batch) -> Result<(), ExportError> {
        let mut request = write_request_with(
            &batch.snapshot,
            unix_millis(batch.end),
            self.metadata,
            self.native_histograms,
        );
        mapping::add_target_labels(&mut request, &self.target);
        for part in mapping::split(request, self.max_samples) {
            let body = mapping::encode_with(&mut self.encoder, &part)?;
            self.transport.send("POST", &[], Some(&body))?;
        }
        Ok(())
    }
}
