//! OTLP over gRPC (port 4317): the same `ExportMetricsServiceRequest`s sent with the
//! opentelemetry-proto service definitions through tonic.
//!
//! The exporter runs on its own pipeline thread, so the client owns a current-thread
//! tokio runtime and blocks on each call, as the HTTP transport blocks on ureq. The
//! channel connects lazily: a collector that is down at start is a retryable failure at
//! the first export, as with HTTP. Status codes are retried as the OTLP specification
//! lists: CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS,
//! and RESOURCE_EXHAUSTED only when the server says when to retry; the rest are permanent.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::NAME;
use crate::exporter::{ExportError, FailureReason};
use crate::http::{self, truncate};
use crate::BuildError;

/// The default gRPC endpoint (the specification's `http://localhost:4317`, pinned to
/// IPv4).
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://127.0.0.1:4317";

/// A blocking OTLP/gRPC client.
pub(super) struct GrpcClient {
    runtime: tokio::runtime::Runtime,
    client: MetricsServiceClient<Channel>,
    url: String,
    metadata: MetadataMap,
    header_names: Vec<String>,
    timeout: Duration,
}

impl GrpcClient {
    /// A client for `url` (`http://host:port`; gRPC has no path to add), sending
    /// `headers` as metadata, gzip-compressed when `gzip`.
    pub(super) fn new(
        url: &str,
        headers: &[(String, String)],
        timeout: Duration,
        gzip: bool,
    ) -> Result<GrpcClient, BuildError> {
        let bad = |reason: String| BuildError::InvalidUrl {
            url: http::redact(url),
            reason,
        };
        if !url.starts_with("http://") {
            return Err(bad(
                "gRPC needs an http:// endpoint (TLS is not supported yet)".into(),
            ));
        }
        http::check_url(url)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| BuildError::InvalidSetting {
                setting: "protocol",
                reason: format!("cannot start the gRPC client's runtime: {e}"),
            })?;
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| bad(e.to_string()))?
            .connect_timeout(timeout)
            .timeout(timeout);
        // `connect_lazy` needs the runtime's context: the channel's worker lives there.
        let channel = {
            let _in = runtime.enter();
            endpoint.connect_lazy()
        };
        let mut client = MetricsServiceClient::new(channel);
        if gzip {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        let mut metadata = MetadataMap::new();
        let mut header_names = Vec::new();
        for (k, v) in headers {
            if k.eq_ignore_ascii_case("content-type") {
                continue;
            }
            let key =
                AsciiMetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes()).map_err(|_| {
                    BuildError::InvalidHeader {
                        name: k.clone(),
                        reason: "not a valid gRPC metadata key".into(),
                    }
                })?;
            let value = AsciiMetadataValue::try_from(v.as_str()).map_err(|_| {
                BuildError::InvalidHeader {
                    name: k.clone(),
                    reason: "the value is not valid gRPC metadata (visible ASCII only)".into(),
                }
            })?;
            metadata.insert(key, value);
            header_names.push(k.clone());
        }
        Ok(GrpcClient {
            runtime,
            client,
            url: url.to_owned(),
            metadata,
            header_names,
            timeout,
        })
    }

    pub(super) fn url(&self) -> &str {
        &self.url
    }

    pub(super) fn header_names(&self) -> Vec<&str> {
        self.header_names.iter().map(String::as_str).collect()
    }

    /// Sends one request; `Ok(Some(_))` describes data points the collector rejected.
    pub(super) fn send(
        &self,
        request: ExportMetricsServiceRequest,
    ) -> Result<Option<String>, ExportError> {
        let mut req = tonic::Request::new(request);
        *req.metadata_mut() = self.metadata.clone();
        req.set_timeout(self.timeout);
        let mut client = self.client.clone();
        let reply = self.runtime.block_on(client.export(req));
        match reply {
            Ok(r) => Ok(r.into_inner().partial_success.and_then(|p| {
                (p.rejected_data_points > 0).then(|| {
                    let mut m = format!("{} data points rejected", p.rejected_data_points);
                    if !p.error_message.is_empty() {
                        m.push_str(": ");
                        m.push_str(&truncate(&p.error_message, http::DETAIL_LIMIT));
                    }
                    m
                })
            })),
            Err(status) => Err(self.error(&status)),
        }
    }

    fn error(&self, status: &Status) -> ExportError {
        let url = http::redact(&self.url);
        let message = format!(
            "gRPC {url}: {:?}: {}",
            status.code(),
            truncate(status.message(), http::DETAIL_LIMIT)
        );
        let retry_info = status.metadata().contains_key("grpc-retry-pushback-ms")
            || !status.details().is_empty();
        let code = FailureReason::Grpc(status.code() as i32);
        let (retryable, reason) = match status.code() {
            // tonic reports a connection it could not make or lost as UNAVAILABLE.
            Code::Unavailable => (true, FailureReason::Connection),
            Code::DeadlineExceeded => (true, FailureReason::Timeout),
            Code::Cancelled | Code::Aborted | Code::OutOfRange | Code::DataLoss => (true, code),
            Code::ResourceExhausted => (retry_info, code),
            _ => (false, code),
        };
        let e = if retryable {
            ExportError::retryable(NAME, message)
        } else {
            ExportError::permanent(NAME, message)
        };
        e.with_reason(reason)
    }
}
