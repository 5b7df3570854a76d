//! The API's own numbers, recorded into the endpoint's registry: requests by endpoint and
//! outcome, and their duration by endpoint.

use std::time::Duration;

use tallyho::{Buckets, Counter, Family, Histogram, Registry};

/// `tallyho_query_requests_total{endpoint, outcome}`.
pub(crate) const REQUESTS: &str = "tallyho_query_requests";
/// `tallyho_query_duration_seconds{endpoint}`.
pub(crate) const DURATION: &str = "tallyho_query_duration_seconds";

/// Upper bounds (seconds) of the duration histogram's buckets.
const BOUNDS: [f64; 10] = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0];

/// Handles to the two families; `None` where the registry refused them (a name already
/// registered with another shape), so serving never fails for want of a metric.
pub(crate) struct ApiMetrics {
    requests: Option<Family<Counter>>,
    duration: Option<Family<Histogram>>,
}

impl ApiMetrics {
    /// Registers (or finds, when registered before with the same shape) the families.
    pub(crate) fn register(registry: &Registry) -> Self {
        let requests = registry
            .metric(
                REQUESTS,
                "Requests served by the query API (/api/v1/), by endpoint and outcome \
                 (success, or the error type answered).",
            )
            .counter_family(&["endpoint", "outcome"]);
        let buckets = Buckets::new(BOUNDS.to_vec()).unwrap_or_default();
        let duration = registry
            .metric(
                DURATION,
                "Time from reading a query API request to its answer (queue wait included).",
            )
            .unit("seconds")
            .buckets(buckets)
            .histogram_family(&["endpoint"]);
        ApiMetrics {
            requests: requests.ok(),
            duration: duration.ok(),
        }
    }

    /// Counts one request of `endpoint` that ended with `outcome`, and its duration.
    pub(crate) fn observe(&self, endpoint: &str, outcome: &str, took: Duration) {
        if let Some(f) = &self.requests {
            f.with(&[endpoint, outcome]).inc();
        }
        if let Some(f) = &self.duration {
            f.with(&[endpoint]).observe_duration(took);
        }
    }
}
