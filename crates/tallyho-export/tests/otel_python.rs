//! The OTLP exporter's environment handling against the reference: the Python
//! OpenTelemetry SDK's own `OTLPMetricExporter` (PyPI `opentelemetry-exporter-otlp-proto-http`,
//! which `scripts/test.sh` installs) is given the same variables, and what it would send
//! (path, headers, compression, temporality per instrument) is compared with what
//! tallyho's exporter does send to a receiver on 127.0.0.1.
//!
//! One deliberate difference: the Python SDK reads `OTEL_EXPORTER_OTLP_TIMEOUT` in
//! seconds where the specification says milliseconds, so the timeout is left out.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::AggregationTemporality;
use prost::Message;
use serde_json::Value;
use tallyho::{Buckets, Registry};
use tallyho_export::otlp::OtlpExporter;
use tallyho_export::{Batch, Exporter};

mod common;
use common::FakeServer;

const PYTHON: &str = r#"
import json, os
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
e = OTLPMetricExporter()
skip = {"content-type", "user-agent", "content-encoding"}
headers = {k.lower(): v for k, v in e._client._headers.items() if k.lower() not in skip}
print(json.dumps({
    "endpoint": e._endpoint,
    "headers": headers,
    "gzip": getattr(e._compression, "value", None) == "gzip",
    "temporality": {k.__name__: v.name for k, v in e._preferred_temporality.items()},
}))
"#;

/// What the Python SDK makes of `vars`; `None` (after saying why) when the SDK is not
/// installed and `TALLYHO_REQUIRE_TOOLS` is not `1`.
fn python(vars: &BTreeMap<String, String>) -> Option<Value> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let mut cmd = Command::new(python);
    cmd.args(["-c", PYTHON]).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    let out = cmd.envs(vars).output().expect("python3 not found");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let missing = err.contains("ModuleNotFoundError");
        assert!(
            missing && std::env::var("TALLYHO_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "the Python OpenTelemetry SDK failed (scripts/test.sh installs it): {err}"
        );
        eprintln!("skipped: the Python OpenTelemetry SDK is not installed");
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).expect("JSON from python"))
}

/// What tallyho's exporter sends with `vars`: (path, lowercased headers without the
/// transport's own, gzip, temporality of a counter, an up-down counter and a histogram).
fn ours(server: &FakeServer, vars: &BTreeMap<String, String>) -> Value {
    let r = Registry::new();
    r.counter("c", "C.").unwrap().inc();
    r.metric("u", "U.").up_down_counter().unwrap().add(1);
    r.histogram("h", "H.", Buckets::new([1.0]).unwrap())
        .unwrap()
        .observe(0.5);
    let vars = Arc::new(vars.clone());
    let mut exporter = OtlpExporter::builder()
        .from_env_with(move |k| vars.get(k).cloned())
        .build()
        .unwrap();
    let before = server.seen().len();
    let end = SystemTime::now();
    let batch = Batch {
        start: end - Duration::from_secs(10),
        end,
        snapshot: r.snapshot(),
        temporality: exporter.temporality(),
    };
    exporter.export(&batch).unwrap();
    let seen = server.seen()[before].clone();
    let gzip = seen.header("content-encoding") == Some("gzip");
    let mut body = seen.body.clone();
    if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .unwrap();
        body = out;
    }
    let req = ExportMetricsServiceRequest::decode(&body[..]).unwrap();
    let mut temporality = serde_json::Map::new();
    for m in &req.resource_metrics[0].scope_metrics[0].metrics {
        let t = match &m.data {
            Some(Data::Sum(s)) => s.aggregation_temporality,
            Some(Data::Histogram(h)) => h.aggregation_temporality,
            _ => continue,
        };
        let name = match m.name.as_str() {
            "c" => "Counter",
            "u" => "UpDownCounter",
            "h" => "Histogram",
            _ => continue,
        };
        let t = AggregationTemporality::try_from(t).unwrap();
        let word = match t {
            AggregationTemporality::Delta => "DELTA",
            AggregationTemporality::Cumulative => "CUMULATIVE",
            AggregationTemporality::Unspecified => "UNSPECIFIED",
        };
        temporality.insert(name.into(), word.into());
    }
    let skip = [
        "content-type",
        "user-agent",
        "content-encoding",
        "host",
        "accept-encoding",
        "content-length",
        "connection",
        "accept",
    ];
    let headers: serde_json::Map<String, Value> = seen
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    serde_json::json!({
        "path": seen.path,
        "headers": headers,
        "gzip": gzip,
        "temporality": temporality,
    })
}

#[test]
fn the_same_variables_mean_the_same_as_in_the_python_sdk() {
    let server = FakeServer::start(Some((200, "")));
    let base = server.url("");
    let cases: Vec<Vec<(&str, String)>> = vec![
        vec![("OTEL_EXPORTER_OTLP_ENDPOINT", base.clone())],
        vec![("OTEL_EXPORTER_OTLP_ENDPOINT", format!("{base}/"))],
        vec![("OTEL_EXPORTER_OTLP_ENDPOINT", format!("{base}/prefix/"))],
        vec![("OTEL_EXPORTER_OTLP_ENDPOINT", format!("{base}/prefix"))],
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("{base}/general")),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                format!("{base}/custom/path"),
            ),
        ],
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", base.clone()),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "Api-Key=abc%20def , x-tenant = t1".into(),
            ),
        ],
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", base.clone()),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=general".into()),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "b=specific".into()),
        ],
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", base.clone()),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".into()),
        ],
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", base.clone()),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".into()),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none".into()),
        ],
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", base.clone()),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "cumulative".into(),
            ),
        ],
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", base.clone()),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "delta".into(),
            ),
        ],
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", base.clone()),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "lowmemory".into(),
            ),
        ],
    ];
    for case in cases {
        let vars: BTreeMap<String, String> = case
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let Some(py) = python(&vars) else { return };
        let got = ours(&server, &vars);
        // Same host and port in both: compare the path of the endpoint.
        let endpoint = py["endpoint"].as_str().unwrap();
        let path = endpoint.strip_prefix(&base).unwrap_or(endpoint);
        assert_eq!(got["path"], path, "{vars:?}: python {py}");
        assert_eq!(got["headers"], py["headers"], "{vars:?}: python {py}");
        assert_eq!(got["gzip"], py["gzip"], "{vars:?}: python {py}");
        for kind in ["Counter", "UpDownCounter", "Histogram"] {
            assert_eq!(
                got["temporality"][kind], py["temporality"][kind],
                "{kind} with {vars:?}: python {py}"
            );
        }
    }
}
