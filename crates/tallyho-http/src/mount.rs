//! Routes the endpoint serves for others, behind its guard: a dashboard (any axum
//! [`Router`]), `/api/v1/rules` and `/api/v1/alerts` from a [`RulesApi`], and
//! `POST /-/reload` calling a [`ReloadHook`].
//!
//! The endpoint knows no rule engine: whoever has one implements the small [`RulesApi`]
//! trait (the agent does it for `tallyho_rules::RuleManager`), so dependencies keep
//! pointing one way.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http::{header, StatusCode};

use crate::server::{guard, percent_decode, Shared};

/// What answers `GET /api/v1/rules` and `GET /api/v1/alerts`: whole response bodies in
/// Prometheus' shapes (`{"status":"success","data":{...}}`), such as
/// `tallyho_rules::api::rules_body` and `alerts_body` build.
///
/// Both run on the blocking thread pool, so they may take locks.
pub trait RulesApi: Send + Sync + 'static {
    /// The body of `/api/v1/rules`; `kind` is the `type` parameter (`None` when absent).
    ///
    /// # Errors
    /// A message for a `type` that is not supported; answered 400 `bad_data`.
    fn rules(&self, kind: Option<&str>) -> Result<serde_json::Value, String>;

    /// The body of `/api/v1/alerts`: every pending and firing alert.
    fn alerts(&self) -> serde_json::Value;
}

/// The function `POST /-/reload` calls (on the blocking pool). `Err` carries why the
/// reload was refused; it is answered 500 with that text, as Prometheus does.
#[derive(Clone)]
pub struct ReloadHook(pub Arc<dyn Fn() -> Result<(), String> + Send + Sync>);

impl std::fmt::Debug for ReloadHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReloadHook(..)")
    }
}

/// A [`RulesApi`] shared with the endpoint.
#[derive(Clone)]
pub(crate) struct SharedRules(pub(crate) Arc<dyn RulesApi>);

impl std::fmt::Debug for SharedRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RulesApi(..)")
    }
}

/// `router`'s routes, each behind the same guard as `/metrics` (headers, credentials).
pub(crate) fn guarded(shared: Arc<Shared>, router: Router) -> Router {
    router.route_layer(middleware::from_fn_with_state(shared, require_auth))
}

async fn require_auth(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if let Some(refused) = guard(&shared, &req, true, false) {
        return refused;
    }
    next.run(req).await
}

/// `/api/v1/rules` and `/api/v1/alerts`.
pub(crate) fn rules_router(shared: Arc<Shared>, api: SharedRules) -> Router {
    let routes = Router::new()
        .route("/api/v1/rules", get(rules).post(rules))
        .route("/api/v1/alerts", get(alerts).post(alerts))
        .with_state(api);
    guarded(shared, routes)
}

/// `POST /-/reload` (and `PUT`, as Prometheus accepts both).
pub(crate) fn reload_router(shared: Arc<Shared>, hook: ReloadHook) -> Router {
    let routes = Router::new()
        .route("/-/reload", post(reload).put(reload))
        .with_state(hook);
    guarded(shared, routes)
}

/// The first value of `name` in a URL query; `Err` for a malformed escape.
fn query_value(query: Option<&str>, name: &str) -> Result<Option<String>, String> {
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = || format!("error parsing form values: invalid URL escape in {pair:?}");
        if percent_decode(k).ok_or_else(bad)? == name {
            return percent_decode(v).ok_or_else(bad).map(Some);
        }
    }
    Ok(None)
}

async fn rules(State(api): State<SharedRules>, req: Request) -> Response {
    let kind = match query_value(req.uri().query(), "type") {
        Ok(k) => k,
        Err(e) => return bad_data(&e),
    };
    let done = tokio::task::spawn_blocking(move || api.0.rules(kind.as_deref())).await;
    match done {
        Ok(Ok(body)) => json(StatusCode::OK, body.to_string()),
        Ok(Err(e)) => bad_data(&format!("invalid rule type: {e}")),
        Err(e) => internal(&format!("listing the rules failed: {e}")),
    }
}

async fn alerts(State(api): State<SharedRules>) -> Response {
    match tokio::task::spawn_blocking(move || api.0.alerts()).await {
        Ok(body) => json(StatusCode::OK, body.to_string()),
        Err(e) => internal(&format!("listing the alerts failed: {e}")),
    }
}

async fn reload(State(hook): State<ReloadHook>) -> Response {
    match tokio::task::spawn_blocking(move || (hook.0)()).await {
        Ok(Ok(())) => (StatusCode::OK, "reloaded\n").into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("failed to reload config: {e}\n"),
        )
            .into_response(),
        Err(e) => internal(&format!("reload failed: {e}")),
    }
}

fn json(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response()
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = serde_json::json!({ "status": "error", "errorType": kind, "error": message });
    json(status, body.to_string())
}

fn bad_data(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "bad_data", message)
}

fn internal(message: &str) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
}

#[cfg(test)]
mod tests {
    use super::query_value;

    #[test]
    fn query_value_finds_the_first_decoded_value() {
        assert_eq!(
            query_value(Some("a=1&type=al%65rt&type=record"), "type"),
            Ok(Some("alert".into()))
        );
        assert_eq!(query_value(Some("typ=x"), "type"), Ok(None));
        assert_eq!(query_value(None, "type"), Ok(None));
        assert!(query_value(Some("type=%zz"), "type").is_err());
    }
}
