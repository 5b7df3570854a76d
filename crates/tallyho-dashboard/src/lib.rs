//! A live dashboard for tallyho, served from the binary that records the numbers.
//!
//! [`router`] answers `GET /` (the page) and `GET /assets/*` (one script, one style sheet,
//! built from `web/` with uPlot and committed, so building needs no Node). The page asks
//! only its own origin: the Prometheus HTTP API under `/api/v1/` and `/health`. Nothing is
//! fetched from elsewhere at run time (no CDN, no web fonts), so it works offline.
//!
//! The router carries no authentication of its own: mount it where the metrics endpoint's
//! guard covers it, as `tallyho_http::Endpoint` does.
//!
//! ```
//! # async fn demo() {
//! use tower::ServiceExt;
//! let app: axum::Router = tallyho_dashboard::router();
//! let res = app
//!     .oneshot(http::Request::get("/").body(axum::body::Body::empty()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(res.status(), 200);
//! assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
//! # }
//! ```
//!
//! What the page shows: a host overview (CPU by mode, memory, load, disk and network
//! throughput, filesystems, this process, GPUs when present), every family of the
//! registry searchable by name and label (counters as rates, gauges as values, histograms
//! as quantiles and a bucket view), a PromQL box, call-outs for overflowed cardinality,
//! export failures and StatsD drops, and alerts when `/api/v1/alerts` answers.
#![deny(missing_docs)]

mod assets;

use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub use assets::{asset_paths, CSS_PLACEHOLDER, JS_PLACEHOLDER};

/// What the page may load and call: its own origin only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The routes `/` and `/assets/{file}`, with any state type so that it merges into an
/// existing app.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(page))
        .route("/assets/{file}", get(asset))
}

async fn page(headers: HeaderMap) -> Response {
    respond(&headers, assets::index())
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match assets::lookup(&file) {
        Some(a) => respond(&headers, a),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("no dashboard asset named {file:?}\n"),
        )
            .into_response(),
    }
}

/// The file, or 304 when the client's `If-None-Match` already names its validator.
fn respond(req: &HeaderMap, a: assets::Asset) -> Response {
    let cache = if a.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = req
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == a.etag
        });
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(a.body));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(a.content_type),
        );
        r
    };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(a.etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}
