//! The API's self-metrics, read back from the endpoint's registry after real requests.

use std::sync::Arc;

use axum::body::Body;
use tallyho::{Registry, SeriesValue};
use tallyho_query::{Engine, EngineOptions, Labels, RangeSeries, Sample};
use tower::ServiceExt;

use super::metrics::{DURATION, REQUESTS};
use super::QueryApi;
use crate::Endpoint;

fn storage() -> Vec<RangeSeries> {
    let labels = Labels::new([
        ("__name__".to_string(), "up".to_string()),
        ("job".to_string(), "a".to_string()),
    ]);
    let samples = (0..10)
        .map(|i| Sample {
            t: 1_700_000_000_000 + i * 15_000,
            v: 1.0,
        })
        .collect();
    vec![RangeSeries { labels, samples }]
}

async fn get(router: &axum::Router, uri: &str) -> u16 {
    let req = http::Request::get(uri).body(Body::empty()).unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    res.status().as_u16()
}

/// The requests counter's value for `(endpoint, outcome)`, and the duration histogram's
/// count for `endpoint`.
fn read(registry: &Registry, endpoint: &str, outcome: &str) -> (u64, u64) {
    let snap = registry.snapshot();
    let mut requests = 0;
    let mut timed = 0;
    for f in &snap.families {
        for s in &f.series {
            let has = |k: &str, v: &str| s.labels.iter().any(|(a, b)| a == k && b == v);
            if f.name == REQUESTS && has("endpoint", endpoint) && has("outcome", outcome) {
                if let SeriesValue::Counter(tallyho::Number::U64(n)) = s.value {
                    requests = n;
                }
            }
            if f.name == DURATION && has("endpoint", endpoint) {
                if let SeriesValue::Histogram(h) = &s.value {
                    timed = h.count;
                }
            }
        }
    }
    (requests, timed)
}

#[tokio::test]
async fn every_api_request_is_counted_by_endpoint_and_outcome_and_timed() {
    let registry = Registry::new();
    let api = QueryApi::new(Arc::new(storage()), Engine::new(EngineOptions::default()));
    let router = Endpoint::new(registry.clone()).query_api(api).router();
    for _ in 0..7 {
        let status = get(&router, "/api/v1/query?query=up&time=1700000100").await;
        assert_eq!(status, 200);
    }
    for _ in 0..3 {
        let status = get(&router, "/api/v1/query?query=sum(&time=1700000100").await;
        assert_eq!(status, 400);
    }
    let range = "/api/v1/query_range?query=up&start=1700000000&end=1700000100&step=15s";
    for _ in 0..2 {
        assert_eq!(get(&router, range).await, 200);
    }
    assert_eq!(get(&router, "/api/v1/label/job/values").await, 200);
    assert_eq!(read(&registry, "query", "success"), (7, 10));
    assert_eq!(read(&registry, "query", "bad_data").0, 3);
    assert_eq!(read(&registry, "query_range", "success"), (2, 2));
    assert_eq!(read(&registry, "label_values", "success"), (1, 1));
    assert_eq!(read(&registry, "series", "success"), (0, 0));
    // The counters reach /metrics under their exposition names.
    let req = http::Request::get("/metrics").body(Body::empty()).unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("tallyho_query_requests_total{endpoint=\"query\",outcome=\"success\"} 7"),
        "{text}"
    );
    assert!(
        text.contains("tallyho_query_duration_seconds_count{endpoint=\"query\"} 10"),
        "{text}"
    );
    // A second router on the same registry shares the families.
    let again = Endpoint::new(registry.clone())
        .query_api(QueryApi::new(
            Arc::new(storage()),
            Engine::new(EngineOptions::default()),
        ))
        .router();
    assert_eq!(get(&again, "/api/v1/query?query=up").await, 200);
    assert_eq!(read(&registry, "query", "success"), (8, 11));
}
