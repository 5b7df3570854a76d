//! The router's answers: content types, caching headers, validators, unknown paths.

use axum::body::Body;
use axum::Router;
use http::{header, Method, Request, StatusCode};
use tower::ServiceExt;

async fn get(path: &str, headers: &[(&str, &str)]) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    request(Method::GET, path, headers).await
}

async fn request(
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let app: Router = tallyho_dashboard::router();
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

#[tokio::test]
async fn the_page_is_html_revalidated_and_names_only_same_origin_assets() {
    let (status, h, body) = get("/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(h[header::CACHE_CONTROL], "no-cache");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("connect-src 'self'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let page = String::from_utf8(body).unwrap();
    let (js, css) = tallyho_dashboard::asset_paths();
    assert!(page.contains(&js) && page.contains(&css));
    // Nothing from elsewhere: no absolute URL in any src or href.
    for attr in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        assert!(!page.contains(attr), "the page loads {attr}...");
    }
    // A validator that the browser may send back.
    let etag = h[header::ETAG].to_str().unwrap().to_string();
    let (status, h2, body) = get("/", &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(h2[header::ETAG], etag.as_str());
    let (status, _, _) = get("/", &[("if-none-match", "\"other\"")]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn hashed_assets_are_immutable_with_their_content_types() {
    let (js, css) = tallyho_dashboard::asset_paths();
    let (status, h, body) = get(&js, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert_eq!(
        h[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert!(body.len() > 10_000, "the bundle holds uPlot");
    assert!(String::from_utf8_lossy(&body).contains("uPlot"));
    let (status, h, body) = get(&css, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert!(String::from_utf8_lossy(&body).contains(".u-legend"));
    // The unhashed names work too, revalidated.
    let (status, h, _) = get("/assets/app.js", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CACHE_CONTROL], "no-cache");
    // HEAD answers the headers without the body.
    let (status, h, body) = request(Method::HEAD, &css, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert!(body.is_empty());
}

#[tokio::test]
async fn unknown_and_stale_assets_are_404_with_the_name() {
    for path in [
        "/assets/app.0123456789abcdef.js",
        "/assets/nothing.png",
        "/assets/..%2FCargo.toml",
    ] {
        let (status, h, body) = get(path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(h[header::CONTENT_TYPE], "text/plain; charset=utf-8");
        assert!(String::from_utf8_lossy(&body).contains("no dashboard asset named"));
    }
    let (status, _, _) = get("/api/v1/query", &[]).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the router serves only its own paths"
    );
}
