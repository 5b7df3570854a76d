//! Helpers shared by the endpoint tests: a registry with known values and hostile labels,
//! HTTP on loopback, and the reference checkers.
#![allow(dead_code)]

pub mod prometheus;

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use tallyho::{Buckets, Registry};

/// Label values that need escaping or are unusual.
pub const HOSTILE: &[&str] = &[
    "quote\"d",
    "back\\slash",
    "new\nline",
    "tab\there",
    "ünïcødé 🦀",
    "",
];

/// A registry with a counter, a gauge, a histogram and a family with hostile labels.
pub fn registry() -> Registry {
    let r = Registry::builder()
        .constant_label("service", "e2e")
        .build()
        .unwrap();
    r.counter("jobs_total", "Jobs processed.").unwrap().add(42);
    r.metric("queue_depth", "Jobs waiting.")
        .gauge()
        .unwrap()
        .set(-7.5);
    let h = r
        .metric("job_duration", "Job run time.")
        .unit("seconds")
        .buckets(Buckets::new([0.1, 0.5, 1.0, 5.0]).unwrap())
        .histogram()
        .unwrap();
    // 10 observations: 2 in le=0.1, 3 more in le=0.5, 4 more in le=1, 1 in le=5.
    for v in [0.05, 0.05, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 2.0] {
        h.observe(v);
    }
    let f = r
        .metric("requests", "Requests by path.")
        .counter_family(&["path"])
        .unwrap();
    for (i, v) in HOSTILE.iter().enumerate() {
        f.with(&[v]).add(i as u64 + 1);
    }
    r
}

/// GET `url` with extra headers; returns (status, headers as lowercase pairs, body).
pub fn get(url: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut req = ureq::get(url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let res = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {url}: {e}"),
    };
    let status = res.status();
    let hdrs = res
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = res.header(&n).unwrap_or("").to_owned();
            (n.to_lowercase(), v)
        })
        .collect();
    let mut body = Vec::new();
    res.into_reader().read_to_end(&mut body).unwrap();
    (status, hdrs, body)
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

/// `promtool check metrics` must accept `text`.
pub fn promtool(text: &[u8]) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: run scripts/test.sh");
    child.stdin.take().unwrap().write_all(text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(text)
    );
}

const PARSE: &str = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families as prom
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
text = sys.stdin.buffer.read().decode("utf-8")
n = sum(len(f.samples) for f in (om if sys.argv[1] == "openmetrics" else prom)(text))
print(n)
"#;

/// The Python `prometheus_client` parser for `kind` must accept `text`; returns the number
/// of samples it read.
pub fn python_parse(kind: &str, text: &[u8]) -> usize {
    let mut child = Command::new("python3")
        .args(["-c", PARSE, kind])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 not found");
    child.stdin.take().unwrap().write_all(text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client ({kind}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}
