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
//! [`WriteRequest`], the messages of `prometheus/prompb/remote.proto` and
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
//! - Unless turned off with [`metadata`](RemoteWriteBuilder::metadata), the first request of a
//!   batch also carries one `MetricMetadata` per family (type, help, unit), named as the text
//!   format's `# TYPE` line names it (`<name>_total` for counters).
//!
//! The exporter is always cumulative: remote write receivers expect totals.
//!
//! # Errors
//!
//! Connection failures, timeouts, HTTP 5xx and 429 are [retryable](ExportError::Retryable);
//! any other status outside 2xx (400 for a sample the receiver refuses, 401, 404, ...) is
//! [permanent](ExportError::Permanent), with the status and the start of the response body.
//! Redirects are not followed.
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

use base64::Engine as _;
use prost::Message as _;
use tallyho::{HistogramValue, MetricKind, SeriesValue, Snapshot};
use tallyho_encode::number::{unix_millis, write_prometheus_le};

use crate::exporter::{Batch, ExportError, Exporter, Temporality};

use self::proto::{Label, MetricMetadata, MetricType, Sample, TimeSeries, WriteRequest};

/// The exporter's name, in logs, errors and the pipeline's self-metrics.
const NAME: &str = "remote_write";

/// The timeout used when none is set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most samples per request when none is set (Prometheus' own `max_samples_per_send`).
pub const DEFAULT_MAX_SAMPLES_PER_REQUEST: usize = 2000;

/// The `User-Agent` of every request this crate's HTTP exporters send.
pub(crate) const USER_AGENT: &str = concat!("tallyho/", env!("CARGO_PKG_VERSION"));

/// The protobuf messages of Prometheus remote write 1.0, as in `prometheus/prompb`
/// (`remote.proto`, `types.proto`), limited to the fields this exporter sends.
/// Field numbers and types match the originals, so any remote write receiver decodes them.
pub mod proto {
    /// `prometheus.WriteRequest`: the body of a remote write request (before snappy).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        /// The series with their samples.
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
        /// Type, help and unit of metric families.
        #[prost(message, repeated, tag = "3")]
        pub metadata: Vec<MetricMetadata>,
    }

    /// `prometheus.TimeSeries`: one label set and its samples.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        /// Labels, `__name__` included, sorted by name.
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        /// Samples, oldest first.
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
    }

    /// `prometheus.Label`: one name and value.
    #[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
    pub struct Label {
        /// The label name.
        #[prost(string, tag = "1")]
        pub name: String,
        /// The label value.
        #[prost(string, tag = "2")]
        pub value: String,
    }

    /// `prometheus.Sample`: a value at a time.
    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Sample {
        /// The value.
        #[prost(double, tag = "1")]
        pub value: f64,
        /// Milliseconds since the Unix epoch.
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }

    /// `prometheus.MetricMetadata`: what a family is.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricMetadata {
        /// The family's type, a [`MetricType`].
        #[prost(enumeration = "MetricType", tag = "1")]
        pub r#type: i32,
        /// The family name as the `# TYPE` line writes it.
        #[prost(string, tag = "2")]
        pub metric_family_name: String,
        /// Help text.
        #[prost(string, tag = "4")]
        pub help: String,
        /// Unit, empty when none.
        #[prost(string, tag = "5")]
        pub unit: String,
    }

    /// `prometheus.MetricMetadata.MetricType`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum MetricType {
        /// Unknown type.
        Unknown = 0,
        /// Counter.
        Counter = 1,
        /// Gauge.
        Gauge = 2,
        /// Histogram (classic buckets).
        Histogram = 3,
        /// Gauge histogram.
        Gaugehistogram = 4,
        /// Summary.
        Summary = 5,
        /// Info.
        Info = 6,
        /// State set.
        Stateset = 7,
    }
}

/// Why an exporter could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No URL was given.
    #[error("no URL given")]
    MissingUrl,
    /// The URL does not parse, or is not `http`/`https`.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header name is not an HTTP token, or a value holds a line break.
    #[error("invalid header {0:?}")]
    InvalidHeader(String),
}

/// Settings for a [`RemoteWriteExporter`].
#[derive(Debug, Clone)]
pub struct RemoteWriteBuilder {
    url: Option<String>,
    headers: Vec<(String, String)>,
    timeout: Duration,
    metadata: bool,
    max_samples: usize,
}

/// Pushes each batch to a Prometheus remote write endpoint. See the [module docs](self).
pub struct RemoteWriteExporter {
    agent: ureq::Agent,
    url: String,
    headers: Vec<(String, String)>,
    metadata: bool,
    max_samples: usize,
    encoder: snap::raw::Encoder,
}

impl std::fmt::Debug for RemoteWriteExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers may hold credentials: only their names are shown.
        f.debug_struct("RemoteWriteExporter")
            .field("url", &self.url)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("metadata", &self.metadata)
            .field("max_samples", &self.max_samples)
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
            metadata: true,
            max_samples: DEFAULT_MAX_SAMPLES_PER_REQUEST,
        }
    }

    /// The endpoint batches go to.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl RemoteWriteBuilder {
    /// The endpoint, such as `http://127.0.0.1:9090/api/v1/write` (required).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Sends `Authorization: Basic …` with these credentials (replacing any bearer token).
    pub fn basic_auth(self, user: impl AsRef<str>, password: impl AsRef<str>) -> Self {
        let value = basic_auth_value(user.as_ref(), password.as_ref());
        self.header("Authorization", value)
    }

    /// Sends `Authorization: Bearer <token>` (replacing any basic auth).
    pub fn bearer_token(self, token: impl AsRef<str>) -> Self {
        let value = format!("Bearer {}", token.as_ref());
        self.header("Authorization", value)
    }

    /// Sends a header with every request, such as `X-Scope-OrgID` for a tenant. A header of
    /// the same name (ignoring case) set earlier, or set by the exporter itself
    /// (`User-Agent`, ...), is replaced.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
        self
    }

    /// The limit for each request, connecting included (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether to send `MetricMetadata` (type, help, unit) with each batch (default `true`).
    pub fn metadata(mut self, send: bool) -> Self {
        self.metadata = send;
        self
    }

    /// The most samples in one request (default 2000, at least 1); larger batches are split
    /// into several requests. Receivers often limit the size of a request.
    pub fn max_samples_per_request(mut self, n: usize) -> Self {
        self.max_samples = n.max(1);
        self
    }

    /// Checks the settings and makes the exporter.
    ///
    /// # Errors
    /// No URL, a URL that does not parse or is not `http`/`https`, or a bad header.
    pub fn build(self) -> Result<RemoteWriteExporter, BuildError> {
        let url = self.url.ok_or(BuildError::MissingUrl)?;
        let agent = http_agent(self.timeout);
        check_url(&agent, &url)?;
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
            ("User-Agent".to_owned(), USER_AGENT.to_owned()),
        ];
        for (name, value) in self.headers {
            check_header(&name, &value)?;
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
            headers.push((name, value));
        }
        Ok(RemoteWriteExporter {
            agent,
            url,
            headers,
            metadata: self.metadata,
            max_samples: self.max_samples,
            encoder: snap::raw::Encoder::new(),
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
        let request = write_request(&batch.snapshot, unix_millis(batch.end), self.metadata);
        for part in split(request, self.max_samples) {
            let body = encode_with(&mut self.encoder, &part)?;
            send(&self.agent, "POST", &self.url, &self.headers, &body)?;
        }
        Ok(())
    }
}

/// Builds the `WriteRequest` for a snapshot, every sample stamped `timestamp_ms`, with
/// family metadata when `metadata` is set. See the [module docs](self) for the mapping.
pub fn write_request(snapshot: &Snapshot, timestamp_ms: i64, metadata: bool) -> WriteRequest {
    let mut out = WriteRequest::default();
    let mut le = Vec::new();
    for family in &snapshot.families {
        let sample_name = match family.kind {
            MetricKind::Counter => format!("{}_total", family.name),
            _ => family.name.clone(),
        };
        if metadata {
            out.metadata.push(MetricMetadata {
                r#type: metric_type(family.kind) as i32,
                metric_family_name: sample_name.clone(),
                help: family.help.clone(),
                unit: family.unit.clone(),
            });
        }
        for series in &family.series {
            let mut push = |name: &str, le: Option<&str>, value: f64| {
                out.timeseries.push(TimeSeries {
                    labels: labels(name, le, &series.labels),
                    samples: vec![Sample {
                        value,
                        timestamp: timestamp_ms,
                    }],
                });
            };
            match &series.value {
                SeriesValue::Counter(n) | SeriesValue::Gauge(n) => {
                    push(&sample_name, None, n.as_f64());
                }
                SeriesValue::Histogram(h) => {
                    let bucket = format!("{}_bucket", family.name);
                    let value = HistogramValue {
                        bounds: &h.bounds,
                        counts: &h.counts,
                        sum: h.sum,
                        count: h.count,
                    };
                    // Finite buckets as counted; `+Inf` is always the count.
                    for (bound, cumulative) in value.cumulative().take(h.bounds.len()) {
                        le.clear();
                        // Writing to a Vec cannot fail.
                        let _ = write_prometheus_le(&mut le, bound);
                        push(
                            &bucket,
                            Some(std::str::from_utf8(&le).unwrap_or("NaN")),
                            cumulative as f64,
                        );
                    }
                    push(&bucket, Some("+Inf"), h.count as f64);
                    push(&format!("{}_sum", family.name), None, h.sum);
                    push(&format!("{}_count", family.name), None, h.count as f64);
                }
            }
        }
    }
    out
}

/// Serializes a `WriteRequest` and compresses it with block snappy: a request body.
pub fn encode(request: &WriteRequest) -> Vec<u8> {
    // Compressing a Vec of protobuf never fails short of a 4 GiB body.
    encode_with(&mut snap::raw::Encoder::new(), request).unwrap_or_default()
}

fn encode_with(
    encoder: &mut snap::raw::Encoder,
    request: &WriteRequest,
) -> Result<Vec<u8>, ExportError> {
    let raw = request.encode_to_vec();
    encoder
        .compress_vec(&raw)
        .map_err(|e| ExportError::permanent(NAME, format!("snappy compression failed: {e}")))
}

fn metric_type(kind: MetricKind) -> MetricType {
    match kind {
        MetricKind::Counter => MetricType::Counter,
        MetricKind::Gauge | MetricKind::UpDownCounter => MetricType::Gauge,
        MetricKind::Histogram => MetricType::Histogram,
        _ => MetricType::Unknown,
    }
}

/// `__name__`, then `le`, then the series' labels; sorted by name, first of a name kept,
/// empty values dropped.
fn labels(name: &str, le: Option<&str>, own: &[(String, String)]) -> Vec<Label> {
    let mut out = Vec::with_capacity(own.len() + 2);
    out.push(Label {
        name: "__name__".to_owned(),
        value: name.to_owned(),
    });
    if let Some(le) = le {
        out.push(Label {
            name: "le".to_owned(),
            value: le.to_owned(),
        });
    }
    out.extend(
        own.iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| Label {
                name: n.clone(),
                value: v.clone(),
            }),
    );
    // Stable: among equal names the generated label (pushed first) stays first.
    out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    out.dedup_by(|later, earlier| later.name == earlier.name);
    out
}

/// Splits a request into parts of at most `max` samples; metadata goes with the first.
fn split(mut request: WriteRequest, max: usize) -> Vec<WriteRequest> {
    if request.timeseries.is_empty() && request.metadata.is_empty() {
        return Vec::new();
    }
    // One sample per series here, so samples and series count alike.
    if request.timeseries.len() <= max {
        return vec![request];
    }
    let mut parts = Vec::new();
    let mut rest = std::mem::take(&mut request.timeseries);
    let mut first = true;
    while !rest.is_empty() {
        let tail = rest.split_off(max.min(rest.len()));
        let metadata = if first {
            std::mem::take(&mut request.metadata)
        } else {
            Vec::new()
        };
        first = false;
        parts.push(WriteRequest {
            timeseries: rest,
            metadata,
        });
        rest = tail;
    }
    parts
}

// ---- HTTP, shared with the Pushgateway exporter ----

/// An agent with this overall timeout that follows no redirects.
pub(crate) fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(timeout)
        .redirects(0)
        .user_agent(USER_AGENT)
        .build()
}

/// `Basic base64(user:password)`.
pub(crate) fn basic_auth_value(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// Checks that `url` parses and is `http` or `https`.
pub(crate) fn check_url(agent: &ureq::Agent, url: &str) -> Result<(), BuildError> {
    let invalid = |reason: String| BuildError::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let parsed = agent
        .request("POST", url)
        .request_url()
        .map_err(|e| invalid(e.to_string()))?;
    match parsed.scheme() {
        "http" | "https" => Ok(()),
        other => Err(invalid(format!("scheme {other:?} is not http or https"))),
    }
}

/// Checks that a header name is an HTTP token and its value has no control characters
/// other than tab.
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), BuildError> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let name_ok = !name.is_empty() && name.bytes().all(token);
    let value_ok = value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f));
    if name_ok && value_ok {
        Ok(())
    } else {
        Err(BuildError::InvalidHeader(name.to_owned()))
    }
}

/// The most of a response body kept in an error message.
const BODY_LIMIT: usize = 1024;

/// Sends one request as `exporter`; 2xx is success, anything else an [`ExportError`]:
/// retryable for transport failures, 5xx and 429, permanent otherwise.
pub(crate) fn send_as(
    exporter: &str,
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Result<(), ExportError> {
    let mut request = agent.request(method, url);
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let result = match body {
        Some(body) => request.send_bytes(body),
        None => request.call(),
    };
    match result {
        Ok(response) if (200..300).contains(&response.status()) => {
            // Read the body out so the connection goes back to the pool.
            let _ = std::io::copy(&mut response.into_reader(), &mut std::io::sink());
            Ok(())
        }
        Ok(response) => {
            let status = response.status();
            let location = response.header("location").map(str::to_owned);
            let mut message = format!("{method} {url}: HTTP {status} {}", response.status_text());
            if let Some(location) = location {
                message.push_str(&format!(" (to {location}; redirects are not followed)"));
            }
            Err(ExportError::permanent(exporter, message))
        }
        Err(ureq::Error::Status(status, response)) => {
            let reason = response.status_text().to_owned();
            let text = response_text(response);
            let message = format!("{method} {url}: HTTP {status} {reason}: {text}");
            if status >= 500 || status == 429 {
                Err(ExportError::retryable(exporter, message))
            } else {
                Err(ExportError::permanent(exporter, message))
            }
        }
        Err(ureq::Error::Transport(t)) => {
            use ureq::ErrorKind as K;
            let message = format!("{method} {url}: {t}");
            match t.kind() {
                K::InvalidUrl
                | K::UnknownScheme
                | K::InsecureRequestHttpsOnly
                | K::TooManyRedirects
                | K::InvalidProxyUrl
                | K::ProxyUnauthorized => Err(ExportError::permanent(exporter, message)),
                _ => Err(ExportError::retryable(exporter, message)),
            }
        }
    }
}

fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(), ExportError> {
    send_as(NAME, agent, method, url, headers, Some(body))
}

/// The start of a response body, trimmed, for an error message.
fn response_text(response: ureq::Response) -> String {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    let _ = response
        .into_reader()
        .take(BODY_LIMIT as u64 + 1)
        .read_to_end(&mut bytes);
    let cut = bytes.len() > BODY_LIMIT;
    bytes.truncate(BODY_LIMIT);
    let mut text = String::from_utf8_lossy(&bytes).trim().to_owned();
    if cut {
        text.push('…');
    }
    if text.is_empty() {
        text.push_str("(empty body)");
    }
    text
}
