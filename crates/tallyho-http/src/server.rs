//! The endpoint: routes, handlers, and ways to run them.

use std::collections::HashSet;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, HeaderValue, StatusCode};
use tallyho::{Buckets, Histogram, Registry};
use tallyho_encode::Format;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::api::QueryApi;
use crate::auth::Auth;
use crate::conn::{self, ConnLimits, ConnMetrics};
use crate::health::HealthCache;
use crate::limit::{Limiter, RateLimit};
use crate::mount::{ReloadHook, RulesApi, SharedRules};
use crate::scrape::{self, SingleFlight, Stats};

/// Requests whose headers add up to more than this many bytes get 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Request bodies above this are refused (the endpoint reads none).
const MAX_BODY_BYTES: usize = 1024;

/// A configured metrics endpoint; turn it into a [`Router`], or run it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    registry: Registry,
    auth: Auth,
    health_requires_auth: bool,
    rate_limit: Option<RateLimit>,
    health_rate_limit: Option<RateLimit>,
    timeout: Duration,
    limits: ConnLimits,
    query_api: Option<QueryApi>,
    health_extra: Option<HealthExtra>,
    dashboard: Option<Router>,
    rules_api: Option<SharedRules>,
    reload: Option<ReloadHook>,
    tls: Option<crate::ServerTls>,
}

/// A function adding figures to `/health`: it returns a JSON object whose keys are merged
/// into the body. It runs on every `/health` answer (those are rate-limited), so it must be
/// cheap.
#[derive(Clone)]
pub struct HealthExtra(pub Arc<dyn Fn() -> serde_json::Value + Send + Sync>);

impl std::fmt::Debug for HealthExtra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HealthExtra(..)")
    }
}

pub(crate) struct Shared {
    pub(crate) registry: Registry,
    auth: Auth,
    pub(crate) health_requires_auth: bool,
    limiter: Option<Limiter>,
    pub(crate) flight: SingleFlight,
    pub(crate) last: Mutex<Option<Stats>>,
    pub(crate) started: Instant,
    scrape_duration: Histogram,
    scrape_size: Histogram,
    pub(crate) health_extra: Option<HealthExtra>,
    pub(crate) health_cache: HealthCache,
}

impl Endpoint {
    /// An endpoint serving `registry`, with no authentication and a 10 s request timeout.
    pub fn new(registry: Registry) -> Self {
        Endpoint {
            registry,
            auth: Auth::None,
            health_requires_auth: false,
            rate_limit: None,
            health_rate_limit: Some(crate::health::DEFAULT_RATE),
            timeout: Duration::from_secs(10),
            limits: ConnLimits::default(),
            query_api: None,
            health_extra: None,
            dashboard: None,
            rules_api: None,
            reload: None,
            tls: None,
        }
    }

    /// Also serves `routes` (a dashboard such as `tallyho_dashboard::router()`), every one
    /// behind the same credentials and header limit as `/metrics`: without them, `GET /`
    /// is answered 401 like a scrape. Called twice, the routes are merged (a path given
    /// twice panics when the router is built, as axum's `merge` does).
    pub fn dashboard(mut self, routes: Router) -> Self {
        self.dashboard = Some(match self.dashboard.take() {
            Some(old) => old.merge(routes),
            None => routes,
        });
        self
    }

    /// Also serves `GET /api/v1/rules` (with `?type=alert|record`) and `GET /api/v1/alerts`
    /// from `api`, behind the same credentials as `/metrics`.
    pub fn rules_api(mut self, api: Arc<dyn RulesApi>) -> Self {
        self.rules_api = Some(SharedRules(api));
        self
    }

    /// Also answers `POST /-/reload` (and `PUT`) by calling `hook` on the blocking pool:
    /// 200 when it returns `Ok`, 500 with its message otherwise. Behind the same
    /// credentials as `/metrics`. Without a hook the path is not served (404), as
    /// Prometheus without `--web.enable-lifecycle`.
    pub fn reload_hook(mut self, hook: Arc<dyn Fn() -> Result<(), String> + Send + Sync>) -> Self {
        self.reload = Some(ReloadHook(hook));
        self
    }

    /// Also serves the Prometheus HTTP API (`/api/v1/query`, `/query_range`, `/series`,
    /// `/labels`, `/label/<name>/values`, `/metadata`, `/status/buildinfo`) from `api`,
    /// behind the same credentials as `/metrics` and the same request timeout.
    pub fn query_api(mut self, api: QueryApi) -> Self {
        self.query_api = Some(api);
        self
    }

    /// Adds the keys of the object `extra` returns to every `/health` answer.
    pub fn health_extra(mut self, extra: Arc<dyn Fn() -> serde_json::Value + Send + Sync>) -> Self {
        self.health_extra = Some(HealthExtra(extra));
        self
    }

    /// Requires these credentials on `/metrics`, the query API, the rules API, `/-/reload`
    /// and the [`dashboard`](Self::dashboard) routes (and on `/health` with
    /// [`health_requires_auth`](Self::health_requires_auth)).
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Whether `/health` also needs the credentials (default: no).
    pub fn health_requires_auth(mut self, yes: bool) -> Self {
        self.health_requires_auth = yes;
        self
    }

    /// Answers 429 to a client that scrapes faster than this.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// How long a request may take before it is answered 408 (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `/health` answers at most this often from all clients together (429 beyond;
    /// default 10 a second, bursts of 20); `None` for no limit. Its figures never cost more
    /// than one collection a minute either way.
    pub fn health_rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.health_rate_limit = limit;
        self
    }

    /// Most connections open at once (default 1024). At the limit the oldest connection
    /// with no request in flight (idle, or still sending its headers) is closed to make
    /// room; when every one is answering a request the new connection is closed.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.limits.max_connections = n.max(1);
        self
    }

    /// How long a client may take to send a request's headers before the connection is
    /// closed (default 10 s). Applies to [`serve`](Self::serve), [`serve_until`](Self::serve_until)
    /// and [`spawn`](Self::spawn), not to a [`router`](Self::router) served elsewhere.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_timeout = timeout;
        self
    }

    /// Serves https with this certificate, reread when its files change (see
    /// [`ServerTls`](crate::ServerTls)). Applies to [`serve`](Self::serve),
    /// [`serve_until`](Self::serve_until) and [`spawn`](Self::spawn), not to a
    /// [`router`](Self::router) served elsewhere.
    pub fn tls(mut self, tls: crate::ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// How long shutdown waits for requests in flight before dropping them (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.limits.shutdown_timeout = timeout;
        self
    }

    /// The routes `/metrics` and `/health`, to serve alone or merge into an axum app. Rate
    /// limiting needs the client address: serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()` (as [`serve`](Self::serve) does).
    pub fn router(&self) -> Router {
        let r = &self.registry;
        // Registering twice returns the same instruments; a conflicting user metric of the
        // same name leaves the endpoint without self-metrics rather than failing.
        let scrape_duration = r
            .metric(
                "tallyho_scrape_duration_seconds",
                "Time to answer a scrape of /metrics.",
            )
            .buckets(Buckets::exponential(0.0001, 4.0, 10).unwrap_or_default())
            .histogram()
            .unwrap_or_else(|_| Histogram::noop());
        let scrape_size = r
            .metric(
                "tallyho_scrape_response_size_bytes",
                "Size of a /metrics response body before compression.",
            )
            .buckets(Buckets::exponential(1024.0, 4.0, 10).unwrap_or_default())
            .histogram()
            .unwrap_or_else(|_| Histogram::noop());
        let shared = Arc::new(Shared {
            registry: self.registry.clone(),
            auth: self.auth.clone(),
            health_requires_auth: self.health_requires_auth,
            limiter: self.rate_limit.map(Limiter::new),
            flight: SingleFlight::default(),
            last: Mutex::new(None),
            started: Instant::now(),
            scrape_duration,
            scrape_size,
            health_extra: self.health_extra.clone(),
            health_cache: HealthCache::new(self.health_rate_limit),
        });
        let mut router = Router::new()
            .route("/metrics", get(metrics))
            .route("/health", get(crate::health::health))
            .with_state(shared.clone())
            .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES));
        if let Some(api) = &self.query_api {
            router = router.merge(crate::api::router(
                shared.clone(),
                api.clone(),
                self.timeout,
            ));
        }
        if let Some(rules) = &self.rules_api {
            router = router.merge(crate::mount::rules_router(shared.clone(), rules.clone()));
        }
        if let Some(hook) = &self.reload {
            router = router.merge(crate::mount::reload_router(shared.clone(), hook.clone()));
        }
        if let Some(dashboard) = &self.dashboard {
            router = router.merge(crate::mount::guarded(shared, dashboard.clone()));
        }
        router
            .layer(
                CompressionLayer::new()
                    .gzip(true)
                    .no_br()
                    .no_deflate()
                    .no_zstd(),
            )
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                self.timeout,
            ))
    }

    /// Serves on `listener` until the future is dropped or the listener fails.
    ///
    /// # Errors
    /// An I/O error from the listener.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        self.serve_until(listener, std::future::pending()).await
    }

    /// Serves on `listener` until `signal` completes, then stops accepting, closes idle
    /// and half-open connections, and gives requests in flight the
    /// [`shutdown_timeout`](Self::shutdown_timeout) before dropping them.
    ///
    /// # Errors
    /// An I/O error from the listener.
    pub async fn serve_until(
        self,
        listener: tokio::net::TcpListener,
        signal: impl std::future::Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let metrics = ConnMetrics::register(&self.registry);
        let tls = self.tls.clone();
        conn::serve(listener, self.router(), self.limits, metrics, tls, signal).await
    }

    /// Binds `addr` and serves on a thread of its own (with its own small runtime), for
    /// programs that are not async. The endpoint stops when the returned [`Running`] is shut
    /// down or dropped.
    ///
    /// # Errors
    /// The address does not resolve or cannot be bound, or the thread cannot start.
    pub fn spawn(self, addr: impl ToSocketAddrs) -> std::io::Result<Running> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(2)
            .thread_name("tallyho-http")
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("tallyho-http".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let _ = self
                        .serve_until(listener, async {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })?;
        Ok(Running {
            addr: local,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// Serves `registry` at `addr` with default settings until the future is dropped.
///
/// # Errors
/// The address cannot be bound, or the listener fails.
pub async fn serve(
    addr: impl tokio::net::ToSocketAddrs,
    registry: Registry,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    Endpoint::new(registry).serve(listener).await
}

/// An endpoint running on its own thread; stops when shut down or dropped.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// The address it listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, finishes requests in flight, and waits for the thread.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Refuses the request when it breaks a limit or lacks credentials. The per-client rate
/// limit applies to scrapes only (`rate_limited`): a dashboard sends many queries at once,
/// and the query API bounds its own concurrency.
pub(crate) fn guard(
    shared: &Shared,
    req: &Request,
    needs_auth: bool,
    rate_limited: bool,
) -> Option<Response> {
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Some(plain(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "request headers are {header_bytes} bytes; at most {MAX_HEADER_BYTES} allowed\n"
            ),
        ));
    }
    if needs_auth && !shared.auth.allows(req.headers()) {
        let mut res = plain(StatusCode::UNAUTHORIZED, "authentication required\n".into());
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(shared.auth.challenge()),
        );
        return Some(res);
    }
    if let Some(limiter) = shared.limiter.as_ref().filter(|_| rate_limited) {
        let client = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        if let Some(ip) = client {
            if let Err(wait) = limiter.check(ip) {
                let mut res = plain(StatusCode::TOO_MANY_REQUESTS, "too many scrapes\n".into());
                let secs = wait.as_secs().max(1).to_string();
                if let Ok(v) = HeaderValue::from_str(&secs) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return Some(res);
            }
        }
    }
    None
}

pub(crate) fn plain(status: StatusCode, text: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// The family names asked for with `name[]=` (none: everything).
fn name_filter(query: Option<&str>) -> Option<HashSet<String>> {
    let mut names = HashSet::new();
    for pair in query?.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if matches!(percent_decode(k).as_deref(), Some("name[]")) {
            if let Some(v) = percent_decode(v) {
                names.insert(v);
            }
        }
    }
    (!names.is_empty()).then_some(names)
}

/// Decodes `%XX` escapes and `+`; `None` for malformed escapes or invalid UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hi = (bytes.next()? as char).to_digit(16)?;
                let lo = (bytes.next()? as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
            }
            b'+' => out.push(b' '),
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

async fn metrics(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let started = Instant::now();
    if let Some(refused) = guard(&shared, &req, true, true) {
        return refused;
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = Format::negotiate(accept);
    let filter = name_filter(req.uri().query());
    let full = filter.is_none();
    let encoded = match filter {
        None => shared.flight.get(&shared.registry, format).await,
        Some(only) => {
            let registry = shared.registry.clone();
            tokio::task::spawn_blocking(move || scrape::encode(&registry, format, Some(&only)))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
        }
    };
    let encoded = match encoded {
        Ok(e) => e,
        Err(e) => return plain(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    };
    if full {
        *shared.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(encoded.stats.clone());
    }
    shared.scrape_size.observe(encoded.body.len() as f64);
    shared.scrape_duration.observe_duration(started.elapsed());
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, encoded.format.content_type())
        .body(Body::from(encoded.body))
        .unwrap_or_else(|e| plain(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_filter_parses_repeated_and_encoded_keys() {
        let f = name_filter(Some("name[]=a&name%5B%5D=b%20c&other=1&name[]=")).unwrap();
        assert!(f.contains("a") && f.contains("b c") && f.contains(""));
        assert!(name_filter(Some("x=1")).is_none());
        assert!(name_filter(None).is_none());
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%"), None);
    }
}
