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
//! `https://` endpoints go over TLS (rustls): the server is checked against Mozilla's root
//! certificates plus the CA file of [`OtlpExporterBuilder::tls`] or
//! `OTEL_EXPORTER_OTLP_[METRICS_]CERTIFICATE`, and a client certificate is presented where
//! one is configured. Credentials in the URL are sent as basic auth and never shown.
//!
//! As the OTLP specification says ("OTLP/HTTP Response", retryable response codes):
//! connection failures, timeouts and HTTP 429, 502, 503 and 504 are
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
//! `otel.metric.overflow = true`, and a `service` label whose value is the resource's
//! `service.name` (the agent's constant label), which the resource already says and is not
//! repeated on every point (a `service` label with any other value is kept).
//!
//! `time_unix_nano` is the end of the batch (the collection time) and
//! `start_time_unix_nano` the series' start, both in nanoseconds since the Unix epoch; a
//! start after the end is clamped to the end. Sums and histograms always carry a start,
//! never 0: a series whose start is not known (the Unix epoch, as a `Collector` may
//! report) gets the end of the first batch this exporter sent, so its first point is the
//! data model's zero-length "unknown start" point and later points continue that stream.
//! Gauges carry their start when known, else 0 (the field is optional for gauges).
//!
//! Temporality is the exporter's ([`OtlpExporterBuilder::temporality`], default cumulative):
//! the pipeline then hands it cumulative or delta batches, and `aggregation_temporality` is
//! `CUMULATIVE` or `DELTA` accordingly. Gauges have no temporality.
//!
//! In delta batches each point covers one period, `[previous export, now]`, except a series'
//! first: following the data model ("Resets and Gaps": a first point whose start is before
//! its time begins at a true reset at a known start time) it covers the series' own window,
//! `[start, now]`, with its whole value, so a host counter's first point spans boot to now
//! and a new instrument's its creation to now: nothing is lost and nothing is stamped onto a
//! window it did not happen in. A first point whose start is not known is not sent; it is
//! the baseline the next period is measured from (the collector's `cumulativetodelta`
//! `initial_value: auto`). A series that restarted is sent whole from its new start.
//!
//! # Resource
//!
//! `service.name` (default: the [`default_service_name`](OtlpExporterBuilder::default_service_name)
//! given, else `unknown_service:<executable name>` as the OpenTelemetry spec requires, or
//! `unknown_service` when the executable name is not known),
//! `telemetry.sdk.name = "tallyho"`, `telemetry.sdk.language = "rust"`,
//! `telemetry.sdk.version` = this crate's version, and unless turned off with
//! [`host_identity`](OtlpExporterBuilder::host_identity), `host.name` (the kernel's host
//! name) and `service.instance.id` (a random UUID made once per process, the same for every
//! exporter in it); then the attributes of `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`,
//! and those set in code, each replacing an earlier value of the same key. So the
//! `service.name` is, from strongest: [`service_name`](OtlpExporterBuilder::service_name) in
//! code, a `service.name` [`resource_attribute`](OtlpExporterBuilder::resource_attribute),
//! `OTEL_SERVICE_NAME`, `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, the default.
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
//! | `OTEL_EXPORTER_OTLP_[METRICS_]PROTOCOL`                   | `http/protobuf` or `grpc` (feature `otlp-grpc`; the endpoint then used as given, default `http://127.0.0.1:4317`) |
//! | `OTEL_EXPORTER_OTLP_[METRICS_]CERTIFICATE`                | PEM CA file, trusted beside public roots  |
//! | `OTEL_EXPORTER_OTLP_[METRICS_]CLIENT_CERTIFICATE`         | PEM client certificate (mutual TLS)       |
//! | `OTEL_EXPORTER_OTLP_[METRICS_]CLIENT_KEY`                 | PEM key of the client certificate         |
//! | `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`       | `cumulative`, `delta` or `lowmemory`      |
//! | `OTEL_SERVICE_NAME`                                       | `service.name`                            |
//! | `OTEL_RESOURCE_ATTRIBUTES`                                | `k=v,k2=v2`, values percent-decoded       |
//!
//! `lowmemory` is treated as `delta`: the spec's `lowmemory` keeps up-down counters
//! cumulative, but an exporter here has a single temporality for all its batches.
//! A bad value makes [`build`](OtlpExporterBuilder::build) fail with a
//! [`BuildError::InvalidEnv`] naming the variable and the value (the value of a `HEADERS`
//! variable is not shown: it may hold credentials).

use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use crate::env::EnvLookup;
use crate::exporter::{Batch, ExportError, Exporter, FailureReason, Temporality};
use crate::http::{self, check_header, header_names, upsert, Protocol, RetryRule, Transport};

pub use crate::BuildError;

mod builder;
mod env;
#[cfg(feature = "otlp-grpc")]
mod grpc;
mod mapping;
mod resource;
mod response;

pub use self::builder::OtlpExporterBuilder;
use self::env::EnvSettings;
use self::mapping::{string_attribute, Chunks, Points};
use self::resource::ResourceInputs;
use self::response::{error_detail, partial_success};

/// The endpoint used when neither the code nor the environment names one (the spec's
/// `http://localhost:4318`, pinned to IPv4).
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4318";

/// The request timeout used when neither the code nor the environment sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Data points per request used when the code sets no limit.
pub const DEFAULT_MAX_POINTS_PER_REQUEST: usize = 5000;

const NAME: &str = "otlp";
const PROTOBUF: &str = "application/x-protobuf";

/// What OTLP/HTTP asks of the transport.
const PROTOCOL: Protocol = Protocol {
    name: NAME,
    retry: RetryRule::OTLP,
    detail: error_detail,
};

#[cfg(feature = "otlp-grpc")]
pub use self::grpc::DEFAULT_GRPC_ENDPOINT;

/// How requests travel: `OTEL_EXPORTER_OTLP_PROTOCOL`'s `http/protobuf` (the default) or
/// `grpc` (feature `otlp-grpc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// OTLP/HTTP with protobuf bodies, to `<endpoint>/v1/metrics` (port 4318).
    HttpProtobuf,
    /// OTLP/gRPC, the `MetricsService/Export` call on the endpoint as given (port 4317).
    #[cfg(feature = "otlp-grpc")]
    Grpc,
}

/// The wire of a built exporter.
enum Wire {
    Http(Transport),
    #[cfg(feature = "otlp-grpc")]
    Grpc(Box<grpc::GrpcClient>),
}

impl Wire {
    fn url(&self) -> &str {
        match self {
            Wire::Http(t) => t.url(),
            #[cfg(feature = "otlp-grpc")]
            Wire::Grpc(g) => g.url(),
        }
    }

    fn shown_url(&self) -> String {
        match self {
            Wire::Http(t) => t.shown_url().to_owned(),
            #[cfg(feature = "otlp-grpc")]
            Wire::Grpc(g) => http::redact(g.url()),
        }
    }

    fn header_names(&self) -> Vec<&str> {
        match self {
            Wire::Http(t) => t.header_names(),
            #[cfg(feature = "otlp-grpc")]
            Wire::Grpc(g) => g.header_names(),
        }
    }
}

/// Where requests go: a base URL (`/v1/metrics` appended) or the full metrics URL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Endpoint {
    Base(String),
    Full(String),
}

impl Endpoint {
    /// For `Debug`: the URL without credentials.
    fn shown(&self) -> String {
        match self {
            Endpoint::Base(u) | Endpoint::Full(u) => http::redact(u),
        }
    }
}

/// Pushes batches to an OpenTelemetry collector over OTLP/HTTP with protobuf bodies.
///
/// Built with [`OtlpExporter::builder`]; see the [module docs](self) for the mapping.
pub struct OtlpExporter {
    transport: Wire,
    gzip: bool,
    timeout: Duration,
    temporality: Temporality,
    resource: Resource,
    resource_pairs: Vec<(String, String)>,
    scope: InstrumentationScope,
    max_points: usize,
    resume: Option<Resume>,
    /// The end of the first batch exported: the start of sums whose series has none.
    first_export: Option<SystemTime>,
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
            .field("url", &self.transport.shown_url())
            .field("headers", &self.transport.header_names())
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
        self.transport.url()
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
        self.transport
            .header_names()
            .into_iter()
            .filter(|n| {
                !n.eq_ignore_ascii_case("User-Agent") && !n.eq_ignore_ascii_case("Content-Type")
            })
            .collect()
    }

    /// The resource attributes sent with every request, in order.
    pub fn resource_attributes(&self) -> &[(String, String)] {
        &self.resource_pairs
    }

    /// Sends one request; `Ok(Some(_))` describes data points the collector rejected.
    fn send(&self, request: ExportMetricsServiceRequest) -> Result<Option<String>, ExportError> {
        // Infallible without `otlp-grpc`: one wire then.
        #[allow(clippy::infallible_destructuring_match)]
        let transport = match &self.transport {
            Wire::Http(t) => t,
            #[cfg(feature = "otlp-grpc")]
            Wire::Grpc(g) => return g.send(request),
        };
        let body = request.encode_to_vec();
        let reply = if self.gzip {
            let compressed = gzip(&body).map_err(|e| {
                ExportError::permanent(NAME, format!("gzip failed: {e}"))
                    .with_reason(FailureReason::Encoding)
            })?;
            transport.send("POST", &[("Content-Encoding", "gzip")], Some(&compressed))?
        } else {
            transport.send("POST", &[], Some(&body))?
        };
        Ok(partial_success(&reply.content_type, &reply.body))
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
        let first = *self.first_export.get_or_insert(batch.end);
        let service_name = self
            .resource_pairs
            .iter()
            .find(|(k, _)| k == "service.name")
            .map(|(_, v)| v.as_str());
        let opts = Points {
            unknown_start: first
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            service_name,
        };
        let mut chunks = Chunks::new(batch, self.max_points, opts);
        chunks.skip(sent.saturating_mul(self.max_points));
        let mut rejected = Vec::new();
        while let Some(metrics) = chunks.next_chunk() {
            match self.send(mapping::request(&self.resource, &self.scope, metrics)) {
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
                    self.transport.shown_url(),
                    rejected.join("; ")
                ),
            )
            .with_reason(FailureReason::Rejected))
        }
    }
}

/// `<base>/v1/metrics`, with one slash between them.
/// The specification's rule for the general endpoint: `v1/metrics` appended, with one
/// `/` between (so `http://x/` and `http://x` both give `http://x/v1/metrics`, and
/// `http://x//` keeps its path as given: `http://x//v1/metrics`).
fn metrics_url(base: &str) -> String {
    if base.ends_with('/') {
        format!("{base}v1/metrics")
    } else {
        format!("{base}/v1/metrics")
    }
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::metrics_url;

    #[test]
    fn the_general_endpoint_gets_v1_metrics_with_one_slash_between() {
        assert_eq!(metrics_url("http://x:4318"), "http://x:4318/v1/metrics");
        assert_eq!(metrics_url("http://x:4318/"), "http://x:4318/v1/metrics");
        assert_eq!(metrics_url("http://x/base"), "http://x/base/v1/metrics");
        // Only one slash is the separator: the rest is the path as given, as the Python
        // SDK resolves it too.
        assert_eq!(metrics_url("http://x//"), "http://x//v1/metrics");
    }
}
