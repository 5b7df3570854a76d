//! `/api/v1/query`, `/query_range`, `/series`, `/labels` and `/label/<name>/values`, with
//! Prometheus 2.42's parameter checks in its order and with its messages.

use std::time::Duration;

use tallyho_query::{Engine, EngineOptions, ErrorKind, Labels, QueryError};

use super::params::{invalid, matcher_sets, parse_duration, parse_time, time_param};
use super::{json, ApiError, Ctx};

/// Prometheus' `minTime`/`maxTime` in milliseconds: the defaults of optional `start`/`end`.
pub(crate) const MIN_TIME_MS: i64 = -9_223_309_901_257_974_000;
/// See [`MIN_TIME_MS`].
pub(crate) const MAX_TIME_MS: i64 = 9_223_309_901_257_974_999;

/// Most points per series a range query may ask for, as Prometheus' API enforces.
const MAX_POINTS: i128 = 11_000;

/// The engine with this request's time limit: the smallest of the engine's own, 90% of the
/// endpoint's request timeout and the `timeout` parameter.
fn engine_for(ctx: &Ctx<'_>) -> Result<Engine, ApiError> {
    let opts = ctx.api.engine.options();
    // A little under the request timeout, so the engine's own `timeout` error (JSON, 503)
    // comes back before the endpoint gives up with a bare 408.
    let mut limit = opts.timeout.min(ctx.request_timeout.mul_f64(0.9));
    let asked = ctx.params.get("timeout");
    if !asked.is_empty() {
        let ns = parse_duration(asked).map_err(|e| invalid("timeout", e))?;
        let asked = Duration::from_nanos(u64::try_from(ns).unwrap_or(0));
        limit = limit.min(asked);
    }
    Ok(Engine::new(EngineOptions {
        timeout: limit,
        ..opts.clone()
    }))
}

/// A query error as the API reports it; parse errors of an instant query name the
/// parameter, as Prometheus' do.
fn query_error(e: QueryError, name_param: bool) -> ApiError {
    let mut api = ApiError::from_query(&e);
    if name_param && e.kind == ErrorKind::BadData {
        api.message = format!("invalid parameter \"query\": {}", e.message);
    }
    api
}

/// `GET|POST /api/v1/query?query=&time=&timeout=`.
pub(crate) fn instant(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let at = time_param(ctx.params, "time", ctx.now_ms)?;
    let engine = engine_for(ctx)?;
    let value = engine
        .instant(&*ctx.api.storage, ctx.params.get("query"), at)
        .map_err(|e| query_error(e, true))?;
    Ok(json::value_data(&value))
}

/// `GET|POST /api/v1/query_range?query=&start=&end=&step=&timeout=`.
pub(crate) fn range(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let p = ctx.params;
    let start = parse_time(p.get("start")).map_err(|e| invalid("start", e))?;
    let end = parse_time(p.get("end")).map_err(|e| invalid("end", e))?;
    if end < start {
        return Err(invalid(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step_ns = parse_duration(p.get("step")).map_err(|e| invalid("step", e))?;
    if step_ns <= 0 {
        return Err(invalid(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if i128::from(end - start) * 1_000_000 / step_ns > MAX_POINTS {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let step_ms = i64::try_from(step_ns / 1_000_000).unwrap_or(i64::MAX);
    if step_ms == 0 {
        return Err(invalid(
            "step",
            "steps below one millisecond are not accepted (samples have millisecond timestamps)",
        ));
    }
    let engine = engine_for(ctx)?;
    let series = engine
        .range(&*ctx.api.storage, p.get("query"), start, end, step_ms)
        .map_err(|e| query_error(e, false))?;
    Ok(json::matrix_data(&series))
}

/// The optional `start`/`end` of the metadata endpoints.
fn span(ctx: &Ctx<'_>) -> Result<(i64, i64), ApiError> {
    let start = time_param(ctx.params, "start", MIN_TIME_MS)?;
    let end = time_param(ctx.params, "end", MAX_TIME_MS)?;
    Ok((start, end))
}

fn storage_error(e: tallyho_query::StorageError) -> ApiError {
    ApiError::from_query(&QueryError::from(e))
}

/// `GET|POST /api/v1/series?match[]=&start=&end=`.
pub(crate) fn series(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    if ctx.params.all("match[]").next().is_none() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let (start, end) = span(ctx)?;
    let sets =
        matcher_sets(ctx.params.all("match[]")).map_err(|e| invalid("match[]", e.message))?;
    let mut found: Vec<Labels> = ctx
        .api
        .storage
        .series(&sets, start, end)
        .map_err(storage_error)?;
    found.sort();
    found.dedup();
    Ok(json::label_sets(&found))
}

/// `GET|POST /api/v1/labels?match[]=&start=&end=`.
pub(crate) fn label_names(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let (start, end) = span(ctx)?;
    let sets = matcher_sets(ctx.params.all("match[]"))?;
    let mut names = ctx
        .api
        .storage
        .label_names(&sets, start, end)
        .map_err(storage_error)?;
    names.sort();
    names.dedup();
    Ok(json::string_list(&names))
}

/// `GET /api/v1/label/<name>/values?match[]=&start=&end=`.
pub(crate) fn label_values(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = ctx.label.unwrap_or("");
    if !super::params::is_label_name(name) {
        return Err(ApiError::bad_data(format!(
            "invalid label name: {:?}",
            super::params::truncate(name)
        )));
    }
    let (start, end) = span(ctx)?;
    let sets = matcher_sets(ctx.params.all("match[]"))?;
    let mut values = ctx
        .api
        .storage
        .label_values(name, &sets, start, end)
        .map_err(storage_error)?;
    values.sort();
    values.dedup();
    Ok(json::string_list(&values))
}
