//! The endpoint over real HTTP on 127.0.0.1: formats, negotiation, gzip, filters, auth,
//! health, limits, and concurrent scrapes while threads record.

mod common;

use std::time::Duration;

use base64::Engine;
use common::*;
use tallyho_http::{Auth, Endpoint, RateLimit};

fn url(running: &tallyho_http::Running, path: &str) -> String {
    format!("http://{}{path}", running.local_addr())
}

#[test]
fn prometheus_text_by_default_and_openmetrics_when_asked() {
    let running = Endpoint::new(registry()).spawn("127.0.0.1:0").unwrap();
    let (status, headers, body) = get(&url(&running, "/metrics"), &[]);
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some(tallyho_encode::prometheus::CONTENT_TYPE)
    );
    let text = String::from_utf8(body.clone()).unwrap();
    assert!(text.contains("jobs_total{service=\"e2e\"} 42\n"), "{text}");
    promtool(&body);
    assert!(python_parse("prometheus", &body) > 10);

    let accept = "application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5";
    let (status, headers, body) = get(&url(&running, "/metrics"), &[("Accept", accept)]);
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some(tallyho_encode::openmetrics::CONTENT_TYPE)
    );
    assert!(body.ends_with(b"# EOF\n"));
    assert!(python_parse("openmetrics", &body) > 10);

    // q-values respected: text/plain preferred.
    let accept = "application/openmetrics-text;q=0.2,text/plain;q=0.8";
    let (_, headers, _) = get(&url(&running, "/metrics"), &[("Accept", accept)]);
    assert_eq!(
        header(&headers, "content-type"),
        Some(tallyho_encode::prometheus::CONTENT_TYPE)
    );
}

#[test]
fn gzip_when_allowed_in_both_formats() {
    let running = Endpoint::new(registry()).spawn("127.0.0.1:0").unwrap();
    for (kind, accept) in [
        ("prometheus", "text/plain"),
        ("openmetrics", "application/openmetrics-text; version=1.0.0"),
    ] {
        let (status, headers, body) = get(
            &url(&running, "/metrics"),
            &[("Accept", accept), ("Accept-Encoding", "gzip")],
        );
        assert_eq!(status, 200);
        assert_eq!(header(&headers, "content-encoding"), Some("gzip"), "{kind}");
        let plain = gunzip(&body);
        if kind == "prometheus" {
            promtool(&plain);
        }
        assert!(python_parse(kind, &plain) > 10);
        // And not compressed when not allowed.
        let (_, headers, body) = get(&url(&running, "/metrics"), &[("Accept", accept)]);
        assert_eq!(header(&headers, "content-encoding"), None);
        // The endpoint's own scrape metrics move between the two requests; the rest is equal.
        let without_self = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .lines()
                .filter(|l| !l.contains("tallyho_scrape"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            without_self(&body),
            without_self(&plain),
            "{kind}: gzip changed the content"
        );
    }
}

#[test]
fn head_and_name_filter() {
    let running = Endpoint::new(registry()).spawn("127.0.0.1:0").unwrap();
    let res = ureq::head(&url(&running, "/metrics")).call().unwrap();
    assert_eq!(res.status(), 200);
    let (_, _, body) = get(
        &url(&running, "/metrics?name[]=queue_depth&name%5B%5D=jobs"),
        &[],
    );
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("queue_depth{service=\"e2e\"} -7.5"), "{text}");
    assert!(text.contains("jobs_total"), "{text}");
    assert!(!text.contains("requests_total"), "{text}");
    let (_, _, body) = get(&url(&running, "/metrics?name[]=nothing_here"), &[]);
    assert!(body.is_empty());
}

#[test]
fn basic_auth_refuses_without_data() {
    let running = Endpoint::new(registry())
        .auth(Auth::basic("prom", "pa:ss"))
        .spawn("127.0.0.1:0")
        .unwrap();
    let (status, headers, body) = get(&url(&running, "/metrics"), &[]);
    assert_eq!(status, 401);
    assert!(header(&headers, "www-authenticate")
        .unwrap()
        .starts_with("Basic"));
    assert!(!String::from_utf8_lossy(&body).contains("jobs"));
    let wrong = base64::engine::general_purpose::STANDARD.encode("prom:nope");
    let (status, _, _) = get(
        &url(&running, "/metrics"),
        &[("Authorization", &format!("Basic {wrong}"))],
    );
    assert_eq!(status, 401);
    let right = base64::engine::general_purpose::STANDARD.encode("prom:pa:ss");
    let (status, _, body) = get(
        &url(&running, "/metrics"),
        &[("Authorization", &format!("Basic {right}"))],
    );
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("jobs_total"));
    // Health is open unless configured otherwise.
    assert_eq!(get(&url(&running, "/health"), &[]).0, 200);
}

#[test]
fn bearer_auth_and_health_behind_auth() {
    let running = Endpoint::new(registry())
        .auth(Auth::bearer("t0ken"))
        .health_requires_auth(true)
        .spawn("127.0.0.1:0")
        .unwrap();
    let (status, headers, _) = get(&url(&running, "/health"), &[]);
    assert_eq!(status, 401);
    assert!(header(&headers, "www-authenticate")
        .unwrap()
        .starts_with("Bearer"));
    assert_eq!(
        get(
            &url(&running, "/metrics"),
            &[("Authorization", "Bearer wrong")]
        )
        .0,
        401
    );
    assert_eq!(
        get(
            &url(&running, "/metrics"),
            &[("Authorization", "Bearer t0ken")]
        )
        .0,
        200
    );
    assert_eq!(
        get(
            &url(&running, "/health"),
            &[("Authorization", "Bearer t0ken")]
        )
        .0,
        200
    );
}

#[test]
fn health_reports_counts_and_last_collection() {
    let r = registry();
    let small = r
        .metric("per_user", "")
        .cardinality_limit(1)
        .counter_family(&["u"])
        .unwrap();
    small.with(&["a"]).inc();
    small.with(&["b"]).inc();
    small.with(&["c"]).inc();
    let running = Endpoint::new(r).spawn("127.0.0.1:0").unwrap();
    let (_, _, body) = get(&url(&running, "/health"), &[]);
    let h: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(h["status"], "ok");
    // Without a scrape yet, /health ran one collection of its own (cached after).
    assert!(h["last_collection"]["bytes"].as_u64().unwrap() > 0, "{h}");
    get(&url(&running, "/metrics"), &[]);
    let (status, headers, body) = get(&url(&running, "/health"), &[]);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let h: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(h["uptime_seconds"].as_f64().unwrap() >= 0.0);
    // jobs, queue_depth, job_duration, requests, per_user, the two scrape self-metrics,
    // the two connection self-metrics and the overflow self-metric.
    assert_eq!(h["families"], 10, "{h}");
    assert_eq!(h["series"]["histogram"], 3, "{h}");
    assert_eq!(h["series"]["gauge"], 2, "{h}"); // queue_depth, open connections
    assert_eq!(h["cardinality_overflow"]["per_user"], 2.0, "{h}");
    assert!(h["last_collection"]["bytes"].as_u64().unwrap() > 500);
    assert!(h["last_collection"]["duration_seconds"].as_f64().unwrap() > 0.0);
}

#[test]
fn rate_limit_answers_429() {
    let running = Endpoint::new(registry())
        .rate_limit(RateLimit {
            per_second: 0.01,
            burst: 2,
        })
        .spawn("127.0.0.1:0")
        .unwrap();
    assert_eq!(get(&url(&running, "/metrics"), &[]).0, 200);
    assert_eq!(get(&url(&running, "/metrics"), &[]).0, 200);
    let (status, headers, body) = get(&url(&running, "/metrics"), &[]);
    assert_eq!(status, 429);
    assert!(header(&headers, "retry-after").is_some());
    assert!(!String::from_utf8_lossy(&body).contains("jobs"));
}

#[test]
fn oversized_headers_get_431() {
    let running = Endpoint::new(registry()).spawn("127.0.0.1:0").unwrap();
    let big = "x".repeat(tallyho_http::MAX_HEADER_BYTES + 1);
    assert_eq!(get(&url(&running, "/metrics"), &[("X-Big", &big)]).0, 431);
}

#[test]
fn concurrent_scrapes_while_recording_are_complete() {
    let r = registry();
    let c = r.counter("hot", "Hot counter.").unwrap();
    let f = r
        .metric("hot_fam", "Hot family.")
        .counter_family(&["k"])
        .unwrap();
    let running = Endpoint::new(r).spawn("127.0.0.1:0").unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let (c, f, stop) = (c.clone(), f.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    c.inc();
                    f.with(&[&format!("{t}-{}", i % 50)]).inc();
                    i += 1;
                }
            })
        })
        .collect();
    let target = url(&running, "/metrics");
    let scrapers: Vec<_> = (0..4)
        .map(|_| {
            let target = target.clone();
            std::thread::spawn(move || {
                let mut last = 0.0;
                for _ in 0..15 {
                    let (status, _, body) = get(&target, &[]);
                    assert_eq!(status, 200);
                    let text = String::from_utf8(body).unwrap();
                    assert!(text.ends_with('\n'));
                    let hot: f64 = text
                        .lines()
                        .find_map(|l| l.strip_prefix("hot_total{service=\"e2e\"} "))
                        .expect("hot counter present")
                        .parse()
                        .unwrap();
                    assert!(hot >= last, "counter went backwards");
                    last = hot;
                }
                last
            })
        })
        .collect();
    for s in scrapers {
        s.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    // The final scrape parses with the reference tools.
    let (_, _, body) = get(&target, &[]);
    promtool(&body);
    python_parse("prometheus", &body);
    std::thread::sleep(Duration::from_millis(10));
}
