//! `tallyho query`: a PromQL query against a running agent's `/api/v1/query[_range]`, or
//! against a history directory opened here (served in-process through the same API code,
//! so both answer alike). Prints a table or the API's JSON.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tallyho_http::Auth;

use crate::units;

/// Where the answer comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A running agent, e.g. `http://127.0.0.1:9464`.
    Url(String),
    /// A history directory, opened read-only: nothing in it is changed or deleted, and
    /// a running agent may hold it (the answer is the directory as it was when opened).
    Dir {
        /// The storage path.
        path: PathBuf,
        /// The agent's retention: samples older than this before the newest are hidden,
        /// as the agent hides them (nothing is deleted).
        retention: Duration,
    },
}

/// What to ask.
#[derive(Debug, Clone)]
pub struct QueryArgs {
    /// The PromQL expression.
    pub expr: String,
    /// Evaluation time of an instant query: RFC 3339, Unix seconds, `now` or `-5m`.
    pub time: Option<String>,
    /// Range start (makes it a range query; `end` defaults to now, `step` to 15s).
    pub start: Option<String>,
    /// Range end.
    pub end: Option<String>,
    /// Range step: `15s`, `1m` or seconds.
    pub step: Option<String>,
    /// Print the API's JSON instead of a table.
    pub json: bool,
    /// Credentials for a running agent.
    pub auth: Auth,
}

/// Why `tallyho query` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryCmdError {
    /// The request could not be made or answered.
    #[error("{0}")]
    Transport(String),
    /// The API refused the query (bad PromQL, bad parameter, timeout...).
    #[error("{error_type}: {message}")]
    Api {
        /// Prometheus' `errorType`.
        error_type: String,
        /// The message.
        message: String,
    },
    /// The history directory could not be opened.
    #[error("{0}")]
    Open(String),
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs the query and prints the result to `out`.
///
/// # Errors
/// [`QueryCmdError`] naming what failed.
pub fn run(args: &QueryArgs, source: &Source, out: &mut dyn Write) -> Result<(), QueryCmdError> {
    let (path, form) = request(args);
    let (status, body) = match source {
        Source::Url(base) => over_http(base, path, &form, &args.auth)?,
        Source::Dir {
            path: dir,
            retention,
        } => in_process(dir, *retention, path, &form)?,
    };
    let v: Value = serde_json::from_str(&body).map_err(|e| {
        QueryCmdError::Transport(format!(
            "HTTP {status}: the answer is not the query API's JSON ({e}): {}",
            body.chars().take(200).collect::<String>()
        ))
    })?;
    if v["status"] != "success" {
        return Err(QueryCmdError::Api {
            error_type: v["errorType"].as_str().unwrap_or("unknown").to_string(),
            message: v["error"].as_str().unwrap_or("").to_string(),
        });
    }
    if args.json {
        writeln!(out, "{body}")?;
    } else {
        out.write_all(table(&v["data"]).as_bytes())?;
    }
    Ok(())
}

/// The API path and its form (already encoded).
fn request(args: &QueryArgs) -> (&'static str, String) {
    let mut form = format!("query={}", encode(&args.expr));
    let mut add = |k: &str, v: &str| {
        let _ = write!(form, "&{k}={}", encode(v));
    };
    if args.start.is_some() || args.end.is_some() || args.step.is_some() {
        let now = now_s();
        let end = args.end.as_deref().map_or(now.clone(), resolve_time);
        let start = args.start.as_deref().map_or_else(
            || match end.parse::<f64>() {
                Ok(e) => format!("{:.3}", e - 3600.0),
                Err(_) => end.clone(),
            },
            resolve_time,
        );
        add("start", &start);
        add("end", &end);
        add("step", args.step.as_deref().unwrap_or("15s"));
        ("/api/v1/query_range", form)
    } else {
        if let Some(t) = &args.time {
            add("time", &resolve_time(t));
        }
        ("/api/v1/query", form)
    }
}

fn now_s() -> String {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{:.3}", d.as_secs_f64())
}

/// `now` and `-5m`/`now-5m` become Unix seconds; anything else goes to the API as given.
fn resolve_time(t: &str) -> String {
    let t = t.trim();
    if t == "now" {
        return now_s();
    }
    if t.parse::<f64>().is_ok() {
        return t.to_string();
    }
    let ago = t.strip_prefix("now-").or_else(|| t.strip_prefix('-'));
    match ago.map(units::parse_duration) {
        Some(Ok(d)) => {
            let now: f64 = now_s().parse().unwrap_or(0.0);
            format!("{:.3}", now - d.as_secs_f64())
        }
        _ => t.to_string(),
    }
}

/// Percent-encodes a form value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

fn over_http(
    base: &str,
    path: &str,
    form: &str,
    auth: &Auth,
) -> Result<(u16, String), QueryCmdError> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let mut req = ureq::post(&url)
        .timeout(Duration::from_secs(130))
        .set("Content-Type", "application/x-www-form-urlencoded");
    if let Some(h) = auth.authorization() {
        req = req.set("Authorization", &h);
    }
    let res = match req.send_string(form) {
        Ok(r) => r,
        Err(ureq::Error::Status(401, _)) => {
            return Err(QueryCmdError::Transport(format!(
                "{url}: 401 Unauthorized: give the agent's credentials ([auth] in --config, or {} / {})",
                tallyho_http::ENV_BASIC,
                tallyho_http::ENV_BEARER
            )))
        }
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => {
            return Err(QueryCmdError::Transport(format!(
                "{e} (is the agent running? start it with `tallyho serve`, or read a history directory with --storage-path)"
            )))
        }
    };
    let status = res.status();
    let body = res
        .into_string()
        .map_err(|e| QueryCmdError::Transport(format!("{url}: reading the answer: {e}")))?;
    Ok((status, body))
}

fn in_process(
    dir: &std::path::Path,
    retention: Duration,
    path: &str,
    form: &str,
) -> Result<(u16, String), QueryCmdError> {
    // Read-only: no lock, no WAL writes, no block cutting, no retention deletes, so neither
    // a shorter retention here nor a running agent on the same directory can lose data.
    let opts = tallyho_history::HistoryOptions::default()
        .retention(retention)
        .storage_path(dir)
        .read_only(true);
    let history = tallyho_history::History::open(opts)
        .map_err(|e| QueryCmdError::Open(format!("opening {} read-only: {e}", dir.display())))?;
    let api = tallyho_http::QueryApi::new(Arc::new(history.clone()), history.engine().clone());
    let router = tallyho_http::Endpoint::new(tallyho::Registry::new())
        .timeout(Duration::from_secs(130))
        .query_api(api)
        .router();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| QueryCmdError::Transport(format!("starting a runtime: {e}")))?;
    let answer = runtime.block_on(async move {
        use tower::ServiceExt;
        let req = axum::http::Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(form.to_string()))
            .map_err(|e| e.to_string())?;
        let res = router.oneshot(req).await.map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 30)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((status, String::from_utf8_lossy(&bytes).into_owned()))
    });
    if let Err(e) = history.close() {
        tracing::warn!("closing the history: {e}");
    }
    answer.map_err(QueryCmdError::Transport)
}

/// `name{a="x", b="y"}` from an API `metric` object.
fn series_name(metric: &Value) -> String {
    let labels = tallyho_query::Labels::new(
        metric
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())),
    );
    labels.to_string()
}

/// A point `[t, "v"]` as (time text, value text).
fn point(p: &Value) -> (String, String) {
    let t = p[0].as_f64().map_or_else(String::new, rfc3339);
    let v = p[1].as_str().unwrap_or("").to_string();
    (t, v)
}

/// The table `tallyho query` prints for the API's `data`.
pub fn table(data: &Value) -> String {
    let mut rows: Vec<[String; 3]> = Vec::new();
    let result = &data["result"];
    match data["resultType"].as_str().unwrap_or("") {
        "scalar" | "string" => {
            let (t, v) = point(result);
            rows.push([data["resultType"].as_str().unwrap_or("").into(), v, t]);
        }
        "vector" => {
            for s in result.as_array().into_iter().flatten() {
                let (t, v) = point(&s["value"]);
                rows.push([series_name(&s["metric"]), v, t]);
            }
        }
        _ => {
            for s in result.as_array().into_iter().flatten() {
                let name = series_name(&s["metric"]);
                for p in s["values"].as_array().into_iter().flatten() {
                    let (t, v) = point(p);
                    rows.push([name.clone(), v, t]);
                }
            }
        }
    }
    if rows.is_empty() {
        return "no data\n".into();
    }
    let header = ["SERIES".to_string(), "VALUE".into(), "TIME".into()];
    let width = |i: usize| {
        rows.iter()
            .chain([&header])
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1) = (width(0), width(1));
    let mut out = String::new();
    for r in [&header].into_iter().chain(rows.iter()) {
        let _ = writeln!(out, "{:<w0$}  {:>w1$}  {}", r[0], r[1], r[2]);
    }
    out
}

/// Unix seconds as `2023-11-14T22:13:20.123Z`.
fn rfc3339(secs: f64) -> String {
    let ms = (secs * 1000.0).round() as i64;
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_and_tables() {
        assert_eq!(rfc3339(1_700_000_000.123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400.0), "2000-02-29T00:00:00.000Z");
        let t = table(&json!({"resultType":"vector","result":[
            {"metric":{"__name__":"up","job":"a"},"value":[1700000000,"1"]},
            {"metric":{},"value":[1700000000,"NaN"]}]}));
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert!(lines[0].starts_with("SERIES") && lines[0].contains("VALUE"));
        assert!(lines[1].starts_with("up{job=\"a\"}") && lines[1].contains("  1  2023-11-14"));
        assert!(
            lines[2].starts_with("{}") && lines[2].contains("NaN"),
            "{t}"
        );
        let t = table(&json!({"resultType":"scalar","result":[1700000000,"2"]}));
        let row = t.lines().nth(1).unwrap();
        assert!(
            row.starts_with("scalar") && row.contains(" 2  2023-11-14"),
            "{t}"
        );
        assert_eq!(
            table(&json!({"resultType":"matrix","result":[]})),
            "no data\n"
        );
    }

    /// Every file under `dir` with its bytes.
    fn files(dir: &std::path::Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
        let mut out = std::collections::BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.insert(p.clone(), std::fs::read(&p).unwrap());
                }
            }
        }
        out
    }

    #[test]
    fn a_storage_path_query_with_a_short_retention_deletes_nothing() {
        use tallyho_history::{History, HistoryOptions};
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let opts = || {
            HistoryOptions::default()
                .storage_path(&dir)
                .retention(Duration::from_secs(30 * 86_400))
        };
        // Ten hours every minute: blocks for most of it, the rest in the WAL.
        let h = History::open(opts()).unwrap();
        let t0 = 1_700_000_000_000i64;
        let l = tallyho_query::Labels::new([("__name__".to_string(), "m".to_string())]);
        for i in 0..600 {
            h.append_samples(t0 + i * 60_000, &[(l.clone(), i as f64)])
                .unwrap();
        }
        h.close().unwrap();
        let before = files(&dir);
        assert!(before
            .keys()
            .any(|p| p.extension().is_some_and(|e| e == "block")));
        // A config with a 1 h retention (shorter than the data's): the query sees the last
        // hour, and nothing is deleted.
        let args = QueryArgs {
            expr: "count_over_time(m[1d])".into(),
            time: Some(format!("{}", (t0 + 599 * 60_000) / 1000)),
            start: None,
            end: None,
            step: None,
            json: true,
            auth: Auth::None,
        };
        let source = Source::Dir {
            path: dir.clone(),
            retention: Duration::from_secs(3600),
        };
        let mut out = Vec::new();
        run(&args, &source, &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["data"]["result"][0]["value"][1], "61", "{v}");
        assert!(files(&dir) == before, "the directory is unchanged");
        let h = History::open(opts()).unwrap();
        let at = std::time::UNIX_EPOCH + Duration::from_millis((t0 + 599 * 60_000) as u64);
        match h.query("count_over_time(m[1d])", at).unwrap() {
            tallyho_query::Value::Vector(s) => assert_eq!(s[0].v, 600.0),
            other => panic!("want a vector, got {other:?}"),
        }
        // While a writer holds the directory, the query still answers.
        let mut out = Vec::new();
        run(&args, &source, &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["data"]["result"][0]["value"][1], "61", "{v}");
    }

    #[test]
    fn requests() {
        let mut args = QueryArgs {
            expr: "sum(up{job=\"a b\"})".into(),
            time: Some("1700000000".into()),
            start: None,
            end: None,
            step: None,
            json: false,
            auth: Auth::None,
        };
        let (path, form) = request(&args);
        assert_eq!(path, "/api/v1/query");
        assert_eq!(
            form,
            "query=sum%28up%7Bjob%3D%22a%20b%22%7D%29&time=1700000000"
        );
        args.start = Some("1700000000".into());
        args.end = Some("1700003600".into());
        let (path, form) = request(&args);
        assert_eq!(path, "/api/v1/query_range");
        assert!(
            form.ends_with("&start=1700000000&end=1700003600&step=15s"),
            "{form}"
        );
        let ago: f64 = resolve_time("-1h").parse().unwrap();
        let now: f64 = now_s().parse().unwrap();
        assert!((now - ago - 3600.0).abs() < 5.0);
        assert_eq!(resolve_time("2023-11-14T22:13:20Z"), "2023-11-14T22:13:20Z");
    }
}
