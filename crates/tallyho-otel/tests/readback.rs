//! Every instrument kind of the official OpenTelemetry API, recorded through
//! `TallyhoMeterProvider` and read back three ways: the registry's snapshot, `GET /metrics`
//! from a `tallyho-http` endpoint on 127.0.0.1 (the Prometheus text checked by
//! `promtool check metrics`, which must be installed: `scripts/test.sh` installs Debian's
//! prometheus package; a missing promtool fails the test), and an OTLP/HTTP export to a
//! receiver on 127.0.0.1 that decodes the request with opentelemetry-proto.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, SystemTime};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point, Metric};
use prost::Message;
use tallyho::{Registry, Snapshot};
use tallyho_export::otlp::OtlpExporter;
use tallyho_export::{Batch, Exporter, Temporality};
use tallyho_otel::TallyhoMeterProvider;

const SCOPE: [(&str, &str); 2] = [("otel_scope_name", "shop"), ("otel_scope_version", "0.3")];

/// Records with every instrument kind of the API; returns the registry.
fn instrumented() -> Registry {
    let registry = Registry::new();
    let provider = TallyhoMeterProvider::new(registry.clone());
    let meter = provider.meter_with_scope(
        InstrumentationScope::builder("shop")
            .with_version("0.3")
            .build(),
    );
    let card = [KeyValue::new("payment.method", "card")];

    let orders = meter
        .u64_counter("orders")
        .with_description("Orders.")
        .build();
    orders.add(3, &card);
    orders.add(4, &card);
    orders.add(1, &[KeyValue::new("payment.method", "cash")]);
    let sent = meter
        .f64_counter("data.sent")
        .with_description("data.sent help.")
        .with_unit("By")
        .build();
    sent.add(1.5, &[]);
    sent.add(2.5, &[]);

    let queue = meter
        .i64_up_down_counter("queue.depth")
        .with_description("queue.depth help.")
        .build();
    queue.add(5, &[KeyValue::new("queue", "mail")]);
    queue.add(-2, &[KeyValue::new("queue", "mail")]);
    let balance = meter
        .f64_up_down_counter("balance")
        .with_description("balance help.")
        .build();
    balance.add(2.5, &[]);
    balance.add(-1.0, &[]);

    meter
        .u64_gauge("workers")
        .with_description("workers help.")
        .build()
        .record(8, &[]);
    meter
        .i64_gauge("clock.skew")
        .with_description("clock.skew help.")
        .with_unit("s")
        .build()
        .record(-4, &[]);
    let load = meter
        .f64_gauge("load")
        .with_description("load help.")
        .with_unit("1")
        .build();
    load.record(0.9, &[KeyValue::new("cpu", 0)]);
    load.record(0.75, &[KeyValue::new("cpu", 0)]);

    let took = meter
        .f64_histogram("request.duration")
        .with_description("request.duration help.")
        .with_unit("s")
        .with_boundaries(vec![0.1, 1.0])
        .build();
    for v in [0.05, 0.5, 2.0] {
        took.record(v, &[KeyValue::new("route", "/a")]);
    }
    let size = meter
        .u64_histogram("payload.size")
        .with_description("payload.size help.")
        .with_unit("By")
        .build();
    size.record(7, &[]);
    size.record(300, &[]);

    let _ticks = meter
        .u64_observable_counter("cpu.ticks")
        .with_description("cpu.ticks help.")
        .with_callback(|o| {
            o.observe(42, &[KeyValue::new("core", 0)]);
            o.observe(43, &[KeyValue::new("core", 1)]);
        })
        .build();
    let _energy = meter
        .f64_observable_counter("energy")
        .with_description("energy help.")
        .with_unit("J")
        .with_callback(|o| o.observe(12.5, &[]))
        .build();
    let _conns = meter
        .i64_observable_up_down_counter("connections")
        .with_description("connections help.")
        .with_callback(|o| o.observe(6, &[KeyValue::new("pool", "db")]))
        .build();
    let _pressure = meter
        .f64_observable_up_down_counter("pressure")
        .with_description("pressure help.")
        .with_callback(|o| o.observe(-0.5, &[]))
        .build();
    let _free = meter
        .u64_observable_gauge("disk.free")
        .with_description("disk.free help.")
        .with_unit("By")
        .with_callback(|o| o.observe(1000, &[KeyValue::new("disk", "sda")]))
        .build();
    let _offset = meter
        .i64_observable_gauge("offset")
        .with_description("offset help.")
        .with_callback(|o| o.observe(-7, &[]))
        .build();
    let _used = meter
        .f64_observable_gauge("memory.used")
        .with_description("memory.used help.")
        .with_unit("1")
        .with_callback(|o| o.observe(0.25, &[]))
        .build();
    registry
}

/// The value of the series of `family` whose labels are exactly the scope's and `labels`.
fn value(snapshot: &Snapshot, family: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: Vec<(&str, &str)> = SCOPE.iter().chain(labels).copied().collect();
    let f = snapshot.family(family)?;
    let s = f.series.iter().find(|s| {
        s.labels.len() == want.len()
            && want
                .iter()
                .all(|(n, v)| s.labels.iter().any(|(m, w)| m == n && w == v))
    })?;
    s.value.as_f64()
}

/// One expected series: family, labels beside the scope's, value.
type Expected = (&'static str, &'static [(&'static str, &'static str)], f64);

/// The scalar values every kind should show.
const SCALARS: &[Expected] = &[
    ("orders", &[("payment_method", "card")], 7.0),
    ("orders", &[("payment_method", "cash")], 1.0),
    ("data_sent_bytes", &[], 4.0),
    ("queue_depth", &[("queue", "mail")], 3.0),
    ("balance", &[], 1.5),
    ("workers", &[], 8.0),
    ("clock_skew_seconds", &[], -4.0),
    ("load_ratio", &[("cpu", "0")], 0.75),
    ("cpu_ticks", &[("core", "0")], 42.0),
    ("cpu_ticks", &[("core", "1")], 43.0),
    ("energy_joules", &[], 12.5),
    ("connections", &[("pool", "db")], 6.0),
    ("pressure", &[], -0.5),
    ("disk_free_bytes", &[("disk", "sda")], 1000.0),
    ("offset", &[], -7.0),
    ("memory_used_ratio", &[], 0.25),
];

#[test]
fn every_kind_reads_back_from_the_snapshot() {
    let snapshot = instrumented().snapshot();
    for (family, labels, want) in SCALARS {
        assert_eq!(
            value(&snapshot, family, labels),
            Some(*want),
            "{family} {labels:?}"
        );
    }
    let took = snapshot.family("request_duration_seconds").unwrap();
    let h = took.series[0].value.as_histogram().unwrap();
    assert_eq!(h.bounds, [0.1, 1.0]);
    assert_eq!(h.counts, [1, 1, 1]);
    assert_eq!((h.count, h.sum), (3, 2.55));
    let size = snapshot.family("payload_size_bytes").unwrap();
    let h = size.series[0].value.as_histogram().unwrap();
    assert_eq!(h.bounds, tallyho_otel::DEFAULT_BOUNDARIES);
    assert_eq!((h.count, h.sum), (2, 307.0));
    assert_eq!(h.counts[2], 1, "7 falls in (5, 10]");
    assert_eq!(h.counts[8], 1, "300 falls in (250, 500]");
    assert_eq!(
        snapshot.family(tallyho_otel::DROPPED_METRIC),
        None,
        "nothing dropped"
    );
}

fn promtool_check(text: &[u8]) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "promtool not found: run scripts/test.sh, which installs Debian's prometheus package",
        );
    child.stdin.take().unwrap().write_all(text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- input ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(text)
    );
}

#[test]
fn prometheus_text_passes_promtool_with_the_values() {
    let registry = instrumented();
    let text = scrape(&registry);
    promtool_check(text.as_bytes());
    // The endpoint serves what the encoder writes, beside its own self-metrics.
    let mut encoded = Vec::new();
    tallyho_encode::prometheus::encode(&mut encoded, &registry).unwrap();
    let without_endpoint_metrics = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.contains(" tallyho_") && !l.starts_with("tallyho_"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        without_endpoint_metrics(&text),
        without_endpoint_metrics(std::str::from_utf8(&encoded).unwrap())
    );
    let scope = r#"otel_scope_name="shop",otel_scope_version="0.3""#;
    for line in [
        "# HELP orders_total Orders.".to_owned(),
        "# TYPE orders_total counter".to_owned(),
        format!(r#"orders_total{{{scope},payment_method="card"}} 7"#),
        format!("data_sent_bytes_total{{{scope}}} 4"),
        "# TYPE queue_depth gauge".to_owned(),
        format!(r#"queue_depth{{{scope},queue="mail"}} 3"#),
        format!("clock_skew_seconds{{{scope}}} -4"),
        format!(r#"load_ratio{{{scope},cpu="0"}} 0.75"#),
        format!(r#"request_duration_seconds_bucket{{{scope},route="/a",le="0.1"}} 1"#),
        format!(r#"request_duration_seconds_bucket{{{scope},route="/a",le="1"}} 2"#),
        format!(r#"request_duration_seconds_bucket{{{scope},route="/a",le="+Inf"}} 3"#),
        format!(r#"request_duration_seconds_count{{{scope},route="/a"}} 3"#),
        format!(r#"cpu_ticks_total{{{scope},core="1"}} 43"#),
        format!("energy_joules_total{{{scope}}} 12.5"),
        format!(r#"disk_free_bytes{{{scope},disk="sda"}} 1000"#),
        format!("pressure{{{scope}}} -0.5"),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
}

/// `GET /metrics` from a tallyho-http endpoint on 127.0.0.1; the body.
fn scrape(registry: &Registry) -> String {
    let running = tallyho_http::Endpoint::new(registry.clone())
        .spawn("127.0.0.1:0")
        .unwrap();
    let mut stream = TcpStream::connect(running.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    running.shutdown();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    body.to_owned()
}

/// Accepts one HTTP request on 127.0.0.1, answers 200 and returns the decoded body.
fn receive_one() -> (String, thread::JoinHandle<ExportMetricsServiceRequest>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, v)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        ExportMetricsServiceRequest::decode(&body[..]).expect("valid protobuf")
    });
    (url, handle)
}

/// The value of the point of `metric` whose attributes are exactly the scope's and `labels`.
fn otlp_value(m: &Metric, labels: &[(&str, &str)]) -> Option<f64> {
    let points = match m.data.as_ref()? {
        Data::Sum(s) => &s.data_points,
        Data::Gauge(g) => &g.data_points,
        _ => return None,
    };
    let want: Vec<(&str, &str)> = SCOPE.iter().chain(labels).copied().collect();
    let p = points.iter().find(|p| {
        p.attributes.len() == want.len()
            && want.iter().all(|(n, v)| {
                p.attributes.iter().any(|kv| {
                    kv.key == *n
                        && matches!(
                            kv.value.as_ref().and_then(|a| a.value.as_ref()),
                            Some(any_value::Value::StringValue(s)) if s == v
                        )
                })
            })
    })?;
    match p.value? {
        number_data_point::Value::AsInt(i) => Some(i as f64),
        number_data_point::Value::AsDouble(d) => Some(d),
    }
}

#[test]
fn otlp_export_carries_the_same_values() {
    let registry = instrumented();
    let (url, received) = receive_one();
    let mut exporter = OtlpExporter::builder()
        .endpoint(url)
        .gzip(false)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let snapshot = registry.snapshot();
    let batch = Batch {
        start: SystemTime::UNIX_EPOCH,
        end: snapshot.time,
        snapshot,
        temporality: Temporality::Cumulative,
    };
    exporter.export(&batch).unwrap();
    let request = received.join().unwrap();
    let metrics: Vec<&Metric> = request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .collect();
    let metric = |name: &str| {
        *metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no metric {name} in the export"))
    };
    for (family, labels, want) in SCALARS {
        assert_eq!(
            otlp_value(metric(family), labels),
            Some(*want),
            "{family} {labels:?}"
        );
    }
    match metric("orders").data.as_ref().unwrap() {
        Data::Sum(s) => assert!(s.is_monotonic, "a counter is a monotonic sum"),
        other => panic!("orders: {other:?}"),
    }
    match metric("queue_depth").data.as_ref().unwrap() {
        Data::Sum(s) => assert!(!s.is_monotonic, "an up-down counter is a non-monotonic sum"),
        other => panic!("queue_depth: {other:?}"),
    }
    assert_eq!(metric("request_duration_seconds").unit, "s");
    match metric("request_duration_seconds").data.as_ref().unwrap() {
        Data::Histogram(h) => {
            let p = &h.data_points[0];
            assert_eq!(p.explicit_bounds, [0.1, 1.0]);
            assert_eq!(p.bucket_counts, [1, 1, 1]);
            assert_eq!((p.count, p.sum), (3, Some(2.55)));
        }
        other => panic!("request_duration_seconds: {other:?}"),
    }
}
