//! The OTLP exporter configured from `OTEL_*` variables. The environment is process-wide, so
//! everything lives in one test in a binary of its own.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use prost::Message;
use tallyho::{FamilySnapshot, MetricKind, Snapshot};
use tallyho_export::otlp::OtlpExporter;
use tallyho_export::{Batch, Exporter, Temporality};

/// Path, headers and decoded body of each request.
type Log = Arc<Mutex<Vec<(String, Vec<(String, String)>, ExportMetricsServiceRequest)>>>;

/// A one-thread HTTP/1.1 receiver on 127.0.0.1 answering `200 OK` to everything.
fn receiver() -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let rec = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let rec = rec.clone();
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap().to_owned();
                    let mut headers = Vec::new();
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).unwrap();
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        let (k, v) = h.split_once(':').unwrap();
                        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                    }
                    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v);
                    let len: usize = get("content-length").map_or(0, |v| v.parse().unwrap());
                    let mut body = vec![0; len];
                    reader.read_exact(&mut body).unwrap();
                    if get("content-encoding").map(String::as_str) == Some("gzip") {
                        let mut out = Vec::new();
                        flate2::read::GzDecoder::new(&body[..])
                            .read_to_end(&mut out)
                            .unwrap();
                        body = out;
                    }
                    let request = ExportMetricsServiceRequest::decode(&body[..]).unwrap();
                    rec.lock().unwrap().push((path, headers, request));
                    writer
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .unwrap();
                }
            });
        }
    });
    (url, log)
}

fn string_attr(kvs: &[KeyValue], key: &str) -> Option<String> {
    match kvs.iter().find(|kv| kv.key == key)?.value.clone()?.value? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

fn batch() -> Batch {
    let snapshot = Snapshot {
        time: SystemTime::now(),
        families: vec![
            FamilySnapshot::new("jobs", "Jobs.", MetricKind::Counter).with_point(&[], 1u64)
        ],
    };
    Batch {
        start: snapshot.time,
        end: snapshot.time,
        snapshot,
        temporality: Temporality::Delta,
    }
}

const VARS: &[&str] = &[
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
];

fn clear() {
    for v in VARS {
        std::env::remove_var(v);
    }
}

/// The build error with only `name=value` set (on top of nothing).
fn error_with(name: &str, value: &str) -> String {
    clear();
    std::env::set_var(name, value);
    let err = OtlpExporter::builder().from_env().build().unwrap_err();
    std::env::remove_var(name);
    err
}

#[test]
fn configuration_from_the_environment() {
    clear();
    let (url, log) = receiver();

    // Metrics-specific variables win over the general ones.
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9");
    std::env::set_var(
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        format!("{url}/custom/metrics"),
    );
    std::env::set_var("OTEL_EXPORTER_OTLP_HEADERS", "api-key=general");
    std::env::set_var(
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        "api-key=abc%20def , x-tenant = t1",
    );
    std::env::set_var("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip");
    std::env::set_var("OTEL_EXPORTER_OTLP_TIMEOUT", "100");
    std::env::set_var("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "2500");
    std::env::set_var("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
    std::env::set_var("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta");
    std::env::set_var("OTEL_SERVICE_NAME", "env-service");
    std::env::set_var(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=ignored,deployment.environment=prod%2Ceu, team=a%3Db",
    );

    // Not read unless asked for.
    let plain = OtlpExporter::builder().build().unwrap();
    assert_eq!(plain.url(), "http://127.0.0.1:4318/v1/metrics");
    assert!(!plain.is_gzip());
    assert_eq!(plain.temporality(), Temporality::Cumulative);

    let mut exporter = OtlpExporter::builder().from_env().build().unwrap();
    assert_eq!(exporter.url(), format!("{url}/custom/metrics"));
    assert_eq!(exporter.timeout(), Duration::from_millis(2500));
    assert!(exporter.is_gzip());
    assert_eq!(exporter.temporality(), Temporality::Delta);
    exporter.export(&batch()).unwrap();
    {
        let log = log.lock().unwrap();
        let (path, headers, request) = &log[0];
        assert_eq!(path, "/custom/metrics");
        let header = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("api-key"), Some("abc def"));
        assert_eq!(header("x-tenant"), Some("t1"));
        assert_eq!(header("content-encoding"), Some("gzip"));
        let res = &request.resource_metrics[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes;
        assert_eq!(
            string_attr(res, "service.name").as_deref(),
            Some("env-service")
        );
        assert_eq!(
            string_attr(res, "deployment.environment").as_deref(),
            Some("prod,eu")
        );
        assert_eq!(string_attr(res, "team").as_deref(), Some("a=b"));
        assert_eq!(
            string_attr(res, "telemetry.sdk.name").as_deref(),
            Some("tallyho")
        );
    }

    // Code wins over the environment, wherever from_env() is called.
    let mut coded = OtlpExporter::builder()
        .gzip(false)
        .from_env()
        .timeout(Duration::from_secs(1))
        .temporality(Temporality::Cumulative)
        .service_name("from-code")
        .resource_attribute("team", "code")
        .header("x-tenant", "t2")
        .metrics_endpoint(format!("{url}/coded"))
        .build()
        .unwrap();
    assert!(!coded.is_gzip());
    assert_eq!(coded.timeout(), Duration::from_secs(1));
    assert_eq!(coded.temporality(), Temporality::Cumulative);
    coded.export(&batch()).unwrap();
    {
        let log = log.lock().unwrap();
        let (path, headers, request) = &log[1];
        assert_eq!(path, "/coded");
        let header = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("x-tenant"), Some("t2"));
        assert_eq!(header("api-key"), Some("abc def"));
        assert_eq!(header("content-encoding"), None);
        let res = &request.resource_metrics[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes;
        assert_eq!(
            string_attr(res, "service.name").as_deref(),
            Some("from-code")
        );
        assert_eq!(string_attr(res, "team").as_deref(), Some("code"));
    }

    // The general variables when no metrics-specific ones are set; the base endpoint gets
    // /v1/metrics.
    clear();
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", format!("{url}/base/"));
    std::env::set_var("OTEL_EXPORTER_OTLP_HEADERS", "api-key=general");
    std::env::set_var("OTEL_EXPORTER_OTLP_TIMEOUT", "750");
    std::env::set_var("OTEL_EXPORTER_OTLP_COMPRESSION", "none");
    std::env::set_var(
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "LowMemory",
    );
    std::env::set_var("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes");
    std::env::set_var("OTEL_SERVICE_NAME", ""); // empty counts as unset
    let mut general = OtlpExporter::builder().from_env().build().unwrap();
    assert_eq!(general.url(), format!("{url}/base/v1/metrics"));
    assert_eq!(general.timeout(), Duration::from_millis(750));
    assert!(!general.is_gzip());
    assert_eq!(general.temporality(), Temporality::Delta);
    assert!(general
        .resource_attributes()
        .contains(&("service.name".into(), "from-attributes".into())));
    general.export(&batch()).unwrap();
    {
        let log = log.lock().unwrap();
        let (path, headers, _) = &log[2];
        assert_eq!(path, "/base/v1/metrics");
        assert!(headers.contains(&("api-key".into(), "general".into())));
    }
    std::env::set_var(
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "cumulative",
    );
    let cumulative = OtlpExporter::builder().from_env().build().unwrap();
    assert_eq!(cumulative.temporality(), Temporality::Cumulative);

    // Bad values fail the build with a message naming the variable.
    for (name, value) in [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:4318"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "127.0.0.1:4318"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
        ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "k=%zz"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
        ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "zstd"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "0"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            "sometimes",
        ),
        ("OTEL_RESOURCE_ATTRIBUTES", "a=%E2%82"),
    ] {
        let err = error_with(name, value);
        assert!(err.contains(name), "{name}={value}: {err}");
    }
    clear();
}
