//! OTLP/HTTP export: each batch as `ExportMetricsServiceRequest` protobuf messages POSTed to
//! an OpenTelemetry collector (or any backend that speaks OTLP/HTTP, such as Prometheus with
//! `--web.enable-otlp-receiver`).
//!
//! ```no_run
//! use std::time::Duration;
//! use tallyho::Registry;
//! use tallyho_export::otlp::OtlpExporter;
//! use tallyho_export::Pipeline;
//!
//! let registry = Registry::new();
//! let otlp = OtlpExporter::builder()
//!     .from_env() // OTEL_EXPORTER_OTLP_* , OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
//!     .service_name("checkout")
//!     .build()?;
//! let pipeline = Pipeline::builder(registry.clone())
//!     .interval(Duration::from_secs(30))
//!     .exporter(otlp)
//!     .start()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Transport
//!
//! `POST` with `Content-Type: application/x-protobuf` (optionally `Content-Encoding: gzip`)
//! to `<endpoint>/v1/metrics`, or to the metrics endpoint as given when one is set with
//! [`OtlpExporterBuilder::metrics_endpoint`] or `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`. The
//! default endpoint is `http://127.0.0.1:4318` (the spec's `localhost:4318`, pinned to IPv4).
//! Plain HTTP only: this crate carries no TLS stack, so `https://` endpoints are refused when
//! the exporter is built.
//!
//! Connection failures, timeouts and HTTP 429, 502, 503 and 504 are
//! [retryable](ExportError::Retryable) (the pipeline backs off and tries again); any other
//! 4xx or 5xx is [permanent](ExportError::Permanent), with the status and the start of the
//! response body (the `google.rpc.Status` message when the body is protobuf) in the message.
//! A 2xx answer whose `partial_success` reports rejected data points is also reported as a
//! permanent error, after the remaining requests of the batch have been sent (the OTLP spec
//! forbids retrying it).
//!
//! # Mapping (OTLP metrics data model)
//!
//! Every request carries one `ResourceMetrics` holding one `ScopeMetrics` (scope `tallyho`,
//! version of this crate). Each family becomes a `Metric` with
//! `name` = the family name (counters without `_total`), `description` = the help text and
//! `unit` = the unit in UCUM where the mapping is obvious (`seconds` → `s`, `bytes` → `By`,
//! `milliseconds` → `ms`, `ratio` → `1`, `percent` → `%`, ...; anything else as is).
//!
//! | tallyho kind    | OTLP data                                                    |
//! |-----------------|--------------------------------------------------------------|
//! | `Counter`       | `Sum`, `is_monotonic: true`, temporality of the batch        |
//! | `UpDownCounter` | `Sum`, `is_monotonic: false`, temporality of the batch       |
//! | `Gauge`         | `Gauge`                                                      |
//! | `Histogram`     | `Histogram` (explicit buckets), temporality of the batch     |
//!
//! Integer values (`u64`, `i64`) are sent as `as_int` (a `u64` above `i64::MAX` saturates),
//! floats as `as_double`. Histogram points carry `explicit_bounds`, per-bucket (not
//! cumulative) `bucket_counts` with one more entry than there are bounds (the last is the
//! `+Inf` bucket), `count` and `sum`. Each series' labels become string attributes, except
//! the overflow series' `otel_metric_overflow="true"`, which becomes the spec's boolean
//! `otel.metric.overflow = true`.
//!
//! `start_time_unix_nano` is the series' start (for delta batches, the start of the period)
//! and `time_unix_nano` the end of the batch (the collection time), both in nanoseconds since
//! the Unix epoch; a start after the end is clamped to the end.
//!
//! Temporality is the exporter's ([`OtlpExporterBuilder::temporality`], default cumulative):
//! the pipeline then hands it cumulative or delta batches, and `aggregation_temporality` is
//! `CUMULATIVE` or `DELTA` accordingly. Gauges have no temporality.
//!
//! # Resource
//!
//! `service.name` (default `unknown_service:<executable name>` as the OpenTelemetry spec
//! requires, or `unknown_service` when the executable name is not known),
//! `telemetry.sdk.name = "tallyho"`, `telemetry.sdk.language = "rust"`,
//! `telemetry.sdk.version` = this crate's version, then the attributes of
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`, and those set in code, each replacing an
//! earlier value of the same key.
//!
//! # Large snapshots
//!
//! A batch is sent as several requests when it holds more than
//! [`max_points_per_request`](OtlpExporterBuilder::max_points_per_request) data points (one
//! point per series); a family's points may be spread over consecutive requests, each
//! carrying its own copy of the family's `Metric` metadata. When a request after the first
//! fails with a retryable error, the pipeline's retry of the same batch resumes with that
//! request instead of sending the earlier ones again. A batch without any series sends
//! nothing.
//!
//! # Environment
//!
//! Read only when [`OtlpExporterBuilder::from_env`] is called, at
//! [`build`](OtlpExporterBuilder::build); anything set in code wins over the environment.
//! Empty variables count as unset. For each setting the metrics-specific variable wins over
//! the general one.
//!
//! | variable                                                  | meaning                                   |
//! |-----------------------------------------------------------|-------------------------------------------|
//! | `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`                     | full URL, used as is                      |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT`                             | base URL, `/v1/metrics` appended          |
//! | `OTEL_EXPORTER_OTLP_[METRICS_]HEADERS`                    | `k=v,k2=v2`, values percent-decoded       |
//! | `OTEL_EXPORTER_OTLP_[METRICS_]COMPRESSION`                | `gzip` or `none`                          |
//! | `OTEL_EXPORTER_OTLP_[METRICS_]TIMEOUT`                    | milliseconds (default 10000)              |
//! | `OTEL_EXPORTER_OTLP_[METRICS_]PROTOCOL`                   | only `http/protobuf` is accepted          |
//! | `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`       | `cumulative`, `delta` or `lowmemory`      |
//! | `OTEL_SERVICE_NAME`                                       | `service.name`                            |
//! | `OTEL_RESOURCE_ATTRIBUTES`                                | `k=v,k2=v2`, values percent-decoded       |
//!
//! `lowmemory` is treated as `delta`: the spec's `lowmemory` keeps up-down counters
//! cumulative, but an exporter here has a single temporality for all its batches.
//! A bad value makes [`build`](OtlpExporterBuilder::build) fail with a message naming the
//! variable.

use std::fmt;
use std::io::{Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use tallyho::{FamilySnapshot, MetricKind, Number, Series, SeriesValue, OVERFLOW_LABEL};

use crate::exporter::{Batch, ExportError, Exporter, Temporality};

/// The endpoint used when neither the code nor the environment names one (the spec's
/// `http://localhost:4318`, pinned to IPv4).
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4318";

/// The request timeout used when neither the code nor the environment sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Data points per request used when the code sets no limit.
pub const DEFAULT_MAX_POINTS_PER_REQUEST: usize = 5000;

const NAME: &str = "otlp";
const PROTOBUF: &str = "application/x-protobuf";
/// How much of an error response is read, and how much of it goes into a message.
const BODY_READ_LIMIT: u64 = 64 * 1024;
const MESSAGE_BODY_LIMIT: usize = 512;

/// Where requests go: a base URL (`/v1/metrics` appended) or the full metrics URL.
#[derive(Debug, Clone, PartialEq)]
enum Endpoint {
    Base(String),
    Full(String),
}

/// Settings for an [`OtlpExporter`]; see the [module docs](self) for defaults and the
/// environment.
#[derive(Clone, Default)]
pub struct OtlpExporterBuilder {
    endpoint: Option<Endpoint>,
    headers: Vec<(String, String)>,
    gzip: Option<bool>,
    timeout: Option<Duration>,
    temporality: Option<Temporality>,
    resource: Vec<(String, String)>,
    service_name: Option<String>,
    max_points: Option<usize>,
    from_env: bool,
}

impl fmt::Debug for OtlpExporterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpExporterBuilder")
            .field("endpoint", &self.endpoint)
            .field("headers", &header_names(&self.headers))
            .field("gzip", &self.gzip)
            .field("timeout", &self.timeout)
            .field("temporality", &self.temporality)
            .field("resource", &self.resource)
            .field("service_name", &self.service_name)
            .field("max_points", &self.max_points)
            .field("from_env", &self.from_env)
            .finish()
    }
}

impl OtlpExporterBuilder {
    /// The collector's base URL, such as `http://127.0.0.1:4318`; requests go to
    /// `<url>/v1/metrics`. Replaces an earlier [`metrics_endpoint`](Self::metrics_endpoint).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(Endpoint::Base(url.into()));
        self
    }

    /// The full URL requests are POSTed to, used as is (like
    /// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`). Replaces an earlier
    /// [`endpoint`](Self::endpoint).
    pub fn metrics_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(Endpoint::Full(url.into()));
        self
    }

    /// Adds a header sent with every request (such as an API key); replaces an earlier
    /// header of the same name, from code or from the environment.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        upsert(&mut self.headers, name.into(), value.into(), true);
        self
    }

    /// Whether to gzip request bodies (default off).
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.gzip = Some(gzip);
        self
    }

    /// How long one request may take, connecting included (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The temporality the exporter asks the pipeline for (default cumulative).
    pub fn temporality(mut self, temporality: Temporality) -> Self {
        self.temporality = Some(temporality);
        self
    }

    /// Adds a resource attribute; replaces an earlier one with the same key.
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        upsert(&mut self.resource, key.into(), value.into(), false);
        self
    }

    /// The `service.name` resource attribute; wins over a `service.name` given to
    /// [`resource_attribute`](Self::resource_attribute) and over the environment.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The most data points (series) one request carries (default
    /// [`DEFAULT_MAX_POINTS_PER_REQUEST`], at least 1); larger batches are split.
    pub fn max_points_per_request(mut self, n: usize) -> Self {
        self.max_points = Some(n.max(1));
        self
    }

    /// Reads the standard `OTEL_*` variables at [`build`](Self::build), for whatever the
    /// code does not set (see the [module docs](self)).
    pub fn from_env(mut self) -> Self {
        self.from_env = true;
        self
    }

    /// The exporter.
    ///
    /// # Errors
    /// A message naming the setting or environment variable at fault: an endpoint that is
    /// not an `http://` URL, a header that is not valid HTTP, a zero timeout, or an
    /// environment variable that does not parse.
    pub fn build(self) -> Result<OtlpExporter, String> {
        let env = if self.from_env {
            EnvSettings::read(&env_var)?
        } else {
            EnvSettings::default()
        };

        let url = match self.endpoint.clone().or(env.endpoint) {
            Some(Endpoint::Full(url)) => url,
            Some(Endpoint::Base(base)) => metrics_url(&base),
            None => metrics_url(DEFAULT_ENDPOINT),
        };
        check_url(&url).map_err(|e| format!("endpoint {url:?}: {e}"))?;

        let mut headers = env.headers;
        for (k, v) in &self.headers {
            check_header(k, v).map_err(|e| format!("header {k:?}: {e}"))?;
            upsert(&mut headers, k.clone(), v.clone(), true);
        }

        let timeout = self.timeout.or(env.timeout).unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err("timeout: must be more than zero".into());
        }

        let mut resource = vec![
            ("service.name".to_owned(), default_service_name()),
            ("telemetry.sdk.name".to_owned(), "tallyho".to_owned()),
            ("telemetry.sdk.language".to_owned(), "rust".to_owned()),
            (
                "telemetry.sdk.version".to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            ),
        ];
        let from_service_name =
            |name: Option<String>| name.map(|n| ("service.name".to_owned(), n)).into_iter();
        for (k, v) in env
            .resource
            .into_iter()
            .chain(from_service_name(env.service_name))
            .chain(self.resource)
            .chain(from_service_name(self.service_name))
        {
            upsert(&mut resource, k, v, false);
        }

        let agent = ureq::AgentBuilder::new()
            .timeout(timeout)
            .redirects(0)
            .user_agent(concat!("tallyho-otlp/", env!("CARGO_PKG_VERSION")))
            .build();

        Ok(OtlpExporter {
            agent,
            display_url: without_userinfo(&url),
            url,
            headers,
            gzip: self.gzip.or(env.gzip).unwrap_or(false),
            timeout,
            temporality: self
                .temporality
                .or(env.temporality)
                .unwrap_or(Temporality::Cumulative),
            resource: Resource {
                attributes: resource
                    .iter()
                    .map(|(k, v)| string_attribute(k, v))
                    .collect(),
                ..Resource::default()
            },
            resource_pairs: resource,
            scope: InstrumentationScope {
                name: "tallyho".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                ..InstrumentationScope::default()
            },
            max_points: self.max_points.unwrap_or(DEFAULT_MAX_POINTS_PER_REQUEST),
            resume: None,
        })
    }
}

/// Pushes batches to an OpenTelemetry collector over OTLP/HTTP with protobuf bodies.
///
/// Built with [`OtlpExporter::builder`]; see the [module docs](self) for the mapping.
pub struct OtlpExporter {
    agent: ureq::Agent,
    url: String,
    display_url: String,
    headers: Vec<(String, String)>,
    gzip: bool,
    timeout: Duration,
    temporality: Temporality,
    resource: Resource,
    resource_pairs: Vec<(String, String)>,
    scope: InstrumentationScope,
    max_points: usize,
    resume: Option<Resume>,
}

/// Where to pick up a batch whose later requests failed with a retryable error.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Resume {
    start: SystemTime,
    end: SystemTime,
    temporality: Temporality,
    points: usize,
    sent: usize,
}

impl fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpExporter")
            .field("url", &self.display_url)
            .field("headers", &header_names(&self.headers))
            .field("gzip", &self.gzip)
            .field("timeout", &self.timeout)
            .field("temporality", &self.temporality)
            .field("resource", &self.resource_pairs)
            .field("max_points_per_request", &self.max_points)
            .finish()
    }
}

impl OtlpExporter {
    /// Settings, starting from the defaults.
    pub fn builder() -> OtlpExporterBuilder {
        OtlpExporterBuilder::default()
    }

    /// The URL requests are POSTed to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether request bodies are gzipped.
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// The timeout of one request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The most data points one request carries.
    pub fn max_points_per_request(&self) -> usize {
        self.max_points
    }

    /// The names of the headers sent with every request (values are not shown: they often
    /// hold credentials).
    pub fn header_names(&self) -> Vec<&str> {
        header_names(&self.headers)
    }

    /// The resource attributes sent with every request, in order.
    pub fn resource_attributes(&self) -> &[(String, String)] {
        &self.resource_pairs
    }

    fn request(&self, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(self.resource.clone()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(self.scope.clone()),
                    metrics,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    /// Sends one encoded request; `Ok(Some(_))` describes data points the collector
    /// rejected.
    fn send(&self, body: &[u8]) -> Result<Option<String>, ExportError> {
        let mut request = self.agent.post(&self.url);
        for (k, v) in &self.headers {
            request = request.set(k, v);
        }
        request = request.set("Content-Type", PROTOBUF);
        let result = if self.gzip {
            let compressed = gzip(body)
                .map_err(|e| ExportError::permanent(NAME, format!("gzip failed: {e}")))?;
            request
                .set("Content-Encoding", "gzip")
                .send_bytes(&compressed)
        } else {
            request.send_bytes(body)
        };
        match result {
            Ok(response) => {
                let status = response.status();
                let content_type = response.content_type().to_owned();
                let body = read_body(response);
                if !(200..300).contains(&status) {
                    return Err(self.status_error(status, &content_type, &body, None));
                }
                Ok(partial_success(&content_type, &body))
            }
            Err(ureq::Error::Status(status, response)) => {
                let retry_after = response.header("Retry-After").map(str::to_owned);
                let content_type = response.content_type().to_owned();
                let body = read_body(response);
                Err(self.status_error(status, &content_type, &body, retry_after))
            }
            Err(ureq::Error::Transport(t)) => {
                let message = format!("POST {}: {}", self.display_url, transport_message(&t));
                Err(match t.kind() {
                    ureq::ErrorKind::InvalidUrl
                    | ureq::ErrorKind::UnknownScheme
                    | ureq::ErrorKind::InsecureRequestHttpsOnly
                    | ureq::ErrorKind::InvalidProxyUrl => ExportError::permanent(NAME, message),
                    _ => ExportError::retryable(NAME, message),
                })
            }
        }
    }

    fn status_error(
        &self,
        status: u16,
        content_type: &str,
        body: &[u8],
        retry_after: Option<String>,
    ) -> ExportError {
        let mut message = format!("POST {}: HTTP {status}", self.display_url);
        let detail = error_detail(content_type, body);
        if !detail.is_empty() {
            message.push_str(": ");
            message.push_str(&detail);
        }
        if let Some(after) = retry_after {
            message.push_str(&format!(" (Retry-After: {})", truncate(&after, 64)));
        }
        if matches!(status, 429 | 502 | 503 | 504) {
            ExportError::retryable(NAME, message)
        } else {
            ExportError::permanent(NAME, message)
        }
    }
}

impl Exporter for OtlpExporter {
    fn name(&self) -> &str {
        NAME
    }

    fn temporality(&self) -> Temporality {
        self.temporality
    }

    fn export(&mut self, batch: &Batch) -> Result<(), ExportError> {
        let points: usize = batch.snapshot.families.iter().map(|f| f.series.len()).sum();
        let mut sent = match self.resume.take() {
            Some(r)
                if r.start == batch.start
                    && r.end == batch.end
                    && r.temporality == batch.temporality
                    && r.points == points =>
            {
                r.sent
            }
            _ => 0,
        };
        let mut chunks = Chunks::new(batch, self.max_points);
        chunks.skip(sent.saturating_mul(self.max_points));
        let mut rejected = Vec::new();
        while let Some(metrics) = chunks.next_chunk() {
            let body = self.request(metrics).encode_to_vec();
            match self.send(&body) {
                Ok(None) => {}
                Ok(Some(r)) => rejected.push(r),
                Err(e) => {
                    if e.is_retryable() && sent > 0 {
                        self.resume = Some(Resume {
                            start: batch.start,
                            end: batch.end,
                            temporality: batch.temporality,
                            points,
                            sent,
                        });
                    }
                    return Err(e);
                }
            }
            sent += 1;
        }
        if rejected.is_empty() {
            Ok(())
        } else {
            Err(ExportError::permanent(
                NAME,
                format!(
                    "POST {}: partial success: {}",
                    self.display_url,
                    rejected.join("; ")
                ),
            ))
        }
    }
}

/// Walks a batch's series in order, handing out at most `max` of them at a time as metrics.
struct Chunks<'a> {
    batch: &'a Batch,
    max: usize,
    family: usize,
    series: usize,
}

impl<'a> Chunks<'a> {
    fn new(batch: &'a Batch, max: usize) -> Self {
        Chunks {
            batch,
            max: max.max(1),
            family: 0,
            series: 0,
        }
    }

    /// Moves past `n` series.
    fn skip(&mut self, mut n: usize) {
        let families = &self.batch.snapshot.families;
        while n > 0 && self.family < families.len() {
            let left = families[self.family].series.len() - self.series;
            if n < left {
                self.series += n;
                return;
            }
            n -= left;
            self.family += 1;
            self.series = 0;
        }
    }

    /// The metrics of the next `max` series, or `None` when none are left.
    fn next_chunk(&mut self) -> Option<Vec<Metric>> {
        let families = &self.batch.snapshot.families;
        let mut metrics = Vec::new();
        let mut taken = 0;
        while taken < self.max && self.family < families.len() {
            let family = &families[self.family];
            let take = (family.series.len() - self.series).min(self.max - taken);
            if take > 0 {
                let series = &family.series[self.series..self.series + take];
                metrics.extend(metric(self.batch, family, series));
                taken += take;
                self.series += take;
            }
            if self.series >= family.series.len() {
                self.family += 1;
                self.series = 0;
            }
        }
        (taken > 0).then_some(metrics)
    }
}

/// One family's `Metric` holding `series`; `None` when no series fits the family's kind.
fn metric(batch: &Batch, family: &FamilySnapshot, series: &[Series]) -> Option<Metric> {
    let time = nanos(batch.end);
    let temporality = match batch.temporality {
        Temporality::Cumulative => AggregationTemporality::Cumulative,
        Temporality::Delta => AggregationTemporality::Delta,
    } as i32;
    let data = match family.kind {
        MetricKind::Histogram => {
            let data_points: Vec<_> = series
                .iter()
                .filter_map(|s| histogram_point(s, time))
                .collect();
            if data_points.is_empty() {
                return None;
            }
            metric::Data::Histogram(Histogram {
                data_points,
                aggregation_temporality: temporality,
            })
        }
        kind => {
            let data_points: Vec<_> = series
                .iter()
                .filter_map(|s| number_point(s, time))
                .collect();
            if data_points.is_empty() {
                return None;
            }
            match kind {
                MetricKind::Counter | MetricKind::UpDownCounter => metric::Data::Sum(Sum {
                    data_points,
                    aggregation_temporality: temporality,
                    is_monotonic: kind == MetricKind::Counter,
                }),
                _ => metric::Data::Gauge(Gauge { data_points }),
            }
        }
    };
    Some(Metric {
        name: family.name.clone(),
        description: family.help.clone(),
        unit: ucum(&family.unit).to_owned(),
        metadata: Vec::new(),
        data: Some(data),
    })
}

fn number_point(series: &Series, time: u64) -> Option<NumberDataPoint> {
    let value = match series.value {
        SeriesValue::Counter(n) | SeriesValue::Gauge(n) => match n {
            Number::U64(v) => number_data_point::Value::AsInt(i64::try_from(v).unwrap_or(i64::MAX)),
            Number::I64(v) => number_data_point::Value::AsInt(v),
            Number::F64(v) => number_data_point::Value::AsDouble(v),
        },
        SeriesValue::Histogram(_) => return None,
    };
    Some(NumberDataPoint {
        attributes: attributes(&series.labels),
        start_time_unix_nano: nanos(series.start).min(time),
        time_unix_nano: time,
        value: Some(value),
        ..NumberDataPoint::default()
    })
}

fn histogram_point(series: &Series, time: u64) -> Option<HistogramDataPoint> {
    let h = series.value.as_histogram()?;
    Some(HistogramDataPoint {
        attributes: attributes(&series.labels),
        start_time_unix_nano: nanos(series.start).min(time),
        time_unix_nano: time,
        count: h.count,
        // "If count is zero then this field must be zero."
        sum: Some(if h.count == 0 { 0.0 } else { h.sum }),
        bucket_counts: h.counts.clone(),
        explicit_bounds: h.bounds.clone(),
        ..HistogramDataPoint::default()
    })
}

fn attributes(labels: &[(String, String)]) -> Vec<KeyValue> {
    labels
        .iter()
        .map(|(k, v)| {
            if k == OVERFLOW_LABEL && v == "true" {
                KeyValue {
                    key: "otel.metric.overflow".to_owned(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::BoolValue(true)),
                    }),
                }
            } else {
                string_attribute(k, v)
            }
        })
        .collect()
}

fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
    }
}

/// The UCUM code for the units whose mapping is obvious; anything else as is.
fn ucum(unit: &str) -> &str {
    match unit {
        "seconds" | "second" => "s",
        "milliseconds" => "ms",
        "microseconds" => "us",
        "nanoseconds" => "ns",
        "minutes" => "min",
        "hours" => "h",
        "days" => "d",
        "bytes" | "byte" => "By",
        "kilobytes" => "kBy",
        "megabytes" => "MBy",
        "gigabytes" => "GBy",
        "bits" => "bit",
        "ratio" => "1",
        "percent" => "%",
        "meters" => "m",
        "grams" => "g",
        "volts" => "V",
        "amperes" => "A",
        "joules" => "J",
        "watts" => "W",
        "hertz" => "Hz",
        "celsius" => "Cel",
        other => other,
    }
}

/// Nanoseconds since the Unix epoch (0 before it, saturating far after it).
fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body)?;
    encoder.finish()
}

fn read_body(response: ureq::Response) -> Vec<u8> {
    let mut body = Vec::new();
    // A body that cannot be read only loses detail in the message.
    let _ = response
        .into_reader()
        .take(BODY_READ_LIMIT)
        .read_to_end(&mut body);
    body
}

/// `google.rpc.Status`, which OTLP/HTTP servers send as the body of a protobuf error.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// What an error response says: the `google.rpc.Status` message of a protobuf body, else
/// the body as text; truncated either way.
fn error_detail(content_type: &str, body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    if content_type.eq_ignore_ascii_case(PROTOBUF) {
        if let Ok(status) = RpcStatus::decode(body) {
            if !status.message.is_empty() {
                return truncate(&status.message, MESSAGE_BODY_LIMIT);
            }
        }
    }
    truncate(String::from_utf8_lossy(body).trim(), MESSAGE_BODY_LIMIT)
}

/// The rejected points a 2xx protobuf answer reports, if any.
fn partial_success(content_type: &str, body: &[u8]) -> Option<String> {
    if body.is_empty() || !content_type.eq_ignore_ascii_case(PROTOBUF) {
        return None;
    }
    let partial = ExportMetricsServiceResponse::decode(body)
        .ok()?
        .partial_success?;
    (partial.rejected_data_points > 0).then(|| {
        let mut m = format!("{} data points rejected", partial.rejected_data_points);
        if !partial.error_message.is_empty() {
            m.push_str(": ");
            m.push_str(&truncate(&partial.error_message, MESSAGE_BODY_LIMIT));
        }
        m
    })
}

/// A transport error without the URL, which the caller names (without credentials).
fn transport_message(t: &ureq::Transport) -> String {
    let mut m = t.kind().to_string();
    if let Some(detail) = t.message() {
        m.push_str(": ");
        m.push_str(detail);
    }
    if let Some(source) = std::error::Error::source(t) {
        m.push_str(": ");
        m.push_str(&source.to_string());
    }
    m
}

/// At most `max` characters of `s`, with `…` when cut.
fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn header_names(headers: &[(String, String)]) -> Vec<&str> {
    headers.iter().map(|(k, _)| k.as_str()).collect()
}

/// Sets `key` to `value`, in place when present (names compared ignoring ASCII case when
/// `fold_case`), else at the end.
fn upsert(pairs: &mut Vec<(String, String)>, key: String, value: String, fold_case: bool) {
    let same = |k: &str| {
        if fold_case {
            k.eq_ignore_ascii_case(&key)
        } else {
            k == key
        }
    };
    match pairs.iter_mut().find(|(k, _)| same(k)) {
        Some(pair) => pair.1 = value,
        None => pairs.push((key, value)),
    }
}

/// `<base>/v1/metrics`, with one slash between them.
fn metrics_url(base: &str) -> String {
    format!("{}/v1/metrics", base.trim_end_matches('/'))
}

/// Refuses what this exporter cannot POST to: anything but `http://host...`.
fn check_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("not a URL (expected http://host:port)".into());
    };
    if scheme.eq_ignore_ascii_case("https") {
        return Err("https is not supported (this build carries no TLS): use http://".into());
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(format!("unsupported scheme {scheme:?} (expected http)"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err("no host".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace".into());
    }
    Ok(())
}

/// The URL without `user:password@`, for messages.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// An HTTP header name must be a token; a value must hold no control characters.
fn check_header(name: &str, value: &str) -> Result<(), String> {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(tchar) {
        return Err("not a valid header name".into());
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err("value holds control characters".into());
    }
    Ok(())
}

fn default_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name()?.to_str().map(str::to_owned))
        .filter(|n| !n.is_empty())
        .map_or_else(
            || "unknown_service".to_owned(),
            |n| format!("unknown_service:{n}"),
        )
}

/// A variable's value; empty counts as unset.
fn env_var(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name}: not valid UTF-8")),
    }
}

/// What the environment says.
#[derive(Debug, Default)]
struct EnvSettings {
    endpoint: Option<Endpoint>,
    headers: Vec<(String, String)>,
    gzip: Option<bool>,
    timeout: Option<Duration>,
    temporality: Option<Temporality>,
    resource: Vec<(String, String)>,
    service_name: Option<String>,
}

type EnvGet<'a> = &'a dyn Fn(&str) -> Result<Option<String>, String>;

impl EnvSettings {
    fn read(get: EnvGet<'_>) -> Result<Self, String> {
        // The metrics-specific variable, else the general one: (name, value).
        let pick = |what: &str| -> Result<Option<(String, String)>, String> {
            for name in [
                format!("OTEL_EXPORTER_OTLP_METRICS_{what}"),
                format!("OTEL_EXPORTER_OTLP_{what}"),
            ] {
                if let Some(v) = get(&name)? {
                    return Ok(Some((name, v)));
                }
            }
            Ok(None)
        };
        let mut env = EnvSettings::default();

        if let Some((name, v)) = pick("PROTOCOL")? {
            if v.trim() != "http/protobuf" {
                return Err(format!(
                    "{name}={v:?}: only http/protobuf is supported \
                     (set OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/protobuf to override)"
                ));
            }
        }

        if let Some(v) = get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")? {
            let v = v.trim().to_owned();
            check_url(&v).map_err(|e| format!("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT={v:?}: {e}"))?;
            env.endpoint = Some(Endpoint::Full(v));
        } else if let Some(v) = get("OTEL_EXPORTER_OTLP_ENDPOINT")? {
            let v = v.trim().to_owned();
            check_url(&v).map_err(|e| format!("OTEL_EXPORTER_OTLP_ENDPOINT={v:?}: {e}"))?;
            env.endpoint = Some(Endpoint::Base(v));
        }

        if let Some((name, v)) = pick("HEADERS")? {
            for (k, value) in parse_pairs(&name, &v)? {
                check_header(&k, &value).map_err(|e| format!("{name}: header {k:?}: {e}"))?;
                upsert(&mut env.headers, k, value, true);
            }
        }

        if let Some((name, v)) = pick("COMPRESSION")? {
            env.gzip = Some(match v.trim().to_ascii_lowercase().as_str() {
                "gzip" => true,
                "none" => false,
                _ => return Err(format!("{name}={v:?}: expected gzip or none")),
            });
        }

        if let Some((name, v)) = pick("TIMEOUT")? {
            let ms: u64 = v
                .trim()
                .parse()
                .map_err(|_| format!("{name}={v:?}: expected a whole number of milliseconds"))?;
            if ms == 0 {
                return Err(format!("{name}={v:?}: must be more than zero"));
            }
            env.timeout = Some(Duration::from_millis(ms));
        }

        let name = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
        if let Some(v) = get(name)? {
            env.temporality = Some(match v.trim().to_ascii_lowercase().as_str() {
                "cumulative" => Temporality::Cumulative,
                "delta" | "lowmemory" => Temporality::Delta,
                _ => {
                    return Err(format!(
                        "{name}={v:?}: expected cumulative, delta or lowmemory"
                    ))
                }
            });
        }

        if let Some(v) = get("OTEL_RESOURCE_ATTRIBUTES")? {
            for (k, value) in parse_pairs("OTEL_RESOURCE_ATTRIBUTES", &v)? {
                upsert(&mut env.resource, k, value, false);
            }
        }

        if let Some(v) = get("OTEL_SERVICE_NAME")? {
            env.service_name = Some(v.trim().to_owned());
        }

        Ok(env)
    }
}

/// `k=v,k2=v2` with whitespace around keys and values trimmed and values percent-decoded;
/// empty entries are skipped.
fn parse_pairs(name: &str, s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for entry in s.split(',') {
        if entry.trim().is_empty() {
            continue;
        }
        let Some((k, v)) = entry.split_once('=') else {
            return Err(format!("{name}: {:?} is not key=value", entry.trim()));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(format!("{name}: {:?} has an empty key", entry.trim()));
        }
        let v = percent_decode(v.trim())
            .ok_or_else(|| format!("{name}: the value of {k:?} is not valid percent-encoding"))?;
        out.push((k.to_owned(), v));
    }
    Ok(out)
}

/// Decodes `%XX` escapes (`+` stays `+`); `None` for a bad escape or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Cc+d").as_deref(), Some("a b,c+d"));
        assert_eq!(percent_decode("%E2%82%AC").as_deref(), Some("€"));
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn pairs_parse_and_report_the_variable() {
        assert_eq!(
            parse_pairs("V", " a = 1 ,, b=x%3Dy ").unwrap(),
            vec![("a".into(), "1".into()), ("b".into(), "x=y".into())]
        );
        assert!(parse_pairs("V", "novalue").unwrap_err().starts_with("V:"));
        assert!(parse_pairs("V", "=x").unwrap_err().starts_with("V:"));
    }

    #[test]
    fn urls() {
        assert_eq!(metrics_url("http://h:1/"), "http://h:1/v1/metrics");
        assert_eq!(metrics_url("http://h:1/p"), "http://h:1/p/v1/metrics");
        assert!(check_url("http://127.0.0.1:4318/v1/metrics").is_ok());
        assert!(check_url("https://h").unwrap_err().contains("https"));
        assert!(check_url("127.0.0.1:4318").is_err());
        assert!(check_url("http:///x").is_err());
        assert_eq!(
            without_userinfo("http://u:p@h:1/x@y"),
            "http://h:1/x@y".to_owned()
        );
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("ab", 2), "ab");
    }

    #[test]
    fn env_reading_with_a_fake_environment() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=1"),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "b=2"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "GZIP"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "LowMemory",
            ),
        ];
        let get = |k: &str| {
            Ok(vars
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string()))
        };
        let env = EnvSettings::read(&get).unwrap();
        assert_eq!(
            env.endpoint,
            Some(Endpoint::Base("http://127.0.0.1:1".into()))
        );
        assert_eq!(env.headers, vec![("b".into(), "2".into())]);
        assert_eq!(env.gzip, Some(true));
        assert_eq!(env.temporality, Some(Temporality::Delta));
        let bad = |k: &'static str, v: &'static str| {
            let get = move |n: &str| Ok((n == k).then(|| v.to_owned()));
            EnvSettings::read(&get).unwrap_err()
        };
        assert!(bad("OTEL_EXPORTER_OTLP_TIMEOUT", "soon").contains("OTEL_EXPORTER_OTLP_TIMEOUT"));
        assert!(bad("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc").contains("OTEL_EXPORTER_OTLP_PROTOCOL"));
        assert!(bad("OTEL_EXPORTER_OTLP_ENDPOINT", "https://x").contains("https"));
    }
}
