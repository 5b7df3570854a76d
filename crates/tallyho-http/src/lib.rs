//! The HTTP side of tallyho: a `/metrics` endpoint that Prometheus scrapes, a `/health`
//! endpoint, and a layer that measures your own HTTP server.
//!
//! ```no_run
//! use tallyho::Registry;
//! use tallyho_http::{Auth, Endpoint};
//!
//! let registry = Registry::new();
//! registry.counter("jobs", "Jobs processed.")?.inc();
//! // A standalone endpoint on its own thread, for programs that are not async.
//! let running = Endpoint::new(registry)
//!     .auth(Auth::basic("prometheus", "secret"))
//!     .spawn("127.0.0.1:9464")?;
//! println!("serving on http://{}/metrics", running.local_addr());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - `GET /metrics` (and `HEAD`): Prometheus text 0.0.4, or OpenMetrics 1.0 when the
//!   `Accept` header prefers it; gzip when `Accept-Encoding` allows; `?name[]=x&name[]=y`
//!   returns only those families.
//! - `GET /health`: JSON with status, uptime, families and series by type, the last
//!   collection's duration and size, and overflowed-cardinality counts.
//! - Off by default: basic or bearer authentication (401 with `WWW-Authenticate` and no
//!   data otherwise), a per-client rate limit (429).
//! - With [`Endpoint::query_api`]: the Prometheus HTTP API under `/api/v1/` (instant and
//!   range queries, series, labels, label values, metadata, build info), GET or POST, with
//!   Prometheus' JSON, parameters, error types and status codes, over any
//!   [`tallyho_query::Storage`].
//! - With [`Endpoint::dashboard`]: any routes (the `tallyho-dashboard` page at `/`) behind
//!   the same credentials as `/metrics`; with [`Endpoint::rules_api`]: `/api/v1/rules` and
//!   `/api/v1/alerts` from a [`RulesApi`]; with [`Endpoint::reload_hook`]: `POST /-/reload`.
//! - Always: concurrent scrapes share one collection, a request timeout, limits on header
//!   and body size, a header-read timeout, a bound on open connections (the oldest idle or
//!   half-open one is closed to make room), a shutdown deadline, a cached and rate-limited
//!   `/health`, and self-metrics `tallyho_scrape_duration_seconds` and
//!   `tallyho_scrape_response_size_bytes`.
//! - With [`Endpoint::tls`]: https from certificate and key files (rustls), reread when they
//!   change, optionally requiring client certificates ([`ServerTls`]).
#![deny(missing_docs)]

mod api;
mod auth;
mod conn;
mod health;
mod layer;
mod limit;
mod mount;
mod scrape;
mod server;
mod tls;

pub use api::json::{format_value, instant_response, range_response};
pub use api::{BuildInfo, QueryApi};
pub use auth::{Auth, ENV_BASIC, ENV_BEARER};
pub use layer::{HttpMetrics, HttpMetricsLayer};
pub use limit::RateLimit;
pub use mount::{ReloadHook, RulesApi};
pub use server::{serve, Endpoint, HealthExtra, Running, MAX_HEADER_BYTES};
pub use tls::{ServerTls, TlsError};
