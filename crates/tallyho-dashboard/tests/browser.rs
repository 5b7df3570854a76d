//! The dashboard in Debian's Chromium, driven by Playwright (tests/browser/run.mjs),
//! against a real `tallyho_http::Endpoint` with the query API over a history fed known
//! numbers (tests/browser/fixture.rs). The script acts and reads `window.__tallyho`; the
//! assertions are here. Needs `/usr/bin/chromium` (apt-get install chromium) and Node;
//! installs playwright-core from tests/browser/package-lock.json when missing. With
//! `TALLYHO_UPDATE_SCREENSHOTS=1` it saves docs/dashboard-host.png and
//! docs/dashboard-family.png.

#[path = "browser/fixture.rs"]
mod fixture;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use serde_json::Value;
use tallyho_http::{Auth, Endpoint, QueryApi};

use fixture::*;

const USER: &str = "viewer";
const PASS: &str = "s3cret";
const CHROMIUM: &str = "/usr/bin/chromium";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Fails loudly, saying how to install, when a needed program is missing.
fn require_tools() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does)"
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "node is missing: apt-get install nodejs npm"
    );
    let browser_dir = dir().join("tests/browser");
    if !browser_dir.join("node_modules/playwright-core").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&browser_dir)
            .status()
            .expect("running npm ci in tests/browser (is npm installed?)");
        assert!(status.success(), "npm ci in tests/browser failed");
    }
}

/// The endpoint (auth on), the dashboard merged into it, and a test-only CPU probe.
fn serve(fx: &Fixture, rt: &tokio::runtime::Runtime) -> SocketAddr {
    let api = QueryApi::new(Arc::new(fx.history.clone()), fx.history.engine().clone());
    let ticks = fx.feeder_ticks.clone();
    let app = Endpoint::new(fx.registry.clone())
        .auth(Auth::basic(USER, PASS))
        .query_api(api)
        .router()
        .merge(tallyho_dashboard::router())
        .route(
            "/__test/cpu",
            get(move || {
                let t = ticks.clone();
                async move { server_cpu_seconds(&t).to_string() }
            }),
        );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binding 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    rt.spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    addr
}

/// Runs the Playwright script; its report, as JSON.
fn drive(addr: SocketAddr, shots: &Path) -> Value {
    let report = shots.join("report.json");
    let mut child = Command::new("node")
        .arg(dir().join("tests/browser/run.mjs"))
        .env("TALLYHO_URL", format!("http://{addr}"))
        .env("TALLYHO_USER", USER)
        .env("TALLYHO_PASS", PASS)
        .env("TALLYHO_SHOTS", shots)
        .env("TALLYHO_REPORT", &report)
        .current_dir(dir().join("tests/browser"))
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting node");
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting for node") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the browser script ran for more than 240 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(&report).expect("the script's report");
    let v: Value = serde_json::from_str(&text).expect("the report is JSON");
    assert!(
        status.success(),
        "the browser script failed: {}",
        v["failure"]
    );
    v
}

/// The last finite value of the series named `name` in a chart read from the page.
fn last(chart: &Value, name: &str) -> f64 {
    let s = chart["shown"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no series {name:?} in {}", names(chart).join(", ")));
    s["points"]
        .as_array()
        .and_then(|p| p.iter().rev().find_map(|pt| pt[1].as_f64()))
        .unwrap_or_else(|| panic!("series {name:?} has no value"))
}

fn names(chart: &Value) -> Vec<String> {
    chart["shown"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| s["name"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn close(got: f64, want: f64, what: &str) {
    let tol = 0.02 * want.abs().max(1e-9);
    assert!(
        (got - want).abs() <= tol,
        "{what}: the page shows {got}, expected {want}"
    );
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn check_overview(o: &Value) {
    let ids: Vec<&str> = o["chartIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "host-cpu",
            "host-memory",
            "host-load",
            "host-disk",
            "host-network",
            "host-filesystems",
            "process-cpu",
            "process-memory"
        ],
        "host panels (no GPU families, so no GPU panel)"
    );
    assert_eq!(o["canvases"], 8, "each panel drew a uPlot canvas");
    let c = &o["charts"];
    // CPU: two CPUs, each 0.4 s/s user and 0.2 s/s system: 40 % and 20 % of all CPUs.
    close(
        last(&c["host-cpu"], "user"),
        2.0 * CPU_USER as f64 / 5.0 / 2.0,
        "CPU user",
    );
    close(
        last(&c["host-cpu"], "system"),
        2.0 * CPU_SYSTEM as f64 / 5.0 / 2.0,
        "CPU system",
    );
    assert!(!names(&c["host-cpu"]).contains(&"idle".to_string()));
    close(last(&c["host-memory"], "used"), MEM_USED, "memory used");
    close(last(&c["host-memory"], "free"), MEM_FREE, "memory free");
    close(last(&c["host-memory"], "total"), MEM_TOTAL, "memory total");
    for (name, v) in ["1 min", "5 min", "15 min"].iter().zip(LOAD) {
        close(last(&c["host-load"], name), v, name);
    }
    close(
        last(&c["host-disk"], "read"),
        DISK_READ as f64 / 5.0,
        "disk read",
    );
    close(
        last(&c["host-disk"], "write"),
        DISK_WRITE as f64 / 5.0,
        "disk write",
    );
    close(
        last(&c["host-network"], "receive"),
        NET_RECEIVE as f64 / 5.0,
        "net receive",
    );
    close(
        last(&c["host-network"], "transmit"),
        NET_TRANSMIT as f64 / 5.0,
        "net transmit",
    );
    for (mount, used, free) in FILESYSTEMS {
        close(
            last(&c["host-filesystems"], mount),
            used / (used + free),
            mount,
        );
    }
    close(
        last(&c["process-cpu"], "state=user"),
        PROC_USER as f64 / 5.0,
        "process CPU",
    );
    close(
        last(&c["process-memory"], "resident"),
        PROC_RSS,
        "process RSS",
    );
    let texts: Vec<&str> = o["calloutTexts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let has = |s: &str| texts.iter().any(|t| t.contains(s));
    assert!(
        has(&format!("StatsD: {STATSD_MALFORMED} malformed lines")),
        "{texts:?}"
    );
    assert!(
        has(&format!(
            "Export failures: {EXPORT_FAILURES} failed attempts to otlp"
        )),
        "{texts:?}"
    );
    assert!(has("Cardinality limit reached: user_requests"), "{texts:?}");
    let over = o["callouts"]["overflow"]["user_requests"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(
        over >= 1.0,
        "/health reports the overflow: {}",
        o["callouts"]
    );
    assert_eq!(
        o["alertsHidden"], true,
        "no alerting here: the panel stays hidden"
    );
    assert_eq!(
        o["liveUpdated"], true,
        "the charts refresh without a reload"
    );
    assert_eq!(o["dark"]["theme"], "dark");
    assert_eq!(o["dark"]["canvases"], 8, "charts redrawn in the dark theme");
    assert_ne!(
        o["dark"]["bg"], "rgb(246, 247, 249)",
        "the dark theme changes the colours"
    );
    assert_eq!(o["light"], "light");
    // Every chart's queries went out as one request, and none had to be asked again alone.
    let b = &o["batches"];
    assert!(b["sent"].as_u64().unwrap_or(0) >= 1, "batches: {b}");
    assert_eq!(b["fellBack"], 0, "a batch failed: {b}");
    assert!(b["parts"].as_u64().unwrap_or(0) >= 8, "batches: {b}");
}

fn check_families(f: &Value) {
    assert!(
        f["total"].as_u64().unwrap() >= 14,
        "families listed: {}",
        f["total"]
    );
    let listed = |v: &Value| -> Vec<String> {
        v["listed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let counter = &f["counter"];
    assert!(
        listed(counter).contains(&"jobs_total".to_string()),
        "{:?}",
        listed(counter)
    );
    assert!(!listed(counter).contains(&"many_series".to_string()));
    close(
        last(&counter["chart"], "a"),
        JOBS_A as f64 / 5.0,
        "rate of jobs a",
    );
    close(
        last(&counter["chart"], "b"),
        JOBS_B as f64 / 5.0,
        "rate of jobs b",
    );
    // Search by label: only the family with a series queue="b", charted for that series.
    let by = &f["byLabel"];
    assert_eq!(listed(by), ["jobs_total"]);
    let shown = by["chart"]["shown"].as_array().unwrap();
    assert_eq!(shown.len(), 1, "{}", by["chart"]);
    assert_eq!(shown[0]["labels"]["queue"], "b");
    // 1,000 series: the 20 largest are drawn, the note says how many there are.
    let many = &f["many"]["chart"];
    assert_eq!(many["total"], MANY as u64);
    let mut ids: Vec<u64> = many["shown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["labels"]["id"].as_str().unwrap().parse().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (980..1000).collect::<Vec<u64>>());
    // Histogram: per 5 s, 6 observations of 0.05, 3 of 0.3 and 1 of 0.8 in buckets
    // 0.1, 0.5, 1: quantiles by linear interpolation inside the bucket.
    let h = &f["hist"]["chart"];
    close(last(h, "p50"), 0.1 * 5.0 / 6.0, "p50");
    close(last(h, "p90"), 0.5, "p90");
    close(last(h, "p99"), 0.5 + 0.5 * 0.9, "p99");
    let n: u32 = OBSERVATIONS.iter().map(|o| o.1).sum();
    let count = &f["count"];
    let series = names(count);
    close(
        last(count, &series[0]),
        f64::from(n) / 5.0,
        "observations per second",
    );
    let b = f["buckets"]["buckets"].as_array().unwrap();
    let les: Vec<&str> = b.iter().map(|x| x["le"].as_str().unwrap()).collect();
    assert_eq!(les, ["0.1", "0.5", "1", "+Inf"]);
    let counts: Vec<f64> = b.iter().map(|x| x["count"].as_f64().unwrap()).collect();
    close(counts[0] / counts[2], 6.0, "bucket ≤0.1 against ≤1");
    close(counts[1] / counts[2], 3.0, "bucket ≤0.5 against ≤1");
    assert_eq!(counts[3], 0.0, "nothing above 1");
}

fn check_promql(p: &Value) {
    close(
        last(&p["good"], names(&p["good"])[0].as_str()),
        (JOBS_A + JOBS_B) as f64 / 5.0,
        "sum(rate(jobs_total[1m]))",
    );
    let api = p["apiError"]
        .as_str()
        .expect("the API refused the bad query");
    assert!(!api.is_empty());
    assert_eq!(p["wrong"]["error"], api, "the chart keeps the API's error");
    assert_eq!(
        p["shown"].as_str().unwrap().trim(),
        api,
        "the page shows the API's text"
    );
    assert_eq!(p["visible"], true);
}

/// No script error, and no console error but the refused requests the test caused.
fn check_console(r: &Value) {
    assert_eq!(
        r["pageErrors"],
        serde_json::json!([]),
        "uncaught errors on the page"
    );
    let failed = r["failedRequests"].as_array().unwrap();
    let expected = |status: u64, url: &str, tag: &str| -> bool {
        let url = percent_decode(url);
        match (tag, status) {
            ("main", 404) => url.contains("/api/v1/alerts"),
            ("main", 400) => {
                url.contains("query=sum(rate(jobs_total[1m])&")
                    || url.contains("query=count(sum(rate(jobs_total[1m]))&")
                    || url.contains("query=topk(20, sum(rate(jobs_total[1m]))&")
            }
            ("anonymous", 401) => url.contains("/api/v1/") || url.ends_with("/health"),
            _ => false,
        }
    };
    for f in failed {
        let (status, url, tag) = (
            f["status"].as_u64().unwrap(),
            f["url"].as_str().unwrap(),
            f["tag"].as_str().unwrap(),
        );
        assert!(expected(status, url, tag), "unexpected failed request: {f}");
    }
    for m in r["console"].as_array().unwrap() {
        let text = m["text"].as_str().unwrap_or("");
        let url = m["url"].as_str().unwrap_or("");
        let tag = m["tag"].as_str().unwrap_or("");
        let refused = text.starts_with("Failed to load resource")
            && failed.iter().any(|f| f["url"] == url && f["tag"] == tag);
        assert!(refused, "console {}: {text} ({url})", m["type"]);
    }
}

#[test]
fn dashboard_in_chromium_shows_the_numbers_it_was_fed() {
    require_tools();
    let fx = Fixture::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let addr = serve(&fx, &rt);
    let shots =
        std::env::temp_dir().join(format!("tallyho-dashboard-shots-{}", std::process::id()));
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let r = drive(addr, &shots);
    let o = &r["steps"]["overview"];
    let f = &r["steps"]["families"];
    let tm = &o["timing"];
    eprintln!(
        "page load {} ms from the test's goto; from navigation start: HTML {} ms, script \
         {} ms, last response {} ms, charts drawn {:.0} ms (script's own {:.0} ms); server \
         CPU for the load {:.2} s; refreshing the 1,000-series family 3 times over {:.1} s: \
         {:.2} s CPU",
        o["loadMs"],
        tm["responseEnd"],
        tm["scriptStarted"],
        tm["lastResponse"],
        o["drawnMs"].as_f64().unwrap_or(0.0),
        o["loadedMs"].as_f64().unwrap_or(0.0),
        o["cpuLoad"].as_f64().unwrap_or(0.0),
        f["manyRefresh"]["seconds"].as_f64().unwrap_or(0.0),
        f["manyRefresh"]["cpu"].as_f64().unwrap_or(0.0)
    );
    // The API's own view of the same requests (handler time, queueing excluded).
    for f in fx.registry.snapshot().families {
        if f.name == "tallyho_query_duration_seconds" {
            for s in f.series {
                if let Some(h) = s.value.as_histogram() {
                    eprintln!(
                        "server {:?}: {} requests, {:.1} ms mean",
                        s.labels,
                        h.count,
                        h.sum * 1000.0 / h.count.max(1) as f64
                    );
                }
            }
        }
    }
    // Budgets (debug build, 2 shared cores): see BENCHMARKS.md for release numbers.
    let load_ms = o["loadMs"].as_f64().unwrap_or(f64::MAX);
    assert!(
        load_ms < 2000.0,
        "the page took {load_ms} ms to draw its charts"
    );
    let many = &f["manyRefresh"];
    let share = many["cpu"].as_f64().unwrap_or(f64::MAX) / many["seconds"].as_f64().unwrap_or(1.0);
    assert!(
        share < 0.5,
        "refreshing 1,000 series used {share:.2} of a core"
    );
    check_overview(o);
    check_families(f);
    check_promql(&r["steps"]["promql"]);
    let anon = &r["steps"]["anonymous"];
    assert_eq!(anon["apiStatus"], 401, "{anon}");
    assert!(
        anon["challenge"]
            .as_str()
            .unwrap_or("")
            .starts_with("Basic"),
        "{anon}"
    );
    assert!(
        !anon["apiBody"].as_str().unwrap_or("").contains("jobs"),
        "no data without credentials"
    );
    check_console(&r);
    // A test run leaves the checkout as it was; `TALLYHO_UPDATE_SCREENSHOTS=1` refreshes
    // the README's pictures from this run.
    if std::env::var_os("TALLYHO_UPDATE_SCREENSHOTS").is_some() {
        let docs = dir().join("../../docs");
        std::fs::create_dir_all(&docs).expect("docs/");
        for shot in ["dashboard-host.png", "dashboard-family.png"] {
            std::fs::copy(shots.join(shot), docs.join(shot)).expect("saving the screenshot");
        }
    }
    let _ = std::fs::remove_dir_all(&shots);
}
