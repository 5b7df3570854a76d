//! The Prometheus HTTP API (`/api/v1/...`) over any [`Storage`], evaluated by a
//! [`tallyho_query::Engine`], with Prometheus' parameters, JSON shapes, error types and
//! status codes, so Grafana, `promtool` and scripts written for Prometheus work unchanged.

mod handlers;
pub(crate) mod json;
mod meta;
mod metrics;
mod params;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, Method, StatusCode};
use tallyho_query::{Engine, QueryError, Storage};
use tokio::sync::Semaphore;

use crate::server::Shared;
use params::Params;

/// Largest form-encoded POST body accepted (a long query, many `match[]`).
const MAX_FORM_BYTES: usize = 1 << 20;

/// The query API an [`Endpoint`](crate::Endpoint) serves under `/api/v1/` when given one
/// with [`Endpoint::query_api`](crate::Endpoint::query_api).
///
/// Queries run on the blocking thread pool, at most
/// [`max_concurrency`](Self::max_concurrency) at once (Prometheus' `--query.max-concurrency`,
/// 20 by default); a query that waits longer than [`queue_timeout`](Self::queue_timeout) for
/// its turn is answered 503 `unavailable`. Each query's time limit is the smallest of the
/// engine's, the endpoint's request timeout and the request's `timeout` parameter.
///
/// Every request that passes the endpoint's guard is counted in the endpoint's registry as
/// `tallyho_query_requests_total{endpoint, outcome}` (`endpoint`: `query`, `query_range`,
/// `series`, `labels`, `label_values`, `query_exemplars`, `metadata`, `buildinfo`;
/// `outcome`: `success` or the `errorType` answered) and timed in
/// `tallyho_query_duration_seconds{endpoint}`.
#[derive(Clone)]
pub struct QueryApi {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) engine: Engine,
    pub(crate) max_concurrency: usize,
    pub(crate) queue_timeout: Duration,
    pub(crate) build_info: BuildInfo,
}

impl fmt::Debug for QueryApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryApi")
            .field("engine", &self.engine)
            .field("max_concurrency", &self.max_concurrency)
            .field("queue_timeout", &self.queue_timeout)
            .finish_non_exhaustive()
    }
}

/// What `/api/v1/status/buildinfo` answers. Grafana reads `version` to decide which API
/// features it may use, so it names the Prometheus release whose API this one follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// The Prometheus API version answered like (default `2.42.0`).
    pub version: String,
    /// What actually answers (default `tallyho <version>`).
    pub revision: String,
}

impl Default for BuildInfo {
    fn default() -> Self {
        BuildInfo {
            version: "2.42.0".into(),
            revision: concat!("tallyho ", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

impl QueryApi {
    /// An API answering from `storage` with `engine`.
    pub fn new(storage: Arc<dyn Storage>, engine: Engine) -> Self {
        QueryApi {
            storage,
            engine,
            max_concurrency: 20,
            queue_timeout: Duration::from_secs(5),
            build_info: BuildInfo::default(),
        }
    }

    /// Queries (and series/label look-ups) run at once at most (default 20; 0 means 1).
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n.max(1);
        self
    }

    /// How long a request waits for a free slot before 503 (default 5 s).
    pub fn queue_timeout(mut self, wait: Duration) -> Self {
        self.queue_timeout = wait;
        self
    }

    /// What `/api/v1/status/buildinfo` reports.
    pub fn build_info(mut self, info: BuildInfo) -> Self {
        self.build_info = info;
        self
    }
}

/// An API failure: Prometheus' `errorType`, HTTP status and a message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) error_type: &'static str,
    pub(crate) status: u16,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn bad_data(message: impl Into<String>) -> Self {
        ApiError {
            error_type: "bad_data",
            status: 400,
            message: message.into(),
        }
    }

    pub(crate) fn from_query(e: &QueryError) -> Self {
        ApiError {
            error_type: e.kind.error_type(),
            status: e.kind.http_status(),
            message: e.message.clone(),
        }
    }

    fn unavailable(message: impl Into<String>) -> Self {
        ApiError {
            error_type: "unavailable",
            status: 503,
            message: message.into(),
        }
    }

    fn internal(message: impl Into<String>) -> Self {
        ApiError {
            error_type: "internal",
            status: 500,
            message: message.into(),
        }
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        json_response(status, json::error(self.error_type, &self.message))
    }
}

/// What a handler sees: the API, the parsed form, the path's label name, the time now.
pub(crate) struct Ctx<'a> {
    pub(crate) api: &'a QueryApi,
    pub(crate) params: &'a Params,
    pub(crate) label: Option<&'a str>,
    pub(crate) now_ms: i64,
    pub(crate) request_timeout: Duration,
    pub(crate) registry: &'a tallyho::Registry,
}

type Handler = fn(&Ctx<'_>) -> Result<String, ApiError>;

/// A handler and the `endpoint` label its requests are counted under.
type Named = (&'static str, Handler);

pub(crate) struct ApiState {
    shared: Arc<Shared>,
    api: QueryApi,
    permits: Arc<Semaphore>,
    request_timeout: Duration,
    metrics: metrics::ApiMetrics,
}

/// The `/api/v1/...` routes, sharing the endpoint's guard (header limit and auth).
pub(crate) fn router(shared: Arc<Shared>, api: QueryApi, request_timeout: Duration) -> Router {
    let state = Arc::new(ApiState {
        permits: Arc::new(Semaphore::new(api.max_concurrency)),
        metrics: metrics::ApiMetrics::register(&shared.registry),
        shared,
        api,
        request_timeout,
    });
    let both = |h: Named| {
        let h2 = h;
        get(move |s: State<Arc<ApiState>>, r: Request| serve(s, r, None, h))
            .post(move |s: State<Arc<ApiState>>, r: Request| serve(s, r, None, h2))
    };
    let only_get = |h: Named| get(move |s: State<Arc<ApiState>>, r: Request| serve(s, r, None, h));
    Router::new()
        .route("/api/v1/query", both(("query", handlers::instant)))
        .route(
            "/api/v1/query_range",
            both(("query_range", handlers::range)),
        )
        .route("/api/v1/series", both(("series", handlers::series)))
        .route("/api/v1/labels", both(("labels", handlers::label_names)))
        .route(
            "/api/v1/label/{name}/values",
            get(
                |s: State<Arc<ApiState>>, Path(name): Path<String>, r: Request| async move {
                    serve(s, r, Some(name), ("label_values", handlers::label_values)).await
                },
            ),
        )
        .route(
            "/api/v1/query_exemplars",
            both(("query_exemplars", meta::exemplars)),
        )
        .route("/api/v1/metadata", only_get(("metadata", meta::metadata)))
        .route(
            "/api/v1/status/buildinfo",
            only_get(("buildinfo", meta::build_info)),
        )
        .with_state(state)
}

/// Guards, then answers with [`answer`], counting and timing what got past the guard.
async fn serve(
    State(st): State<Arc<ApiState>>,
    req: Request,
    label: Option<String>,
    (endpoint, handler): Named,
) -> Response {
    if let Some(refused) = crate::server::guard(&st.shared, &req, true, false) {
        return refused;
    }
    let started = Instant::now();
    let result = answer(&st, req, label, handler).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(e) => e.error_type,
    };
    st.metrics.observe(endpoint, outcome, started.elapsed());
    match result {
        Ok(data) => json_response(StatusCode::OK, json::success(&data)),
        Err(e) => e.into_response(),
    }
}

/// Reads the form, waits for a slot, and runs `handler` on the blocking pool.
async fn answer(
    st: &Arc<ApiState>,
    req: Request,
    label: Option<String>,
    handler: Handler,
) -> Result<String, ApiError> {
    let params = read_params(req).await?;
    let permit = match tokio::time::timeout(
        st.api.queue_timeout,
        st.permits.clone().acquire_owned(),
    )
    .await
    {
        Ok(Ok(p)) => p,
        _ => {
            return Err(ApiError::unavailable(format!(
                "too many concurrent queries: all {} slots stayed busy for {:?}",
                st.api.max_concurrency, st.api.queue_timeout
            )))
        }
    };
    let st2 = st.clone();
    let done = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let ctx = Ctx {
            api: &st2.api,
            params: &params,
            label: label.as_deref(),
            now_ms: now_ms(),
            request_timeout: st2.request_timeout,
            registry: &st2.shared.registry,
        };
        handler(&ctx)
    })
    .await;
    done.unwrap_or_else(|e| Err(ApiError::internal(format!("query failed: {e}"))))
}

/// The URL query's form values, and a form-encoded POST body's before them.
async fn read_params(req: Request) -> Result<Params, ApiError> {
    let mut params = Params::default();
    let query = req.uri().query().unwrap_or("").to_string();
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if req.method() == Method::POST && is_form {
        let body = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|e| {
                ApiError::bad_data(format!(
                    "error parsing form values: reading the body (at most {MAX_FORM_BYTES} bytes): {e}"
                ))
            })?;
        let text = std::str::from_utf8(&body)
            .map_err(|_| ApiError::bad_data("error parsing form values: the body is not UTF-8"))?;
        params.extend_from(text)?;
    }
    params.extend_from(&query)?;
    Ok(params)
}

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
