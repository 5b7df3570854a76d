//! `/health`: cheap and bounded whatever the number of families or clients.
//!
//! The figures come from the last full scrape of `/metrics`; when there is none (or it is
//! older than [`REFRESH`]) one shared collection refreshes them, so `/health` costs at most
//! one collection a minute (concurrent requests share it). A token bucket shared by all
//! clients bounds the request rate, and with it the calls to [`HealthExtra`].

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use tallyho_encode::Format;

use crate::limit::{Limiter, RateLimit};
use crate::server::{guard, plain, HealthExtra, Shared};

/// The default rate of `/health` answers, all clients together.
pub(crate) const DEFAULT_RATE: RateLimit = RateLimit {
    per_second: 10.0,
    burst: 20,
};

/// Figures older than this are refreshed by a collection of their own.
const REFRESH: Duration = Duration::from_secs(60);

/// The one key of the shared token bucket.
const EVERYONE: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

pub(crate) struct HealthCache {
    limiter: Option<Limiter>,
}

impl HealthCache {
    pub(crate) fn new(rate: Option<RateLimit>) -> Self {
        HealthCache {
            limiter: rate.map(Limiter::new),
        }
    }
}

pub(crate) async fn health(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    if let Some(refused) = guard(&shared, &req, shared.health_requires_auth, true) {
        return refused;
    }
    if let Some(limiter) = &shared.health_cache.limiter {
        if let Err(wait) = limiter.check(EVERYONE) {
            let mut res = plain(
                StatusCode::TOO_MANY_REQUESTS,
                "too many /health requests\n".into(),
            );
            if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return res;
        }
    }
    let body = build(&shared).await;
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn last(shared: &Shared) -> Option<crate::scrape::Stats> {
    shared
        .last
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

async fn build(shared: &Shared) -> String {
    let fresh = |s: &crate::scrape::Stats| {
        s.at.and_then(|at| at.elapsed().ok())
            .is_some_and(|age| age < REFRESH)
    };
    let mut stats = last(shared);
    if !stats.as_ref().is_some_and(fresh) {
        // Shares a collection with any scrape running now.
        if let Ok(e) = shared
            .flight
            .get(&shared.registry, Format::Prometheus)
            .await
        {
            *shared.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.stats.clone());
            stats = Some(e.stats);
        }
    }
    let counts = stats.clone().unwrap_or_default();
    let unix = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    };
    let mut body = serde_json::json!({
        "status": "ok",
        "uptime_seconds": shared.started.elapsed().as_secs_f64(),
        "families": counts.families,
        "series": counts.series,
        "last_collection": stats.map(|s| serde_json::json!({
            "duration_seconds": s.duration.as_secs_f64(),
            "bytes": s.bytes,
            "at_unix_ms": s.at.map(unix),
        })),
        "cardinality_overflow": counts.overflow,
    });
    if let Some(HealthExtra(extra)) = &shared.health_extra {
        // On the blocking pool: the figures may sit behind a lock a long write holds.
        let extra = extra.clone();
        if let (Ok(serde_json::Value::Object(more)), Some(obj)) = (
            tokio::task::spawn_blocking(move || extra()).await,
            body.as_object_mut(),
        ) {
            obj.extend(more);
        }
    }
    body.to_string()
}
