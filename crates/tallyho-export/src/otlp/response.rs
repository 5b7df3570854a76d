//! What an OTLP/HTTP collector answered: the error text of a refusal, and the rejected
//! points of a partial success.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use prost::Message;

use super::PROTOBUF;
use crate::http::{self, truncate};

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
pub(super) fn error_detail(content_type: &str, body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    if content_type.eq_ignore_ascii_case(PROTOBUF) {
        if let Ok(status) = RpcStatus::decode(body) {
            if !status.message.is_empty() {
                return truncate(&status.message, http::DETAIL_LIMIT);
            }
        }
    }
    truncate(String::from_utf8_lossy(body).trim(), http::DETAIL_LIMIT)
}

/// The rejected points a 2xx protobuf answer reports, if any.
pub(super) fn partial_success(content_type: &str, body: &[u8]) -> Option<String> {
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
            m.push_str(&truncate(&partial.error_message, http::DETAIL_LIMIT));
        }
        m
    })
}
