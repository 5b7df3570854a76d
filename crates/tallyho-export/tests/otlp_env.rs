//! The OTLP exporter configured from `OTEL_*` variables, read through an injected getter
//! (`from_env_with`), so these are ordinary tests: nothing mutates the process environment.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use prost::Message;
use tallyho::{FamilySnapshot, MetricKind, Snapshot};
use tallyho_export::otlp::OtlpExporter;
use tallyho_export::{Batch, Exporter, Temporality};

mod common;
use common::{FakeServer, Seen};

/// Path, headers and decoded body of a request the receiver saw.
fn decoded(seen: &Seen) -> (String, Vec<(String, String)>, ExportMetricsServiceRequest) {
    let mut body = seen.body.clone();
    if seen.header("content-encoding") == Some("gzip") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .unwrap();
        body = out;
    }
    let headers = seen
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    let request = ExportMetricsServiceRequest::decode(&body[..]).unwrap();
    (seen.path.clone(), headers, request)
}

/// A fake environment: the variables a test sets, read through `from_env_with`.
#[derive(Clone, Default)]
struct Env(Arc<Mutex<BTreeMap<String, String>>>);

impl Env {
    fn set(&self, name: &str, value: impl Into<String>) {
        self.0.lock().unwrap().insert(name.to_owned(), value.into());
    }
    fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
    fn builder(&self) -> tallyho_export::otlp::OtlpExporterBuilder {
        let vars = self.0.clone();
        OtlpExporter::builder().from_env_with(move |n| vars.lock().unwrap().get(n).cloned())
    }
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

/// The build error with only `name=value` set (on top of nothing).
fn error_with(name: &str, value: &str) -> String {
    let env = Env::default();
    env.set(name, value);
    env.builder().build().unwrap_err().to_string()
}

#[test]
fn configuration_from_the_environment() {
    let env = Env::default();
    let server = FakeServer::start(Some((200, "")));
    let url = server.url("");
    let log = || server.seen().iter().map(decoded).collect::<Vec<_>>();

    // Metrics-specific variables win over the general ones.
    env.set("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9");
    env.set(
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        format!("{url}/custom/metrics"),
    );
    env.set("OTEL_EXPORTER_OTLP_HEADERS", "api-key=general");
    env.set(
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        "api-key=abc%20def , x-tenant = t1",
    );
    env.set("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip");
    env.set("OTEL_EXPORTER_OTLP_TIMEOUT", "100");
    env.set("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "2500");
    env.set("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
    env.set("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta");
    env.set("OTEL_SERVICE_NAME", "env-service");
    env.set(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=ignored,deployment.environment=prod%2Ceu, team=a%3Db",
    );

    // Not read unless asked for.
    let plain = OtlpExporter::builder().build().unwrap();
    assert_eq!(plain.url(), "http://127.0.0.1:4318/v1/metrics");
    assert!(!plain.is_gzip());
    assert_eq!(plain.temporality(), Temporality::Cumulative);

    let mut exporter = env.builder().build().unwrap();
    assert_eq!(exporter.url(), format!("{url}/custom/metrics"));
    assert_eq!(exporter.timeout(), Duration::from_millis(2500));
    assert!(exporter.is_gzip());
    assert_eq!(exporter.temporality(), Temporality::Delta);
    exporter.export(&batch()).unwrap();
    {
        let log = log();
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
        .from_env_with({
            let env = env.clone();
            move |n| env.0.lock().unwrap().get(n).cloned()
        })
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
        let log = log();
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
    env.clear();
    env.set("OTEL_EXPORTER_OTLP_ENDPOINT", format!("{url}/base/"));
    env.set("OTEL_EXPORTER_OTLP_HEADERS", "api-key=general");
    env.set("OTEL_EXPORTER_OTLP_TIMEOUT", "750");
    env.set("OTEL_EXPORTER_OTLP_COMPRESSION", "none");
    env.set(
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "LowMemory",
    );
    env.set("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes");
    env.set("OTEL_SERVICE_NAME", ""); // empty counts as unset
    let mut general = env.builder().build().unwrap();
    assert_eq!(general.url(), format!("{url}/base/v1/metrics"));
    assert_eq!(general.timeout(), Duration::from_millis(750));
    assert!(!general.is_gzip());
    assert_eq!(general.temporality(), Temporality::Delta);
    assert!(general
        .resource_attributes()
        .contains(&("service.name".into(), "from-attributes".into())));
    general.export(&batch()).unwrap();
    {
        let log = log();
        let (path, headers, _) = &log[2];
        assert_eq!(path, "/base/v1/metrics");
        assert!(headers.contains(&("api-key".into(), "general".into())));
    }
    env.set(
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "cumulative",
    );
    let cumulative = env.builder().build().unwrap();
    assert_eq!(cumulative.temporality(), Temporality::Cumulative);

    // Bad values fail the build with a message naming the variable.
    for (name, value) in [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://127.0.0.1:4318"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "127.0.0.1:4318"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
            "/nonexistent/c.pem",
        ),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/nonexistent/c.key"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
        ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "k=%zz"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
        ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "zstd"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "0"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
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
}

/// `OTEL_METRICS_EXPORTER` through `PipelineBuilder::exporters_from_env`: `otlp` (and the
/// unset default) sends to the OTLP endpoint of the same environment, `none` adds nothing,
/// and a name that is not an exporter is an error naming the variable and the value.
#[test]
fn otel_metrics_exporter_chooses_the_pipelines_exporters() {
    let server = FakeServer::start(Some((200, "")));
    let registry = tallyho::Registry::new();
    registry.counter("picked", "Picked.").unwrap().inc();
    let pipeline_with = |vars: &[(&str, String)]| {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        tallyho_export::Pipeline::builder(registry.clone())
            .interval(Duration::from_millis(20))
            .env_with(move |k| vars.get(k).cloned())
            .exporters_from_env()
    };
    let endpoint = (
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        server.url("/v1/metrics"),
    );
    for value in [None, Some("otlp"), Some(" Console , OTLP ")] {
        let before = server.seen().len();
        let mut vars = vec![endpoint.clone()];
        if let Some(v) = value {
            vars.push(("OTEL_METRICS_EXPORTER", v.to_owned()));
        }
        let pipeline = pipeline_with(&vars).unwrap().start().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while server.seen().len() == before && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        pipeline.shutdown(Duration::from_secs(2));
        assert!(server.seen().len() > before, "{value:?}: nothing sent");
    }
    let before = server.seen().len();
    let pipeline = pipeline_with(&[endpoint.clone(), ("OTEL_METRICS_EXPORTER", "none".into())])
        .unwrap()
        .start()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    pipeline.shutdown(Duration::from_secs(2));
    assert_eq!(server.seen().len(), before, "none sends nothing");
    let e = pipeline_with(&[("OTEL_METRICS_EXPORTER", "otlp,zipkin".into())])
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.starts_with("OTEL_METRICS_EXPORTER=\"otlp,zipkin\": unknown exporter \"zipkin\""),
        "{e}"
    );
}
