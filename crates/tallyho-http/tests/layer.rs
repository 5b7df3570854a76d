//! HttpMetricsLayer on a real axum server: duration by method, route template and status,
//! and requests in flight back at zero.

mod common;

use std::net::SocketAddr;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use tallyho::Registry;
use tallyho_http::HttpMetricsLayer;

#[test]
fn records_route_templates_statuses_and_in_flight() {
    let registry = Registry::new();
    let app = Router::new()
        .route(
            "/users/{id}",
            get(|Path(id): Path<u32>| async move { format!("user {id}") }),
        )
        .route("/fail", post(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .layer(HttpMetricsLayer::new(&registry).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });

    for id in [1, 2, 3] {
        let (status, _, body) = common::get(&format!("http://{addr}/users/{id}"), &[]);
        assert_eq!((status, body), (200, format!("user {id}").into_bytes()));
    }
    let res = ureq::post(&format!("http://{addr}/fail")).call();
    assert!(matches!(res, Err(ureq::Error::Status(503, _))));

    let s = registry.snapshot();
    let fam = s.family("http_server_request_duration_seconds").unwrap();
    let users = fam
        .series_with(&[
            ("method", "GET"),
            ("route", "/users/{id}"),
            ("status", "200"),
        ])
        .expect("route template, not raw path");
    assert_eq!(users.value.as_histogram().unwrap().count, 3);
    let fail = fam
        .series_with(&[("method", "POST"), ("route", "/fail"), ("status", "503")])
        .unwrap();
    assert_eq!(fail.value.as_histogram().unwrap().count, 1);
    assert_eq!(fam.series.len(), 2, "no raw paths as labels");
    assert_eq!(s.value("http_server_active_requests", &[]), Some(0.0));
}
