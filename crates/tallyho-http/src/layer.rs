//! A tower layer that measures an HTTP server: request duration by method, route template
//! and status, and requests in flight.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use http::{Request, Response};
use tallyho::{Buckets, Family, Histogram, Registry, UpDownCounter};
use tower::{Layer, Service};

/// Records `http_server_request_duration_seconds{method,route,status}` and
/// `http_server_active_requests` for every request through the wrapped service.
///
/// The route is axum's matched route template (`/users/{id}`), never the raw path, so the
/// number of series stays bounded; requests that matched no route get `route=""`.
///
/// ```
/// # use axum::{routing::get, Router};
/// let registry = tallyho::Registry::new();
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "hi" }))
///     .layer(tallyho_http::HttpMetricsLayer::new(&registry)?);
/// # Ok::<(), tallyho::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct HttpMetricsLayer {
    duration: Family<Histogram>,
    active: UpDownCounter,
}

impl HttpMetricsLayer {
    /// Registers the two metrics in `registry`.
    ///
    /// # Errors
    /// The names are registered already with another type or labels.
    pub fn new(registry: &Registry) -> Result<Self, tallyho::Error> {
        Ok(HttpMetricsLayer {
            duration: registry
                .metric(
                    "http_server_request_duration",
                    "Duration of HTTP server requests.",
                )
                .unit("seconds")
                .buckets(Buckets::new([
                    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                ])?)
                .histogram_family(&["method", "route", "status"])?,
            active: registry
                .metric(
                    "http_server_active_requests",
                    "HTTP server requests in flight.",
                )
                .up_down_counter()?,
        })
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetrics {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`HttpMetricsLayer`].
#[derive(Clone, Debug)]
pub struct HttpMetrics<S> {
    inner: S,
    layer: HttpMetricsLayer,
}

/// Decrements the in-flight count however the request ends, cancellation included.
struct InFlight(UpDownCounter);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl<S, B, R> Service<Request<B>> for HttpMetrics<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let method = req.method().as_str().to_owned();
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        self.layer.active.inc();
        let in_flight = InFlight(self.layer.active.clone());
        let duration = self.layer.duration.clone();
        let started = Instant::now();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            let status = match &result {
                Ok(res) => res.status().as_u16(),
                Err(_) => 500,
            };
            duration
                .with(&[&method, &route, &status.to_string()])
                .observe_duration(started.elapsed());
            drop(in_flight);
            result
        })
    }
}
